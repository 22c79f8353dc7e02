import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createSmtpService } from '../src/delivery/index.js';
import type { NetService } from '../src/lib/service.js';
import { makeEnv, mailboxContents, RawSmtp, runProgram, runPython, stripTrace, testTls, type Env } from './delivery/helpers.js';

const MAX_SIZE = 64 * 1024;

describe('SMTP (MX role)', () => {
  let env: Env;
  let svc: NetService;
  let port: number;
  before(async () => {
    env = await makeEnv([
      ['alice@example.org', 'pw'],
      ['bob@example.org', 'pw'],
      ['carol@example.net', 'pw'],
    ]);
    await env.store.directory.addAlias('@example.net', 'carol@example.net');
    svc = createSmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org', tls: await testTls(), maxMessageSize: MAX_SIZE });
    port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  });
  after(async () => {
    await svc.close();
    await env.close();
  });

  test('EHLO advertises SIZE, 8BITMIME, SMTPUTF8, PIPELINING, ENHANCEDSTATUSCODES, STARTTLS and no AUTH', async () => {
    const { client, greeting } = await RawSmtp.open(port);
    assert.equal(greeting.code, 220);
    assert.match(greeting.text, /^220 mx\.example\.org ESMTP$/, 'no banner hints');
    const ehlo = await client.cmd('EHLO client.test');
    assert.equal(ehlo.code, 250);
    assert.equal(ehlo.lines[0], '250-mx.example.org');
    for (const ext of [`SIZE ${MAX_SIZE}`, '8BITMIME', 'SMTPUTF8', 'PIPELINING', 'ENHANCEDSTATUSCODES', 'STARTTLS']) {
      assert.ok(ehlo.lines.some((l) => l.slice(4) === ext), `${ext} advertised: ${ehlo.text}`);
    }
    assert.ok(!ehlo.lines.some((l) => l.slice(4).startsWith('AUTH')), 'no AUTH on the MX listener');
    assert.ok([500, 502].includes((await client.cmd('AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHB3')).code));
    await client.cmd('QUIT');
    client.close();
  });

  test('swaks delivers over STARTTLS; Received and Return-Path added, body byte-exact', async () => {
    const body = 'From: Sender <sender@remote.test>\r\nTo: alice@example.org\r\nSubject: via swaks\r\nMessage-ID: <swaks1@remote.test>\r\n\r\nHello from swaks.\r\n\u00e9t\u00e9 8-bit line\r\n';
    const file = join(env.dir, 'swaks.eml');
    await writeFile(file, body.slice(0, -2)); // swaks ends the data with CRLF . CRLF itself
    const r = await runProgram('swaks', ['--server', '127.0.0.1', '--port', String(port), '--from', 'sender@remote.test', '--to', 'alice@example.org', '--ehlo', 'client.test', '--tls', '--data', `@${file}`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /<~ {1,2}250 2\.6\.0 /);
    const inbox = await mailboxContents(env.store, 'alice@example.org');
    const copy = inbox.find((m) => m.includes('<swaks1@remote.test>'));
    assert.ok(copy);
    assert.equal(stripTrace(copy).toString('utf8'), body);
    assert.match(copy.toString(), /^Return-Path: <sender@remote\.test>\r\nDelivered-To: alice@example\.org\r\nReceived: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.example\.org \(mailroom\) with ESMTPS id /);
  });

  test('python smtplib: plus-address into INBOX with the tag in Delivered-To; catch-all; no relaying', async () => {
    const r = await runPython<{ rcpt: Array<[number, string]>; refused?: Record<string, [number, string]>; error?: string }>(
      `
import json, smtplib, sys
a = json.loads(sys.argv[1])
s = smtplib.SMTP('127.0.0.1', a['port'])
s.ehlo('client.test')
out = {'rcpt': []}
s.mail('x@remote.test')
for r in a['rcpts']:
    code, msg = s.rcpt(r)
    out['rcpt'].append([code, msg.decode()])
code, msg = s.data(a['msg'].encode())
out['data'] = [code, msg.decode()]
s.quit()
print(json.dumps(out))
`,
      {
        port,
        rcpts: ['bob+news@example.org', 'anything@example.net', 'victim@gmail.test', 'ghost@example.org'],
        msg: 'Subject: tags\r\n\r\nplus\r\n',
      },
    );
    assert.deepEqual(
      r.rcpt.map((x) => x[0]),
      [250, 250, 550, 550],
    );
    assert.match(r.rcpt[2]![1], /^5\.7\.1 Relaying denied/);
    assert.match(r.rcpt[3]![1], /5\.1\.1 No such user/);
    const bob = await mailboxContents(env.store, 'bob@example.org');
    assert.equal(bob.length, 1);
    assert.match(bob[0]!.toString(), /\r\nDelivered-To: bob\+news@example\.org\r\n/);
    assert.match(bob[0]!.toString(), /\tfor <bob\+news@example\.org>;/);
    const carol = await mailboxContents(env.store, 'carol@example.net');
    assert.equal(carol.length, 1);
    assert.match(carol[0]!.toString(), /Delivered-To: anything@example\.net\r\n/);
  });

  test('bad input gets the right reply and stores nothing partial', async () => {
    const count = async () => (await mailboxContents(env.store, 'alice@example.org')).length;
    const before = await count();
    const { client } = await RawSmtp.open(port);
    // malformed commands
    assert.equal((await client.cmd('HELLO there')).code, 500);
    assert.equal((await client.cmd('MAIL FROM:<a@b.test>')).code, 503, 'MAIL before EHLO');
    assert.equal((await client.cmd('EHLO client.test')).code, 250);
    assert.equal((await client.cmd('RCPT TO:<alice@example.org>')).code, 503, 'RCPT before MAIL');
    assert.equal((await client.cmd('MAIL FROM:not-an-address')).code, 501);
    assert.equal((await client.cmd('MAIL FROM:<s@remote.test> SIZE=99999999')).code, 552, 'declared SIZE over the limit');
    assert.equal((await client.cmd('MAIL FROM:<s@remote.test>')).code, 250);
    // invalid addresses
    assert.equal((await client.cmd('RCPT TO:<no at sign>')).code, 501);
    assert.equal((await client.cmd('RCPT TO:<@example.org>')).code, 501);
    assert.equal((await client.cmd('DATA')).code, 503, 'DATA without recipients');
    assert.equal((await client.cmd('RCPT TO:<alice@example.org>')).code, 250);
    // oversize: 552 after the data, nothing stored
    const big = `Subject: big\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(80);
    const r1 = await client.data(big);
    assert.equal(r1.code, 552);
    assert.equal(await count(), before);
    // bare LF: refused (5.6.0), nothing stored
    await client.cmd('MAIL FROM:<s@remote.test>');
    await client.cmd('RCPT TO:<alice@example.org>');
    const r2 = await client.data('Subject: lf\nbody with bare LF\r\n');
    assert.equal(r2.code, 554);
    assert.match(r2.text, /^554 5\.6\.0 Message contains a bare CR or LF/);
    // NUL bytes
    await client.cmd('MAIL FROM:<s@remote.test>');
    await client.cmd('RCPT TO:<alice@example.org>');
    const r3 = await client.data(Buffer.from('Subject: nul\r\n\r\nx\x00y\r\n', 'latin1'));
    assert.equal(r3.code, 554);
    assert.match(r3.text, /NUL/);
    assert.equal(await count(), before);
    // header-only message: accepted as is
    await client.cmd('MAIL FROM:<s@remote.test>');
    await client.cmd('RCPT TO:<alice@example.org>');
    const r4 = await client.data('Subject: header only\r\nMessage-ID: <ho@remote.test>');
    assert.equal(r4.code, 250);
    const after = await mailboxContents(env.store, 'alice@example.org');
    assert.equal(after.length, before + 1);
    assert.equal(stripTrace(after[after.length - 1]!).toString(), 'Subject: header only\r\nMessage-ID: <ho@remote.test>\r\n');
    // the session goes on after all of that
    assert.equal((await client.cmd('NOOP')).code, 250);
    assert.equal((await client.cmd('QUIT')).code, 221);
    client.close();
  });

  test('SMTPUTF8: UTF-8 envelope and header delivered intact, Received says UTF8SMTP', async () => {
    const { client } = await RawSmtp.open(port);
    await client.cmd('EHLO client.test');
    assert.equal((await client.cmd('MAIL FROM:<jos\u00e9@remote.test> SMTPUTF8 BODY=8BITMIME')).code, 250);
    assert.equal((await client.cmd('RCPT TO:<alice@example.org>')).code, 250);
    const msg = 'From: Jos\u00e9 <jos\u00e9@remote.test>\r\nSubject: \u00fcml\u00e4ut\r\nMessage-ID: <utf8@remote.test>\r\n\r\nb\u00f6dy\r\n';
    // RawSmtp writes commands as UTF-8 strings
    const r = await client.data(Buffer.from(msg, 'utf8'));
    assert.equal(r.code, 250);
    await client.cmd('QUIT');
    client.close();
    const copy = (await mailboxContents(env.store, 'alice@example.org')).find((m) => m.includes('<utf8@remote.test>'));
    assert.ok(copy);
    assert.equal(stripTrace(copy).toString('utf8'), msg);
    assert.match(copy.toString('utf8'), /^Return-Path: <jos\u00e9@remote\.test>\r\n/);
    assert.match(copy.toString(), /with UTF8SMTP id /);
  });

  test('more than 1000 recipients: 452 past the cap, the message still goes to the accepted ones', async () => {
    const { client } = await RawSmtp.open(port);
    await client.cmd('EHLO client.test');
    await client.cmd('MAIL FROM:<s@remote.test>');
    // pipelined: all RCPTs in one write
    const n = 1005;
    let batch = '';
    for (let i = 0; i < n; i++) batch += `RCPT TO:<bob+r${i}@example.org>\r\n`;
    client.write(batch);
    const codes: number[] = [];
    for (let i = 0; i < n; i++) codes.push((await client.reply()).code);
    assert.equal(codes.filter((c) => c === 250).length, 1000);
    assert.deepEqual(codes.slice(1000), [452, 452, 452, 452, 452]);
    assert.equal((await client.cmd('RSET')).code, 250);
    await client.cmd('QUIT');
    client.close();
  });

  test('missing DATA terminator then disconnect: nothing delivered', async () => {
    const before = (await mailboxContents(env.store, 'alice@example.org')).length;
    const { client } = await RawSmtp.open(port);
    await client.cmd('EHLO client.test');
    await client.cmd('MAIL FROM:<s@remote.test>');
    await client.cmd('RCPT TO:<alice@example.org>');
    assert.equal((await client.cmd('DATA')).code, 354);
    client.write('Subject: cut\r\n\r\nthis message never ends\r\n');
    await new Promise((r) => setTimeout(r, 100));
    client.close();
    await client.closedPromise;
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, before);
    const queued = await env.store.queue.list();
    assert.equal(queued.length, 0);
  });
});

test('connections per IP are capped with 421; a freed slot can be used again', async () => {
  const env = await makeEnv([['alice@example.org', 'pw']]);
  const svc = createSmtpService({ store: env.store, auth: env.auth, hostname: 'mx', maxConnectionsPerIp: 2, countLoopback: true });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const a = await RawSmtp.open(port);
    const b = await RawSmtp.open(port);
    assert.equal(a.greeting.code, 220);
    assert.equal(b.greeting.code, 220);
    const c = await RawSmtp.open(port);
    assert.equal(c.greeting.code, 421);
    await c.client.closedPromise;
    assert.equal((await a.client.cmd('QUIT')).code, 221);
    await a.client.closedPromise;
    await new Promise((r) => setTimeout(r, 50));
    const d = await RawSmtp.open(port);
    assert.equal(d.greeting.code, 220);
    for (const x of [b, d]) x.client.close();
  } finally {
    await svc.close();
    await env.close();
  }
});

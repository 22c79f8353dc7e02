import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { createLmtpService } from '../src/delivery/index.js';
import type { NetService } from '../src/lib/service.js';
import { makeEnv, mailboxContents, RawSmtp, runPython, stripTrace, type Env } from './delivery/helpers.js';

const LMTP_SCRIPT = `
import json, smtplib, sys
a = json.loads(sys.argv[1])
c = smtplib.LMTP()
c.connect('127.0.0.1', a['port'])
c.ehlo('mta.test')
out = {'rcpt': [], 'data': None}
c.mail(a['from'])
for r in a['rcpts']:
    out['rcpt'].append(list(c.rcpt(r)))
try:
    c.putcmd('data')
    code, msg = c.getreply()
    if code == 354:
        q = smtplib.quotedata(a['msg']).encode('utf-8')
        if not q.endswith(b'\\r\\n'):
            q += b'\\r\\n'
        c.send(q + b'.\\r\\n')
        replies = []
        for r in out['rcpt']:
            if r[0] == 250:
                code, msg = c.getreply()
                replies.append([code, msg.decode()])
        out['data'] = replies
except Exception as e:
    out['error'] = str(e)
c.quit()
print(json.dumps(out, default=lambda b: b.decode()))
`;

describe('LMTP', () => {
  let env: Env;
  let svc: NetService;
  let port: number;
  before(async () => {
    env = await makeEnv([
      ['alice@example.org', 'pw'],
      ['bob@example.org', 'pw'],
    ]);
    await env.store.directory.addAlias('info@example.org', 'alice@example.org');
    svc = createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org' });
    port = ((await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })) as AddressInfo).port;
  });
  after(async () => {
    await svc.close();
    await env.close();
  });

  test('python smtplib.LMTP: per-recipient replies, 550 at RCPT for unknown, byte-exact copies', async () => {
    const msg = 'From: sender@remote.test\r\nTo: alice@example.org\r\nSubject: lmtp test\r\nMessage-ID: <lmtp1@remote.test>\r\n\r\nHello\r\n.leading dot line\r\nbye\r\n';
    const r = await runPython<{ rcpt: Array<[number, string]>; data: Array<[number, string]> }>(LMTP_SCRIPT, {
      port,
      from: 'sender@remote.test',
      rcpts: ['alice@example.org', 'nobody@example.org', 'bob+lists@example.org', 'info@example.org', 'x@elsewhere.test'],
      msg,
    });
    assert.deepEqual(
      r.rcpt.map((x) => x[0]),
      [250, 550, 250, 250, 550],
    );
    assert.match(r.rcpt[1]![1], /5\.1\.1/);
    assert.equal(r.data.length, 3);
    for (const [code] of r.data) assert.equal(code, 250);

    const alice = await mailboxContents(env.store, 'alice@example.org');
    assert.equal(alice.length, 1, 'direct and alias recipients share one copy');
    for (const copy of alice) {
      assert.equal(stripTrace(copy).toString('latin1'), msg, 'byte-exact apart from trace headers');
      assert.match(copy.toString(), /^Return-Path: <sender@remote\.test>\r\n/);
    }
    const deliveredTo = alice.map((m) => /Delivered-To: (\S+)\r\n/.exec(m.toString())?.[1]).sort();
    assert.deepEqual(deliveredTo, ['alice@example.org'], 'named after the first recipient');
    const bob = await mailboxContents(env.store, 'bob@example.org');
    assert.equal(bob.length, 1);
    // the plus tag is recorded in Delivered-To
    assert.match(bob[0]!.toString(), /^Return-Path: <sender@remote\.test>\r\nDelivered-To: bob\+lists@example\.org\r\nReceived: from mta\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.example\.org \(mailroom\) with LMTP id \S+\r\n\tfor <bob\+lists@example\.org>;\r\n\t\w{3}, /);
  });

  test('raw LMTP: one reply per recipient in RCPT order, bare LF normalised, NUL refused for every recipient', async () => {
    const { client, greeting } = await RawSmtp.open(port);
    assert.equal(greeting.code, 220);
    assert.match(greeting.text, /LMTP/);
    assert.equal((await client.cmd('LHLO mta.test')).code, 250);
    assert.equal((await client.cmd('MAIL FROM:<>')).code, 250);
    assert.equal((await client.cmd('RCPT TO:<alice@example.org>')).code, 250);
    assert.equal((await client.cmd('RCPT TO:<bob@example.org>')).code, 250);
    let go = await client.cmd('DATA');
    assert.equal(go.code, 354);
    client.write('Subject: bare\nX: y\r\n\r\nline\nmore\r\n.\r\n');
    const first = await client.reply();
    const second = await client.reply();
    assert.equal(first.code, 250);
    assert.equal(second.code, 250);
    const bob = await mailboxContents(env.store, 'bob@example.org');
    const last = bob[bob.length - 1]!;
    assert.ok(stripTrace(last).equals(Buffer.from('Subject: bare\r\nX: y\r\n\r\nline\r\nmore\r\n')));
    assert.match(last.toString(), /^Return-Path: <>\r\n/);

    const before = (await mailboxContents(env.store, 'alice@example.org')).length;
    assert.equal((await client.cmd('MAIL FROM:<s@remote.test>')).code, 250);
    assert.equal((await client.cmd('RCPT TO:<alice@example.org>')).code, 250);
    assert.equal((await client.cmd('RCPT TO:<bob@example.org>')).code, 250);
    go = await client.cmd('DATA');
    assert.equal(go.code, 354);
    client.write(Buffer.from('Subject: nul\r\n\r\na\x00b\r\n.\r\n', 'latin1'));
    const n1 = await client.reply();
    const n2 = await client.reply();
    assert.equal(n1.code, 554);
    assert.equal(n2.code, 554);
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, before);
    assert.equal((await client.cmd('QUIT')).code, 221);
    client.close();
  });
});

test('close(): an in-flight delivery commits and is answered, idle sessions get 421, close resolves', { timeout: 30_000 }, async () => {
  const env = await makeEnv([['alice@example.org', 'pw']]);
  const svc = createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org' });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const idle = (await RawSmtp.open(port)).client;
    await idle.cmd('LHLO idle.test');
    const busy = (await RawSmtp.open(port)).client;
    await busy.cmd('LHLO busy.test');
    await busy.cmd('MAIL FROM:<s@remote.test>');
    await busy.cmd('RCPT TO:<alice@example.org>');
    assert.equal((await busy.cmd('DATA')).code, 354);
    busy.write('Subject: in flight\r\n\r\n');
    const closing = svc.close();
    busy.write('last line\r\n.\r\n');
    const done = await busy.reply();
    assert.equal(done.code, 250, 'the message in progress is delivered and acknowledged');
    assert.equal((await idle.reply()).code, 421);
    await closing;
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 1);
    idle.close();
    busy.close();
    await assert.rejects(RawSmtp.open(port), 'no longer listening');
  } finally {
    await svc.close();
    await env.close();
  }
});

test('close(): a client stalled in the middle of DATA is cut off after the grace period; nothing is stored', { timeout: 30_000 }, async () => {
  const env = await makeEnv([['alice@example.org', 'pw']]);
  const svc = createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org', closeGraceMs: 300 });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const { client } = await RawSmtp.open(port);
    await client.cmd('LHLO stall.test');
    await client.cmd('MAIL FROM:<s@remote.test>');
    await client.cmd('RCPT TO:<alice@example.org>');
    assert.equal((await client.cmd('DATA')).code, 354);
    client.write('Subject: never finished\r\n\r\npart');
    const t0 = Date.now();
    await svc.close();
    assert.ok(Date.now() - t0 < 10_000);
    await client.closedPromise;
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 0);
  } finally {
    await svc.close();
    await env.close();
  }
});

test('LMTP limits: oversize gets 552 once per recipient, bad RCPT syntax 501, nothing stored', async () => {
  const env = await makeEnv([
    ['alice@example.org', 'pw'],
    ['bob@example.org', 'pw'],
  ]);
  const svc = createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx', maxMessageSize: 1000 });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const { client } = await RawSmtp.open(port);
    const lhlo = await client.cmd('LHLO t');
    assert.ok(lhlo.lines.some((l) => l.slice(4) === 'SIZE 1000'));
    assert.equal((await client.cmd('MAIL FROM:<s@remote.test>')).code, 250);
    assert.equal((await client.cmd('RCPT TO:<not valid>')).code, 501);
    await client.cmd('RCPT TO:<alice@example.org>');
    await client.cmd('RCPT TO:<bob@example.org>');
    const r1 = await client.data(`Subject: big\r\n\r\n${'z'.repeat(2000)}\r\n`);
    const r2 = await client.reply();
    assert.equal(r1.code, 552);
    assert.equal(r2.code, 552);
    assert.equal((await client.cmd('NOOP')).code, 250);
    client.close();
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 0);
    assert.equal((await mailboxContents(env.store, 'bob@example.org')).length, 0);
  } finally {
    await svc.close();
    await env.close();
  }
});

test('LMTP resolves each recipient once, at RCPT; DATA delivers to what RCPT accepted (alias and plus-address too)', async () => {
  const env = await makeEnv([['carol@example.org', 'pw']]);
  await env.store.directory.addAlias('team@example.org', 'carol@example.org');
  const calls = { getUser: 0, listAliases: 0 };
  const counted = new Proxy(env.store, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if ((prop === 'getUser' || prop === 'listAliases') && typeof v === 'function') {
        return (...args: unknown[]) => {
          calls[prop]++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const svc = createLmtpService({ store: counted, auth: env.auth, hostname: 'mx.example.org' });
  try {
    const port = ((await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })) as AddressInfo).port;
    const { client } = await RawSmtp.open(port);
    assert.equal((await client.cmd('LHLO mta.test')).code, 250);
    for (let round = 0; round < 2; round++) {
      assert.equal((await client.cmd('MAIL FROM:<s@remote.test>')).code, 250);
      for (const r of ['carol@example.org', 'team@example.org', 'Carol+News@example.org']) assert.equal((await client.cmd(`RCPT TO:<${r}>`)).code, 250);
      const atRcpt = { ...calls };
      assert.equal((await client.cmd('DATA')).code, 354);
      client.write(`Subject: once ${round}\r\n\r\nbody\r\n.\r\n`);
      for (let i = 0; i < 3; i++) assert.equal((await client.reply()).code, 250);
      assert.deepEqual(calls, atRcpt, 'DATA looked nobody up again');
    }
    const got = await mailboxContents(env.store, 'carol@example.org');
    assert.equal(got.length, 2, 'one copy per transaction: the three recipients are all carol');
    const deliveredTo = got.map((m) => /^Delivered-To: (.*)\r$/m.exec(m.toString('latin1'))?.[1]);
    assert.deepEqual(deliveredTo, ['carol@example.org', 'carol@example.org']);
    assert.equal((await client.cmd('QUIT')).code, 221);
    client.close();
  } finally {
    await svc.close();
    await env.close();
  }
});

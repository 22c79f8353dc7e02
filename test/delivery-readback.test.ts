import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { createLmtpService, createSmtpService } from '../src/delivery/index.js';
import { createImapService } from '../src/imap-server/index.js';
import { createPop3Service } from '../src/pop3-server/index.js';
import { makeEnv, RawSmtp, runPython, stripTrace } from './delivery/helpers.js';

/** RETR over a raw POP3 socket; returns the message with dot-stuffing undone. */
async function pop3Retr(port: number, user: string, pass: string, n: number): Promise<Buffer> {
  const { connect } = await import('node:net');
  const sock = connect(port, '127.0.0.1');
  let buf = Buffer.alloc(0);
  let wake: (() => void) | null = null;
  sock.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    wake?.();
  });
  const until = async (pred: () => number): Promise<Buffer> => {
    for (;;) {
      const end = pred();
      if (end >= 0) {
        const out = buf.subarray(0, end);
        buf = buf.subarray(end);
        return out;
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 200);
      });
    }
  };
  const line = () => until(() => (buf.indexOf('\r\n') >= 0 ? buf.indexOf('\r\n') + 2 : -1));
  assert.match((await line()).toString(), /^\+OK/);
  sock.write(`USER ${user}\r\n`);
  assert.match((await line()).toString(), /^\+OK/);
  sock.write(`PASS ${pass}\r\n`);
  assert.match((await line()).toString(), /^\+OK/);
  sock.write(`RETR ${n}\r\n`);
  assert.match((await line()).toString(), /^\+OK/);
  const body = await until(() => {
    if (buf.subarray(0, 3).equals(Buffer.from('.\r\n'))) return 3;
    const i = buf.indexOf('\r\n.\r\n');
    return i >= 0 ? i + 5 : -1;
  });
  sock.write('QUIT\r\n');
  await line();
  sock.destroy();
  const text = body.subarray(0, body.length - 3); // drop ".\r\n"
  // undo dot-stuffing: a line starting with ".." loses one dot
  const lines = text.toString('latin1').split('\r\n').map((l) => (l.startsWith('..') ? l.slice(1) : l));
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

test('mail delivered over LMTP and SMTP reads back byte-exact over IMAP and POP3', { timeout: 60_000 }, async () => {
  const env = await makeEnv([['alice@example.org', 'pw']]);
  const lmtp = createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org' });
  const smtp = createSmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org' });
  const imap = createImapService({ store: env.store, auth: env.auth, hostname: 'imap.example.org' });
  const pop3 = createPop3Service({ store: env.store, auth: env.auth, hostname: 'pop.example.org' });
  try {
    const lmtpPort = (await lmtp.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
    const smtpPort = (await smtp.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
    const imapPort = (await imap.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
    const pop3Port = (await pop3.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;

    const m1 = 'From: x@remote.test\r\nTo: alice@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nMessage-ID: <rb1@remote.test>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\u00e9\r\n.one leading dot\r\n..two\r\n';
    const { client } = await RawSmtp.open(lmtpPort);
    await client.cmd('LHLO mta.test');
    await client.cmd('MAIL FROM:<x@remote.test> BODY=8BITMIME');
    await client.cmd('RCPT TO:<alice+tag@example.org>');
    const stuffed = Buffer.from(m1.replace(/^\./gm, '..'), 'utf8');
    const r = await client.data(stuffed, '.\r\n');
    assert.equal(r.code, 250);
    await client.cmd('QUIT');
    client.close();

    const m2 = 'From: y@remote.test\r\nSubject: second\r\nMessage-ID: <rb2@remote.test>\r\n\r\nsecond body\r\n';
    const py = await runPython<{ refused: Record<string, unknown> }>(
      `
import json, smtplib, sys
a = json.loads(sys.argv[1])
s = smtplib.SMTP('127.0.0.1', a['port'])
refused = s.sendmail('y@remote.test', ['alice@example.org'], a['msg'].encode())
s.quit()
print(json.dumps({'refused': refused}))
`,
      { port: smtpPort, msg: m2 },
    );
    assert.deepEqual(py.refused, {});

    const imapClient = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user: 'alice@example.org', pass: 'pw' }, logger: false });
    await imapClient.connect();
    const sources: Buffer[] = [];
    const lock = await imapClient.getMailboxLock('INBOX');
    try {
      for await (const msg of imapClient.fetch('1:*', { source: true, uid: true })) if (msg.source) sources.push(msg.source);
    } finally {
      lock.release();
    }
    await imapClient.logout();
    assert.equal(sources.length, 2);
    assert.equal(stripTrace(sources[0]!).toString('utf8'), m1);
    assert.match(sources[0]!.toString(), /^Return-Path: <x@remote\.test>\r\nDelivered-To: alice\+tag@example\.org\r\nReceived: /);
    assert.equal(stripTrace(sources[1]!).toString('utf8'), m2);

    const p1 = await pop3Retr(pop3Port, 'alice@example.org', 'pw', 1);
    assert.ok(p1.equals(sources[0]!), 'POP3 RETR equals the IMAP source');
    const p2 = await pop3Retr(pop3Port, 'alice@example.org', 'pw', 2);
    assert.ok(p2.equals(sources[1]!));
  } finally {
    await Promise.all([lmtp.close(), smtp.close(), imap.close(), pop3.close()]);
    await env.close();
  }
});

test('an IMAP client in IDLE hears about an LMTP delivery at once', { timeout: 30_000 }, async () => {
  const env = await makeEnv([['alice@example.org', 'pw']]);
  const lmtp = createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx.example.org' });
  const imap = createImapService({ store: env.store, auth: env.auth, hostname: 'imap.example.org' });
  try {
    const lmtpPort = (await lmtp.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
    const imapPort = (await imap.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
    const client = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user: 'alice@example.org', pass: 'pw' }, logger: false });
    await client.connect();
    await client.mailboxOpen('INBOX');
    const exists = new Promise<number>((resolve) => client.on('exists', (ev: { count: number }) => resolve(ev.count)));
    void client.idle().catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    const { client: l } = await RawSmtp.open(lmtpPort);
    await l.cmd('LHLO t');
    await l.cmd('MAIL FROM:<x@remote.test>');
    await l.cmd('RCPT TO:<alice@example.org>');
    assert.equal((await l.data('Subject: push\r\n\r\nnew mail\r\n')).code, 250);
    l.close();
    assert.equal(await exists, 1);
    await client.logout();
  } finally {
    await lmtp.close();
    await imap.close();
    await env.close();
  }
});

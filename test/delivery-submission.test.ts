import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { createOutboundQueue, createSubmissionService, type OutboundQueue } from '../src/delivery/index.js';
import { MAX_AUTH_FAILURES } from '../src/delivery/submission.js';
import type { NetService } from '../src/lib/service.js';
import { openServerStore } from '../src/server/store.js';
import { Authenticator } from '../src/auth/index.js';
import { makeEnv, mailboxContents, RawSmtp, startSink, stripTrace, testTls, type Env } from './delivery/helpers.js';

type Sink = Awaited<ReturnType<typeof startSink>>;

function transport(port: number, secure: boolean, user = 'alice@example.org', pass = 'pw') {
  return nodemailer.createTransport({ host: '127.0.0.1', port, secure, auth: { user, pass }, tls: { rejectUnauthorized: false }, logger: false });
}

const plain = (s: string) => Buffer.from(s).toString('base64');

describe('submission and the outbound queue', () => {
  let env: Env;
  let sink: Sink;
  let sink2: Sink;
  let svc: NetService;
  let queue: OutboundQueue;
  let tlsPort: number;
  let plainPort: number;
  let offset = 0; // queue clock offset, to make retries due without waiting
  const now = () => new Date(Date.now() + offset);
  let closedPort: number;

  before(async () => {
    env = await makeEnv([
      ['alice@example.org', 'pw'],
      ['bob@example.org', 'pw'],
    ]);
    await env.store.directory.addAlias('sales@example.org', 'alice@example.org');
    const tls = await testTls();
    sink = await startSink({ tls });
    sink2 = await startSink({ host: '127.0.0.2', port: sink.port });
    // a port with nothing listening: connection refused
    const probe = await startSink();
    closedPort = probe.port;
    await probe.close();
    queue = createOutboundQueue({
      store: env.store,
      auth: env.auth,
      hostname: 'mail.example.org',
      routes: { 'remote.test': { host: '127.0.0.1', port: sink.port }, 'down.test': { host: '127.0.0.1', port: closedPort } },
      resolveMx: async (domain) => {
        // the most preferred host (127.0.0.3, nothing listening there) refuses; the next by preference is
        // 127.0.0.2 (sink2), never the least preferred 127.0.0.1
        if (domain === 'mx.test') return [
          { exchange: '127.0.0.1.', priority: 20 },
          { exchange: '127.0.0.3', priority: 1 },
          { exchange: '127.0.0.2', priority: 5 },
        ];
        if (domain === 'nullmx.test') return [{ exchange: '', priority: 0 }];
        throw Object.assign(new Error('queryMx ENOTFOUND'), { code: 'ENOTFOUND' });
      },
      port: sink.port,
      allowInternal: true, // the MX hosts of mx.test are loopback addresses
      retrySchedule: [60_000],
      maxAttempts: 3,
      now,
    });
    svc = createSubmissionService({ store: env.store, auth: env.auth, hostname: 'mail.example.org', tls, outbound: queue, maxMessageSize: 100_000 });
    tlsPort = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: true })).port;
    plainPort = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  });
  after(async () => {
    await svc.close();
    await queue.stop();
    await sink.close();
    await sink2.close();
    await env.close();
  });

  test('implicit TLS + AUTH: local recipient delivered at once, remote one queued and relayed, Sent copy saved', async () => {
    const raw = 'From: Alice <alice@example.org>\r\nTo: bob@example.org, friend@remote.test\r\nSubject: hello\r\nMessage-ID: <sub1@example.org>\r\nDate: Fri, 27 Nov 2026 07:00:00 +0000\r\n\r\nHi both.\r\n';
    const info = await transport(tlsPort, true).sendMail({ envelope: { from: 'alice@example.org', to: ['bob@example.org', 'friend@remote.test'] }, raw });
    assert.match(info.response, /^250 /);
    const bob = await mailboxContents(env.store, 'bob@example.org');
    assert.equal(bob.length, 1);
    assert.equal(stripTrace(bob[0]!).toString(), raw);
    assert.match(bob[0]!.toString(), /with ESMTPSA id /);
    const sent = await mailboxContents(env.store, 'alice@example.org', 'Sent');
    assert.equal(sent.length, 1);
    assert.equal(sent[0]!.toString(), raw, 'the Sent copy is the message as submitted');
    const q = await env.store.queue.list();
    assert.equal(q.length, 1);
    assert.deepEqual(q[0]!.recipients, ['friend@remote.test']);

    await queue.runOnce();
    assert.equal((await env.store.queue.list()).length, 0);
    assert.equal(sink.messages.length, 1);
    const got = sink.messages[0]!;
    assert.equal(got.from, 'alice@example.org');
    assert.deepEqual(got.to, ['friend@remote.test']);
    assert.ok(got.secure, 'opportunistic STARTTLS to the remote host');
    assert.equal(stripTrace(got.raw).toString(), raw);
    assert.match(got.raw.toString(), /^Received: from \S+ \(\[127\.0\.0\.1\]\)\r\n\tby mail\.example\.org \(mailroom\) with ESMTPSA id/);
  });

  test('a copy the client already put in Sent is not saved twice; missing Message-ID and Date are added', async () => {
    const alice = (await env.store.directory.getUser('alice@example.org'))!;
    const sentBox = (await env.store.mail.getMailbox(alice.id, 'Sent'))!;
    const raw = 'From: alice@example.org\r\nTo: bob@example.org\r\nSubject: dup\r\nMessage-ID: <dup1@example.org>\r\nDate: Fri, 27 Nov 2026 07:00:00 +0000\r\n\r\nx\r\n';
    await env.store.mail.append(sentBox.id, Buffer.from(raw), { flags: ['\\Seen'] });
    const before = (await mailboxContents(env.store, 'alice@example.org', 'Sent')).length;
    await transport(plainPort, false).sendMail({ envelope: { from: 'alice@example.org', to: ['bob@example.org'] }, raw });
    assert.equal((await mailboxContents(env.store, 'alice@example.org', 'Sent')).length, before);

    await transport(plainPort, false).sendMail({ envelope: { from: 'alice@example.org', to: ['bob@example.org'] }, raw: 'Subject: bare\r\n\r\nno ids\r\n' });
    const sent = await mailboxContents(env.store, 'alice@example.org', 'Sent');
    assert.equal(sent.length, before + 1);
    const last = sent[sent.length - 1]!.toString();
    assert.match(last, /^Date: \w{3}, \d+ \w{3} \d{4} [\d:]{8} \+0000\r\nMessage-ID: <[0-9a-f]+@mail\.example\.org>\r\nSubject: bare\r\n/);
  });

  test('AUTH required; bad password 535; sender must be one of the user\'s addresses', async () => {
    const { client } = await RawSmtp.open(plainPort);
    const ehlo = await client.cmd('EHLO client.test');
    assert.ok(ehlo.lines.some((l) => /AUTH PLAIN LOGIN/.test(l)), 'AUTH offered on loopback before TLS');
    assert.ok(ehlo.lines.some((l) => /STARTTLS/.test(l)));
    assert.equal((await client.cmd('MAIL FROM:<alice@example.org>')).code, 530);
    assert.equal((await client.cmd(`AUTH PLAIN ${plain('\0alice@example.org\0wrong')}`)).code, 535);
    assert.equal((await client.cmd(`AUTH PLAIN ${plain('\0alice@example.org\0pw')}`)).code, 235);
    const notOwned = await client.cmd('MAIL FROM:<bob@example.org>');
    assert.equal(notOwned.code, 553, 'someone else\'s address');
    assert.match(notOwned.text, /^553 5\.7\.1 Sender address <bob@example\.org> not owned by user alice@example\.org$/);
    assert.equal((await client.cmd('MAIL FROM:<>')).code, 553, 'null sender');
    assert.equal((await client.cmd('MAIL FROM:<alice+lists@example.org>')).code, 250, 'plus-variant');
    assert.equal((await client.cmd('RSET')).code, 250);
    assert.equal((await client.cmd('MAIL FROM:<sales@example.org>')).code, 250, 'alias pointing to alice');
    assert.equal((await client.cmd('RCPT TO:<nobody@example.org>')).code, 550, 'unknown local recipient refused at once');
    assert.equal((await client.cmd('RCPT TO:<someone@remote.test>')).code, 250, 'authenticated relay');
    assert.equal((await client.cmd('QUIT')).code, 221);
    client.close();
    assert.equal((await env.store.queue.list()).length, 0);
  });

  test('the fifth failed AUTH on one connection is answered 421 and closes it; a new connection authenticates', async () => {
    const { client } = await RawSmtp.open(plainPort);
    assert.equal((await client.cmd('EHLO client.test')).code, 250);
    for (let i = 1; i < MAX_AUTH_FAILURES; i++) assert.equal((await client.cmd(`AUTH PLAIN ${plain('\0bob@example.org\0wrong' + i)}`)).code, 535, `attempt ${i}`);
    const last = await client.cmd(`AUTH PLAIN ${plain('\0bob@example.org\0wrong')}`);
    assert.equal(last.code, 421);
    assert.match(last.text, /^421 4\.7\.0 /);
    await client.closedPromise;
    const again = (await RawSmtp.open(plainPort)).client;
    assert.equal((await again.cmd('EHLO client.test')).code, 250);
    assert.equal((await again.cmd(`AUTH PLAIN ${plain('\0bob@example.org\0pw')}`)).code, 235);
    assert.equal((await again.cmd('QUIT')).code, 221);
    again.close();
  });

  test('AUTH LOGIN works; oversize submission gets 552 and queues nothing', async () => {
    const { client } = await RawSmtp.open(plainPort);
    await client.cmd('EHLO client.test');
    assert.equal((await client.cmd('AUTH LOGIN')).code, 334);
    assert.equal((await client.cmd(plain('alice@example.org'))).code, 334);
    assert.equal((await client.cmd(plain('pw'))).code, 235);
    await client.cmd('MAIL FROM:<alice@example.org>');
    await client.cmd('RCPT TO:<x@remote.test>');
    const r = await client.data(`Subject: big\r\n\r\n${'y'.repeat(900)}\r\n`.repeat(150));
    assert.equal(r.code, 552);
    assert.equal((await env.store.queue.list()).length, 0);
    await client.cmd('QUIT');
    client.close();
  });

  test('a permanent 5xx from the remote side bounces at once (RFC 3464 DSN to the sender)', async () => {
    sink.setRcptReply((a) => (a === 'bad@remote.test' ? [550, '5.1.1 No such mailbox here'] : null));
    const before = (await mailboxContents(env.store, 'alice@example.org')).length;
    const sinkBefore = sink.messages.length;
    await transport(tlsPort, true).sendMail({
      envelope: { from: 'alice@example.org', to: ['bad@remote.test', 'good@remote.test'] },
      raw: 'From: alice@example.org\r\nSubject: will bounce\r\nMessage-ID: <b1@example.org>\r\n\r\nbody\r\n',
    });
    await queue.runOnce();
    assert.equal(sink.messages.length, sinkBefore + 1);
    assert.deepEqual(sink.messages[sink.messages.length - 1]!.to, ['good@remote.test']);
    assert.equal((await env.store.queue.list()).length, 0);
    const inbox = await mailboxContents(env.store, 'alice@example.org');
    assert.equal(inbox.length, before + 1);
    const dsn = inbox[inbox.length - 1]!.toString();
    assert.match(dsn, /^Return-Path: <>\r\n/);
    assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status;/);
    assert.match(dsn, /Content-Type: message\/delivery-status\r\n\r\nReporting-MTA: dns; mail\.example\.org\r\n/);
    assert.match(dsn, /Final-Recipient: rfc822; bad@remote\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; 127\.0\.0\.1\r\nDiagnostic-Code: smtp; 550 5\.1\.1 No such mailbox here/);
    assert.doesNotMatch(dsn, /Final-Recipient: rfc822; good@remote\.test/);
    assert.match(dsn, /Content-Type: text\/rfc822-headers\r\n\r\nReceived: [^]*Message-ID: <b1@example\.org>/);
    sink.setRcptReply(() => null);
  });

  test('4xx and connection failures retry with backoff; final failure bounces', async () => {
    sink.setRcptReply((a) => (a === 'later@remote.test' ? [451, 'Greylisted, come back later'] : null));
    await transport(tlsPort, true).sendMail({
      envelope: { from: 'alice@example.org', to: ['later@remote.test', 'user@down.test'] },
      raw: 'From: alice@example.org\r\nSubject: retry\r\nMessage-ID: <r1@example.org>\r\n\r\nbody\r\n',
    });
    await queue.runOnce();
    let q = await env.store.queue.list();
    assert.equal(q.length, 1);
    assert.deepEqual([...q[0]!.recipients].sort(), ['later@remote.test', 'user@down.test']);
    assert.equal(q[0]!.attempts, 1);
    assert.match(q[0]!.lastError ?? '', /451/);
    assert.ok(q[0]!.nextAttemptAt.getTime() > Date.now() + 50_000, 'next attempt follows the retry schedule');
    // not due yet: nothing happens
    await queue.runOnce();
    assert.equal((await env.store.queue.list())[0]!.attempts, 1);

    // the greylisting host now accepts; the other host stays down
    sink.setRcptReply(() => null);
    const sinkBefore = sink.messages.length;
    offset += 61_000;
    await queue.runOnce();
    assert.equal(sink.messages.length, sinkBefore + 1);
    assert.deepEqual(sink.messages[sink.messages.length - 1]!.to, ['later@remote.test']);
    q = await env.store.queue.list();
    assert.equal(q.length, 1);
    assert.deepEqual(q[0]!.recipients, ['user@down.test']);
    assert.equal(q[0]!.attempts, 2);

    const before = (await mailboxContents(env.store, 'alice@example.org')).length;
    offset += 61_000;
    await queue.runOnce(); // third attempt = maxAttempts: gives up and bounces
    assert.equal((await env.store.queue.list()).length, 0);
    const inbox = await mailboxContents(env.store, 'alice@example.org');
    assert.equal(inbox.length, before + 1);
    const dsn = inbox[inbox.length - 1]!.toString();
    assert.match(dsn, /Final-Recipient: rfc822; user@down\.test\r\nAction: failed\r\nStatus: 4\.4\.1\r\n/);
    assert.match(dsn, /gave up after 3 attempts/);
  });

  test('MX lookup override: lowest preference first, next host when it refuses; null MX and unknown domains bounce at once', async () => {
    const sinkBefore = sink.messages.length;
    const before = (await mailboxContents(env.store, 'alice@example.org')).length;
    await transport(tlsPort, true).sendMail({
      envelope: { from: 'alice@example.org', to: ['someone@mx.test', 'x@nullmx.test', 'y@nxdomain.test'] },
      raw: 'From: alice@example.org\r\nSubject: mx\r\n\r\nbody\r\n',
    });
    await queue.runOnce();
    assert.equal(sink.messages.length, sinkBefore, 'the least preferred MX is not used');
    assert.equal(sink2.messages.length, 1);
    assert.deepEqual(sink2.messages[0]!.to, ['someone@mx.test']);
    const inbox = await mailboxContents(env.store, 'alice@example.org');
    assert.equal(inbox.length, before + 1);
    const dsn = inbox[inbox.length - 1]!.toString();
    assert.match(dsn, /Final-Recipient: rfc822; x@nullmx\.test\r\nAction: failed\r\nStatus: 5\.1\.10\r\n/);
    assert.match(dsn, /Final-Recipient: rfc822; y@nxdomain\.test\r\nAction: failed\r\nStatus: 5\.1\.2\r\n/);
    assert.equal((await env.store.queue.list()).length, 0);
  });

  test('per-user rate limit', async () => {
    const limited = createSubmissionService({ store: env.store, auth: env.auth, hostname: 'mail.example.org', outbound: queue, rateLimit: { messages: 2, perSeconds: 600 } });
    const port = (await limited.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
    try {
      const { client } = await RawSmtp.open(port);
      await client.cmd('EHLO client.test');
      assert.equal((await client.cmd(`AUTH PLAIN ${plain('\0bob@example.org\0pw')}`)).code, 235);
      assert.equal((await client.cmd('MAIL FROM:<bob@example.org>')).code, 250);
      await client.cmd('RSET');
      assert.equal((await client.cmd('MAIL FROM:<bob@example.org>')).code, 250);
      await client.cmd('RSET');
      const third = await client.cmd('MAIL FROM:<bob@example.org>');
      assert.equal(third.code, 451);
      assert.match(third.text, /^451 4\.7\.0 Rate limit exceeded/);
      await client.cmd('QUIT');
      client.close();
    } finally {
      await limited.close();
    }
  });

  test('queued mail survives a restart of the store and the queue', async () => {
    sink.setRcptReply((a) => (a === 'persist@remote.test' ? [421, 'try later'] : null));
    await transport(tlsPort, true).sendMail({
      envelope: { from: 'alice@example.org', to: ['persist@remote.test'] },
      raw: 'From: alice@example.org\r\nSubject: persist\r\nMessage-ID: <p1@example.org>\r\n\r\nkeep me\r\n',
    });
    assert.equal((await env.store.queue.list()).length, 1);
    // a second process opening the same data directory sees the queue and delivers it
    const store2 = await openServerStore({ dataDir: env.dir });
    try {
      sink.setRcptReply(() => null);
      const queue2 = createOutboundQueue({ store: store2, auth: new Authenticator(store2.directory, { failureDelayMs: 0 }), hostname: 'mail.example.org', routes: { 'remote.test': { host: '127.0.0.1', port: sink.port } } });
      const sinkBefore = sink.messages.length;
      await queue2.runOnce();
      await queue2.stop();
      assert.equal(sink.messages.length, sinkBefore + 1);
      assert.match(sink.messages[sink.messages.length - 1]!.raw.toString(), /keep me/);
      assert.equal((await store2.queue.list()).length, 0);
    } finally {
      await store2.close();
    }
  });
});

test('off loopback (simulated): AUTH is neither offered nor accepted before STARTTLS, and works after it', async () => {
  const env = await makeEnv([['alice@example.org', 'pw']]);
  const queue = createOutboundQueue({ store: env.store, auth: env.auth, hostname: 'mx' });
  const svc = createSubmissionService({ store: env.store, auth: env.auth, hostname: 'mx', tls: await testTls(), outbound: queue, cleartextAuthOnLoopback: false });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const { client } = await RawSmtp.open(port);
    const ehlo = await client.cmd('EHLO client.test');
    assert.ok(!ehlo.lines.some((l) => /AUTH/.test(l)), ehlo.text);
    assert.ok(ehlo.lines.some((l) => /STARTTLS/.test(l)));
    assert.ok([500, 502, 538].includes((await client.cmd(`AUTH PLAIN ${plain('\0alice@example.org\0pw')}`)).code));
    assert.equal((await client.cmd('MAIL FROM:<alice@example.org>')).code, 530);
    assert.equal((await client.cmd('STARTTLS')).code, 220);
    const { connect } = await import('node:tls');
    const tlsSock = connect({ socket: client.socket, rejectUnauthorized: false, servername: 'localhost' });
    await new Promise<void>((resolve, reject) => {
      tlsSock.once('secureConnect', () => resolve());
      tlsSock.once('error', reject);
    });
    let buf = '';
    const reply = () =>
      new Promise<string>((resolve) => {
        const check = () => {
          const m = /(^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(buf);
          if (m) {
            const out = buf.slice(0, m.index + m[0].length);
            buf = buf.slice(m.index + m[0].length);
            tlsSock.off('data', onData);
            resolve(out);
          }
        };
        const onData = (d: Buffer) => {
          buf += d.toString();
          check();
        };
        tlsSock.on('data', onData);
        check();
      });
    tlsSock.write('EHLO client.test\r\n');
    assert.match(await reply(), /AUTH PLAIN LOGIN/);
    tlsSock.write(`AUTH PLAIN ${plain('\0alice@example.org\0pw')}\r\n`);
    assert.match(await reply(), /^235 /);
    tlsSock.write('QUIT\r\n');
    await reply();
    tlsSock.destroy();
  } finally {
    await svc.close();
    await env.close();
  }
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLmtpService, createOutboundQueue, createSmtpService, createSubmissionService } from '../src/delivery/index.js';
import { flakyStore, makeEnv, mailboxContents, RawSmtp, startSink } from './delivery/helpers.js';

test('store trouble for one recipient: LMTP answers 451 for it and 250 for the other', async () => {
  const env = await makeEnv([
    ['alice@example.org', 'pw'],
    ['bob@example.org', 'pw'],
  ]);
  const bob = (await env.store.directory.getUser('bob@example.org'))!;
  const bobInbox = (await env.store.mail.getMailbox(bob.id, 'INBOX'))!;
  const svc = createLmtpService({ store: flakyStore(env.store, new Set([bobInbox.id])), auth: env.auth, hostname: 'mx' });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const { client } = await RawSmtp.open(port);
    await client.cmd('LHLO t');
    await client.cmd('MAIL FROM:<s@remote.test>');
    await client.cmd('RCPT TO:<bob@example.org>');
    await client.cmd('RCPT TO:<alice@example.org>');
    const r1 = await client.data('Subject: x\r\n\r\ny\r\n');
    const r2 = await client.reply();
    assert.equal(r1.code, 451);
    assert.equal(r2.code, 250);
    await client.cmd('QUIT');
    client.close();
    assert.equal((await mailboxContents(env.store, 'bob@example.org')).length, 0);
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 1);
  } finally {
    await svc.close();
    await env.close();
  }
});

test('SMTP: a recipient whose copy fails temporarily makes the whole message 451; nothing kept or queued; the retry delivers', async () => {
  const env = await makeEnv([
    ['alice@example.org', 'pw'],
    ['bob@example.org', 'pw'],
  ]);
  const bob = (await env.store.directory.getUser('bob@example.org'))!;
  const bobInbox = (await env.store.mail.getMailbox(bob.id, 'INBOX'))!;
  const failing = new Set([bobInbox.id]);
  const flaky = flakyStore(env.store, failing);
  const svc = createSmtpService({ store: flaky, auth: env.auth, hostname: 'mx' });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const { client } = await RawSmtp.open(port);
    await client.cmd('EHLO t');
    await client.cmd('MAIL FROM:<s@remote.test>');
    await client.cmd('RCPT TO:<bob@example.org>');
    await client.cmd('RCPT TO:<alice@example.org>');
    const r = await client.data('Subject: x\r\n\r\ny\r\n');
    assert.equal(r.code, 451);
    assert.match(r.text, /^451 4\.3\.0 .*<bob@example\.org>/);
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 0, "alice's copy was taken back");
    assert.deepEqual(await env.store.queue.list(), []);
    // the sender's retry, once the store is fine again
    failing.clear();
    await client.cmd('MAIL FROM:<s@remote.test>');
    await client.cmd('RCPT TO:<bob@example.org>');
    await client.cmd('RCPT TO:<alice@example.org>');
    assert.equal((await client.data('Subject: x\r\n\r\ny\r\n')).code, 250);
    await client.cmd('QUIT');
    client.close();
    const got = await mailboxContents(env.store, 'bob@example.org');
    assert.equal(got.length, 1);
    assert.match(got[0]!.toString(), /^Return-Path: <s@remote\.test>\r\nDelivered-To: bob@example\.org\r\nReceived: from t \(\[127\.0\.0\.1\]\)\r\n\tby mx \(mailroom\) with ESMTP id \S+\r\n\tfor <bob@example\.org>;\r\n/);
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 1);
    assert.equal((await env.store.queue.list()).length, 0);
  } finally {
    await svc.close();
    await env.close();
  }
});

test('a started queue delivers submitted mail by itself', { timeout: 20_000 }, async () => {
  const env = await makeEnv([['alice@example.org', 'pw']]);
  const sink = await startSink();
  const queue = createOutboundQueue({ store: env.store, auth: env.auth, hostname: 'mx', smarthost: { host: '127.0.0.1', port: sink.port }, smarthostTls: 'none', pollIntervalMs: 60_000 });
  const svc = createSubmissionService({ store: env.store, auth: env.auth, hostname: 'mx', outbound: queue });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  queue.start();
  try {
    const { client } = await RawSmtp.open(port);
    await client.cmd('EHLO t');
    assert.equal((await client.cmd(`AUTH PLAIN ${Buffer.from('\0alice@example.org\0pw').toString('base64')}`)).code, 235);
    await client.cmd('MAIL FROM:<alice@example.org>');
    await client.cmd('RCPT TO:<someone@far.test>');
    assert.equal((await client.data('Subject: auto\r\nMessage-ID: <auto@x>\r\n\r\nbody\r\n')).code, 250);
    await client.cmd('QUIT');
    client.close();
    const t0 = Date.now();
    while (sink.messages.length === 0 && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 25));
    assert.equal(sink.messages.length, 1, 'kicked by the submission, long before the poll interval');
    assert.deepEqual(sink.messages[0]!.to, ['someone@far.test']);
  } finally {
    await svc.close();
    await queue.stop();
    await sink.close();
    await env.close();
  }
});

test('SMTP: a permanent failure for one recipient after another succeeded is the reply (552); no bounce, nothing kept', async () => {
  const env = await makeEnv([
    ['alice@example.org', 'pw'],
    ['bob@example.org', 'pw'],
  ]);
  const bob = (await env.store.directory.getUser('bob@example.org'))!;
  const bobInbox = (await env.store.mail.getMailbox(bob.id, 'INBOX'))!;
  const svc = createSmtpService({ store: flakyStore(env.store, new Set([bobInbox.id]), 'TOO_BIG'), auth: env.auth, hostname: 'mx' });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const { client } = await RawSmtp.open(port);
    await client.cmd('EHLO t');
    await client.cmd('MAIL FROM:<s@remote.test>');
    await client.cmd('RCPT TO:<alice@example.org>');
    await client.cmd('RCPT TO:<bob@example.org>');
    const r = await client.data('Subject: partly\r\nMessage-ID: <partly@remote.test>\r\n\r\ny\r\n');
    assert.equal(r.code, 552);
    assert.match(r.text, /^552 5\.2\.3 Message too big for the mailbox \(<bob@example\.org>\)$/);
    await client.cmd('QUIT');
    client.close();
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 0);
    assert.deepEqual(await env.store.queue.list(), []);
  } finally {
    await svc.close();
    await env.close();
  }
});

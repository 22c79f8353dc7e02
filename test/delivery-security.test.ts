/**
 * Security review findings for mail in and out: one stored copy per user and transaction (H1), sender
 * ownership on submission (M4), no backscatter from the MX (M5). Raw sockets on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLmtpService, createOutboundQueue, createSmtpService, createSubmissionService } from '../src/delivery/index.js';
import type { Store } from '../src/store/handle.js';
import { StoreError } from '../src/store/types.js';
import { overrideMethods, withParts } from './helpers/store.js';
import { makeEnv, mailboxContents, RawSmtp } from './delivery/helpers.js';

const plain = (s: string) => Buffer.from(s).toString('base64');

test('H1 SMTP MX: 200 plus-addresses, an alias and a duplicate of one user store one copy; every RCPT answered 250', async () => {
  const env = await makeEnv([
    ['bob@example.org', 'pw'],
    ['alice@example.org', 'pw'],
  ]);
  await env.store.directory.addAlias('robert@example.org', 'bob@example.org');
  const svc = createSmtpService({ store: env.store, auth: env.auth, hostname: 'mx' });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const { client } = await RawSmtp.open(port);
    await client.cmd('EHLO t');
    assert.equal((await client.cmd('MAIL FROM:<s@remote.test>')).code, 250);
    const rcpts = [...Array.from({ length: 200 }, (_, i) => `bob+${i}@example.org`), 'robert@example.org', 'BOB@example.org', 'bob@example.org', 'alice@example.org'];
    let batch = '';
    for (const r of rcpts) batch += `RCPT TO:<${r}>\r\n`;
    client.write(batch);
    for (let i = 0; i < rcpts.length; i++) assert.equal((await client.reply()).code, 250, rcpts[i]);
    const body = `Subject: big\r\nMessage-ID: <h1@remote.test>\r\n\r\n${`${'z'.repeat(1022)}\r\n`.repeat(512)}`;
    const r = await client.data(body);
    assert.equal(r.code, 250, r.text);
    await client.cmd('QUIT');
    client.close();
    const bob = await mailboxContents(env.store, 'bob@example.org');
    assert.equal(bob.length, 1, 'one copy for bob');
    assert.match(bob[0]!.toString('latin1', 0, 200), /^Return-Path: <s@remote\.test>\r\nDelivered-To: bob\+0@example\.org\r\n/);
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 1);
  } finally {
    await svc.close();
    await env.close();
  }
});

test('H1 LMTP: recipients of one user get one copy and one reply per RCPT, all the same', async () => {
  const env = await makeEnv([
    ['bob@example.org', 'pw'],
    ['alice@example.org', 'pw'],
  ]);
  await env.store.directory.addAlias('robert@example.org', 'bob@example.org');
  const svc = createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx' });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const { client } = await RawSmtp.open(port);
    await client.cmd('LHLO t');
    await client.cmd('MAIL FROM:<s@remote.test>');
    const rcpts = ['bob+a@example.org', 'alice@example.org', 'robert@example.org', 'bob@example.org', 'bob+a@example.org'];
    for (const r of rcpts) assert.equal((await client.cmd(`RCPT TO:<${r}>`)).code, 250);
    const first = await client.data('Subject: lmtp\r\n\r\nx\r\n');
    const replies = [first];
    for (let i = 1; i < rcpts.length; i++) replies.push(await client.reply());
    assert.deepEqual(
      replies.map((x) => x.code),
      [250, 250, 250, 250, 250],
    );
    const bobReplies = [0, 2, 3, 4].map((i) => replies[i]!.text);
    assert.ok(bobReplies.every((t) => t === bobReplies[0]), `same result for bob's recipients: ${bobReplies.join(' | ')}`);
    await client.cmd('QUIT');
    client.close();
    assert.equal((await mailboxContents(env.store, 'bob@example.org')).length, 1);
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 1);
  } finally {
    await svc.close();
    await env.close();
  }
});

test('H1 submission: local recipients of one user get one copy', async () => {
  const env = await makeEnv([
    ['alice@example.org', 'pw'],
    ['bob@example.org', 'pw'],
  ]);
  const queue = createOutboundQueue({ store: env.store, auth: env.auth, hostname: 'mx' });
  const svc = createSubmissionService({ store: env.store, auth: env.auth, hostname: 'mx', outbound: queue });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const { client } = await RawSmtp.open(port);
    await client.cmd('EHLO t');
    assert.equal((await client.cmd(`AUTH PLAIN ${plain('\0alice@example.org\0pw')}`)).code, 235);
    await client.cmd('MAIL FROM:<alice@example.org>');
    for (let i = 0; i < 20; i++) assert.equal((await client.cmd(`RCPT TO:<bob+${i}@example.org>`)).code, 250);
    assert.equal((await client.data('From: alice@example.org\r\nSubject: s\r\n\r\nx\r\n')).code, 250);
    await client.cmd('QUIT');
    client.close();
    assert.equal((await mailboxContents(env.store, 'bob@example.org')).length, 1);
  } finally {
    await svc.close();
    await queue.stop();
    await env.close();
  }
});

test('M4 submission: header From/Sender, a user named a+b, and a user made after an alias of the same address', async () => {
  const env = await makeEnv([
    ['alice@example.org', 'pw'],
    ['bob@example.org', 'pw'],
    ['a@example.org', 'pw'],
  ]);
  await env.store.directory.addAlias('x@example.org', 'alice@example.org');
  await env.store.directory.addAlias('sales@example.org', 'alice@example.org');
  await env.store.directory.createUser('x@example.org', '{PLAIN}pw');
  await env.store.directory.createUser('a+b@example.org', '{PLAIN}pw');
  const queue = createOutboundQueue({ store: env.store, auth: env.auth, hostname: 'mx' });
  const svc = createSubmissionService({ store: env.store, auth: env.auth, hostname: 'mx', outbound: queue });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  const login = async (user: string) => {
    const { client } = await RawSmtp.open(port);
    await client.cmd('EHLO t');
    assert.equal((await client.cmd(`AUTH PLAIN ${plain(`\0${user}\0pw`)}`)).code, 235);
    return client;
  };
  try {
    const alice = await login('alice@example.org');
    const send = async (headers: string) => {
      assert.equal((await alice.cmd('MAIL FROM:<alice@example.org>')).code, 250);
      assert.equal((await alice.cmd('RCPT TO:<bob@example.org>')).code, 250);
      return alice.data(`${headers}Subject: s\r\n\r\nx\r\n`);
    };
    // (a) header From and Sender
    const forged = await send('From: Bob <bob@example.org>\r\n');
    assert.equal(forged.code, 550);
    assert.match(forged.text, /^550 5\.7\.1 .*From.*bob@example\.org/);
    const forgedSender = await send('From: alice@example.org\r\nSender: bob@example.org\r\n');
    assert.equal(forgedSender.code, 550);
    assert.match(forgedSender.text, /^550 5\.7\.1 .*Sender.*bob@example\.org/);
    const twoFrom = await send('From: alice@example.org, bob@example.org\r\n');
    assert.equal(twoFrom.code, 550, 'every From address must be owned');
    assert.equal((await send('From: "Alice" <Alice+News@example.org>\r\n')).code, 250);
    assert.equal((await send('From: Sales <sales@example.org>\r\nSender: alice@example.org\r\n')).code, 250);
    assert.equal((await mailboxContents(env.store, 'bob@example.org')).length, 2, 'the refused messages were not delivered');
    // (c) x@ is a user now: the older alias x@ -> alice no longer lets alice use it
    const x = await alice.cmd('MAIL FROM:<x@example.org>');
    assert.equal(x.code, 553);
    assert.match(x.text, /^553 5\.7\.1 .*x@example\.org/);
    assert.equal((await alice.cmd('MAIL FROM:<x+tag@example.org>')).code, 553);
    alice.close();
    // (b) a@ must not send as the separate user a+b@, but may use a+c@
    const a = await login('a@example.org');
    const ab = await a.cmd('MAIL FROM:<a+b@example.org>');
    assert.equal(ab.code, 553);
    assert.match(ab.text, /^553 5\.7\.1 .*a\+b@example\.org/);
    assert.equal((await a.cmd('MAIL FROM:<a+c@example.org>')).code, 250);
    a.close();
    const xUser = await login('x@example.org');
    assert.equal((await xUser.cmd('MAIL FROM:<x@example.org>')).code, 250, 'the user x@ owns its address');
    xUser.close();
    const abUser = await login('a+b@example.org');
    assert.equal((await abUser.cmd('MAIL FROM:<a+b@example.org>')).code, 250);
    abUser.close();
  } finally {
    await svc.close();
    await queue.stop();
    await env.close();
  }
});

test('M5 SMTP MX: a planted Delivered-To is refused in the transaction; no bounce is queued', async () => {
  const env = await makeEnv([
    ['alice@example.org', 'pw'],
    ['bob@example.org', 'pw'],
  ]);
  const svc = createSmtpService({ store: env.store, auth: env.auth, hostname: 'mx' });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const { client } = await RawSmtp.open(port);
    await client.cmd('EHLO t');
    await client.cmd('MAIL FROM:<victim@remote.test>');
    await client.cmd('RCPT TO:<alice@example.org>');
    await client.cmd('RCPT TO:<bob@example.org>');
    const r = await client.data('Delivered-To: bob@example.org\r\nSubject: planted\r\n\r\nx\r\n');
    assert.equal(r.code, 554, r.text);
    assert.match(r.text, /^554 5\.4\.6 .*bob@example\.org/);
    await client.cmd('QUIT');
    client.close();
    assert.deepEqual(await env.store.queue.list(), [], 'no bounce to the envelope sender');
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 0, 'all or nothing');
  } finally {
    await svc.close();
    await env.close();
  }
});

test('M5 SMTP MX: a store failure for one recipient after another committed is the reply; nothing queued, nothing kept', async () => {
  const env = await makeEnv([
    ['alice@example.org', 'pw'],
    ['bob@example.org', 'pw'],
  ]);
  const bob = (await env.store.directory.getUser('bob@example.org'))!;
  const bobInbox = (await env.store.mail.getMailbox(bob.id, 'INBOX'))!;
  const failing = new Set([bobInbox.id]);
  let code: 'TEMPORARY' | 'TOO_BIG' = 'TOO_BIG';
  const real = env.store.mail;
  const flaky = withParts(env.store, {
    mail: overrideMethods(real, {
      async append(mailboxId, raw, opts) {
        if (failing.has(mailboxId)) throw new StoreError(code, 'refused by the test');
        return real.append(mailboxId, raw, opts);
      },
    }),
  });
  const svc = createSmtpService({ store: flaky, auth: env.auth, hostname: 'mx' });
  const port = (await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  try {
    const { client } = await RawSmtp.open(port);
    await client.cmd('EHLO t');
    for (const c of ['TOO_BIG', 'TEMPORARY'] as const) {
      code = c;
      await client.cmd('MAIL FROM:<victim@remote.test>');
      await client.cmd('RCPT TO:<alice@example.org>');
      await client.cmd('RCPT TO:<bob@example.org>');
      const r = await client.data('Subject: partly\r\n\r\ny\r\n');
      assert.equal(r.code, c === 'TOO_BIG' ? 552 : 451, r.text);
      assert.match(r.text, /bob@example\.org/);
    }
    failing.clear();
    await client.cmd('MAIL FROM:<victim@remote.test>');
    await client.cmd('RCPT TO:<alice@example.org>');
    await client.cmd('RCPT TO:<bob@example.org>');
    assert.equal((await client.data('Subject: retried\r\n\r\ny\r\n')).code, 250);
    await client.cmd('QUIT');
    client.close();
    assert.deepEqual(await env.store.queue.list(), []);
    assert.equal((await mailboxContents(env.store, 'alice@example.org')).length, 1, 'only the retried message');
    assert.equal((await mailboxContents(env.store, 'bob@example.org')).length, 1);
  } finally {
    await svc.close();
    await env.close();
  }
});


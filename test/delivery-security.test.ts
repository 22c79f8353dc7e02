/**
 * Security review findings for mail in and out: one stored copy per user and transaction (H1), sender
 * ownership on submission (M4), no backscatter from the MX (M5). Raw sockets on 127.0.0.1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLmtpService, createOutboundQueue, createSmtpService, createSubmissionService } from '../src/delivery/index.js';
import { flakyStore, inboxId, mailboxContents, RawSmtp, withService, type Env } from './delivery/helpers.js';

const plain = (s: string) => Buffer.from(s).toString('base64');
const ALICE_BOB = ['alice@example.org', 'bob@example.org'];

/** Opens a session (EHLO or LHLO, AUTH when `user` is given). */
async function session(port: number, opts: { lmtp?: boolean; user?: string } = {}): Promise<RawSmtp> {
  const { client } = await RawSmtp.open(port);
  assert.equal((await client.cmd(opts.lmtp ? 'LHLO t' : 'EHLO t')).code, 250);
  if (opts.user) assert.equal((await client.cmd(`AUTH PLAIN ${plain(`\0${opts.user}\0pw`)}`)).code, 235);
  return client;
}

/** MAIL FROM and RCPT TO (pipelined), asserting every RCPT is accepted. */
async function envelope(client: RawSmtp, from: string, rcpts: string[]): Promise<void> {
  assert.equal((await client.cmd(`MAIL FROM:<${from}>`)).code, 250);
  client.write(rcpts.map((r) => `RCPT TO:<${r}>\r\n`).join(''));
  for (const r of rcpts) assert.equal((await client.reply()).code, 250, r);
}

const count = async (env: Env, address: string) => (await mailboxContents(env.store, address)).length;

const submission = (env: Env) =>
  createSubmissionService({ store: env.store, auth: env.auth, hostname: 'mx', outbound: createOutboundQueue({ store: env.store, auth: env.auth, hostname: 'mx' }) });

test('H1 SMTP MX: 200 plus-addresses, an alias and a duplicate of one user store one copy; every RCPT answered 250', async () => {
  await withService(ALICE_BOB, (env) => createSmtpService({ store: env.store, auth: env.auth, hostname: 'mx' }), async (env, port) => {
    await env.store.directory.addAlias('robert@example.org', 'bob@example.org');
    const client = await session(port);
    const plus = Array.from({ length: 200 }, (_, i) => `bob+${i}@example.org`);
    await envelope(client, 's@remote.test', [...plus, 'robert@example.org', 'BOB@example.org', 'bob@example.org', 'alice@example.org']);
    const r = await client.data(`Subject: big\r\nMessage-ID: <h1@remote.test>\r\n\r\n${`${'z'.repeat(1022)}\r\n`.repeat(512)}`);
    assert.equal(r.code, 250, r.text);
    client.close();
    const bob = await mailboxContents(env.store, 'bob@example.org');
    assert.equal(bob.length, 1, 'one copy for bob');
    assert.match(bob[0]!.toString('latin1', 0, 200), /^Return-Path: <s@remote\.test>\r\nDelivered-To: bob\+0@example\.org\r\n/);
    assert.equal(await count(env, 'alice@example.org'), 1);
  });
});

test('H1 LMTP: recipients of one user get one copy and one reply per RCPT, all the same', async () => {
  await withService(ALICE_BOB, (env) => createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx' }), async (env, port) => {
    await env.store.directory.addAlias('robert@example.org', 'bob@example.org');
    const client = await session(port, { lmtp: true });
    const rcpts = ['bob+a@example.org', 'alice@example.org', 'robert@example.org', 'bob@example.org', 'bob+a@example.org'];
    await envelope(client, 's@remote.test', rcpts);
    const replies = [await client.data('Subject: lmtp\r\n\r\nx\r\n')];
    for (let i = 1; i < rcpts.length; i++) replies.push(await client.reply());
    assert.deepEqual(
      replies.map((x) => x.code),
      [250, 250, 250, 250, 250],
    );
    const bobReplies = [0, 2, 3, 4].map((i) => replies[i]!.text);
    assert.ok(bobReplies.every((t) => t === bobReplies[0]), `same result for bob's recipients: ${bobReplies.join(' | ')}`);
    client.close();
    assert.equal(await count(env, 'bob@example.org'), 1);
    assert.equal(await count(env, 'alice@example.org'), 1);
  });
});

test('H1 LMTP: a repeated RCPT gets its own reply for a message refused as too big, and for a bad message', async () => {
  await withService(ALICE_BOB, (env) => createLmtpService({ store: env.store, auth: env.auth, hostname: 'mx', maxMessageSize: 1000 }), async (env, port) => {
    const client = await session(port, { lmtp: true });
    for (const [message, code] of [[`Subject: big\r\n\r\n${'y'.repeat(2000)}\r\n`, 552], ['Subject: nul\r\n\r\n\x00\r\n', 554]] as const) {
      await envelope(client, 's@remote.test', ['bob@example.org', 'alice@example.org', 'bob@example.org']);
      const replies = [await client.data(message)];
      for (let i = 1; i < 3; i++) replies.push(await client.reply());
      assert.deepEqual(
        replies.map((r) => r.code),
        [code, code, code],
      );
    }
    assert.equal((await client.cmd('NOOP')).code, 250, 'the session goes on');
    client.close();
    assert.equal(await count(env, 'bob@example.org'), 0);
  });
});

test('H1 submission: local recipients of one user get one copy', async () => {
  await withService(ALICE_BOB, submission, async (env, port) => {
    const client = await session(port, { user: 'alice@example.org' });
    await envelope(
      client,
      'alice@example.org',
      Array.from({ length: 20 }, (_, i) => `bob+${i}@example.org`),
    );
    assert.equal((await client.data('From: alice@example.org\r\nSubject: s\r\n\r\nx\r\n')).code, 250);
    client.close();
    assert.equal(await count(env, 'bob@example.org'), 1);
  });
});

test('M4 submission: header From/Sender, a user named a+b, and a user made after an alias of the same address', async () => {
  await withService([...ALICE_BOB, 'a@example.org'], submission, async (env, port) => {
    await env.store.directory.addAlias('x@example.org', 'alice@example.org');
    await env.store.directory.addAlias('sales@example.org', 'alice@example.org');
    await env.store.directory.createUser('x@example.org', '{PLAIN}pw');
    await env.store.directory.createUser('a+b@example.org', '{PLAIN}pw');
    const alice = await session(port, { user: 'alice@example.org' });
    const send = async (headers: string) => {
      await envelope(alice, 'alice@example.org', ['bob@example.org']);
      return alice.data(`${headers}Subject: s\r\n\r\nx\r\n`);
    };
    // (a) header From and Sender
    const forged = await send('From: Bob <bob@example.org>\r\n');
    assert.equal(forged.code, 550);
    assert.match(forged.text, /^550 5\.7\.1 From: header address <bob@example\.org> not owned by user alice@example\.org$/);
    const forgedSender = await send('From: alice@example.org\r\nSender: bob@example.org\r\n');
    assert.equal(forgedSender.code, 550);
    assert.match(forgedSender.text, /^550 5\.7\.1 Sender: header address <bob@example\.org>/);
    assert.equal((await send('From: alice@example.org, bob@example.org\r\n')).code, 550, 'every From address must be owned');
    assert.equal((await send('From: undisclosed:;\r\n')).code, 550, 'a From without an address');
    assert.equal((await send('From: "Alice" <Alice+News@example.org>\r\n')).code, 250);
    assert.equal((await send('From: Sales <sales@example.org>\r\nSender: alice@example.org\r\n')).code, 250);
    assert.equal(await count(env, 'bob@example.org'), 2, 'the refused messages were not delivered');
    // (c) x@ is a user now: the older alias x@ -> alice no longer lets alice use it
    const x = await alice.cmd('MAIL FROM:<x@example.org>');
    assert.equal(x.code, 553);
    assert.match(x.text, /^553 5\.7\.1 Sender address <x@example\.org> not owned by user alice@example\.org$/);
    assert.equal((await alice.cmd('MAIL FROM:<x+tag@example.org>')).code, 553);
    alice.close();
    // (b) a@ must not send as the separate user a+b@, but may use a+c@
    const a = await session(port, { user: 'a@example.org' });
    const ab = await a.cmd('MAIL FROM:<a+b@example.org>');
    assert.equal(ab.code, 553);
    assert.match(ab.text, /^553 5\.7\.1 .*a\+b@example\.org/);
    assert.equal((await a.cmd('MAIL FROM:<a+c@example.org>')).code, 250);
    a.close();
    for (const user of ['x@example.org', 'a+b@example.org']) {
      const c = await session(port, { user });
      assert.equal((await c.cmd(`MAIL FROM:<${user}>`)).code, 250, `the user ${user} owns its address`);
      c.close();
    }
  });
});

test('M5 SMTP MX: a planted Delivered-To is refused in the transaction; no bounce is queued', async () => {
  await withService(ALICE_BOB, (env) => createSmtpService({ store: env.store, auth: env.auth, hostname: 'mx' }), async (env, port) => {
    const client = await session(port);
    await envelope(client, 'victim@remote.test', ALICE_BOB);
    const r = await client.data('Delivered-To: bob@example.org\r\nSubject: planted\r\n\r\nx\r\n');
    assert.equal(r.code, 554, r.text);
    assert.match(r.text, /^554 5\.4\.6 Mail loop: already delivered to bob@example\.org \(<bob@example\.org>\)$/);
    client.close();
    assert.deepEqual(await env.store.queue.list(), [], 'no bounce to the envelope sender');
    assert.equal(await count(env, 'alice@example.org'), 0, 'all or nothing');
  });
});

test('M5 SMTP MX: a store failure for one recipient after another committed is the reply; nothing queued, nothing kept', async () => {
  const failing = new Set<number>();
  let code: 'TEMPORARY' | 'TOO_BIG' = 'TOO_BIG';
  await withService(ALICE_BOB, (env) => createSmtpService({ store: flakyStore(env.store, failing, () => code), auth: env.auth, hostname: 'mx' }), async (env, port) => {
    failing.add(await inboxId(env.store, 'bob@example.org'));
    const client = await session(port);
    for (const c of ['TOO_BIG', 'TEMPORARY'] as const) {
      code = c;
      await envelope(client, 'victim@remote.test', ALICE_BOB);
      const r = await client.data('Subject: partly\r\n\r\ny\r\n');
      assert.equal(r.code, c === 'TOO_BIG' ? 552 : 451, r.text);
      assert.match(r.text, /\(<bob@example\.org>\)$/);
    }
    failing.clear();
    await envelope(client, 'victim@remote.test', ALICE_BOB);
    assert.equal((await client.data('Subject: retried\r\n\r\ny\r\n')).code, 250);
    client.close();
    assert.deepEqual(await env.store.queue.list(), []);
    assert.equal(await count(env, 'alice@example.org'), 1, 'only the retried message');
    assert.equal(await count(env, 'bob@example.org'), 1);
  });
});

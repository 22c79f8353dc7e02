/**
 * One Sent copy per submitted message (Roundcube/Thunderbird append their own copy after sending): the
 * server's copy makes way for a client APPEND of the same Message-ID shortly after; the server copy is a
 * per-user setting (`mailroom user set ADDRESS --sent-copy on|off`) with a service default.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { createOutboundQueue, createSubmissionService } from '../src/delivery/index.js';
import { sentCopyWanted } from '../src/delivery/sent.js';
import { createImapService } from '../src/imap-server/index.js';
import { ROOT } from './helpers/cli.js';
import { makeEnv, mailboxContents, runProgram, type Env } from './delivery/helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(users: Array<[string, string]>, sentCopy?: boolean) {
  const env = await makeEnv(users);
  const queue = createOutboundQueue({ store: env.store, auth: env.auth, hostname: 'mx' });
  const sub = createSubmissionService({ store: env.store, auth: env.auth, hostname: 'mx', outbound: queue, ...(sentCopy === undefined ? {} : { sentCopy }) });
  const subPort = (await sub.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  return {
    env,
    subPort,
    send: (user: string, raw: string) =>
      nodemailer
        .createTransport({ host: '127.0.0.1', port: subPort, secure: false, auth: { user, pass: 'pw' }, logger: false })
        .sendMail({ envelope: { from: user, to: ['bob@example.org'] }, raw }),
    async close() {
      await sub.close();
      await queue.stop();
      await env.close();
    },
  };
}

const message = (id: string, from = 'alice@example.org') =>
  `From: ${from}\r\nTo: bob@example.org\r\nSubject: sent ${id}\r\nMessage-ID: <${id}@example.org>\r\nDate: Mon, 07 Dec 2026 00:00:00 +0000\r\n\r\nbody ${id}\r\n`;

async function sentIds(env: Env, user: string): Promise<string[]> {
  return (await mailboxContents(env.store, user, 'Sent')).map((m) => /Message-ID: (<[^>]+>)/.exec(m.toString())?.[1] ?? '?');
}

test('a client that appends its own Sent copy over IMAP after sending ends up with one copy: its own', { timeout: 30_000 }, async () => {
  const s = await setup([
    ['alice@example.org', 'pw'],
    ['bob@example.org', 'pw'],
  ]);
  const imap = createImapService({ store: s.env.store, auth: s.env.auth, hostname: 'imap.test' });
  const imapPort = (await imap.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  const client = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user: 'alice@example.org', pass: 'pw' }, logger: false });
  try {
    await client.connect();
    const raw = message('tb1');
    await s.send('alice@example.org', raw);
    assert.deepEqual(await sentIds(s.env, 'alice@example.org'), ['<tb1@example.org>'], 'the server kept a copy at submission');
    // what Thunderbird does after a successful send: APPEND the message to Sent, \Seen
    const appended = await client.append('Sent', raw, ['\\Seen']);
    assert.ok(appended && appended.uid);
    const t0 = Date.now();
    while ((await sentIds(s.env, 'alice@example.org')).length > 1 && Date.now() - t0 < 5000) await sleep(25);
    assert.deepEqual(await sentIds(s.env, 'alice@example.org'), ['<tb1@example.org>'], 'one copy left');
    const lock = await client.getMailboxLock('Sent');
    try {
      const uids = (await client.search({ all: true }, { uid: true })) || [];
      assert.deepEqual(uids, [appended.uid], "the client's own copy is the one kept");
    } finally {
      lock.release();
    }
    // a different message appended later does not remove anything
    await s.send('alice@example.org', message('tb2'));
    await client.append('Sent', message('other'), ['\\Seen']);
    await sleep(300);
    assert.deepEqual((await sentIds(s.env, 'alice@example.org')).sort(), ['<other@example.org>', '<tb1@example.org>', '<tb2@example.org>']);
  } finally {
    await client.logout().catch(() => undefined);
    await imap.close();
    await s.close();
  }
});

test('Sent copy per user (mailroom user set --sent-copy) over the service default', { timeout: 60_000 }, async () => {
  const s = await setup(
    [
      ['alice@example.org', 'pw'],
      ['bob@example.org', 'pw'],
      ['carol@example.org', 'pw'],
    ],
    false,
  );
  try {
    const cli = (...args: string[]) => runProgram(process.execPath, ['--import', 'tsx', `${ROOT}/src/cli/main.ts`, '--data', s.env.dir, 'user', 'set', ...args], 60_000);
    const on = await cli('alice@example.org', '--sent-copy', 'on');
    assert.equal(on.code, 0, on.stderr);
    assert.match(on.stdout, /alice@example\.org: sent-copy on/);
    const bad = await cli('alice@example.org', '--sent-copy', 'maybe');
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /invalid --sent-copy/);
    const alice = (await s.env.store.directory.getUser('alice@example.org'))!;
    assert.equal(await sentCopyWanted(s.env.store.mail, alice.id, false), true);

    await s.send('alice@example.org', message('a1'));
    await s.send('carol@example.org', message('c1', 'carol@example.org'));
    assert.deepEqual(await sentIds(s.env, 'alice@example.org'), ['<a1@example.org>'], 'alice asked for server copies');
    assert.deepEqual(await sentIds(s.env, 'carol@example.org'), [], 'the service default is off');

    assert.equal((await cli('alice@example.org', '--sent-copy', 'off')).code, 0);
    await s.send('alice@example.org', message('a2'));
    assert.deepEqual(await sentIds(s.env, 'alice@example.org'), ['<a1@example.org>']);
    assert.equal((await cli('alice@example.org', '--sent-copy', 'default')).code, 0);
    assert.equal(await sentCopyWanted(s.env.store.mail, alice.id, true), true);
  } finally {
    await s.close();
  }
});

/**
 * LMTP and submission recipients sent again and again: the recipient limit counts every accepted RCPT,
 * repeats of one address included (smtp-server counts distinct addresses, so one address a million times
 * was a million list entries and, under LMTP, a million replies after DATA). And under LMTP a message that
 * fails inside the server gets one reply per accepted RCPT, repeats included, so the client stays in step.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLmtpService, createSubmissionService } from '../src/delivery/index.js';
import type { NetService } from '../src/lib/service.js';
import { startServerFixture, PASSWORD, USER, type ServerFixture } from './helpers/server-fixture.js';
import { RawSmtp } from './delivery/helpers.js';

const MAX = 50;
let lmtp: ServerFixture<NetService>;
let broken: ServerFixture<NetService>;
let submission: ServerFixture<NetService>;
let blockerDir: string;

before(async () => {
  lmtp = await startServerFixture({ prefix: 'mailroom-hostile-lmtp-', fsync: false }, (store, auth) => createLmtpService({ store, auth, maxRecipients: MAX, hostname: 'mx.test' }));
  // A spool "directory" below a regular file: any message past 16 octets fails inside the server.
  blockerDir = await mkdtemp(join(tmpdir(), 'mailroom-hostile-lmtp-spool-'));
  await writeFile(join(blockerDir, 'not-a-dir'), 'x');
  broken = await startServerFixture({ prefix: 'mailroom-hostile-lmtp-broken-', fsync: false }, (store, auth) =>
    createLmtpService({ store, auth, hostname: 'mx.test', spool: { dir: join(blockerDir, 'not-a-dir', 'spool'), threshold: 16 } }),
  );
  submission = await startServerFixture({ prefix: 'mailroom-hostile-sub-', fsync: false }, (store, auth) =>
    createSubmissionService({ store, auth, maxRecipients: MAX, hostname: 'mx.test', outbound: { kick: () => undefined } as never }),
  );
  for (const f of [lmtp, broken, submission]) await f.store.directory.addDomain('example.org');
});
after(async () => {
  await Promise.all([lmtp.close(), broken.close(), submission.close()]);
  await rm(blockerDir, { recursive: true, force: true });
});

test('LMTP: the same RCPT 80 times with a limit of 50: 50 accepted, 30 refused 452, 50 replies after DATA', async () => {
  const { client: c } = await RawSmtp.open(lmtp.port);
  await c.cmd('LHLO client.test');
  assert.equal((await c.cmd('MAIL FROM:<bob@example.net>')).code, 250);
  const codes: number[] = [];
  for (let i = 0; i < 80; i++) codes.push((await c.cmd(`RCPT TO:<${USER}>`)).code);
  assert.equal(codes.filter((x) => x === 250).length, MAX);
  assert.deepEqual(codes.slice(MAX), Array(80 - MAX).fill(452));
  assert.equal((await c.cmd('DATA')).code, 354);
  c.write('Subject: repeated\r\n\r\nbody\r\n.\r\n');
  const replies: number[] = [];
  for (let i = 0; i < MAX; i++) replies.push((await c.reply()).code);
  assert.deepEqual(replies, Array(MAX).fill(250));
  // Nothing more was queued behind those: the next command's reply is the next line.
  assert.equal((await c.cmd('NOOP')).code, 250);
  c.close();
});

test('LMTP: a message that fails inside the server gets one 451 per RCPT, repeats included', async () => {
  const { client: c } = await RawSmtp.open(broken.port);
  await c.cmd('LHLO client.test');
  await c.cmd('MAIL FROM:<bob@example.net>');
  for (let i = 0; i < 3; i++) assert.equal((await c.cmd(`RCPT TO:<${USER}>`)).code, 250);
  assert.equal((await c.cmd('DATA')).code, 354);
  c.write(`Subject: fails\r\n\r\n${'x'.repeat(200)}\r\n.\r\n`);
  for (let i = 0; i < 3; i++) assert.equal((await c.reply()).code, 451);
  assert.equal((await c.cmd('NOOP')).code, 250);
  c.close();
});

test('submission: the same RCPT past the limit is 452', async () => {
  const { client: c } = await RawSmtp.open(submission.port);
  await c.cmd('EHLO client.test');
  assert.equal((await c.cmd(`AUTH PLAIN ${Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64')}`)).code, 235);
  assert.equal((await c.cmd(`MAIL FROM:<${USER}>`)).code, 250);
  const codes: number[] = [];
  for (let i = 0; i < MAX + 5; i++) codes.push((await c.cmd('RCPT TO:<carol@remote.test>')).code);
  assert.equal(codes.filter((x) => x === 250).length, MAX);
  assert.deepEqual(codes.slice(MAX), Array(5).fill(452));
  c.close();
});

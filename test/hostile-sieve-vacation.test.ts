/**
 * A vacation reply is From one of the user's own addresses: a script's `:from` naming anyone else (another
 * local user, a boss at the same domain) made the server send replies in that person's name to whoever
 * mailed the user. Such a :from is replaced by the user's address; one of the user's own (any case) is kept.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMailroom, type Mailroom } from '../src/server/mailroom.js';
import { DEFAULT_SIEVE_QUOTA } from '../src/store/sieve.js';
import { RawSmtp, startSink, type SinkMessage } from './delivery/helpers.js';

const ALICE = 'alice@example.org';
let dir: string;
let m: Mailroom;
let sink: Awaited<ReturnType<typeof startSink>>;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-sieve-vacation-from-'));
  sink = await startSink();
  m = createMailroom({
    dataDir: join(dir, 'data'),
    ports: { lmtp: 0 },
    auth: { failureDelayMs: 0 },
    hostname: 'mx.example.org',
    mailAuth: { checks: false },
    outbound: { routes: { 'remote.test': { host: '127.0.0.1', port: sink.port } }, pollIntervalMs: 60_000 },
  });
  await m.start();
  await m.addUser(ALICE, 'pw');
  await m.addUser('boss@example.org', 'pw');
});
after(async () => {
  await m.stop();
  await sink.close();
  await rm(dir, { recursive: true, force: true });
});

async function deliver(from: string, id: string): Promise<void> {
  const { client: c } = await RawSmtp.open(m.ports.lmtp!);
  await c.cmd('LHLO client.test');
  assert.equal((await c.cmd(`MAIL FROM:<${from}>`)).code, 250);
  assert.equal((await c.cmd(`RCPT TO:<${ALICE}>`)).code, 250);
  const r = await c.data(`From: <${from}>\r\nTo: <${ALICE}>\r\nSubject: hello\r\nMessage-ID: <${id}>\r\n\r\nHi.\r\n`);
  assert.equal(r.code, 250);
  c.close();
}

async function reply(n: number): Promise<SinkMessage> {
  for (let i = 0; i < 300 && sink.messages.length < n; i++) {
    await m.outboundQueue?.runOnce();
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(sink.messages.length, n);
  return sink.messages[n - 1]!;
}

async function script(from: string): Promise<void> {
  const u = (await m.store.directory.getUser(ALICE))!;
  await m.store.sieve.putScript(u.id, 'away', `require "vacation";\r\nvacation :days 1 :handle "${from}" :from "${from}" "Away.";\r\n`, DEFAULT_SIEVE_QUOTA);
  await m.store.sieve.setActive(u.id, 'away');
}

test("a vacation :from naming another user is replaced by the user's own address", async () => {
  await script('The Boss <boss@example.org>');
  await deliver('dave@remote.test', 'v1@remote.test');
  const r = await reply(1);
  const head = r.raw.toString('utf8').split('\r\n\r\n')[0]!;
  assert.deepEqual(head.match(/^From:.*$/gim), [`From: ${ALICE}`]);
});

test('a vacation :from of the user\'s own address, in any case and with a name, is kept', async () => {
  await script('Alice Away <ALICE@example.org>');
  await deliver('erin@remote.test', 'v2@remote.test');
  const r = await reply(2);
  const head = r.raw.toString('utf8').split('\r\n\r\n')[0]!;
  assert.deepEqual(head.match(/^From:.*$/gim), ['From: Alice Away <ALICE@example.org>']);
});

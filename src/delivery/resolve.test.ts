import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openServerStore } from '../server/store.js';
import type { Store } from '../store/handle.js';
import { isUserAddress, resolveRecipient } from './resolve.js';
import { deliver } from './deliver.js';

let dir: string;
let store: Store;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailroom-resolve-'));
  store = await openServerStore({ dataDir: dir });
  for (const d of ['example.org', 'example.net']) await store.directory.addDomain(d);
  await store.directory.createUser('alice@example.org', '{PLAIN}x');
  await store.directory.createUser('bob@example.org', '{PLAIN}x');
  await store.directory.addAlias('info@example.org', 'alice@example.org');
  await store.directory.addAlias('team@example.org', 'info@example.org'); // chain
  await store.directory.addAlias('loop1@example.org', 'loop2@example.org');
  await store.directory.addAlias('loop2@example.org', 'loop1@example.org');
  await store.directory.addAlias('@example.net', 'bob@example.org'); // catch-all
  await store.directory.addAlias('gone@example.org', 'nobody@example.org');
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

test('resolution order: user, alias (chains), plus-address, catch-all', async () => {
  const who = async (a: string) => {
    const r = await resolveRecipient(store.directory, a);
    return r.kind === 'local' ? `${r.user.address} ${r.via} ${r.tag ?? '-'}` : r.kind;
  };
  assert.equal(await who('Alice@Example.org'), 'alice@example.org user -');
  assert.equal(await who('info@example.org'), 'alice@example.org alias -');
  assert.equal(await who('team@example.org'), 'alice@example.org alias -');
  assert.equal(await who('alice+news@example.org'), 'alice@example.org plus news');
  assert.equal(await who('info+x@example.org'), 'alice@example.org plus x');
  assert.equal(await who('whoever@example.net'), 'bob@example.org catch-all -');
  assert.equal(await who('nobody@example.org'), 'unknown');
  assert.equal(await who('gone@example.org'), 'unknown', 'alias to a missing user');
  assert.equal(await who('loop1@example.org'), 'unknown', 'alias loops end');
  assert.equal(await who('x@remote.test'), 'remote');
  assert.equal(await who('not an address'), 'invalid');
});

test('isUserAddress: own address, plus-variants, aliases to the user; not others, not catch-all', async () => {
  const alice = (await store.directory.getUser('alice@example.org'))!;
  const bob = (await store.directory.getUser('bob@example.org'))!;
  for (const a of ['alice@example.org', 'ALICE+x@example.org', 'info@example.org', 'team@example.org', 'info+y@example.org']) assert.ok(await isUserAddress(store.directory, alice, a), a);
  for (const a of ['bob@example.org', 'someone@example.net', 'alice@example.net', '', 'alice']) assert.ok(!(await isUserAddress(store.directory, alice, a)), a);
  assert.ok(!(await isUserAddress(store.directory, bob, 'random@example.net')), 'a catch-all does not make an address yours');
});

test('deliver: failures are values; success appends with trace headers after commit', async () => {
  assert.deepEqual(await deliver(store, 'nobody@example.org', Buffer.from('x\r\n'), { envelopeFrom: '' }), { ok: false, code: 'UNKNOWN', message: 'No such user here' });
  assert.equal(((await deliver(store, 'x@remote.test', Buffer.from('x\r\n'), { envelopeFrom: '' })) as { code: string }).code, 'REMOTE');
  assert.equal(((await deliver(store, 'bad', Buffer.from('x\r\n'), { envelopeFrom: '' })) as { code: string }).code, 'INVALID');
  const r = await deliver(store, 'alice+t@example.org', Buffer.from('Subject: s\r\n\r\nb\r\n'), { envelopeFrom: 'z@remote.test' });
  assert.ok(r.ok);
  assert.equal(r.tag, 't');
  const raw = await store.mail.readBytes(r.mailboxId, r.uid);
  assert.equal(raw.toString(), 'Return-Path: <z@remote.test>\r\nDelivered-To: alice+t@example.org\r\nSubject: s\r\n\r\nb\r\n');
});

test('deliver: a message already delivered to the same address is a loop (554), other Delivered-To fields are fine', async () => {
  const looped = Buffer.from('Delivered-To: Alice@Example.org\r\nSubject: loop\r\n\r\nDelivered-To: bob@example.org\r\n');
  const r = await deliver(store, 'alice@example.org', looped, { envelopeFrom: 'x@remote.test' });
  assert.deepEqual(r, { ok: false, code: 'LOOP', message: 'Mail loop: already delivered to this address' });
  const other = await deliver(store, 'bob@example.org', looped, { envelopeFrom: 'x@remote.test' });
  assert.ok(other.ok, 'Delivered-To in the body or for another address does not count');
});

test('a user address resolves without reading the alias table; an alias reads it once', async () => {
  let reads = 0;
  const directory = new Proxy(store.directory, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop === 'listAliases') reads++;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const r = await resolveRecipient(directory, 'bob@example.org');
  assert.equal(r.kind === 'local' && r.via, 'user');
  assert.equal(reads, 0);
  const t = await resolveRecipient(directory, 'team@example.org');
  assert.equal(t.kind === 'local' && `${t.user.address} ${t.via}`, 'alice@example.org alias');
  assert.equal(reads, 1, 'one read for the whole alias chain');
});

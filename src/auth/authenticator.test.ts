import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../store/index.js';
import { Authenticator } from './authenticator.js';
import { hashPassword, verifyPassword } from './hash.js';

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-auth-'));
  const store = await openStore({ dataDir: dir });
  try {
    await fn(store);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('verify: right password, wrong password, unknown user, case-insensitive address', async () => {
  await withStore(async (store) => {
    await store.directory.createUser('alice@example.org', await hashPassword('pw'));
    const auth = new Authenticator(store.directory, { failureDelayMs: 0 });
    const ok = await auth.verify('Alice@Example.org', 'pw', { remoteAddress: '127.0.0.1' });
    assert.equal(ok.ok, true);
    assert.equal(ok.ok && ok.user.address, 'alice@example.org');
    assert.deepEqual(await auth.verify('alice@example.org', 'PW'), { ok: false, reason: 'bad-credentials' });
    assert.deepEqual(await auth.verify('nobody@example.org', 'pw'), { ok: false, reason: 'bad-credentials' });
  });
});

test('failures are delayed with a growing delay per IP and per user; success resets; too many are refused', async () => {
  await withStore(async (store) => {
    await store.directory.createUser('alice@example.org', await hashPassword('pw'));
    const sleeps: number[] = [];
    let now = 1_000_000;
    const auth = new Authenticator(store.directory, {
      failureDelayMs: 100,
      maxDelayMs: 1000,
      maxFailures: 6,
      windowMs: 60_000,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      now: () => now,
    });
    for (let i = 0; i < 5; i++) await auth.verify('alice@example.org', 'bad', { remoteAddress: '10.0.0.1' });
    assert.deepEqual(sleeps, [100, 200, 400, 800, 1000], 'doubling, capped');

    // per user: another IP guessing the same user continues the user's count
    sleeps.length = 0;
    assert.deepEqual(await auth.verify('alice@example.org', 'bad', { remoteAddress: '10.0.0.2' }), { ok: false, reason: 'bad-credentials' });
    assert.deepEqual(sleeps, [1000]);
    // now over maxFailures: refused without checking, even with the right password
    assert.deepEqual(await auth.verify('alice@example.org', 'pw', { remoteAddress: '10.0.0.3' }), { ok: false, reason: 'throttled' });

    // after the window, the right password works and resets the count
    now += 61_000;
    assert.equal((await auth.verify('alice@example.org', 'pw', { remoteAddress: '10.0.0.1' })).ok, true);
    sleeps.length = 0;
    await auth.verify('alice@example.org', 'bad', { remoteAddress: '10.0.0.1' });
    assert.deepEqual(sleeps, [100]);

    // per IP: one IP spraying many users is throttled too
    sleeps.length = 0;
    for (let i = 0; i < 4; i++) await auth.verify(`user${i}@example.org`, 'x', { remoteAddress: '10.9.9.9' });
    assert.deepEqual(sleeps, [100, 200, 400, 800]);
  });
});

test('cleartextSecret is only available for {PLAIN} hashes (APOP)', async () => {
  await withStore(async (store) => {
    await store.directory.createUser('a@example.org', '{PLAIN}apop-secret');
    await store.directory.createUser('b@example.org', await hashPassword('pw'));
    const auth = new Authenticator(store.directory, { failureDelayMs: 0 });
    assert.equal((await auth.cleartextSecret('A@example.org'))?.secret, 'apop-secret');
    assert.equal(await auth.cleartextSecret('b@example.org'), null);
    assert.equal(await auth.cleartextSecret('c@example.org'), null);
  });
});

test('auth cache: a repeated success skips the hash check; wrong password, password change and expiry are not served from it', async () => {
  await withStore(async (store) => {
    await store.directory.createUser('alice@example.org', await hashPassword('pw'));
    await store.directory.createUser('bob@example.org', await hashPassword('pw2'));
    let checks = 0;
    let now = 5_000_000;
    const auth = new Authenticator(store.directory, {
      failureDelayMs: 0,
      authCacheTtlMs: 60_000,
      authCacheSize: 1,
      now: () => now,
      verifyHash: async (stored, password) => {
        checks++;
        return verifyPassword(stored, password);
      },
    });
    assert.equal((await auth.verify('alice@example.org', 'pw')).ok, true);
    assert.equal(checks, 1);
    assert.equal((await auth.verify('ALICE@example.org', 'pw')).ok, true);
    assert.equal(checks, 1, 'second success served from the cache');
    // a wrong password is still checked and still fails
    assert.deepEqual(await auth.verify('alice@example.org', 'pw-wrong'), { ok: false, reason: 'bad-credentials' });
    assert.equal(checks, 2);
    // password change: the old password no longer works even though it was cached
    await store.directory.setPasswordHash('alice@example.org', await hashPassword('new'));
    assert.deepEqual(await auth.verify('alice@example.org', 'pw'), { ok: false, reason: 'bad-credentials' });
    assert.equal((await auth.verify('alice@example.org', 'new')).ok, true);
    const afterChange = checks;
    assert.equal((await auth.verify('alice@example.org', 'new')).ok, true);
    assert.equal(checks, afterChange, 'new password cached');
    // expiry
    now += 60_001;
    assert.equal((await auth.verify('alice@example.org', 'new')).ok, true);
    assert.equal(checks, afterChange + 1, 'expired entry re-checked');
    // bounded: caching bob evicts alice (size 1)
    assert.equal((await auth.verify('bob@example.org', 'pw2')).ok, true);
    assert.equal(auth.cachedCount, 1);
    const beforeAlice = checks;
    assert.equal((await auth.verify('alice@example.org', 'new')).ok, true);
    assert.equal(checks, beforeAlice + 1, 'evicted entry re-checked');
    auth.forgetCached();
    assert.equal(auth.cachedCount, 0);
  });
});

test('auth cache disabled with authCacheTtlMs 0', async () => {
  await withStore(async (store) => {
    await store.directory.createUser('alice@example.org', await hashPassword('pw'));
    let checks = 0;
    const auth = new Authenticator(store.directory, {
      failureDelayMs: 0,
      authCacheTtlMs: 0,
      verifyHash: async (stored, password) => {
        checks++;
        return verifyPassword(stored, password);
      },
    });
    assert.equal((await auth.verify('alice@example.org', 'pw')).ok, true);
    assert.equal((await auth.verify('alice@example.org', 'pw')).ok, true);
    assert.equal(checks, 2);
    assert.equal(auth.cachedCount, 0);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
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

test('failures are delayed with a growing delay per IP and per user; only the source is refused', async () => {
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
    // the user is over maxFailures, but only the guessing address is refused: a fresh one gets in
    assert.equal((await auth.verify('alice@example.org', 'pw', { remoteAddress: '10.0.0.3' })).ok, true);
    await auth.verify('alice@example.org', 'bad', { remoteAddress: '10.0.0.1' });
    assert.deepEqual(await auth.verify('alice@example.org', 'pw', { remoteAddress: '10.0.0.1' }), { ok: false, reason: 'throttled' });

    // after the window, the right password works from the guessing address too
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

test('M2: failures for a user from many addresses never lock the account: the right password from a fresh address works', async () => {
  await withStore(async (store) => {
    await store.directory.createUser('alice@example.org', await hashPassword('pw'));
    const auth = new Authenticator(store.directory, { failureDelayMs: 0, maxFailures: 50 });
    for (let i = 0; i < 120; i++) {
      const r = await auth.verify('alice@example.org', 'guess' + i, { remoteAddress: `10.1.${i >> 8}.${i & 255}` });
      assert.equal(r.ok, false);
    }
    const ok = await auth.verify('alice@example.org', 'pw', { remoteAddress: '192.0.2.7' });
    assert.equal(ok.ok, true, 'the account stays usable from a fresh address');
  });
});

test('M2: the per-user count only slows failures down (delay), it never refuses', async () => {
  await withStore(async (store) => {
    await store.directory.createUser('alice@example.org', await hashPassword('pw'));
    const sleeps: number[] = [];
    const auth = new Authenticator(store.directory, { failureDelayMs: 100, maxDelayMs: 1000, maxFailures: 3, sleep: async (ms) => void sleeps.push(ms) });
    for (let i = 0; i < 6; i++) {
      assert.deepEqual(await auth.verify('alice@example.org', 'bad', { remoteAddress: `10.0.0.${i}` }), { ok: false, reason: 'bad-credentials' });
    }
    assert.deepEqual(sleeps, [100, 200, 400, 800, 1000, 1000], 'the delay grows with the user count across addresses');
  });
});

test('M3: a success clears only the (address, user) count, never the address total', async () => {
  await withStore(async (store) => {
    await store.directory.createUser('alice@example.org', await hashPassword('pw'));
    await store.directory.createUser('mallory@example.org', await hashPassword('own'));
    const auth = new Authenticator(store.directory, { failureDelayMs: 0, maxDelayMs: 0, maxFailures: 10 });
    const ip = { remoteAddress: '10.6.6.6' };
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 4; i++) await auth.verify('alice@example.org', `g${round}-${i}`, ip);
      // the attacker logs in to their own account in between
      if (round < 2) assert.equal((await auth.verify('mallory@example.org', 'own', ip)).ok, true);
    }
    // 16 failures from this address > 10: refused, whatever the password and user
    assert.deepEqual(await auth.verify('alice@example.org', 'pw', ip), { ok: false, reason: 'throttled' });
    assert.deepEqual(await auth.verify('mallory@example.org', 'own', ip), { ok: false, reason: 'throttled' });
    // another address is unaffected
    assert.equal((await auth.verify('alice@example.org', 'pw', { remoteAddress: '10.7.7.7' })).ok, true);
  });
});

test('an unknown user is checked against a dummy argon2id hash (same timing as a known user)', async () => {
  await withStore(async (store) => {
    const checked: string[] = [];
    const auth = new Authenticator(store.directory, {
      failureDelayMs: 0,
      verifyHash: async (stored, password) => {
        checked.push(stored);
        return verifyPassword(stored, password);
      },
    });
    assert.deepEqual(await auth.verify('nobody@example.org', 'pw'), { ok: false, reason: 'bad-credentials' });
    assert.equal(checked.length, 1);
    assert.match(checked[0]!, /^\$argon2id\$/);
  });
});

test('legacy {PLAIN} and {SHA} hashes are replaced by argon2id after a successful login', async () => {
  await withStore(async (store) => {
    const sha = '{SHA}' + createHash('sha1').update('pw2').digest('base64');
    await store.directory.createUser('a@example.org', '{PLAIN}pw1');
    await store.directory.createUser('b@example.org', sha);
    const auth = new Authenticator(store.directory, { failureDelayMs: 0 });
    assert.equal((await auth.verify('a@example.org', 'wrong')).ok, false);
    assert.equal((await store.directory.getUser('a@example.org'))?.passwordHash, '{PLAIN}pw1', 'a failure changes nothing');
    assert.equal((await auth.verify('a@example.org', 'pw1')).ok, true);
    assert.equal((await auth.verify('b@example.org', 'pw2')).ok, true);
    const a = (await store.directory.getUser('a@example.org'))!.passwordHash;
    const b = (await store.directory.getUser('b@example.org'))!.passwordHash;
    assert.match(a, /^\$argon2id\$/);
    assert.match(b, /^\$argon2id\$/);
    assert.equal(await verifyPassword(a, 'pw1'), true);
    assert.equal(await verifyPassword(b, 'pw2'), true);
    // and the new hash keeps working (cache or not)
    assert.equal((await auth.verify('a@example.org', 'pw1')).ok, true);
    auth.forgetCached();
    assert.equal((await auth.verify('b@example.org', 'pw2')).ok, true);
  });
});

test('verifySecret (APOP) goes through the same throttle', async () => {
  await withStore(async (store) => {
    await store.directory.createUser('a@example.org', '{PLAIN}s3cret');
    const auth = new Authenticator(store.directory, { failureDelayMs: 0, maxDelayMs: 0, maxFailures: 3 });
    const ip = { remoteAddress: '10.0.0.9' };
    for (let i = 0; i < 3; i++) assert.deepEqual(await auth.verifySecret('a@example.org', () => false, ip), { ok: false, reason: 'bad-credentials' });
    assert.deepEqual(await auth.verifySecret('a@example.org', (s) => s === 's3cret', ip), { ok: false, reason: 'throttled' });
    const ok = await auth.verifySecret('a@example.org', (s) => s === 's3cret', { remoteAddress: '10.0.0.10' });
    assert.equal(ok.ok && ok.user.address, 'a@example.org');
    assert.deepEqual(await auth.verifySecret('nobody@example.org', () => true, { remoteAddress: '10.0.0.10' }), { ok: false, reason: 'bad-credentials' });
    // a user whose hash keeps no secret (argon2id, e.g. after an upgrade) can never match: not counted
    await store.directory.createUser('b@example.org', await hashPassword('pw'));
    for (let i = 0; i < 5; i++) assert.deepEqual(await auth.verifySecret('b@example.org', () => true, { remoteAddress: '10.0.0.11' }), { ok: false, reason: 'bad-credentials' });
    assert.equal(auth.addressFailures('10.0.0.11'), 0);
    assert.equal((await auth.verify('b@example.org', 'pw', { remoteAddress: '10.0.0.11' })).ok, true);
  });
});

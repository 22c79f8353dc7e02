import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Authenticator } from '../auth/authenticator.js';
import { addressKey, failureKeys, pairKey } from '../auth/failures.js';
import type { Directory } from '../store/directory.js';
import { FailureHub, SharedFailures, type AuthToPrimary, type AuthToWorker } from './cluster-auth.js';

const WINDOW = 60_000;

/** A primary's hub and `n` workers' copies, joined directly (answers and news delivered at once). */
function cluster(n: number, reachable = () => true) {
  const hub = new FailureHub();
  const workers: SharedFailures[] = [];
  const deliver = (from: number, m: AuthToPrimary): AuthToWorker | null => {
    let answer: AuthToWorker | null = null;
    hub.handle(
      m,
      (r) => (answer = r),
      (r) => workers.forEach((w, i) => i !== from && w.receive(r)),
    );
    return answer;
  };
  for (let i = 0; i < n; i++) {
    workers.push(
      new SharedFailures(
        async (make) => {
          if (!reachable()) throw new Error('the primary is gone');
          return deliver(i, make(i))!;
        },
        (m) => reachable() && (deliver(i, m), true),
      ),
    );
  }
  return { hub, workers };
}

test("a failure counted through one worker is seen by the others at once; a success's clear too", async () => {
  const { workers } = cluster(2);
  const [a, b] = workers as [SharedFailures, SharedFailures];
  assert.equal(await a.add(failureKeys('203.0.113.7', 'alice@example.org'), WINDOW), 1);
  assert.equal(await b.add(failureKeys('203.0.113.7', 'alice@example.org'), WINDOW), 2, 'the second failure anywhere counts 2');
  assert.equal(a.get(pairKey('203.0.113.7', 'alice@example.org'), WINDOW), 2);
  assert.equal(b.get(addressKey('203.0.113.7'), WINDOW), 2);
  b.clear(pairKey('203.0.113.7', 'alice@example.org'));
  assert.equal(a.get(pairKey('203.0.113.7', 'alice@example.org'), WINDOW), 0);
  assert.equal(a.get(addressKey('203.0.113.7'), WINDOW), 2, 'the address total stays');
});

test('a worker that starts gets every count; a hub without counts sends nothing', async () => {
  const { hub, workers } = cluster(1);
  assert.equal(hub.snapshot(), null);
  await workers[0]!.add(failureKeys('198.51.100.2', ''), WINDOW);
  const fresh = new SharedFailures(() => Promise.reject(new Error('unused')), () => false);
  fresh.receive(hub.snapshot()!);
  assert.equal(fresh.get(addressKey('198.51.100.2'), WINDOW), 1);
});

test('without the primary a worker counts failures in its own copy', async () => {
  let up = true;
  const { workers } = cluster(2, () => up);
  const [a, b] = workers as [SharedFailures, SharedFailures];
  assert.equal(await a.add(failureKeys('192.0.2.1', 'bob@example.org'), WINDOW), 1);
  up = false;
  assert.equal(await a.add(failureKeys('192.0.2.1', 'bob@example.org'), WINDOW), 2);
  assert.equal(b.get(addressKey('192.0.2.1'), WINDOW), 1, 'the other worker heard only the first');
});

test('two Authenticators sharing the counts refuse a guesser as one would', async () => {
  const { workers } = cluster(2);
  const user = { id: 1, address: 'alice@example.org', passwordHash: '{PLAIN}right' };
  const directory = { getUser: async (a: string) => (a === user.address ? user : null), setPasswordHash: async () => undefined } as unknown as Directory;
  const opts = { failureDelayMs: 0, maxDelayMs: 0, maxFailuresPerUser: 4, verifyHash: async (stored: string, pw: string) => stored === `{PLAIN}${pw}` };
  const auths = workers.map((failures) => new Authenticator(directory, { ...opts, failures }));
  for (let i = 0; i < 4; i++) assert.equal((await auths[i % 2]!.verify(user.address, `wrong${i}`, { remoteAddress: '203.0.113.9' })).ok, false);
  for (const auth of auths) assert.deepEqual(await auth.verify(user.address, 'right', { remoteAddress: '203.0.113.9' }), { ok: false, reason: 'throttled' });
  assert.equal((await auths[1]!.verify(user.address, 'right', { remoteAddress: '203.0.113.10' })).ok, true, 'another address is not refused');
});

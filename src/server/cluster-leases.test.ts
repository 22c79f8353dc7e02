import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseCounter, LeaseTable, type LeaseToPrimary, type LeaseToWorker } from './cluster-leases.js';

/** A primary and `n` workers joined by message queues delivered on later turns, as over IPC. */
function cluster(n: number, now: () => number = Date.now) {
  const sent = { toPrimary: 0 };
  const dead = new Set<number>();
  const workers: LeaseCounter[] = [];
  const table = new LeaseTable(
    (slot, m: LeaseToWorker) => {
      if (!dead.has(slot)) setImmediate(() => workers[slot - 1]!.handle(m));
    },
    () => n,
  );
  for (let slot = 1; slot <= n; slot++) {
    workers.push(
      new LeaseCounter((m: LeaseToPrimary) => {
        if (dead.has(slot)) return false;
        sent.toPrimary++;
        setImmediate(() => table.handle(slot, m));
        return true;
      }, now),
    );
  }
  return {
    table,
    workers,
    sent,
    kill(slot: number) {
      dead.add(slot);
      table.drop(slot);
    },
  };
}

const admit = (w: LeaseCounter, key: string, max: number): Promise<boolean> => Promise.resolve(w.admit(key, max));

test('a limit holds over all workers: the (K+1)th is refused wherever it lands, and admitted after a release', async () => {
  const c = cluster(2);
  const [a, b] = c.workers as [LeaseCounter, LeaseCounter];
  assert.equal(await admit(a, 'imap/203.0.113.9', 3), true);
  assert.equal(await admit(b, 'imap/203.0.113.9', 3), true);
  assert.equal(await admit(a, 'imap/203.0.113.9', 3), true);
  assert.equal(await admit(b, 'imap/203.0.113.9', 3), false);
  assert.equal(await admit(a, 'imap/203.0.113.9', 3), false);
  // Another key (another service, or another address) has its own count.
  assert.equal(await admit(b, 'pop3/203.0.113.9', 3), true);
  a.release('imap/203.0.113.9');
  // The freed slot is in a's lease: b gets it by reclaiming.
  assert.equal(await admit(b, 'imap/203.0.113.9', 3), true);
  assert.equal(await admit(a, 'imap/203.0.113.9', 3), false);
  assert.equal(c.table.held('imap/203.0.113.9', 1) + c.table.held('imap/203.0.113.9', 2), 3);
});

test('admissions racing on both workers never pass the limit', async () => {
  const c = cluster(2);
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => admit(c.workers[i % 2]!, 'smtp/198.51.100.1', 7)));
  assert.equal(answers.filter(Boolean).length, 7);
  for (const w of c.workers) for (let i = 0; i < 7; i++) w.release('smtp/198.51.100.1');
  const again = await Promise.all(Array.from({ length: 10 }, (_, i) => admit(c.workers[i % 2]!, 'smtp/198.51.100.1', 7)));
  assert.equal(again.filter(Boolean).length, 7);
});

test('connections within a lease ask the primary nothing', async () => {
  const c = cluster(2);
  const w = c.workers[0]!;
  assert.equal(await admit(w, 'imap-user/7', 100), true);
  const asked = c.sent.toPrimary;
  const lease = w.lease('imap-user/7')!;
  assert.ok(lease.held > 1, `lease of ${lease.held}`);
  for (let i = 1; i < lease.held; i++) assert.equal(w.admit('imap-user/7', 100), true, 'answered at once');
  assert.equal(c.sent.toPrimary, asked);
});

test("a dead worker's connections are freed", async () => {
  const c = cluster(2);
  const [a, b] = c.workers as [LeaseCounter, LeaseCounter];
  assert.equal(await admit(a, 'imap/192.0.2.4', 2), true);
  assert.equal(await admit(a, 'imap/192.0.2.4', 2), true);
  assert.equal(await admit(b, 'imap/192.0.2.4', 2), false);
  c.kill(1);
  assert.equal(await admit(b, 'imap/192.0.2.4', 2), true);
  assert.equal(await admit(b, 'imap/192.0.2.4', 2), true);
  assert.equal(await admit(b, 'imap/192.0.2.4', 2), false);
});

test('a worker that dies during a reclaim does not block the others', async () => {
  const c = cluster(3);
  const [a, b, d] = c.workers as [LeaseCounter, LeaseCounter, LeaseCounter];
  assert.equal(await admit(a, 'k', 2), true);
  assert.equal(await admit(b, 'k', 2), true);
  const pending = admit(d, 'k', 2); // the primary reclaims from a and b
  c.kill(2);
  assert.equal(await pending, true, "b's slot is free once b is dead");
});

test('without the primary a worker decides alone against the same limit', async () => {
  const c = cluster(2);
  const a = c.workers[0]!;
  c.kill(1);
  assert.equal(await admit(a, 'pop3/203.0.113.50', 2), true);
  assert.equal(await admit(a, 'pop3/203.0.113.50', 2), true);
  assert.equal(await admit(a, 'pop3/203.0.113.50', 2), false);
  a.release('pop3/203.0.113.50');
  assert.equal(await admit(a, 'pop3/203.0.113.50', 2), true);
});

test('a release hands its slot to a waiting admission; releasing an unknown key changes nothing', async () => {
  const c = cluster(2);
  const [a, b] = c.workers as [LeaseCounter, LeaseCounter];
  a.release('never-admitted');
  assert.equal(a.lease('never-admitted'), null);
  assert.equal(await admit(a, 'x', 1), true);
  const waiting = admit(a, 'x', 1);
  a.release('x');
  assert.equal(await waiting, true);
  assert.equal(await admit(b, 'x', 1), false);
});

test('a refused address leaves no lease behind in the refusing worker', async () => {
  const c = cluster(2);
  const [a, b] = c.workers as [LeaseCounter, LeaseCounter];
  assert.equal(await admit(a, 'imap/192.0.2.77', 1), true);
  assert.equal(await admit(b, 'imap/192.0.2.77', 1), false);
  assert.equal(b.lease('imap/192.0.2.77'), null);
});

test('slots of an address without connections go back to the primary after a while', async () => {
  mock.timers.enable({ apis: ['setInterval'] });
  try {
    let t = 1_000_000;
    const c = cluster(2, () => t);
    const a = c.workers[0]!;
    assert.equal(await admit(a, 'pop3/203.0.113.30', 50), true);
    assert.ok(c.table.held('pop3/203.0.113.30', 1) > 1);
    a.release('pop3/203.0.113.30');
    t += 1_000;
    mock.timers.tick(2_000);
    await new Promise((r) => setImmediate(r));
    assert.ok(c.table.held('pop3/203.0.113.30', 1) > 0, 'kept while recently used');
    t += 2_000;
    mock.timers.tick(2_000);
    await new Promise((r) => setImmediate(r));
    assert.equal(c.table.held('pop3/203.0.113.30', 1), 0);
    assert.equal(a.lease('pop3/203.0.113.30'), null);
  } finally {
    mock.timers.reset();
  }
});

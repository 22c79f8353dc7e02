/**
 * Group commit and WAL syncs of the SQLite store (commit.ts): concurrent writers share syncs, every waiter
 * of a failed sync is failed, flag changes do not wait for appends writing their files, and the store goes
 * on after a failed sync. The crash side (acknowledged appends survive kill -9) is test/store-crash.test.ts.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { sampleMessage } from '../../../test/helpers/store.js';
import Database from 'better-sqlite3';
import { openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './index.js';

/** The connection internals these tests look at. */
interface Internals {
  commitSeq: number;
  syncedSeq: number;
  walSyncCount: number;
  walFd: { fd: number; users: number; stale: boolean } | null;
  writers: Set<unknown>;
  startWriter(): { done: boolean };
  endWriter(w: { done: boolean }): void;
}

function internals(s: SqliteStore): Internals {
  return (s as unknown as { core: Internals }).core;
}

async function withStore(fn: (s: SqliteStore, inbox: number) => Promise<void>, opts: Partial<SqliteStoreOptions> = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-commit-'));
  const s = await openSqliteStore({ ...opts, dataDir: dir, fsync: true });
  try {
    const user = await s.directory.createUser('c@example.org', 'h');
    const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
    await fn(s, inbox.id);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A store and a second connection to its database, as another process would have. */
async function withOtherWriter(fn: (s: SqliteStore, inbox: number, other: Database.Database) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-commit-'));
  const s = await openSqliteStore({ dataDir: dir, fsync: true });
  const other = new Database(join(dir, 'mail.db'), { timeout: 0 });
  try {
    const user = await s.directory.createUser('busy@example.org', 'h');
    await fn(s, (await s.mail.getMailbox(user.id, 'INBOX'))!.id, other);
  } finally {
    other.close();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The lock-wait counters of a store's connection. */
function busyOf(s: SqliteStore) {
  return (s as unknown as { core: { stats: { busy: { collisions: number; retries: number; waitMs: number } }; busySince: number | null } }).core;
}

interface FakeSync {
  covers: number;
  fd: null;
  outcome: { ok: true } | null;
}

/** After a first append: `n` WAL syncs that look running until the test sets their outcome. */
async function withRunningSyncs(s: SqliteStore, inbox: number, n: number) {
  await s.mail.append(inbox, sampleMessage(0));
  const x = internals(s) as Internals & { syncs: FakeSync[]; stats: { commits: number }; applySyncs(): void; scheduleFlush(): void };
  const syncs = Array.from({ length: n }, (): FakeSync => ({ covers: x.commitSeq, fd: null, outcome: null }));
  x.syncs.push(...syncs);
  return { x, commits: x.stats.commits, syncs };
}

describe('SQLite group commit and WAL sync', () => {
  test('concurrent appends share WAL syncs and each resolves after a sync that covers it', async () => {
    await withStore(async (s, inbox) => {
      const x = internals(s);
      const syncs = x.walSyncCount;
      // One in five is big enough for a blob file (written and fsynced before its commit).
      const results = await Promise.all(
        Array.from({ length: 30 }, (_, i) => s.mail.append(inbox, i % 5 === 0 ? Buffer.concat([sampleMessage(i), Buffer.alloc(80_000, 'y')]) : sampleMessage(i))),
      );
      assert.deepEqual(results.map((r) => r.uid).sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i + 1));
      assert.ok(x.syncedSeq >= x.commitSeq, 'every commit is covered by a completed sync when the appends have resolved');
      const used = x.walSyncCount - syncs;
      assert.ok(used >= 1 && used < 30, `30 concurrent appends used ${used} WAL syncs`);
      assert.equal((await s.mail.listMessages(inbox)).length, 30);
    });
  });

  test('a failing WAL sync fails every waiter of its batch; the store then syncs again', async () => {
    await withStore(async (s, inbox) => {
      await s.mail.append(inbox, sampleMessage(0));
      const x = internals(s);
      const good = x.walFd;
      assert.ok(good, 'the WAL file is open after the first durable write');
      // A descriptor no process has: fdatasync fails with EBADF.
      x.walFd = { fd: 2 ** 30, users: 0, stale: false };
      const outcomes = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => s.mail.append(inbox, sampleMessage(100 + i))));
      assert.equal(outcomes.length, 8);
      for (const o of outcomes) {
        assert.equal(o.status, 'rejected', 'no append of the failed batch is acknowledged');
        assert.equal((o as PromiseRejectedResult).reason.code, 'EBADF');
      }
      assert.notEqual(x.walFd?.fd, 2 ** 30, 'the failed descriptor is no longer used');
      // The next durable write opens the WAL again and is acknowledged after a real sync.
      const r = await s.mail.append(inbox, sampleMessage(200));
      assert.ok(x.walFd && x.walFd.fd !== 2 ** 30);
      assert.ok(x.syncedSeq >= x.commitSeq);
      // The failed batch committed (visible, durable only from the later sync on): UIDs stay unique.
      const list = await s.mail.listMessages(inbox);
      assert.equal(list.length, 10);
      assert.equal(r.uid, 10);
      closeSync(good.fd);
    });
  });

  test('appends arriving while the most WAL syncs run commit together when one ends; a flag change does not wait', async () => {
    await withStore(async (s, inbox) => {
      // Two syncs still running (SYNCS_IN_FLIGHT, the most at once; they end when the test says so).
      const { x, commits, syncs: [running, second] } = await withRunningSyncs(s, inbox, 2);
      const appends: Array<Promise<{ uid: number }>> = [];
      for (let i = 1; i <= 6; i++) {
        appends.push(s.mail.append(inbox, sampleMessage(i)));
        await new Promise((r) => setImmediate(r)); // each in its own turn of the event loop
      }
      assert.equal(x.stats.commits, commits, 'nothing committed while the sync runs');
      // A flag change commits at once, and the queued appends with it, in order.
      await s.mail.storeFlags(inbox, [1], { op: 'add', flags: ['\\Seen'] });
      assert.equal(x.stats.commits, commits + 1, 'one transaction for the six appends and the flag change');
      const more = [s.mail.append(inbox, sampleMessage(7)), s.mail.append(inbox, sampleMessage(8))];
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      assert.equal(x.stats.commits, commits + 1, 'held again');
      running!.outcome = { ok: true };
      second!.outcome = { ok: true };
      x.applySyncs();
      x.scheduleFlush();
      const uids = (await Promise.all([...appends, ...more])).map((r) => r.uid);
      assert.deepEqual(uids, [2, 3, 4, 5, 6, 7, 8, 9], 'UIDs in the order of the calls');
      assert.equal(x.stats.commits, commits + 2, 'the two held appends shared one transaction');
      assert.ok(x.syncedSeq >= x.commitSeq);
    });
  });

  test('appends arriving while one WAL sync runs commit at once and start their own sync beside it', async () => {
    await withStore(async (s, inbox) => {
      const { x, commits, syncs: [running] } = await withRunningSyncs(s, inbox, 1);
      const syncs = x.walSyncCount;
      const appended = s.mail.append(inbox, sampleMessage(1));
      for (let i = 0; i < 20 && x.walSyncCount === syncs; i++) await new Promise((r) => setImmediate(r));
      assert.equal(x.stats.commits, commits + 1, 'committed while the other sync still ran');
      assert.equal(x.walSyncCount, syncs + 1, 'and started its own sync beside it');
      // Outcomes apply in the order the syncs started: the append is acknowledged once both have ended.
      running!.outcome = { ok: true };
      x.applySyncs();
      assert.equal((await appended).uid, 2);
      assert.ok(x.syncedSeq >= x.commitSeq, 'acknowledged after a sync that covers it');
    });
  });

  test('a group commit that finds the write lock taken by another connection waits without holding the event loop', async () => {
    await withOtherWriter(async (s, inbox, other) => {
      await s.mail.append(inbox, sampleMessage(0));
      // Another writer (as another worker process would) holds the write lock.
      other.exec('BEGIN IMMEDIATE');
      let settled = false;
      const pending = Promise.all([
        s.mail.append(inbox, sampleMessage(1)),
        s.mail.storeFlags(inbox, [1], { op: 'add', flags: ['\\Seen'] }),
      ]).finally(() => (settled = true));
      // This thread keeps running (SQLite's busy handler would sleep here, and the lock would never be freed).
      for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 5));
      assert.equal(settled, false, 'the writes wait for the lock');
      assert.equal((await s.mail.listMessages(inbox)).length, 1, 'reads go on meanwhile');
      other.exec('COMMIT');
      const [r, flags] = await pending;
      assert.equal(r.uid, 2);
      assert.equal(flags.changed.length, 1);
      assert.equal((await s.mail.listMessages(inbox)).length, 2);
      const core = busyOf(s);
      assert.equal(core.stats.busy.collisions, 1, 'one group waited');
      assert.ok(core.stats.busy.retries >= 1);
      assert.ok(core.stats.busy.waitMs > 0);
      assert.equal(core.busySince, null, 'the wait is over once the group committed');
    });
  });

  test('a group commit fails TEMPORARY once the write lock stays taken past the busy timeout; the next one commits', async () => {
    await withOtherWriter(async (s, inbox, other) => {
      other.exec('BEGIN IMMEDIATE');
      await assert.rejects(s.mail.append(inbox, sampleMessage(1)), (e: unknown) => (e as { code?: string }).code === 'TEMPORARY');
      other.exec('ROLLBACK');
      const core = busyOf(s);
      assert.equal(core.stats.busy.collisions, 1);
      assert.ok(core.stats.busy.retries > 1, 'it tried again meanwhile');
      assert.equal(core.busySince, null);
      assert.equal((await s.mail.append(inbox, sampleMessage(2))).uid, 1);
      assert.equal(core.stats.busy.collisions, 1, 'the next group found the lock free');
    });
  });

  test('a flag change does not wait for an append still writing its file; a small append waits only briefly', async () => {
    await withStore(async (s, inbox) => {
      await s.mail.append(inbox, sampleMessage(1));
      const x = internals(s);
      // A writer that never finishes (as an append stuck in its blob fsync): a group of durable writes waits
      // for it at most GROUP_MAX_WAIT_MS, a flag change not at all.
      const stuck = x.startWriter();
      try {
        const flags = await s.mail.storeFlags(inbox, [1], { op: 'add', flags: ['\\Flagged'] });
        assert.equal(flags.changed.length, 1);
        const r = await s.mail.append(inbox, sampleMessage(2));
        assert.equal(r.uid, 2);
        assert.equal(x.writers.size, 1, 'the stuck writer is still registered');
      } finally {
        x.endWriter(stuck);
      }
      assert.equal(x.writers.size, 0);
      // Bad input still fails alone, without failing the others of its group.
      const both = await Promise.allSettled([s.mail.storeFlags(9999, [1], { op: 'add', flags: ['\\Seen'] }), s.mail.append(inbox, sampleMessage(3))]);
      assert.equal(both[0].status, 'rejected');
      assert.equal(both[1].status, 'fulfilled');
    });
  });

  test('an expunge that frees blobs syncs at once; one whose rows are held is synced within LAZY_SYNC_MS', async () => {
    // No grace, no reader: the expunge drops the blob (a file for the big one), so its sync starts at once.
    await withStore(async (s, inbox) => {
      await s.mail.append(inbox, Buffer.concat([sampleMessage(1), Buffer.alloc(80_000, 'y')]));
      await s.mail.storeFlags(inbox, [1], { op: 'add', flags: ['\\Deleted'] });
      const x = internals(s);
      const syncs = x.walSyncCount;
      assert.deepEqual(await s.mail.expunge(inbox), [1]);
      assert.equal(x.walSyncCount, syncs + 1, 'the expunge started its sync before resolving');
      // Nothing \Deleted: no commit, no sync.
      assert.deepEqual(await s.mail.expunge(inbox), []);
      assert.equal(x.walSyncCount, syncs + 1);
    });
    // With a grace (serve --workers N) the rows are held, nothing is freed: synced like a flag change.
    await withStore(
      async (s, inbox) => {
        await s.mail.append(inbox, sampleMessage(1));
        await s.mail.storeFlags(inbox, [1], { op: 'add', flags: ['\\Deleted'] });
        const x = internals(s);
        const syncs = x.walSyncCount;
        assert.deepEqual(await s.mail.expunge(inbox), [1]);
        assert.ok(x.syncedSeq < x.commitSeq, 'resolved at COMMIT, before its sync');
        assert.equal(x.walSyncCount, syncs, 'no sync started at once for held rows');
        const deadline = Date.now() + 5000;
        while (x.syncedSeq < x.commitSeq && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.ok(x.syncedSeq >= x.commitSeq, 'the lazy sync covered the expunge');
        assert.deepEqual(await s.mail.listMessages(inbox), []);
        // A bad mailbox still fails.
        await assert.rejects(s.mail.expunge(9999), /no such mailbox/);
      },
      { expungeGraceMs: 60_000 },
    );
  });
});

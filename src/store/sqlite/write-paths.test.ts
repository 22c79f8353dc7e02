/**
 * The cheap write paths of the SQLite store: an append that claims \Recent in its own transaction
 * (AppendOptions.claimRecent), and a flag change that changes nothing, answered without a write
 * transaction (the commit counter does not move) but with the same result, UNCHANGEDSINCE failures included.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { sampleMessage } from '../../../test/helpers/store.js';
import { isStoreError } from '../types.js';
import { openSqliteStore, type SqliteStore } from './index.js';

const commitsOf = (s: SqliteStore): number => (s as unknown as { core: { stats: { commits: number } } }).core.stats.commits;

async function withStore(fn: (s: SqliteStore, inbox: number) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-write-paths-'));
  const s = await openSqliteStore({ dataDir: dir, fsync: false });
  try {
    const user = await s.directory.createUser('w@example.org', 'h');
    await fn(s, (await s.mail.getMailbox(user.id, 'INBOX'))!.id);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('SQLite write paths', () => {
  test('an append with claimRecent claims every unclaimed message up to its own, in its transaction', async () => {
    await withStore(async (s, inbox) => {
      const plain = await s.mail.append(inbox, sampleMessage(1));
      assert.equal(plain.recentClaim, undefined, 'no claim unless asked');
      assert.equal((await s.mail.status(inbox)).recent, 1);
      const before = commitsOf(s);
      const r = await s.mail.append(inbox, sampleMessage(2), { claimRecent: true, flags: ['\\Seen'] });
      assert.equal(commitsOf(s) - before, 1, 'the claim shares the append transaction');
      assert.equal(r.uid, 2);
      // The earlier unclaimed message is the claimant's too, as with claimRecent after the append.
      assert.deepEqual(r.recentClaim, { first: 1, next: 3 });
      const st = await s.mail.status(inbox);
      assert.equal(st.recent, 0);
      assert.equal(st.uidNext, 3);
      assert.equal(await s.mail.claimRecent(inbox), 3, 'nothing is left for another claimant');
      // Claimed already: the next claiming append starts where that claim ended.
      const r2 = await s.mail.append(inbox, sampleMessage(3), { claimRecent: true });
      assert.deepEqual(r2.recentClaim, { first: 3, next: 4 });
      await assert.rejects(s.mail.append(inbox + 1000, sampleMessage(4), { claimRecent: true }), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
    });
  });

  test('a flag change that changes nothing makes no write transaction and reports the same result', async () => {
    await withStore(async (s, inbox) => {
      const a = await s.mail.append(inbox, sampleMessage(1), { flags: ['\\Seen', 'Work'] });
      const b = await s.mail.append(inbox, sampleMessage(2));
      const highest = (await s.mail.status(inbox)).highestModseq;
      let before = commitsOf(s);
      assert.deepEqual(await s.mail.storeFlags(inbox, [a.uid], { op: 'add', flags: ['\\Seen', 'work'] }), { changed: [], modified: [], highestModseq: highest });
      assert.deepEqual(await s.mail.storeFlags(inbox, [b.uid], { op: 'remove', flags: ['\\Flagged', 'Other'] }), { changed: [], modified: [], highestModseq: highest });
      assert.deepEqual(await s.mail.storeFlags(inbox, [a.uid], { op: 'set', flags: ['WORK', '\\Seen'] }), { changed: [], modified: [], highestModseq: highest });
      assert.deepEqual(await s.mail.storeFlags(inbox, [99], { op: 'add', flags: ['\\Seen'] }), { changed: [], modified: [], highestModseq: highest });
      // UNCHANGEDSINCE below the message's modseq: reported as modified, still without a write.
      assert.deepEqual(await s.mail.storeFlags(inbox, [a.uid, b.uid], { op: 'remove', flags: ['\\Deleted'], unchangedSince: a.modseq - 1 }), {
        changed: [],
        modified: [a.uid, b.uid],
        highestModseq: highest,
      });
      assert.equal(commitsOf(s), before, 'no write transaction');
      assert.equal((await s.mail.status(inbox)).highestModseq, highest);
      // Bad input is refused as before, and a missing mailbox is NOT_FOUND.
      await assert.rejects(s.mail.storeFlags(inbox + 1000, [1], { op: 'add', flags: ['\\Seen'] }), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      await assert.rejects(s.mail.storeFlags(inbox, [1], { op: 'add', flags: ['\\Seen'], unchangedSince: -1 }), (e: unknown) => isStoreError(e, 'INVALID'));
      // One message of two changing: a write, with only that message reported.
      before = commitsOf(s);
      const r = await s.mail.storeFlags(inbox, [a.uid, b.uid], { op: 'add', flags: ['\\Seen'] });
      assert.equal(commitsOf(s) - before, 1);
      assert.deepEqual(
        r.changed.map((m) => [m.uid, m.flags]),
        [[b.uid, ['\\Seen']]],
      );
      assert.equal(r.changed[0]!.modseq, highest + 1);
      assert.equal(r.highestModseq, highest + 1, 'the result carries the HIGHESTMODSEQ it wrote');
    });
  });

  test('flag changes queued together each see the rows as the ones before them left them', async () => {
    await withStore(async (s, inbox) => {
      const a = await s.mail.append(inbox, sampleMessage(1));
      // Both read the rows before either commits; the second must not write from its stale read.
      const [one, two] = await Promise.all([
        s.mail.storeFlags(inbox, [a.uid], { op: 'add', flags: ['\\Flagged'] }),
        s.mail.storeFlags(inbox, [a.uid], { op: 'add', flags: ['Work'] }),
      ]);
      assert.deepEqual(one.changed[0]!.flags, ['\\Flagged']);
      assert.deepEqual(two.changed[0]!.flags, ['\\Flagged', 'Work']);
      assert.equal(two.changed[0]!.modseq, one.changed[0]!.modseq + 1);
      // UNCHANGEDSINCE the same modseq twice at once: the first changes the message, the second finds it modified.
      const since = two.changed[0]!.modseq;
      const [c1, c2] = await Promise.all([
        s.mail.storeFlags(inbox, [a.uid], { op: 'add', flags: ['\\Seen'], unchangedSince: since }),
        s.mail.storeFlags(inbox, [a.uid], { op: 'add', flags: ['\\Answered'], unchangedSince: since }),
      ]);
      assert.equal(c1.changed.length, 1);
      assert.deepEqual(c2, { changed: [], modified: [a.uid], highestModseq: c1.changed[0]!.modseq });
      const [m] = await s.mail.listMessages(inbox);
      assert.deepEqual(m!.flags, ['\\Seen', '\\Flagged', 'Work']);
    });
  });
});

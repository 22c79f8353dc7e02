/**
 * SQLite store fast paths: each must give the same answers as the general path it short-cuts.
 */
import { mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sampleMessage } from '../../../test/helpers/store.js';
import { isStoreError } from '../types.js';
import Database from 'better-sqlite3';
import type { MailStore, MessageEnvelopeRecord, MessageRecord } from '../types.js';
import { BlobDir, isBlobId } from './blobs.js';
import { SqliteMailStore } from './store.js';
import { envelopeImapText } from '../../mime/envelope-text.js';

async function withStore(fn: (s: SqliteMailStore, dir: string) => Promise<void>, opts: { inlineMax?: number } = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-paths-'));
  const s = await SqliteMailStore.open({ dataDir: dir, fsync: false, ...opts });
  try {
    await fn(s, dir);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function bigMessage(bytes: number): Buffer {
  const line = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_=+!@#$%^&*()[]{};:,.<>/?|~0123456789\r\n';
  const head = 'From: a@example.org\r\nSubject: big\r\n\r\n';
  return Buffer.from(head + line.repeat(Math.ceil(bytes / line.length)));
}

describe('SQLite store fast paths', () => {
  test('readMessage: small (synchronous) and large (asynchronous) reads return the stored bytes', async () => {
    for (const inlineMax of [0, 64 * 1024]) await withStore(async (s) => {
      const u = await s.createUser('r@example.org', 'h');
      const inbox = (await s.getMailbox(u.id, 'INBOX'))!;
      const small = sampleMessage(1);
      const big = bigMessage(700 * 1024);
      const a = await s.append(inbox.id, small);
      const b = await s.append(inbox.id, big);
      assert.deepEqual(await s.readMessage(inbox.id, a.uid), small);
      assert.deepEqual(await s.readMessage(inbox.id, b.uid), big, 'whole large message (async path)');
      for (const [start, end] of [
        [0, 10],
        [5, 256 * 1024],
        [256 * 1024 - 3, 256 * 1024 + 3],
        [big.length - 100, big.length + 5000],
        [100, 600 * 1024],
      ] as const) {
        assert.deepEqual(await s.readMessage(inbox.id, b.uid, { start, end }), big.subarray(start, Math.min(end, big.length)), `range ${start}-${end}`);
      }
      assert.equal((await s.readMessage(inbox.id, b.uid, { start: big.length + 10, end: big.length + 20 })).length, 0);
      await assert.rejects(s.readMessage(inbox.id, a.uid, { start: Number.NaN, end: 3 }), (e: unknown) => isStoreError(e, 'INVALID'));
      await assert.rejects(s.readMessage(inbox.id, 99), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
    }, { inlineMax });
  });

  test('readMessage: a blob file gone behind the store is NOT_FOUND on both paths', async () => {
    await withStore(async (s, dir) => {
      const u = await s.createUser('g@example.org', 'h');
      const inbox = (await s.getMailbox(u.id, 'INBOX'))!;
      await s.append(inbox.id, sampleMessage(1));
      await s.append(inbox.id, bigMessage(400 * 1024));
      for (const shard of readdirSync(join(dir, 'blobs'))) for (const f of readdirSync(join(dir, 'blobs', shard))) unlinkSync(join(dir, 'blobs', shard, f));
      await assert.rejects(s.readMessage(inbox.id, 1), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      await assert.rejects(s.readMessage(inbox.id, 2), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
    }, { inlineMax: 0 });
  });
});

describe('SQLite store changesSince reuse', () => {
  test('a repeated changesSince is answered again only while nothing changed, also across instances', async () => {
    await withStore(async (a, dir) => {
      const b = await SqliteMailStore.open({ dataDir: dir, fsync: false });
      try {
        const u = await a.createUser('c@example.org', 'h');
        const inbox = (await a.getMailbox(u.id, 'INBOX'))!;
        await a.append(inbox.id, sampleMessage(1));
        const since = (await a.status(inbox.id)).highestModseq;
        await a.append(inbox.id, sampleMessage(2));
        const first = await b.changesSince(inbox.id, since);
        assert.deepEqual(first.changed.map((m) => m.uid), [2]);
        first.changed[0]!.flags.push('Mutated');
        first.expunged.push(77);
        const second = await b.changesSince(inbox.id, since);
        assert.deepEqual(second.changed[0]!.flags, [], 'answers are fresh objects');
        assert.deepEqual(second.expunged, []);
        // A change through the other instance must be seen at once.
        await a.storeFlags(inbox.id, [1, 2], { op: 'add', flags: ['\\Seen'] });
        const third = await b.changesSince(inbox.id, since);
        assert.deepEqual(third.changed.map((m) => [m.uid, m.flags]), [[1, ['\\Seen']], [2, ['\\Seen']]]);
        assert.ok(third.highestModseq > second.highestModseq);
        await a.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Deleted'] });
        await a.expunge(inbox.id);
        const fourth = await b.changesSince(inbox.id, since);
        assert.deepEqual(fourth.expunged, [1]);
        assert.deepEqual(fourth.changed.map((m) => m.uid), [2]);
        assert.deepEqual(await b.changesSince(inbox.id, since), fourth);
        await a.deleteMailbox(u.id, 'Trash');
        const trash = await b.getMailbox(u.id, 'Trash');
        assert.equal(trash, null);
        await a.createMailbox(u.id, 'Gone');
        const gone = (await b.getMailbox(u.id, 'Gone'))!;
        await b.changesSince(gone.id, 0);
        await a.deleteMailbox(u.id, 'Gone');
        await assert.rejects(b.changesSince(gone.id, 0), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      } finally {
        await b.close();
      }
    });
  });
});

describe('SQLite store group commit', () => {
  test('concurrent appends share write transactions and each gets its own uid', async () => {
    await withStore(async (s) => {
      const u = await s.createUser('g@example.org', 'h');
      const inbox = (await s.getMailbox(u.id, 'INBOX'))!;
      const before = s.stats.commits;
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.append(inbox.id, sampleMessage(i))));
      assert.deepEqual(results.map((r) => r.uid).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
      const commits = s.stats.commits - before;
      assert.ok(commits >= 1 && commits < 20, `20 concurrent appends in ${commits} commits`);
      assert.equal((await s.listMessages(inbox.id)).length, 20);
      // A lone append is not held back by the grouping.
      const r = await s.append(inbox.id, sampleMessage(99));
      assert.equal(r.uid, 21);
    });
  });
});

describe('SQLite store listMessages cache', () => {
  test('a cached list follows appends, flag changes, expunges, moves and other instances', async () => {
    await withStore(async (a, dir) => {
      const b = await SqliteMailStore.open({ dataDir: dir, fsync: false });
      try {
        const u = await a.createUser('l@example.org', 'h');
        const inbox = (await a.getMailbox(u.id, 'INBOX'))!;
        const arch = (await a.getMailbox(u.id, 'Archive'))!;
        // Above the cache's minimum size, so the list is cached.
        const n = 2100;
        for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: 100 }, (_, k) => a.append(inbox.id, sampleMessage(i + k))));
        const expectSame = async (why: string) => {
          // A fresh instance has no cache: the reference answer.
          const ref = await SqliteMailStore.open({ dataDir: dir, fsync: false });
          try {
            const want = await ref.listMessages(inbox.id);
            assert.deepEqual(await a.listMessages(inbox.id), want, `a: ${why}`);
            assert.deepEqual(await b.listMessages(inbox.id), want, `b: ${why}`);
            assert.deepEqual(await a.status(inbox.id), await ref.status(inbox.id), `status a: ${why}`);
            assert.deepEqual(await b.status(inbox.id), await ref.status(inbox.id), `status b: ${why}`);
          } finally {
            await ref.close();
          }
        };
        await expectSame('initial');
        await a.claimRecent(inbox.id);
        await a.append(inbox.id, sampleMessage(4000));
        await expectSame('after claimRecent and an append (recent count)');
        const l1 = await b.listMessages(inbox.id);
        l1[0]!.flags.push('Mutated');
        l1.pop();
        await expectSame('caller mutations do not leak into the cache');
        await a.append(inbox.id, sampleMessage(5000), { flags: ['Kw1'] });
        await expectSame('after an append through the other instance');
        await a.storeFlags(inbox.id, [1, 2, 3, 500], { op: 'add', flags: ['\\Deleted', '\\Seen'] });
        await expectSame('after flag changes');
        await a.expunge(inbox.id, [1, 2, 500]);
        await expectSame('after an expunge');
        await b.move(inbox.id, [3, 4, 5], arch.id);
        await a.copy(arch.id, [1, 2], inbox.id);
        await expectSame('after move and copy back');
        const all = (await a.listMessages(inbox.id)).map((m) => m.uid);
        await a.storeFlags(inbox.id, all, { op: 'add', flags: ['\\Deleted'] });
        await a.expunge(inbox.id, all.slice(0, 1500));
        await expectSame('after a large delta (reread)');
        assert.equal((await b.listMessages(inbox.id)).length, all.length - 1500);
        await a.createMailbox(u.id, 'Big');
        await a.renameMailbox(u.id, 'INBOX', 'Old');
        assert.deepEqual(await b.listMessages(inbox.id), [], 'renaming INBOX empties it');
        await assert.rejects(b.listMessages(999999), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      } finally {
        await b.close();
      }
    });
  });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** getEnvelopes must equal getMessages with index.envelope in place of the index. */
async function assertEnvelopesMatch(s: MailStore, mailboxId: number, uids: number[], why: string): Promise<number> {
  const full = await collect(s.getMessages(mailboxId, uids) as AsyncIterable<MessageRecord>);
  const env = await collect(s.getEnvelopes!(mailboxId, uids) as AsyncIterable<MessageEnvelopeRecord>);
  // The store hands out the envelope's IMAP text when it kept that, else the envelope itself.
  assert.deepEqual(
    env.map((r) => ({ uid: r.uid, envelope: typeof r.envelope === 'string' ? r.envelope : envelopeImapText(r.envelope) ?? r.envelope })),
    full.map(({ uid, index }) => ({ uid, envelope: envelopeImapText(index.envelope) ?? index.envelope })),
    why,
  );
  return env.length;
}

describe('SQLite store getMessages/getEnvelopes', () => {
  test('dense (range) and sparse (IN) uid sets, copies, moves, expunges, old rows without an envelope row', async () => {
    await withStore(async (s, dir) => {
      const u = await s.createUser('e@example.org', 'h');
      const inbox = (await s.getMailbox(u.id, 'INBOX'))!;
      const arch = (await s.getMailbox(u.id, 'Archive'))!;
      const n = 1200;
      for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: 100 }, (_, k) => s.append(inbox.id, sampleMessage(i + k))));
      const all = Array.from({ length: n }, (_, i) => i + 1);
      assert.equal(await assertEnvelopesMatch(s, inbox.id, all, 'contiguous 1:*'), n);
      const full = await collect(s.getMessages(inbox.id, all) as AsyncIterable<MessageRecord>);
      assert.deepEqual(full.map((r) => r.uid), all, 'every uid once, in order, across range batches');
      assert.equal(full[7]!.index.envelope.subject, `Message ${full[7]!.index.envelope.subject!.split(' ')[1]}`);
      const holes = all.filter((x) => x % 3 !== 0).concat([n + 50, 0, -1, 2.5, 7, 7]);
      assert.equal(await assertEnvelopesMatch(s, inbox.id, holes, 'dense with holes and junk'), all.filter((x) => x % 3 !== 0).length);
      assert.equal(await assertEnvelopesMatch(s, inbox.id, all.filter((x) => x % 10 === 0), 'sparse, IN lists'), n / 10);
      const sparse = [5, 300, 301, 999, 1200, 4000];
      assert.equal(await assertEnvelopesMatch(s, inbox.id, sparse, 'sparse'), 5);
      assert.equal(await assertEnvelopesMatch(s, inbox.id, [], 'empty'), 0);
      await s.copy(inbox.id, [1, 2, 3], arch.id);
      await s.move(inbox.id, [4, 5], arch.id);
      await s.storeFlags(inbox.id, [6, 7], { op: 'add', flags: ['\\Deleted'] });
      await s.expunge(inbox.id);
      assert.equal(await assertEnvelopesMatch(s, arch.id, [1, 2, 3, 4, 5], 'copies and moves'), 5);
      assert.equal(await assertEnvelopesMatch(s, inbox.id, all, 'after expunge'), n - 4);
      // Rows written by a build without message_envelopes: the envelope comes from the stored index.
      const db = new Database(join(dir, 'mail.db'));
      try {
        db.prepare('DELETE FROM message_envelopes WHERE uid % 2 = 0').run();
      } finally {
        db.close();
      }
      assert.equal(await assertEnvelopesMatch(s, inbox.id, all, 'rows without an envelope row'), n - 4);
      await s.move(inbox.id, [8, 9], arch.id);
      assert.equal(await assertEnvelopesMatch(s, arch.id, [6, 7], 'moved rows without an envelope row'), 2);
      assert.deepEqual(await collect(s.getEnvelopes(999999, [1])), [], 'no such mailbox: nothing, like getMessages');
      // 7-bit envelopes are kept as IMAP text, 8-bit ones as data (their rendering depends on the session).
      const a = await s.append(arch.id, Buffer.from('Subject: plain "quoted" \\ text\r\nFrom: A <a@b.example>\r\n\r\nx\r\n'));
      const b = await s.append(arch.id, Buffer.from('Subject: caf\u00e9\r\nFrom: a@b.example\r\n\r\nx\r\n', 'utf8'));
      const [ra, rb] = await collect(s.getEnvelopes(arch.id, [a.uid, b.uid]) as AsyncIterable<MessageEnvelopeRecord>);
      assert.equal(ra!.envelope, '(NIL "plain \\"quoted\\" \\\\ text" (("A" NIL "a" "b.example")) (("A" NIL "a" "b.example")) (("A" NIL "a" "b.example")) NIL NIL NIL NIL NIL)');
      assert.equal(typeof rb!.envelope === 'string' ? 'text' : rb!.envelope.subject, 'caf\u00e9');
    });
  });

  test('a database without message_envelopes gets it filled at open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-paths-'));
    try {
      let s = await SqliteMailStore.open({ dataDir: dir, fsync: false });
      const u = await s.createUser('m@example.org', 'h');
      const inbox = (await s.getMailbox(u.id, 'INBOX'))!;
      for (let i = 0; i < 5; i++) await s.append(inbox.id, sampleMessage(i));
      await s.close();
      const db = new Database(join(dir, 'mail.db'));
      db.exec('DROP TABLE message_envelopes');
      db.close();
      s = await SqliteMailStore.open({ dataDir: dir, fsync: false });
      try {
        const db2 = new Database(join(dir, 'mail.db'), { readonly: true });
        assert.equal(db2.prepare('SELECT count(*) FROM message_envelopes').pluck().get(), 5);
        db2.close();
        assert.equal(await assertEnvelopesMatch(s, inbox.id, [1, 2, 3, 4, 5], 'after the fill'), 5);
      } finally {
        await s.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SQLite blob directory fsyncs', () => {
  test('concurrent syncDir calls share fsyncs; ids come in runs per shard and stay valid', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-paths-'));
    try {
      const b = new BlobDir(dir, true);
      b.init();
      const before = b.dirSyncCount;
      await Promise.all([b.syncDir(b.root), b.syncDir(b.root), b.syncDir(b.root), b.syncDir(b.root)]);
      assert.equal(b.dirSyncCount - before, 2, 'one running fsync, one shared by everyone who arrived during it');
      await b.syncDir(b.root);
      assert.equal(b.dirSyncCount - before, 3);
      await assert.rejects(b.syncDir(join(dir, 'missing')), (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT');
      const ids = Array.from({ length: 64 }, () => b.newId());
      assert.ok(ids.every(isBlobId));
      assert.equal(new Set(ids).size, 64);
      assert.equal(new Set(ids.slice(0, 32).map((id) => id.slice(0, 2))).size, 1, 'a run of ids shares a shard');
      await Promise.all(ids.slice(0, 10).map((id, i) => b.write(id, Buffer.from(`blob ${i}`))));
      for (let i = 0; i < 10; i++) assert.equal(b.readSync(ids[i]!, 0, 100).toString(), `blob ${i}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SQLite store group commit of message writes', () => {
  test('concurrent flag changes, expunges and copies share commits; each keeps its own outcome', async () => {
    await withStore(async (s) => {
      const u = await s.createUser('w@example.org', 'h');
      const inbox = (await s.getMailbox(u.id, 'INBOX'))!;
      const arch = (await s.getMailbox(u.id, 'Archive'))!;
      for (let i = 0; i < 20; i++) await s.append(inbox.id, sampleMessage(i));
      const before = s.stats.commits;
      const [flags, bad, copied, gone] = await Promise.allSettled([
        s.storeFlags(inbox.id, [1, 2, 3], { op: 'add', flags: ['\\Deleted'] }),
        s.storeFlags(999999, [1], { op: 'add', flags: ['\\Seen'] }),
        s.copy(inbox.id, [4, 5], arch.id),
        s.storeFlags(inbox.id, [6], { op: 'add', flags: ['\\Flagged'] }),
      ]);
      assert.equal(s.stats.commits - before, 1, 'four writes queued together commit once');
      assert.equal(flags.status, 'fulfilled');
      assert.ok(bad.status === 'rejected' && isStoreError(bad.reason, 'NOT_FOUND'), 'a failing write fails alone');
      assert.ok(copied.status === 'fulfilled' && copied.value.pairs.length === 2);
      assert.ok(gone.status === 'fulfilled' && gone.value.changed.length === 1);
      assert.deepEqual(await s.expunge(inbox.id), [1, 2, 3]);
      const list = await s.listMessages(inbox.id);
      assert.equal(list.length, 17);
      assert.deepEqual(list.find((m) => m.uid === 6)!.flags, ['\\Flagged']);
      assert.equal((await s.listMessages(arch.id)).length, 2);
    });
  });
});

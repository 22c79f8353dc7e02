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
import type { MailStore } from '../mail.js';
import { BlobDir, isBlobId } from './blobs.js';
import { openSqliteStore, type SqliteStore } from './index.js';
import { envelopeImapText } from '../../imap/wire/envelope-text.js';

/** Opens the store as the server does: with the IMAP envelope text kept at append. */
function open(dataDir: string, opts: { inlineMax?: number } = {}): Promise<SqliteStore> {
  return openSqliteStore({ dataDir, fsync: false, envelopeText: envelopeImapText, ...opts });
}

async function withStore(fn: (s: SqliteStore, dir: string) => Promise<void>, opts: { inlineMax?: number } = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-paths-'));
  const s = await open(dir, opts);
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
  test('readBytes: small (synchronous) and large (asynchronous) reads return the stored bytes', async () => {
    for (const inlineMax of [0, 64 * 1024]) await withStore(async (s) => {
      const u = await s.directory.createUser('r@example.org', 'h');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      const small = sampleMessage(1);
      const big = bigMessage(700 * 1024);
      const a = await s.mail.append(inbox.id, small);
      const b = await s.mail.append(inbox.id, big);
      assert.deepEqual(await s.mail.readBytes(inbox.id, a.uid), small);
      assert.deepEqual(await s.mail.readBytes(inbox.id, b.uid), big, 'whole large message (async path)');
      for (const [start, end] of [
        [0, 10],
        [5, 256 * 1024],
        [256 * 1024 - 3, 256 * 1024 + 3],
        [big.length - 100, big.length + 5000],
        [100, 600 * 1024],
      ] as const) {
        assert.deepEqual(await s.mail.readBytes(inbox.id, b.uid, { start, end }), big.subarray(start, Math.min(end, big.length)), `range ${start}-${end}`);
      }
      assert.equal((await s.mail.readBytes(inbox.id, b.uid, { start: big.length + 10, end: big.length + 20 })).length, 0);
      await assert.rejects(s.mail.readBytes(inbox.id, a.uid, { start: Number.NaN, end: 3 }), (e: unknown) => isStoreError(e, 'INVALID'));
      await assert.rejects(s.mail.readBytes(inbox.id, 99), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
    }, { inlineMax });
  });

  test('readBytes: a blob file gone behind the store is NOT_FOUND on both paths', async () => {
    await withStore(async (s, dir) => {
      const u = await s.directory.createUser('g@example.org', 'h');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      await s.mail.append(inbox.id, sampleMessage(1));
      await s.mail.append(inbox.id, bigMessage(400 * 1024));
      for (const shard of readdirSync(join(dir, 'blobs'))) for (const f of readdirSync(join(dir, 'blobs', shard))) unlinkSync(join(dir, 'blobs', shard, f));
      await assert.rejects(s.mail.readBytes(inbox.id, 1), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      await assert.rejects(s.mail.readBytes(inbox.id, 2), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
    }, { inlineMax: 0 });
  });
});

describe('SQLite store changesSince reuse', () => {
  test('a repeated changesSince is answered again only while nothing changed, also across instances', async () => {
    await withStore(async (a, dir) => {
      const b = await open(dir);
      try {
        const u = await a.directory.createUser('c@example.org', 'h');
        const inbox = (await a.mail.getMailbox(u.id, 'INBOX'))!;
        await a.mail.append(inbox.id, sampleMessage(1));
        const since = (await a.mail.status(inbox.id)).highestModseq;
        await a.mail.append(inbox.id, sampleMessage(2));
        const first = await b.mail.changesSince(inbox.id, since);
        assert.deepEqual(first.changed.map((m) => m.uid), [2]);
        first.changed[0]!.flags.push('Mutated');
        first.expunged.push(77);
        const second = await b.mail.changesSince(inbox.id, since);
        assert.deepEqual(second.changed[0]!.flags, [], 'answers are fresh objects');
        assert.deepEqual(second.expunged, []);
        // A change through the other instance must be seen at once.
        await a.mail.storeFlags(inbox.id, [1, 2], { op: 'add', flags: ['\\Seen'] });
        const third = await b.mail.changesSince(inbox.id, since);
        assert.deepEqual(third.changed.map((m) => [m.uid, m.flags]), [[1, ['\\Seen']], [2, ['\\Seen']]]);
        assert.ok(third.highestModseq > second.highestModseq);
        await a.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Deleted'] });
        await a.mail.expunge(inbox.id);
        const fourth = await b.mail.changesSince(inbox.id, since);
        assert.deepEqual(fourth.expunged, [1]);
        assert.deepEqual(fourth.changed.map((m) => m.uid), [2]);
        assert.deepEqual(await b.mail.changesSince(inbox.id, since), fourth);
        await a.mail.deleteMailbox(u.id, 'Trash');
        const trash = await b.mail.getMailbox(u.id, 'Trash');
        assert.equal(trash, null);
        await a.mail.createMailbox(u.id, 'Gone');
        const gone = (await b.mail.getMailbox(u.id, 'Gone'))!;
        await b.mail.changesSince(gone.id, 0);
        await a.mail.deleteMailbox(u.id, 'Gone');
        await assert.rejects(b.mail.changesSince(gone.id, 0), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      } finally {
        await b.close();
      }
    });
  });
});

describe('SQLite store group commit', () => {
  test('concurrent appends share write transactions and each gets its own uid', async () => {
    await withStore(async (s) => {
      const u = await s.directory.createUser('g@example.org', 'h');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      const before = s.stats.commits;
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.mail.append(inbox.id, sampleMessage(i))));
      assert.deepEqual(results.map((r) => r.uid).sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
      const commits = s.stats.commits - before;
      assert.ok(commits >= 1 && commits < 20, `20 concurrent appends in ${commits} commits`);
      assert.equal((await s.mail.listMessages(inbox.id)).length, 20);
      // A lone append is not held back by the grouping.
      const r = await s.mail.append(inbox.id, sampleMessage(99));
      assert.equal(r.uid, 21);
    });
  });
});

describe('SQLite store listMessages cache', () => {
  test('a cached list follows appends, flag changes, expunges, moves and other instances', async () => {
    await withStore(async (a, dir) => {
      const b = await open(dir);
      try {
        const u = await a.directory.createUser('l@example.org', 'h');
        const inbox = (await a.mail.getMailbox(u.id, 'INBOX'))!;
        const arch = (await a.mail.getMailbox(u.id, 'Archive'))!;
        // Above the cache's minimum size, so the list is cached.
        const n = 2100;
        for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: 100 }, (_, k) => a.mail.append(inbox.id, sampleMessage(i + k))));
        const expectSame = async (why: string) => {
          // A fresh instance has no cache: the reference answer.
          const ref = await open(dir);
          try {
            const want = await ref.mail.listMessages(inbox.id);
            assert.deepEqual(await a.mail.listMessages(inbox.id), want, `a: ${why}`);
            assert.deepEqual(await b.mail.listMessages(inbox.id), want, `b: ${why}`);
            assert.deepEqual(await a.mail.status(inbox.id), await ref.mail.status(inbox.id), `status a: ${why}`);
            assert.deepEqual(await b.mail.status(inbox.id), await ref.mail.status(inbox.id), `status b: ${why}`);
          } finally {
            await ref.close();
          }
        };
        await expectSame('initial');
        await a.mail.claimRecent(inbox.id);
        await a.mail.append(inbox.id, sampleMessage(4000));
        await expectSame('after claimRecent and an append (recent count)');
        const l1 = await b.mail.listMessages(inbox.id);
        // The cache's objects are shared and frozen (MailStore.listMessages): changing one throws; the array is the caller's.
        assert.throws(() => l1[0]!.flags.push('Mutated'), TypeError);
        l1.pop();
        await expectSame('caller mutations do not leak into the cache');
        await a.mail.append(inbox.id, sampleMessage(5000), { flags: ['Kw1'] });
        await expectSame('after an append through the other instance');
        await a.mail.storeFlags(inbox.id, [1, 2, 3, 500], { op: 'add', flags: ['\\Deleted', '\\Seen'] });
        await expectSame('after flag changes');
        await a.mail.expunge(inbox.id, [1, 2, 500]);
        await expectSame('after an expunge');
        await b.mail.move(inbox.id, [3, 4, 5], arch.id);
        await a.mail.copy(arch.id, [1, 2], inbox.id);
        await expectSame('after move and copy back');
        const all = (await a.mail.listMessages(inbox.id)).map((m) => m.uid);
        await a.mail.storeFlags(inbox.id, all, { op: 'add', flags: ['\\Deleted'] });
        await a.mail.expunge(inbox.id, all.slice(0, 1500));
        await expectSame('after a large delta (reread)');
        assert.equal((await b.mail.listMessages(inbox.id)).length, all.length - 1500);
        await a.mail.createMailbox(u.id, 'Big');
        await a.mail.renameMailbox(u.id, 'INBOX', 'Old');
        assert.deepEqual(await b.mail.listMessages(inbox.id), [], 'renaming INBOX empties it');
        await assert.rejects(b.mail.listMessages(999999), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
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

/**
 * readMessages with each part alone, and with all parts at once, must agree with the MIME index: the envelope
 * is index.envelope, the envelope text is the IMAP rendering kept at append (null where there is none), the
 * header is the raw header block. Returns how many messages were read.
 */
async function assertPartsMatch(s: MailStore, mailboxId: number, uids: number[], why: string): Promise<number> {
  const full = await collect(s.readMessages(mailboxId, uids, { meta: true, index: true }));
  const env = await collect(s.readMessages(mailboxId, uids, { envelope: true }));
  const text = await collect(s.readMessages(mailboxId, uids, { envelopeText: true }));
  const all = await collect(s.readMessages(mailboxId, uids, { meta: true, index: true, envelope: true, envelopeText: true, header: true }));
  const bare = await collect(s.readMessages(mailboxId, uids, {}));
  assert.deepEqual(env, full.map(({ uid, index }) => ({ uid, envelope: index.envelope })), `envelope: ${why}`);
  assert.deepEqual(bare, full.map(({ uid }) => ({ uid })), `no parts: ${why}`);
  for (const r of text) assert.deepEqual(Object.keys(r).sort(), ['envelopeText', 'uid'], `only the asked parts: ${why}`);
  // Rows without an envelope row (older builds) or with the JSON kept have no text.
  const expectText = full.map(({ uid, index }) => [uid, envelopeImapText(index.envelope)]);
  const gotText = text.map((r) => [r.uid, r.envelopeText]);
  for (let i = 0; i < gotText.length; i++) if (gotText[i]![1] === null) expectText[i]![1] = null;
  assert.deepEqual(gotText, expectText, `envelope text: ${why}`);
  assert.deepEqual(
    all.map((r) => ({ uid: r.uid, meta: r.meta, index: r.index, envelope: r.envelope, envelopeText: r.envelopeText, hdr: r.header.length })),
    full.map((r, i) => ({ uid: r.uid, meta: r.meta, index: r.index, envelope: r.index.envelope, envelopeText: text[i]!.envelopeText, hdr: r.index.root.headerEnd })),
    `all parts: ${why}`,
  );
  return env.length;
}

describe('SQLite store readMessages', () => {
  test('dense (range) and sparse (IN) uid sets, copies, moves, expunges, old rows without an envelope row', async () => {
    await withStore(async (s, dir) => {
      const u = await s.directory.createUser('e@example.org', 'h');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      const arch = (await s.mail.getMailbox(u.id, 'Archive'))!;
      const n = 1200;
      for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: 100 }, (_, k) => s.mail.append(inbox.id, sampleMessage(i + k))));
      const all = Array.from({ length: n }, (_, i) => i + 1);
      assert.equal(await assertPartsMatch(s.mail, inbox.id, all, 'contiguous 1:*'), n);
      const full = await collect(s.mail.readMessages(inbox.id, all, { index: true }));
      assert.deepEqual(full.map((r) => r.uid), all, 'every uid once, in order, across range batches');
      assert.equal(full[7]!.index.envelope.subject, `Message ${full[7]!.index.envelope.subject!.split(' ')[1]}`);
      const holes = all.filter((x) => x % 3 !== 0).concat([n + 50, 0, -1, 2.5, 7, 7]);
      assert.equal(await assertPartsMatch(s.mail, inbox.id, holes, 'dense with holes and junk'), all.filter((x) => x % 3 !== 0).length);
      assert.equal(await assertPartsMatch(s.mail, inbox.id, all.filter((x) => x % 10 === 0), 'sparse, IN lists'), n / 10);
      const sparse = [5, 300, 301, 999, 1200, 4000];
      assert.equal(await assertPartsMatch(s.mail, inbox.id, sparse, 'sparse'), 5);
      assert.equal(await assertPartsMatch(s.mail, inbox.id, [], 'empty'), 0);
      await s.mail.copy(inbox.id, [1, 2, 3], arch.id);
      await s.mail.move(inbox.id, [4, 5], arch.id);
      await s.mail.storeFlags(inbox.id, [6, 7], { op: 'add', flags: ['\\Deleted'] });
      await s.mail.expunge(inbox.id);
      assert.equal(await assertPartsMatch(s.mail, arch.id, [1, 2, 3, 4, 5], 'copies and moves'), 5);
      assert.equal(await assertPartsMatch(s.mail, inbox.id, all, 'after expunge'), n - 4);
      // Rows written by a build without message_envelopes: the envelope comes from the stored index.
      const db = new Database(join(dir, 'mail.db'));
      try {
        db.prepare('DELETE FROM message_envelopes WHERE uid % 2 = 0').run();
      } finally {
        db.close();
      }
      assert.equal(await assertPartsMatch(s.mail, inbox.id, all, 'rows without an envelope row'), n - 4);
      await s.mail.move(inbox.id, [8, 9], arch.id);
      assert.equal(await assertPartsMatch(s.mail, arch.id, [6, 7], 'moved rows without an envelope row'), 2);
      assert.deepEqual(await collect(s.mail.readMessages(999999, [1], { envelope: true })), [], 'no such mailbox: nothing');
      // 7-bit envelopes get IMAP text kept, 8-bit ones none (their rendering depends on the session).
      const a = await s.mail.append(arch.id, Buffer.from('Subject: plain "quoted" \\ text\r\nFrom: A <a@b.example>\r\n\r\nx\r\n'));
      const b = await s.mail.append(arch.id, Buffer.from('Subject: caf\u00e9\r\nFrom: a@b.example\r\n\r\nx\r\n', 'utf8'));
      const [ra, rb] = await collect(s.mail.readMessages(arch.id, [a.uid, b.uid], { envelopeText: true, envelope: true }));
      assert.equal(ra!.envelopeText, '(NIL "plain \\"quoted\\" \\\\ text" (("A" NIL "a" "b.example")) (("A" NIL "a" "b.example")) (("A" NIL "a" "b.example")) NIL NIL NIL NIL NIL)');
      assert.equal(ra!.envelope.subject, 'plain "quoted" \\ text');
      assert.equal(rb!.envelopeText, null);
      assert.equal(rb!.envelope.subject, 'caf\u00e9');
    });
  });

  test('a database without message_envelopes gets it filled at open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-paths-'));
    try {
      let s = await open(dir);
      const u = await s.directory.createUser('m@example.org', 'h');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      for (let i = 0; i < 5; i++) await s.mail.append(inbox.id, sampleMessage(i));
      await s.close();
      const db = new Database(join(dir, 'mail.db'));
      db.exec('DROP TABLE message_envelopes');
      db.close();
      s = await open(dir);
      try {
        const db2 = new Database(join(dir, 'mail.db'), { readonly: true });
        assert.equal(db2.prepare('SELECT count(*) FROM message_envelopes').pluck().get(), 5);
        db2.close();
        assert.equal(await assertPartsMatch(s.mail, inbox.id, [1, 2, 3, 4, 5], 'after the fill'), 5);
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
      const u = await s.directory.createUser('w@example.org', 'h');
      const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
      const arch = (await s.mail.getMailbox(u.id, 'Archive'))!;
      for (let i = 0; i < 20; i++) await s.mail.append(inbox.id, sampleMessage(i));
      const before = s.stats.commits;
      const [flags, bad, copied, gone] = await Promise.allSettled([
        s.mail.storeFlags(inbox.id, [1, 2, 3], { op: 'add', flags: ['\\Deleted'] }),
        s.mail.storeFlags(999999, [1], { op: 'add', flags: ['\\Seen'] }),
        s.mail.copy(inbox.id, [4, 5], arch.id),
        s.mail.storeFlags(inbox.id, [6], { op: 'add', flags: ['\\Flagged'] }),
      ]);
      assert.equal(s.stats.commits - before, 1, 'four writes queued together commit once');
      assert.equal(flags.status, 'fulfilled');
      assert.ok(bad.status === 'rejected' && isStoreError(bad.reason, 'NOT_FOUND'), 'a failing write fails alone');
      assert.ok(copied.status === 'fulfilled' && copied.value.pairs.length === 2);
      assert.ok(gone.status === 'fulfilled' && gone.value.changed.length === 1);
      assert.deepEqual(await s.mail.expunge(inbox.id), [1, 2, 3]);
      const list = await s.mail.listMessages(inbox.id);
      assert.equal(list.length, 17);
      assert.deepEqual(list.find((m) => m.uid === 6)!.flags, ['\\Flagged']);
      assert.equal((await s.mail.listMessages(arch.id)).length, 2);
    });
  });
});

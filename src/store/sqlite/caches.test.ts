import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { sampleMessage } from '../../../test/helpers/store.js';
import { applyDelta, carryMetas, LIST_CACHE_IDLE_MS, ListCache } from './caches.js';
import { openSqliteStore } from './index.js';
import { sharedMeta, type RawMsgRow } from './rows.js';

function row(uid: number, flags: number, modseq: number): RawMsgRow {
  return [uid, `e${uid}`, `t${uid}`, flags, '', 1_700_000_000_000, 100 + uid, modseq, null];
}

describe('list cache: shared message metadata', () => {
  test('carryMetas keeps the objects of unchanged rows and makes new ones for changed and added rows', () => {
    const rows = [row(1, 0, 1), row(2, 0, 2), row(3, 0, 3), row(5, 0, 4)];
    const metas = rows.map(sharedMeta);
    const next = applyDelta(rows, [row(3, 1, 6), row(7, 0, 7)], [2]);
    const carried = carryMetas(rows, metas, next);
    assert.deepEqual(
      carried.map((m) => m.uid),
      [1, 3, 5, 7],
    );
    assert.equal(carried[0], metas[0]);
    assert.equal(carried[2], metas[3]);
    assert.notEqual(carried[1], metas[2]);
    assert.deepEqual(carried[1]!.flags, ['\\Seen']);
    assert.equal(carried[1]!.modseq, 6);
    assert.equal(carried[3]!.uid, 7);
  });

  test('sharedMeta objects and their flag lists are frozen', () => {
    const m = sharedMeta(row(4, 1, 9));
    assert.ok(Object.isFrozen(m) && Object.isFrozen(m.flags));
    assert.throws(() => (m.flags as string[]).push('x'));
  });

  test('listMessages of a cached mailbox hands out the same objects until a message changes, then a new one for it only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-caches-'));
    const s = await openSqliteStore({ dataDir: dir, fsync: false });
    try {
      const user = await s.directory.createUser('c@example.org', 'h');
      const box = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      // Above the list cache's minimum size, so the mailbox is cached.
      for (let i = 0; i < 80; i++) await s.mail.append(box.id, sampleMessage(i));
      const a = await s.mail.listMessages(box.id);
      const b = await s.mail.listMessages(box.id);
      assert.notEqual(a, b, 'each call gets its own array');
      assert.equal(a.length, 80);
      assert.ok(a.every((m, i) => m === b[i]));
      await s.mail.storeFlags(box.id, [a[10]!.uid], { op: 'add', flags: ['\\Flagged'] });
      const c = await s.mail.listMessages(box.id);
      assert.deepEqual(c[10]!.flags, ['\\Flagged']);
      assert.deepEqual(a[10]!.flags, [], 'the object handed out before is unchanged');
      assert.ok(c.every((m, i) => i === 10 || m === a[i]));
      assert.notEqual(c[10], a[10]);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('list cache: entries nobody uses are dropped', () => {
  function cacheWith(open: Set<number>, used: Record<number, number>): ListCache {
    const c = new ListCache((id) => open.has(id));
    for (const [id, at] of Object.entries(used)) {
      c.entries.set(Number(id), { highest: 1, rows: [row(1, 0, 1), row(2, 0, 1)], metas: null, used: at });
      c.rows += 2;
    }
    return c;
  }

  test('sweep drops entries unused for LIST_CACHE_IDLE_MS whose mailbox is not open, and keeps the rest', () => {
    const now = 1_000_000;
    const c = cacheWith(new Set([2]), { 1: now - LIST_CACHE_IDLE_MS, 2: now - 10 * LIST_CACHE_IDLE_MS, 3: now - LIST_CACHE_IDLE_MS + 1 });
    c.sweep(now);
    assert.deepEqual([...c.entries.keys()].sort(), [2, 3], 'open mailbox 2 and recently used 3 stay, 1 goes');
    assert.equal(c.rows, 4, 'the row count follows');
    c.sweep(now + LIST_CACHE_IDLE_MS);
    assert.deepEqual([...c.entries.keys()], [2]);
    c.close();
  });

  test('through the store: a mailbox a subscriber has open keeps its entry, one without is dropped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-caches-'));
    const s = await openSqliteStore({ dataDir: dir, fsync: false });
    try {
      const user = await s.directory.createUser('d@example.org', 'h');
      const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      const other = await s.mail.createMailbox(user.id, 'Other');
      for (let i = 0; i < 70; i++) {
        await s.mail.append(inbox.id, sampleMessage(i));
        await s.mail.append(other.id, sampleMessage(i));
      }
      await s.mail.listMessages(inbox.id);
      await s.mail.listMessages(other.id);
      const lists = (s as unknown as { core: { lists: ListCache } }).core.lists;
      assert.deepEqual([...lists.entries.keys()].sort(), [inbox.id, other.id].sort());
      const off = s.mail.subscribe(inbox.id, () => undefined);
      lists.sweep(Date.now() + LIST_CACHE_IDLE_MS);
      assert.deepEqual([...lists.entries.keys()], [inbox.id], 'the entry of the unwatched mailbox is gone');
      off();
      lists.sweep(Date.now() + LIST_CACHE_IDLE_MS);
      assert.equal(lists.entries.size, 0);
      assert.equal((await s.mail.listMessages(other.id)).length, 70, 'a dropped mailbox is read again');
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('status of a cached mailbox', () => {
  test('is counted from the list cache brought forward, with changes by another store instance, as the aggregate counts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-caches-'));
    const s = await openSqliteStore({ dataDir: dir, fsync: false });
    const other = await openSqliteStore({ dataDir: dir, fsync: false });
    try {
      const user = await s.directory.createUser('st@example.org', 'h');
      const box = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      for (let i = 0; i < 80; i++) await s.mail.append(box.id, sampleMessage(i), i % 3 === 0 ? { flags: ['\\Seen'] } : {});
      await s.mail.listMessages(box.id);
      // Changes the cache has not seen, made through another instance (its own connection and hub).
      await other.mail.storeFlags(box.id, [1, 2, 3], { op: 'add', flags: ['\\Deleted'] });
      await other.mail.expunge(box.id, [1]);
      await other.mail.storeFlags(box.id, [4, 5], { op: 'add', flags: ['\\Seen'] });
      await other.mail.append(box.id, sampleMessage(100));
      const st = await s.mail.status(box.id);
      // The other instance has no cache entry for the mailbox: its status is the aggregate over the rows.
      assert.equal((s as unknown as { core: { lists: ListCache } }).core.lists.get(box.id)?.highest, st.highestModseq, 'the entry was brought forward');
      assert.equal((other as unknown as { core: { lists: ListCache } }).core.lists.get(box.id), undefined);
      assert.deepEqual(st, await other.mail.status(box.id));
      assert.equal(st.messages, 80);
      assert.equal(st.deleted, 2);
      const metas = await s.mail.listMessages(box.id);
      assert.equal(st.unseen, metas.filter((m) => !m.flags.includes('\\Seen')).length);
      assert.equal(st.size, metas.reduce((n, m) => n + m.size, 0));
      // A mailbox that does not exist is NOT_FOUND.
      await assert.rejects(s.mail.status(999_999), /no such mailbox/);
    } finally {
      await other.close();
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

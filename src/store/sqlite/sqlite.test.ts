import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import Database from 'better-sqlite3';
import { describe, test } from 'node:test';
import { sampleMessage } from '../../../test/helpers/store.js';
import { SqliteHub, openSqliteStore, type SqliteStore, type SqliteStoreOptions } from './index.js';
import { openStore } from '../index.js';
import { isStoreError } from '../types.js';
import type { ChangeEvent } from '../types.js';

// ---- SQLite-specific behaviour (files, several instances on one directory) ----

function blobFiles(dir: string): string[] {
  const root = join(dir, 'blobs');
  const out: string[] = [];
  for (const shard of readdirSync(root)) if (/^[0-9a-f]{2}$/.test(shard)) for (const f of readdirSync(join(root, shard))) out.push(f);
  return out.sort();
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'mailroom-sqlite-'));
}

/** Opens a store on a fresh directory, runs `fn`, then closes the store and removes the directory. */
async function withSqlite(opts: Omit<SqliteStoreOptions, 'dataDir'>, fn: (s: SqliteStore, dir: string) => Promise<void>): Promise<void> {
  const dir = tmp();
  const s = (await openSqliteStore({ dataDir: dir, ...opts }));
  try {
    await fn(s, dir);
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('SQLite store specifics', () => {
  test('two instances on one data directory with one hub share wake-ups, UIDs and maildrop locks', async () => {
    const dir = tmp();
    const hub = new SqliteHub();
    const a = await openSqliteStore({ dataDir: dir, fsync: false, hub });
    const b = await openSqliteStore({ dataDir: join(dir, '.', '') + '/', fsync: false, hub });
    const other = tmp();
    try {
      const user = await a.directory.createUser('x@example.org', 'h');
      const inboxA = (await a.mail.getMailbox(user.id, 'INBOX'))!;
      const inboxB = (await b.mail.getMailbox(user.id, 'INBOX'))!;
      assert.equal(inboxB.id, inboxA.id);
      const onB: ChangeEvent[] = [];
      const off = b.mail.subscribe(inboxB.id, (ev) => onB.push(ev));
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).mail.append(inboxA.id, sampleMessage(i))));
      const uids = results.map((r) => r.uid);
      assert.equal(new Set(uids).size, 20);
      // Long enough for a cross-process poll tick: in-process commits must not be announced twice.
      await new Promise((r) => setTimeout(r, 450));
      assert.equal(onB.length, 20, 'appends through either instance wake subscribers of b, once each');
      for (let i = 1; i < onB.length; i++) assert.ok(onB[i]!.highestModseq > onB[i - 1]!.highestModseq);
      assert.equal((await a.mail.listMessages(inboxA.id)).length, 20);
      const lock = await a.maildrop.lock(user.id);
      assert.ok(lock);
      assert.equal(await b.maildrop.lock(user.id), null, 'the maildrop lock holds across instances');
      await lock();
      const lock2 = await b.maildrop.lock(user.id);
      assert.ok(lock2);
      await lock2();
      off();
      await assert.rejects(openSqliteStore({ dataDir: other, fsync: false, hub }), (e: unknown) => isStoreError(e, 'INVALID'));
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
      rmSync(other, { recursive: true, force: true });
    }
  });

  test('two instances on one data directory without a hub see each other through the poll, once each', async () => {
    const dir = tmp();
    const a = await openSqliteStore({ dataDir: dir, fsync: false });
    const b = await openSqliteStore({ dataDir: dir, fsync: false });
    try {
      const user = await a.directory.createUser('y@example.org', 'h');
      const inbox = (await b.mail.getMailbox(user.id, 'INBOX'))!;
      const onB: ChangeEvent[] = [];
      const off = b.mail.subscribe(inbox.id, (ev) => onB.push(ev));
      await a.mail.append(inbox.id, sampleMessage(1));
      const deadline = Date.now() + 5000;
      while (onB.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal(onB.length, 1, 'a commit through a wakes b by the data_version poll');
      await b.mail.append(inbox.id, sampleMessage(2));
      await new Promise((r) => setTimeout(r, 450));
      assert.equal(onB.length, 2, "b's own commit is announced once");
      assert.ok(onB[1]!.highestModseq > onB[0]!.highestModseq);
      off();
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('data persists across reopen; UIDVALIDITY stays unique after reopen', async () => {
    const dir = tmp();
    try {
      let s = await openSqliteStore({ dataDir: dir, fsync: true });
      const user = await s.directory.createUser('p@example.org', 'h');
      const box = await s.mail.createMailbox(user.id, 'Keep');
      const raw = sampleMessage(1);
      const r = await s.mail.append(box.id, raw, { flags: ['\\Flagged', 'Kw'] });
      await s.mail.deleteMailbox(user.id, 'Trash');
      await s.close();
      s = await openSqliteStore({ dataDir: dir, fsync: true });
      const again = await s.mail.getMailbox(user.id, 'Keep');
      assert.equal(again?.uidValidity, box.uidValidity);
      const [m] = await s.mail.listMessages(box.id);
      assert.equal(m!.emailId, r.emailId);
      assert.deepEqual(m!.flags, ['\\Flagged', 'Kw']);
      assert.deepEqual(await s.mail.readBytes(box.id, r.uid), raw);
      const trash = await s.mail.createMailbox(user.id, 'Trash');
      const all = await s.mail.listMailboxes(user.id);
      assert.equal(new Set(all.map((x) => x.uidValidity)).size, all.length);
      assert.ok(trash.uidValidity > box.uidValidity);
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('blob files: shared by copies, unlinked when the last reference goes', async () => {
    await withSqlite({ fsync: false, inlineMax: 0 }, async (s, dir) => {
      const user = await s.directory.createUser('b@example.org', 'h');
      const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      const arch = (await s.mail.getMailbox(user.id, 'Archive'))!;
      await s.mail.append(inbox.id, sampleMessage(1), { flags: ['\\Deleted'] });
      assert.equal(blobFiles(dir).length, 1);
      await s.mail.copy(inbox.id, [1], arch.id);
      assert.equal(blobFiles(dir).length, 1, 'a copy shares the blob');
      await s.mail.expunge(inbox.id);
      assert.equal(blobFiles(dir).length, 1, 'still referenced by the copy');
      await s.mail.move(arch.id, [1], inbox.id);
      await s.mail.storeFlags(inbox.id, [2], { op: 'add', flags: ['\\Deleted'] });
      await s.mail.expunge(inbox.id);
      // Unlinked after the commit, in the background (the expunge does not wait for it).
      await s.settled();
      assert.deepEqual(blobFiles(dir), [], 'unlinked with the last reference');
      const q = await s.queue.enqueue('a@example.org', ['b@example.net'], Buffer.from('x\r\n'));
      assert.equal(blobFiles(dir).length, 1);
      await s.queue.remove(q);
      await s.settled();
      assert.deepEqual(blobFiles(dir), []);
    });
  });

  test('small messages are kept in the database, larger ones in files; reads, copies and removal treat both alike', async () => {
    const dir = tmp();
    const s = (await openSqliteStore({ dataDir: dir, fsync: true, inlineMax: 4096 }));
    const db = new Database(join(dir, 'mail.db'), { readonly: true });
    const inlineRows = () => db.prepare('SELECT count(*) FROM blob_inline').pluck().get() as number;
    try {
      const user = await s.directory.createUser('inl@example.org', 'h');
      const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      const arch = (await s.mail.getMailbox(user.id, 'Archive'))!;
      const small = sampleMessage(1);
      // A header block over 16 KiB has no blob_headers row: header reads go to the blob (a file here).
      const bigHeader = Buffer.concat([Buffer.from(`X-Long: ${'h'.repeat(70)}\r\n`.repeat(250)), sampleMessage(2)]);
      const small2 = sampleMessage(3);
      assert.ok(small.length <= 4096 && small2.length <= 4096 && bigHeader.length > 4096);
      await s.mail.append(inbox.id, small);
      await s.mail.append(inbox.id, bigHeader);
      await s.mail.append(inbox.id, small2);
      assert.equal(inlineRows(), 2, 'the two small messages are rows');
      assert.equal(blobFiles(dir).length, 1, 'the big one is a file');
      assert.deepEqual(await s.mail.readBytes(inbox.id, 1), small);
      assert.deepEqual(await s.mail.readBytes(inbox.id, 2), bigHeader);
      assert.deepEqual(await s.mail.readBytes(inbox.id, 1, { start: 5, end: 40 }), small.subarray(5, 40));
      assert.deepEqual(await s.mail.readBytes(inbox.id, 1, { start: 40, end: 1e9 }), small.subarray(40));
      assert.deepEqual(await s.mail.readBytes(inbox.id, 1, { start: 10, end: 10 }), Buffer.alloc(0));
      const headers = new Map<number, Buffer>();
      for await (const h of s.mail.readMessages(inbox.id, [1, 2, 3], { header: true })) headers.set(h.uid, h.header);
      assert.deepEqual(headers.get(2), bigHeader.subarray(0, bigHeader.indexOf('\r\n\r\n') + 4));
      assert.deepEqual(headers.get(1), small.subarray(0, small.indexOf('\r\n\r\n') + 4));
      // Copies share the row; removing one copy keeps it, removing the last deletes it.
      await s.mail.copy(inbox.id, [1, 2], arch.id);
      assert.equal(inlineRows(), 2);
      await s.mail.storeFlags(inbox.id, [1, 2], { op: 'add', flags: ['\\Deleted'] });
      assert.deepEqual(await s.mail.expunge(inbox.id), [1, 2]);
      await s.settled();
      assert.equal(inlineRows(), 2, 'still referenced by the Archive copy');
      assert.equal(blobFiles(dir).length, 1);
      assert.deepEqual(await s.mail.readBytes(arch.id, 1), small);
      await s.mail.storeFlags(arch.id, [1, 2], { op: 'add', flags: ['\\Deleted'] });
      await s.mail.expunge(arch.id);
      await s.settled();
      assert.equal(inlineRows(), 1, 'only uid 3 of INBOX is left');
      assert.deepEqual(blobFiles(dir), []);
      await assert.rejects(s.mail.readBytes(arch.id, 1), (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      // An inline append whose commit fails leaves no row; the others in its group commit.
      const gone = await s.mail.createMailbox(user.id, 'Gone');
      const others = Array.from({ length: 3 }, (_, i) => s.mail.append(inbox.id, sampleMessage(10 + i)));
      const failing = s.mail.append(gone.id, sampleMessage(20));
      await s.mail.deleteMailbox(user.id, 'Gone');
      await assert.rejects(failing, (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      await Promise.all(others);
      assert.equal(inlineRows(), 4);
      // A few dropped blobs lose their rows in the expunge's own transaction, nothing listed as garbage.
      const garbageRows = () => db.prepare('SELECT count(*) FROM blob_garbage').pluck().get() as number;
      for (let k = 0; k < 2; k++) await s.mail.append(arch.id, sampleMessage(40 + k), { flags: ['\\Deleted'] });
      assert.equal(inlineRows(), 6);
      assert.equal((await s.mail.expunge(arch.id)).length, 2);
      assert.equal(garbageRows(), 0);
      assert.equal(inlineRows(), 4);
      // More rows dropped just before close are listed in blob_garbage and deleted at the next open.
      for (let k = 0; k < 12; k++) await s.mail.append(arch.id, sampleMessage(30 + k), { flags: ['\\Deleted'] });
      assert.equal(inlineRows(), 16);
      assert.equal((await s.mail.expunge(arch.id)).length, 12);
      await s.close();
      assert.equal(garbageRows(), 12, 'the expunge listed the rows; close stopped before deleting them');
      assert.equal(inlineRows(), 16);
      // Reopened: everything reads back (the rows were committed and synced) and the garbage goes.
      const again = (await openSqliteStore({ dataDir: dir, fsync: true }));
      try {
        await again.settled();
        assert.equal(garbageRows(), 0);
        assert.equal(inlineRows(), 4);
        for (const m of await again.mail.listMessages(inbox.id)) assert.equal((await again.mail.readBytes(inbox.id, m.uid)).length, m.size);
        assert.deepEqual(await again.mail.readBytes(inbox.id, 3), small2);
      } finally {
        await again.close();
      }
    } finally {
      db.close();
      await s.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an expunge of many rows drops each blob reference once per row, shared blobs included', async () => {
    await withSqlite({ fsync: false, inlineMax: 0 }, async (s, dir) => {
      const user = await s.directory.createUser('many@example.org', 'h');
      const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      const arch = (await s.mail.getMailbox(user.id, 'Archive'))!;
      for (let k = 1; k <= 12; k++) await s.mail.append(inbox.id, sampleMessage(k));
      // Copies within INBOX (uids 13-15) share the blobs of 1-3; Archive's copies share those of 4-12.
      await s.mail.copy(inbox.id, [1, 2, 3], inbox.id);
      await s.mail.copy(inbox.id, [4, 5, 6, 7, 8, 9, 10, 11, 12], arch.id);
      assert.equal(blobFiles(dir).length, 12);
      await s.mail.storeFlags(inbox.id, Array.from({ length: 15 }, (_, i) => i + 1), { op: 'add', flags: ['\\Deleted'] });
      const gone = await s.mail.expunge(inbox.id);
      assert.equal(gone.length, 15);
      await s.settled();
      assert.equal(blobFiles(dir).length, 9, 'the blobs of 1-3 lost both references; 4-12 are still in Archive');
      const archived = await s.mail.listMessages(arch.id);
      assert.equal(archived.length, 9);
      for (const m of archived) assert.ok((await s.mail.readBytes(arch.id, m.uid)).length > 0, 'the Archive copies are intact');
      await s.mail.storeFlags(arch.id, archived.map((m) => m.uid), { op: 'add', flags: ['\\Deleted'] });
      assert.equal((await s.mail.expunge(arch.id)).length, 9);
      await s.settled();
      assert.deepEqual(blobFiles(dir), [], 'every blob unlinked with its last reference');
      const changes = await s.mail.changesSince(inbox.id, 0);
      assert.equal(changes.expunged.length, 15, 'each expunged uid left a tombstone');
    });
  });

  test('flag changes and expunges resolve at COMMIT and are synced in the background; appends wait for the sync', async () => {
    const dir = tmp();
    const s = (await openSqliteStore({ dataDir: dir, fsync: true }));
    const seq = (): { committed: number; synced: number } => {
      const x = (s as unknown as { core: { commitSeq: number; syncedSeq: number } }).core;
      return { committed: x.commitSeq, synced: x.syncedSeq };
    };
    try {
      const user = await s.directory.createUser('sync@example.org', 'h');
      const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      await s.mail.append(inbox.id, sampleMessage(1));
      assert.ok(seq().synced >= seq().committed, 'an append resolves after its WAL sync');
      await s.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Flagged'] });
      const after = seq();
      assert.ok(after.synced < after.committed, 'the flag change resolved before any sync covered it');
      const deadline = Date.now() + 5000;
      while (seq().synced < after.committed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(seq().synced >= after.committed, 'a background sync covered the flag change');
      await s.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Deleted'] });
      const big = await s.mail.append(inbox.id, Buffer.concat([sampleMessage(2), Buffer.alloc(100_000, 'x')]));
      await s.mail.storeFlags(inbox.id, [1, big.uid], { op: 'add', flags: ['\\Deleted'] });
      const files = (): number => blobFiles(dir).length;
      const before = files();
      assert.deepEqual(await s.mail.expunge(inbox.id), [1, big.uid]);
      const x = seq();
      assert.ok(x.synced < x.committed, 'the expunge resolved before any sync covered it');
      assert.equal(files(), before, 'its blob file stays until the sync');
      await s.settled();
      assert.ok(seq().synced >= x.committed, 'the sync started at once and covered it');
      assert.equal(files(), before - 1, 'then the file went');
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('with fsync on, WAL checkpoints move off the commits after a few of them; close stops them', async () => {
    const dir = tmp();
    const s = (await openSqliteStore({ dataDir: dir, fsync: true }));
    const inner = (s as unknown as { core: { checkpointer: { runs: number } | null; db: { pragma(p: string, o?: object): unknown } } }).core;
    try {
      const user = await s.directory.createUser('cp@example.org', 'h');
      const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      assert.equal(inner.checkpointer, null, 'not started by the first commits');
      assert.equal(inner.db.pragma('wal_autocheckpoint', { simple: true }), 1000);
      for (let k = 0; k < 40; k++) await s.mail.append(inbox.id, sampleMessage(k));
      assert.ok(inner.checkpointer, 'started');
      assert.equal(inner.db.pragma('wal_autocheckpoint', { simple: true }), 10_000, 'SQLite checkpoints in COMMIT only as a fallback');
      const deadline = Date.now() + 10_000;
      const runs = (): number => (inner.checkpointer as { runs: number }).runs;
      while (runs() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(runs() > 0, 'the checkpointer checkpointed');
      // The database file alone (WAL checkpointed) already holds committed messages.
      const ro = new Database(join(dir, 'mail.db'), { readonly: true });
      try {
        assert.ok((ro.prepare('SELECT count(*) FROM messages').pluck().get() as number) >= 32);
      } finally {
        ro.close();
      }
    } finally {
      await s.close();
    }
    assert.equal(inner.checkpointer, null);
    const again = await openSqliteStore({ dataDir: dir, fsync: true });
    try {
      const user = (await again.directory.getUser('cp@example.org'))!;
      const inbox = (await again.mail.getMailbox(user.id, 'INBOX'))!;
      const list = await again.mail.listMessages(inbox.id);
      assert.equal(list.length, 40);
      for (const m of list) assert.equal((await again.mail.readBytes(inbox.id, m.uid)).length, m.size);
    } finally {
      await again.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('compact gives the space of deleted messages back and keeps the rest', async () => {
    await withSqlite({ fsync: true }, async (s, dir) => {
      const user = await s.directory.createUser('vac@example.org', 'h');
      const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      const body = (k: number) => Buffer.from(`Subject: v${k}\r\n\r\n${`line ${k} ${'x'.repeat(60)}\r\n`.repeat(300)}`);
      for (let k = 0; k < 200; k++) await s.mail.append(inbox.id, body(k), k < 195 ? { flags: ['\\Deleted'] } : {});
      assert.equal((await s.mail.expunge(inbox.id)).length, 195);
      const r = await s.compact();
      assert.ok(r.before > 4_000_000, `before ${r.before}`);
      assert.ok(r.after < r.before / 4, `after ${r.after} of ${r.before}`);
      assert.ok(statSync(join(dir, 'mail.db')).size <= r.after);
      const left = await s.mail.listMessages(inbox.id);
      assert.deepEqual(left.map((m) => m.uid), [196, 197, 198, 199, 200]);
      for (const m of left) assert.deepEqual(await s.mail.readBytes(inbox.id, m.uid), body(m.uid - 1));
      await s.mail.append(inbox.id, body(500));
      assert.equal((await s.mail.listMessages(inbox.id)).length, 6);
    });
  });

  test('an append whose commit fails (mailbox deleted meanwhile) leaves no blob behind', async () => {
    await withSqlite({ fsync: false, inlineMax: 0 }, async (s, dir) => {
      const user = await s.directory.createUser('c@example.org', 'h');
      const box = await s.mail.createMailbox(user.id, 'Gone');
      const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      // Appends committed in the same group as the failing one are unaffected.
      const others = Array.from({ length: 5 }, (_, i) => s.mail.append(inbox.id, sampleMessage(i)));
      const appending = s.mail.append(box.id, sampleMessage(1));
      const deleting = s.mail.deleteMailbox(user.id, 'Gone');
      await deleting;
      await assert.rejects(appending, (e: unknown) => isStoreError(e, 'NOT_FOUND'));
      const ok = await Promise.all(others);
      assert.deepEqual(ok.map((r) => r.uid).sort((a, b) => a - b), [1, 2, 3, 4, 5]);
      assert.equal(blobFiles(dir).length, 5, 'only the blob of the failed append is gone');
      assert.equal((await s.mail.listMessages(inbox.id)).length, 5);
    });
  });

  test('open sweep: blobs of no known writer (ids with a process id) go by age only; a pid says nothing across PID namespaces', async () => {
    const dir = tmp();
    try {
      let s = await openSqliteStore({ dataDir: dir, fsync: false, inlineMax: 0 });
      const user = await s.directory.createUser('o@example.org', 'h');
      const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      await s.mail.append(inbox.id, sampleMessage(1));
      await s.close();
      const [kept] = blobFiles(dir);
      // Names as writers in other containers make them: their pid is dead here, or is this very process's.
      const deadHere = spawnSync(process.execPath, ['-e', '0']).pid!;
      const mk = (name: string, ageMs = 0) => {
        mkdirSync(join(dir, 'blobs', name.slice(0, 2)), { recursive: true });
        const p = join(dir, 'blobs', name.slice(0, 2), name);
        writeFileSync(p, 'partial');
        if (ageMs) utimesSync(p, new Date(Date.now() - ageMs), new Date(Date.now() - ageMs));
        return p;
      };
      const foreignFresh = mk(`${'a1'.repeat(12)}-${deadHere}`);
      const samePidFresh = mk(`${'b2'.repeat(12)}-${process.pid}`, 2 * 60_000);
      const oldOrphan = mk(`${'d4'.repeat(12)}-${process.ppid}`, 2 * 3600_000);
      const foreign = mk('e5-not-a-blob-name');
      s = await openSqliteStore({ dataDir: dir, fsync: false });
      assert.equal(existsSync(foreignFresh), true, 'a writer whose pid is unknown here may still commit it');
      assert.equal(existsSync(samePidFresh), true, 'the same pid in another namespace is another process');
      assert.equal(existsSync(oldOrphan), false, 'older than the grace period and no live writer: swept');
      assert.equal(existsSync(foreign), true, 'names that are not blob ids are left alone');
      assert.ok(blobFiles(dir).includes(kept!));
      assert.equal((await s.mail.readBytes(inbox.id, 1)).length > 0, true);
      assert.equal(await s.sweep(), 0, 'the default grace keeps the fresh ones');
      assert.equal(await s.sweep(0), 2, 'an explicit sweep with no grace takes the fresh ones of no live writer');
      assert.equal(existsSync(foreignFresh), false);
      await s.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a sweep from a second store never takes a live writer's uncommitted blob, and takes it once the writer was killed", async () => {
    const dir = tmp();
    // The writer is a separate process (its own store, no shared hub): it writes a blob through its store
    // as an append does before the commit, reports the path and holds it until told to go.
    const script = `
      import { openSqliteStore } from ${JSON.stringify(new URL('./index.ts', import.meta.url).pathname)};
      import { join } from 'node:path';
      const s = await openSqliteStore({ dataDir: ${JSON.stringify(dir)}, fsync: false, inlineMax: 0 });
      const blobs = s.core.blobs;
      const id = blobs.newId();
      await blobs.write(id, Buffer.from('Subject: in flight\\r\\n\\r\\nbody\\r\\n'));
      process.stdout.write(join(${JSON.stringify(dir)}, 'blobs', id.slice(0, 2), id) + '\\n');
      setInterval(() => undefined, 1000);
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let out = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => (out += d));
      const deadline = Date.now() + 60_000;
      while (!out.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const inflight = out.trim();
      assert.ok(existsSync(inflight), `writer reported ${JSON.stringify(out)}`);
      const s = await openSqliteStore({ dataDir: dir, fsync: false });
      assert.equal(existsSync(inflight), true, 'the open-time sweep left it');
      assert.equal(await s.sweep(0), 0);
      assert.equal(existsSync(inflight), true, 'an explicit sweep with no grace left it: its writer is alive');
      // Killed without a chance to clean up (a crash between blob write and commit): an orphan at once,
      // grace or not, and the dead writer's lock file goes too.
      child.kill('SIGKILL');
      await once(child, 'exit');
      assert.equal(await s.sweep(), 1);
      assert.equal(existsSync(inflight), false);
      assert.deepEqual(readdirSync(join(dir, 'blobs', 'writers')).length, 1, "only the second store's own lock file is left");
      await s.close();
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('append keeps a caller-chosen EMAILID; INVALID when malformed, EXISTS when taken', async () => {
    await withSqlite({ fsync: false, inlineMax: 0 }, async (s, dir) => {
      const user = await s.directory.createUser('e@example.org', 'h');
      const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      // Through unknown: compiles whether or not AppendOptions declares emailId yet.
      const withId = (emailId: string) => ({ emailId }) as unknown as Parameters<typeof s.mail.append>[2];
      const r = await s.mail.append(inbox.id, sampleMessage(1), withId('Mkept_ID-1'));
      assert.equal(r.emailId, 'Mkept_ID-1');
      assert.equal((await s.mail.listMessages(inbox.id))[0]!.emailId, 'Mkept_ID-1');
      await assert.rejects(s.mail.append(inbox.id, sampleMessage(2), withId('Mkept_ID-1')), (e: unknown) => isStoreError(e, 'EXISTS'));
      await assert.rejects(s.mail.append(inbox.id, sampleMessage(2), withId('bad id!')), (e: unknown) => isStoreError(e, 'INVALID'));
      await assert.rejects(s.mail.append(inbox.id, sampleMessage(2), withId('')), (e: unknown) => isStoreError(e, 'INVALID'));
      assert.equal((await s.mail.listMessages(inbox.id)).length, 1);
      assert.equal(blobFiles(dir).length, 1);
    });
  });

  test('openStore: dataDir opens SQLite; an unknown URL scheme is INVALID', async () => {
    const dir = tmp();
    try {
      const s = await openStore({ dataDir: dir });
      const u = await s.directory.createUser('z@example.org', 'h');
      assert.ok(await s.mail.getMailbox(u.id, 'INBOX'));
      await s.close();
      await assert.rejects(openStore({ url: 'ftp://example.org/x' }), (e: unknown) => isStoreError(e, 'INVALID'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Crash safety of the SQLite store: a child process appends with fsync on and reports each committed UID;
 * the parent SIGKILLs it at a random moment (several rounds on the same data directory). On reopen every
 * reported message is present and byte-identical, the database passes integrity_check without repair, and
 * the blobs the killed child had written but not committed are swept.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openServerStore } from '../src/server/store.js';
import { INLINE_MAX } from '../src/store/sqlite/index.js';
import { crashMessage } from './store-crash-message.js';
import { runAndKill as runChildAndKill } from './helpers/crash.js';

const CHILD = new URL('./store-crash-child.ts', import.meta.url).pathname;

/**
 * Runs the child on `dataDir` with `loops` concurrent appenders until it has reported `atLeast` commits,
 * then SIGKILLs it (see helpers/crash.ts).
 */
function runAndKill(dataDir: string, seedBase: number, atLeast: number, loops = 4): Promise<Map<number, number>> {
  return runChildAndKill(CHILD, [dataDir, String(seedBase), String(loops)], atLeast);
}

function blobFiles(dataDir: string): number {
  let n = 0;
  const root = join(dataDir, 'blobs');
  // Shard directories only (blobs/writers/ holds the writers' lock files).
  for (const shard of readdirSync(root)) if (/^[0-9a-f]{2}$/.test(shard)) n += readdirSync(join(root, shard)).length;
  return n;
}

/** Three rounds of appends by `loops` concurrent appenders, each ended by SIGKILL, then the checks below. */
async function crashRounds(loops: number): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mailroom-crash-'));
  try {
    const all = new Map<number, number>();
    for (let round = 0; round < 3; round++) {
      const got = await runAndKill(dataDir, round * 100_000, 15 + round * 5, loops);
      for (const [uid, seed] of got) {
        assert.ok(!all.has(uid), `uid ${uid} reported twice across rounds`);
        all.set(uid, seed);
      }
    }
    // The database is consistent as found on disk (no repair step before this check).
    const db = new Database(join(dataDir, 'mail.db'), { readonly: true, fileMustExist: true });
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.close();

    const store = await openServerStore({ dataDir, fsync: true });
    try {
      const user = await store.directory.getUser('crash@example.org');
      assert.ok(user);
      const inbox = await store.mail.getMailbox(user.id, 'INBOX');
      assert.ok(inbox);
      const list = await store.mail.listMessages(inbox.id);
      const present = new Map(list.map((m) => [m.uid, m]));
      for (const [uid, seed] of all) {
        const meta = present.get(uid);
        assert.ok(meta, `committed uid ${uid} missing after crash`);
        const want = crashMessage(seed);
        assert.equal(meta.size, want.length);
        assert.deepEqual(await store.mail.readBytes(inbox.id, uid), want, `uid ${uid} bytes differ`);
        assert.equal(meta.flags.includes('\\Seen'), seed % 3 === 0);
      }
      // Messages committed but not yet reported are allowed; each must still be whole.
      for (const m of list) assert.equal((await store.mail.readBytes(inbox.id, m.uid)).length, m.size);
      // Orphans (written, never committed) were swept at open: one file per message too big to be kept in
      // the database remains (the crash messages are 0-80 KB, so both kinds were being written when killed).
      const inFiles = list.filter((m) => m.size > INLINE_MAX).length;
      assert.ok(inFiles > 0 && inFiles < list.length, `${inFiles} of ${list.length} messages in files`);
      assert.equal(blobFiles(dataDir), inFiles);
      // The store keeps working after the crash.
      const r = await store.mail.append(inbox.id, crashMessage(1));
      assert.ok(r.uid > Math.max(...all.keys()));
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

test('SIGKILL during appends loses nothing that was reported committed', () => crashRounds(4));

// Many appends acknowledged together share WAL syncs (and blob writes run side by side): each one that was
// acknowledged must still be there.
test('SIGKILL during 16 concurrent appenders sharing WAL syncs loses nothing that was reported committed', () => crashRounds(16));

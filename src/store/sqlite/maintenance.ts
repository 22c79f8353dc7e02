/**
 * Maintenance of the SQLite store's files: the orphan-blob sweep run when a store opens (and by `sweep()`),
 * and compaction (`mailroom compact`). Both act on an open SqliteCore; see core.ts for the blob lifecycle.
 */
import { blobWriter, type WriterState } from './blobs.js';
import type { SqliteCore } from './core.js';

/** A blob file of this process that is not in flight through the hub is an orphan after this long. */
const OWN_WRITE_GRACE_MS = 60 * 1000;

/**
 * Removes blob files no row references (a crash between blob write and row commit): at once when their
 * writer is gone, after `graceMs` when it is unknown, never while it is live. Synchronous.
 */
export function sweepOrphanBlobs(core: SqliteCore, graceMs: number): number {
  const blobs = core.blobs;
  // List files, then ask about writers, then read the table: a blob committed in between is in the table;
  // one still being written is this hub's (in `inflight`), a live writer's, or an orphan.
  const files = blobs.listSync();
  if (files.length === 0) {
    blobs.removeDeadLocks();
    return 0;
  }
  const writers = new Map<string, WriterState>();
  const stateOf = (w: string): WriterState => {
    let st = writers.get(w);
    if (st === undefined) writers.set(w, (st = blobs.writerState(w)));
    return st;
  };
  const known = new Set(core.sql('SELECT id FROM blobs').pluck().all() as string[]);
  const now = Date.now();
  let removed = 0;
  for (const [id, mtime] of files) {
    if (known.has(id) || core.hub.inflight.has(id)) continue;
    const writer = blobWriter(id);
    const own = writer === blobs.writer;
    const state = own || writer === null ? 'unknown' : stateOf(writer);
    if (state === 'live') continue;
    if (state === 'dead' || now - mtime > (own ? Math.min(graceMs, OWN_WRITE_GRACE_MS) : graceMs)) {
      blobs.removeSync(id);
      removed++;
    }
  }
  // Only now: a dead writer's lock file told the loop above that its blobs are orphans.
  blobs.removeDeadLocks();
  return removed;
}

/**
 * Gives the space of deleted messages back to the file system. Small messages live in mail.db, whose free
 * pages are reused by later mail but never returned; the caller has finished the background deletion of
 * dropped blobs; this rebuilds the database (VACUUM, which holds the write lock while it runs, so writers in
 * other processes wait or get a temporary failure, and needs free disk space about the size of the
 * database) and empties the WAL. Returns the database size before and after, in bytes.
 */
export async function compactDatabase(core: SqliteCore): Promise<{ before: number; after: number }> {
  const db = core.db;
  const size = (): number => (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
  const before = size();
  db.exec('VACUUM');
  // The background checkpointer may hold the checkpoint lock for a moment (busy = 1): the file keeps its
  // old size until a TRUNCATE checkpoint completes, so try again briefly.
  for (let i = 0; i < 50; i++) {
    const r = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    if (!r[0] || r[0].busy === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { before, after: size() };
}

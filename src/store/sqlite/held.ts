/**
 * Held expunged messages of the SQLite store (see ../holds.ts for the model, RFC 2180 section 4.1.1).
 *
 * An expunge (or MOVE out, or POP3 purge) of a mailbox that some view of this process holds, or of any
 * mailbox when the expunge grace is above zero, copies the removed rows into `expunged_held` (the message
 * columns, the expunge's modseq and time) and keeps their blob references: the blob, its MIME index and
 * header rows stay. The change log is unaffected (the tombstone is written as before). sweepHeld frees the
 * rows that no hold covers and whose grace has elapsed, dropping the blob references like a deletion;
 * dropping a mailbox frees its held rows at once. Everything here runs inside a transaction the caller holds,
 * except sweepHeld, which takes its own (not synced before it resolves: a crash leaves rows held, swept at
 * the next open). Nothing here throws except through SQLite errors.
 */
import type { SqliteCore } from './core.js';
import { MSG_COLS } from './rows.js';

const HOLD_SQL = `INSERT OR REPLACE INTO expunged_held (mailbox_id, ${MSG_COLS}, blob_id, expunged_modseq, expunged_at)
  SELECT mailbox_id, ${MSG_COLS}, blob_id, ?, ? FROM messages WHERE mailbox_id = ? AND uid`;

/**
 * Dead blobs up to this many have their data, header and inline rows deleted in the transaction that drops
 * them (a single EXPUNGE: no garbage transaction of its own afterwards); more go through blob_garbage.
 */
const FREE_NOW_MAX = 8;

/** Keeps the listed rows of `mailboxId` readable; call before deleting them. */
export function holdRows(core: SqliteCore, mailboxId: number, uids: readonly number[], modseq: number): void {
  if (uids.length === 1) core.sql(`${HOLD_SQL} = ?`).run(modseq, Date.now(), mailboxId, uids[0]);
  else core.sql(`${HOLD_SQL} IN (SELECT value FROM json_each(?))`).run(modseq, Date.now(), mailboxId, JSON.stringify(uids));
  core.heldAdded(mailboxId);
}

/**
 * Drops one reference per listed blob id (an id listed n times loses n). Unreferenced blobs lose their
 * rows: their files go to `doomed` (unlinked after commit); their inline/data/header rows are deleted here
 * for a few blobs, else listed in blob_garbage (see FREE_NOW_MAX).
 */
export function dropBlobRefs(core: SqliteCore, blobIds: readonly string[], doomed: string[]): void {
  if (blobIds.length === 0) return;
  if (blobIds.length === 1) {
    // One message (the usual EXPUNGE): plain statements, no JSON list to bind and walk. Its last reference
    // (the common case) deletes the blob row in one statement; otherwise the count goes down by one.
    const id = blobIds[0]!;
    if (core.sql(DELETE_LAST_REF).pluck().get(id) !== undefined) freeBlobs(core, [id], doomed);
    else core.st.unrefBlob.run(id);
    return;
  }
  // A blob shared by several of the rows (a message copied within the mailbox) loses all those references.
  const drops = new Map<string, number>();
  for (const id of blobIds) drops.set(id, (drops.get(id) ?? 0) + 1);
  const once: string[] = [];
  const dead: string[] = [];
  for (const [id, n] of drops) {
    if (n === 1) {
      once.push(id);
      continue;
    }
    core.st.unrefBlobBy.run(n, id);
    const refs = core.st.blobRefs.get(id) as number | undefined;
    if (refs !== undefined && refs <= 0) {
      core.st.deleteBlob.run(id);
      dead.push(id);
    }
  }
  if (once.length > 0) {
    // Most blobs lose their last reference (a POP3 QUIT deleting what it downloaded): one statement deletes
    // those and names them, where decrementing every count, reading them back and deleting took three.
    const json = JSON.stringify(once);
    const last = core.sql(DELETE_LAST_REFS).pluck().all(json) as string[];
    for (const id of last) dead.push(id);
    // The rest are referenced elsewhere too (copies in other mailboxes): one reference fewer each.
    if (last.length < once.length) core.st.unrefBlobsJson.run(json);
  }
  if (dead.length > 0) freeBlobs(core, dead, doomed);
}

/** Deletes the listed blobs whose last reference goes, returning their ids (the others are left alone). */
const DELETE_LAST_REFS = 'DELETE FROM blobs WHERE id IN (SELECT value FROM json_each(?)) AND refs <= 1 RETURNING id';
/** DELETE_LAST_REFS for one blob. */
const DELETE_LAST_REF = 'DELETE FROM blobs WHERE id = ? AND refs <= 1 RETURNING id';

/**
 * Deletes the other rows of blobs whose blobs row is gone: a few with all their rows now, more through
 * blob_garbage (see FREE_NOW_MAX).
 */
function freeBlobs(core: SqliteCore, dead: readonly string[], doomed: string[]): void {
  if (dead.length <= FREE_NOW_MAX) {
    for (const id of dead) {
      core.st.deleteBlobData.run(id);
      core.st.deleteBlobHeader.run(id);
      if (core.st.deleteBlobInline.run(id).changes === 0) doomed.push(id); // a file to unlink
    }
    return;
  }
  const deadJson = JSON.stringify(dead);
  // Their blob_data, blob_headers and blob_inline rows go in the background (see collectGarbage): no
  // message points at them any more, and freeing their pages is most of the cost of a big delete.
  core.st.listGarbageJson.run(deadJson);
  core.garbageWanted = true;
  const inline = new Set(core.st.inlineIn.all(deadJson) as string[]);
  for (const id of dead) if (!inline.has(id)) doomed.push(id); // files to unlink
}

/** Frees every held row of a mailbox (the mailbox is being dropped). Inside a transaction. */
export function dropHeld(core: SqliteCore, mailboxId: number, doomed: string[]): void {
  const ids = core.sql('SELECT blob_id FROM expunged_held WHERE mailbox_id = ?').pluck().all(mailboxId) as string[];
  if (ids.length === 0) return;
  core.sql('DELETE FROM expunged_held WHERE mailbox_id = ?').run(mailboxId);
  dropBlobRefs(core, ids, doomed);
}

/** The blob and size of a held message, or undefined. */
export function heldBlob(core: SqliteCore, mailboxId: number, uid: number): { blob_id: string; size: number } | undefined {
  return core.sql('SELECT blob_id, size FROM expunged_held WHERE mailbox_id = ? AND uid = ?').get(mailboxId, uid) as
    | { blob_id: string; size: number }
    | undefined;
}

/** Mailboxes that have held rows (the open-time sweep). */
export function heldMailboxes(core: SqliteCore): number[] {
  return core.sql('SELECT DISTINCT mailbox_id FROM expunged_held').pluck().all() as number[];
}

const DUE_FROM = 'FROM expunged_held WHERE mailbox_id = ? AND expunged_modseq <= ? AND expunged_at <= ?';
const DUE_SQL = `SELECT 1 ${DUE_FROM} LIMIT 1`;

/**
 * Sweeps asked for within this long of each other share one read per mailbox and one write transaction:
 * every hold moves at each command of a session, and with an expunge grace (serve --workers N) each
 * expunge sets off a sweep of its own when its grace ends. Freeing a little later keeps every promise
 * (held rows stay readable at least as long as promised).
 */
const SWEEP_BATCH_MS = 500;

/** Per store, the mailboxes whose sweep is waiting for the batch (see SWEEP_BATCH_MS). */
const sweepsDue = new WeakMap<SqliteCore, Set<number>>();

/**
 * Frees the held rows of a mailbox that no hold of this process covers (expunged at or below every hold's
 * modseq) and that are older than the grace, with the other sweeps asked for within SWEEP_BATCH_MS.
 * Errors are dropped: the rows stay held until the next sweep.
 */
export function sweepHeld(core: SqliteCore, mailboxId: number): void {
  if (core.closed) return;
  let due = sweepsDue.get(core);
  if (due) {
    due.add(mailboxId);
    return;
  }
  sweepsDue.set(core, (due = new Set([mailboxId])));
  setTimeout(() => {
    sweepsDue.delete(core);
    sweepNow(core, [...due]);
  }, SWEEP_BATCH_MS).unref();
}

function sweepNow(core: SqliteCore, mailboxIds: readonly number[]): void {
  if (core.closed) return;
  const now = Date.now() - core.expungeGraceMs;
  // A read finds the common case, nothing to free, without a write transaction (a busy database is left
  // to the write below).
  const ids = mailboxIds.filter((id) => {
    const floor = core.hub.holds.floor(id);
    try {
      return core.sql(DUE_SQL).get(id, floor === Infinity ? Number.MAX_SAFE_INTEGER : floor, now) !== undefined;
    } catch {
      return true; // checked again inside the transaction
    }
  });
  if (ids.length === 0) return;
  void core
    .run(async () => {
      const doomed: string[] = [];
      await core.groupCommit(() => ids.forEach((id) => freeDueHeld(core, id, doomed)), undefined, false);
      core.unlinkAll(doomed);
    })
    .catch(() => undefined);
}

/** What a sweep frees of one mailbox, inside the caller's transaction; files of freed blobs go to `doomed`. */
function freeDueHeld(core: SqliteCore, mailboxId: number, doomed: string[]): void {
  const floor = core.hub.holds.floor(mailboxId);
  const upto = floor === Infinity ? Number.MAX_SAFE_INTEGER : floor;
  const rows = core.sql(`SELECT uid, blob_id ${DUE_FROM}`).all(mailboxId, upto, Date.now() - core.expungeGraceMs) as Array<{ uid: number; blob_id: string }>;
  if (rows.length === 0) return;
  core.sql('DELETE FROM expunged_held WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))').run(mailboxId, JSON.stringify(rows.map((r) => r.uid)));
  dropBlobRefs(
    core,
    rows.map((r) => r.blob_id),
    doomed,
  );
}

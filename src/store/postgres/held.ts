/**
 * Held expunged messages of the PostgreSQL store (see ../holds.ts for the model, RFC 2180 section 4.1.1).
 *
 * An expunge (or MOVE out, or POP3 purge) of a mailbox that some view of this process holds, or of any
 * mailbox when the expunge grace is above zero, copies the removed rows into `expunged_held` (the message
 * columns, the expunge's modseq and time) and keeps their blob references, so the blob, its MIME index and
 * header rows stay. The change log is unaffected. Holds are per node: other nodes' readers are covered by
 * the grace (StoreOptions.expungeGraceMs). sweepHeld frees the rows no hold covers once the grace has
 * elapsed, dropping their blob references like a deletion; dropping a mailbox frees its held rows at once.
 * holdRows and dropHeld run inside the caller's transaction; sweepHeld takes its own and drops its errors
 * (the rows stay held until the next sweep).
 */
import type { PgCore } from './core.js';
import type { Queryable } from './db.js';
import { releaseBlobs } from './blobs.js';
import { num } from './db.js';

const COLS = 'uid, email_id, thread_id, flags, keywords, internal_date, size, modseq, blob_id';

/** Keeps the listed message rows readable; call before deleting them. */
export async function holdRows(core: PgCore, q: Queryable, mailboxId: number, uids: readonly number[], modseq: number): Promise<void> {
  await q.query(
    `INSERT INTO expunged_held (mailbox_id, ${COLS}, expunged_modseq)
     SELECT mailbox_id, ${COLS}, $3 FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])
     ON CONFLICT (mailbox_id, uid) DO NOTHING`,
    [mailboxId, uids, modseq],
  );
  core.heldAdded(mailboxId);
}

/** Deletes the held rows of a mailbox (it is being dropped); returns their blob ids for release. */
export async function dropHeld(q: Queryable, mailboxId: number): Promise<string[]> {
  const r = await q.query<{ blob_id: string }>('DELETE FROM expunged_held WHERE mailbox_id = $1 RETURNING blob_id', [mailboxId]);
  return r.rows.map((row) => row.blob_id);
}

/** Mailboxes that have held rows (the open-time sweep). */
export async function heldMailboxes(core: PgCore): Promise<number[]> {
  const r = await core.db.query<{ mailbox_id: string }>('SELECT DISTINCT mailbox_id FROM expunged_held');
  return r.rows.map((row) => num(row.mailbox_id));
}

/**
 * Frees the held rows of a mailbox that no hold of this node covers (expunged at or below every hold's
 * modseq) and that are older than the grace, dropping their blob references.
 */
export function sweepHeld(core: PgCore, mailboxId: number): void {
  if (core.isClosed) return;
  const floor = core.holds.floor(mailboxId);
  const upto = floor === Infinity ? Number.MAX_SAFE_INTEGER : floor;
  void core
    .run(async () =>
      core.db.tx(async (q, after) => {
        const r = await q.query<{ blob_id: string }>(
          `DELETE FROM expunged_held WHERE mailbox_id = $1 AND expunged_modseq <= $2
             AND expunged_at <= now() - $3::bigint * interval '1 millisecond' RETURNING blob_id`,
          [mailboxId, upto, core.expungeGraceMs],
        );
        const files = await releaseBlobs(
          q,
          r.rows.map((row) => row.blob_id),
        );
        if (files.length) after.push(() => core.blobs.unlinkFiles(files));
      }),
    )
    .catch(() => undefined);
}

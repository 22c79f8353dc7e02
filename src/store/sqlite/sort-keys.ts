/**
 * Persisted sort and thread keys of the SQLite store: one `blob_sort_keys` row per blob with the keys that
 * depend on the message's bytes alone (mailsort ContentKeys), written in the append's transaction, so a
 * SORT or THREAD after a restart reads small rows instead of parsing every envelope (see ../sort-keys.ts).
 *
 * - Rows are per blob, like blob_data: COPY and MOVE share them and write nothing.
 * - A blob stored before this table existed (or by older code) has no row; the sort-key cache computes its
 *   keys on first use and saves them here (`save`), which is the backfill; a row of an older
 *   SORT_KEYS_VERSION is recomputed and replaced the same way.
 * - Rows of dropped blobs are deleted once per open, after the first read (`SWEEP`), so garbage collection
 *   of blobs needs no change; the reader joins through messages, so a leftover row is never seen meanwhile.
 */
import type { ContentKeys } from '../../mailsort/index.js';
import { decodeContentKeys, encodeContentKeys, type PersistedSortKeys, type StoredSortRow } from '../sort-keys.js';
import type { SqliteCore } from './core.js';

/** Created at open with the rest of the schema (schema.ts). */
export const SORT_KEYS_SQL = `
CREATE TABLE IF NOT EXISTS blob_sort_keys (
  blob_id TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  sent INTEGER,
  subject TEXT NOT NULL,
  from_key TEXT NOT NULL,
  to_key TEXT NOT NULL,
  cc_key TEXT NOT NULL,
  display_from TEXT NOT NULL,
  display_to TEXT NOT NULL,
  reply_fwd INTEGER NOT NULL,
  message_id TEXT,
  parents TEXT NOT NULL
) WITHOUT ROWID;
`;

/** Deletes rows whose blob is gone. */
const SWEEP = 'DELETE FROM blob_sort_keys WHERE blob_id NOT IN (SELECT id FROM blobs)';

const INSERT = `INSERT OR REPLACE INTO blob_sort_keys
  (blob_id, version, sent, subject, from_key, to_key, cc_key, display_from, display_to, reply_fwd, message_id, parents)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

const READ = `SELECT m.uid, m.internal_date, m.size, m.blob_id,
  k.version, k.sent, k.subject, k.from_key, k.to_key, k.cc_key, k.display_from, k.display_to, k.reply_fwd, k.message_id, k.parents
  FROM messages m LEFT JOIN blob_sort_keys k ON k.blob_id = m.blob_id
  WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid`;

function toRow(r: unknown[]): StoredSortRow {
  return { uid: r[0] as number, arrival: r[1] as number, size: r[2] as number, blobId: r[3] as string, keys: decodeContentKeys(r, 4) };
}

/** Writes a new blob's keys; call inside the append's transaction. */
export function insertSortKeys(core: SqliteCore, blobId: string, keys: ContentKeys): void {
  core.sql(INSERT).run(blobId, ...encodeContentKeys(keys));
}

/** The SQLite store's PersistedSortKeys. */
export function sqliteSortKeys(core: SqliteCore): PersistedSortKeys {
  let swept = false;
  // Once per open, off the first command's path (core.run: close() waits for it).
  const sweep = (): void => {
    if (swept) return;
    swept = true;
    void core.run(() => core.groupCommit(() => core.db.exec(SWEEP), undefined, false)).catch(() => undefined);
  };
  return {
    read: (mailboxId, lo, hi) =>
      core.run(async () => {
        sweep();
        return (core.sql(READ).raw(true).all(mailboxId, lo, hi) as unknown[][]).map(toRow);
      }),
    readAll: (mailboxId, onRow) =>
      core.run(async () => {
        sweep();
        // One read transaction: the rows and the modseq they are current at; rows streamed, not collected.
        return core.readTx(() => {
          const modseq = core.mailboxRow(mailboxId).highest_modseq;
          for (const r of core.sql(READ).raw(true).iterate(mailboxId, 0, Number.MAX_SAFE_INTEGER) as IterableIterator<unknown[]>) onRow(toRow(r));
          return modseq;
        });
      }),
    save: (rows) =>
      core.run(() =>
        // Not durable on its own: losing it in a crash only means computing the keys again.
        core.groupCommit(() => {
          const st = core.sql(INSERT);
          for (const [blobId, keys] of rows) st.run(blobId, ...encodeContentKeys(keys));
        }, undefined, false),
      ),
  };
}

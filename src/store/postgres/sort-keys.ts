/**
 * Persisted sort and thread keys of the PostgreSQL store (migration 15): one `blob_sort_keys` row per blob
 * with the keys that depend on the message's bytes alone (mailsort ContentKeys), written in the append's
 * transaction, so the first SORT or THREAD of a node reads small rows instead of parsing every envelope
 * (see ../sort-keys.ts).
 *
 * - Rows are per blob, like blob_meta: COPY and MOVE share them, and they go with the blob (ON DELETE CASCADE).
 * - The migration stays pure SQL and back-fills nothing: a blob without a row has its keys computed by the
 *   sort-key cache on first use and saved here (`save`), which is the backfill; a row of an older
 *   SORT_KEYS_VERSION is recomputed and replaced the same way.
 * - PostgreSQL text cannot hold NUL, so NUL characters in keys are stored as spaces (pgText).
 */
import type { ContentKeys } from '../../mailsort/index.js';
import { decodeContentKeys, encodeContentKeys, type PersistedSortKeys, type StoredSortRow } from '../sort-keys.js';
import { StoreError } from '../types.js';
import type { PgCore } from './core.js';
import { num, type Queryable } from './db.js';
import { pgText } from './util.js';

/** Migration 15. */
export const SORT_KEYS_MIGRATION_SQL = `
CREATE TABLE blob_sort_keys (
  blob_id text PRIMARY KEY REFERENCES blobs(id) ON DELETE CASCADE,
  version integer NOT NULL,
  sent bigint,
  subject text NOT NULL,
  from_key text NOT NULL,
  to_key text NOT NULL,
  cc_key text NOT NULL,
  display_from text NOT NULL,
  display_to text NOT NULL,
  reply_fwd smallint NOT NULL,
  message_id text,
  parents text NOT NULL
);
`;

const COLUMNS = 'blob_id, version, sent, subject, from_key, to_key, cc_key, display_from, display_to, reply_fwd, message_id, parents';

const UPSERT = `INSERT INTO blob_sort_keys (${COLUMNS})
  SELECT x.* FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                         $9::text[], $10::smallint[], $11::text[], $12::text[])
    AS x (blob_id, version, sent, subject, from_key, to_key, cc_key, display_from, display_to, reply_fwd, message_id, parents)
  WHERE EXISTS (SELECT 1 FROM blobs b WHERE b.id = x.blob_id)
  ON CONFLICT (blob_id) DO UPDATE SET version = EXCLUDED.version, sent = EXCLUDED.sent, subject = EXCLUDED.subject,
    from_key = EXCLUDED.from_key, to_key = EXCLUDED.to_key, cc_key = EXCLUDED.cc_key, display_from = EXCLUDED.display_from,
    display_to = EXCLUDED.display_to, reply_fwd = EXCLUDED.reply_fwd, message_id = EXCLUDED.message_id, parents = EXCLUDED.parents`;

const READ = `SELECT m.uid, (extract(epoch FROM m.internal_date) * 1000)::bigint AS arrival, m.size, m.blob_id,
  k.version, k.sent, k.subject, k.from_key, k.to_key, k.cc_key, k.display_from, k.display_to, k.reply_fwd, k.message_id, k.parents
  FROM messages m LEFT JOIN blob_sort_keys k ON k.blob_id = m.blob_id
  WHERE m.mailbox_id = $1 AND m.uid BETWEEN $2 AND $3 ORDER BY m.uid`;

/** The values of `rows` as the column arrays UPSERT takes. */
function columns(rows: ReadonlyArray<readonly [string, ContentKeys]>): unknown[][] {
  const cols: unknown[][] = Array.from({ length: 12 }, () => []);
  for (const [blobId, keys] of rows) {
    cols[0]!.push(blobId);
    encodeContentKeys(keys).forEach((v, i) => cols[i + 1]!.push(typeof v === 'string' ? pgText(v) : v));
  }
  return cols;
}

function toRow(row: Record<string, unknown>): StoredSortRow {
  const v = Object.values(row);
  return { uid: num(v[0]), arrival: num(v[1]), size: num(v[2]), blobId: v[3] as string, keys: decodeContentKeys(v, 4) };
}

/** Writes a new blob's keys; call inside the append's transaction, after the blob row. */
export async function insertSortKeys(q: Queryable, blobId: string, keys: ContentKeys): Promise<void> {
  await q.query({ name: 'sort_keys_upsert', text: UPSERT, values: columns([[blobId, keys]]) });
}

/** The PostgreSQL store's PersistedSortKeys. */
export function pgSortKeys(core: PgCore): PersistedSortKeys {
  return {
    read: (mailboxId, lo, hi) =>
      core.run(async () => (await core.db.query<Record<string, unknown>>(READ, [mailboxId, lo, hi], 'sort_keys_read')).rows.map(toRow)),
    readAll: (mailboxId, onRow) =>
      core.run(() =>
        // One snapshot: the rows and the modseq they are current at.
        core.db.tx(
          async (q) => {
            const b = await q.query<{ highest_modseq: string }>('SELECT highest_modseq FROM mailboxes WHERE id = $1', [mailboxId]);
            if (!b.rows[0]) throw new StoreError('NOT_FOUND', 'no such mailbox');
            const r = await q.query<Record<string, unknown>>({ name: 'sort_keys_read', text: READ, values: [mailboxId, 0, Number.MAX_SAFE_INTEGER] });
            for (const row of r.rows) onRow(toRow(row));
            return num(b.rows[0].highest_modseq);
          },
          { isolation: 'repeatable read', readOnly: true },
        ),
      ),
    save: async (rows) => {
      if (rows.length === 0) return;
      await core.run(async () => {
        await core.db.query(UPSERT, columns(rows), 'sort_keys_upsert');
      });
    },
  };
}

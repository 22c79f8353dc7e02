/**
 * Annotations of the PostgreSQL store (../metadata.ts, RFC 5464): table `metadata` keyed by (user, mailbox,
 * lower-cased name), mailbox 0 for the server's entries (migration 5). Reads are prefix range scans; a set
 * locks the user row (sets of one user are serialized), checks the user's totals against the limits and
 * writes nothing when they would be exceeded. Throws StoreError NOT_FOUND for a mailbox that does not exist
 * or is not the user's.
 */
import { StoreError } from '../types.js';
import { withinDepth, type MetadataDepth, type MetadataEntry, type MetadataLimits } from '../metadata.js';
import type { PgCore } from './core.js';
import { num, type Queryable } from './db.js';
import { mailboxRow } from './rows.js';

async function boxKey(q: Queryable | PgCore, userId: number, mailboxId: number | null): Promise<number> {
  if (mailboxId === null) return 0;
  const b = 'db' in q ? await q.db.tx((t) => mailboxRow(t, mailboxId)) : await mailboxRow(q, mailboxId);
  if (num(b.user_id) !== userId) throw new StoreError('NOT_FOUND', 'no such mailbox');
  return mailboxId;
}

export function getMetadata(core: PgCore, userId: number, mailboxId: number | null, names: readonly string[], depth: MetadataDepth): Promise<MetadataEntry[]> {
  return core.run(async () => {
    const box = await boxKey(core, userId, mailboxId);
    const bases = names.map((n) => n.toLowerCase());
    // Everything below a base sorts between "base/" and "base0" ('0' follows '/'); byte order (COLLATE "C").
    const r = await core.db.query<{ name: string; value: Buffer }>(
      `SELECT DISTINCT m.name, m.value FROM metadata m, unnest($3::text[]) AS b(base)
       WHERE m.user_id = $1 AND m.mailbox_id = $2
         AND (m.name = b.base OR ($4 AND m.name COLLATE "C" > b.base || '/' AND m.name COLLATE "C" < b.base || '0'))
       ORDER BY m.name`,
      [userId, box, bases, depth !== 0],
    );
    const out = r.rows.filter((row) => bases.some((b) => withinDepth(row.name, b, depth)));
    out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return out.map((row) => ({ name: row.name, value: row.value }));
  });
}

export function setMetadata(
  core: PgCore,
  userId: number,
  mailboxId: number | null,
  entries: ReadonlyArray<{ name: string; value: Buffer | null }>,
  limits: MetadataLimits,
): Promise<'ok' | 'toomany'> {
  return core.run(async () =>
    core.db.tx(async (q): Promise<'ok' | 'toomany'> => {
      const box = await boxKey(q, userId, mailboxId);
      if ((await q.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [userId])).rowCount === 0) throw new StoreError('NOT_FOUND', 'no such user');
      const last = new Map<string, Buffer | null>();
      for (const e of entries) last.set(e.name.toLowerCase(), e.value);
      const t = (
        await q.query<{ n: string; size: string }>(
          'SELECT count(*) AS n, coalesce(sum(octet_length(name) + octet_length(value)), 0) AS size FROM metadata WHERE user_id = $1',
          [userId],
        )
      ).rows[0]!;
      let n = num(t.n);
      let size = num(t.size);
      const names = [...last.keys()];
      const old = await q.query<{ name: string; size: string }>(
        'SELECT name, octet_length(name) + octet_length(value) AS size FROM metadata WHERE user_id = $1 AND mailbox_id = $2 AND name = ANY($3::text[])',
        [userId, box, names],
      );
      for (const row of old.rows) {
        n--;
        size -= num(row.size);
      }
      let adds = false;
      for (const [name, value] of last) {
        if (value === null) continue;
        adds = true;
        n++;
        size += Buffer.byteLength(name) + value.length;
      }
      if (adds && (n > limits.maxEntries || size > limits.maxTotalSize)) return 'toomany';
      const dels = names.filter((k) => last.get(k) === null);
      if (dels.length) await q.query('DELETE FROM metadata WHERE user_id = $1 AND mailbox_id = $2 AND name = ANY($3::text[])', [userId, box, dels]);
      const puts = names.filter((k) => last.get(k) !== null);
      if (puts.length) {
        await q.query(
          `INSERT INTO metadata (user_id, mailbox_id, name, value) SELECT $1, $2, k, v FROM unnest($3::text[], $4::bytea[]) AS x(k, v)
           ON CONFLICT (user_id, mailbox_id, name) DO UPDATE SET value = EXCLUDED.value`,
          [userId, box, puts, puts.map((k) => last.get(k)!)],
        );
      }
      return 'ok';
    }),
  );
}

/**
 * Annotations of the SQLite store (../metadata.ts, RFC 5464): table `metadata` keyed by (user, mailbox,
 * lower-cased name), mailbox 0 for the server's entries. Reads are prefix range scans; a set is one durable
 * commit that first checks the user's totals against the limits (nothing is written when they would be
 * exceeded). Throws StoreError NOT_FOUND for a mailbox that does not exist or is not the user's.
 */
import { StoreError } from '../types.js';
import { withinDepth, type MetadataDepth, type MetadataEntry, type MetadataLimits } from '../metadata.js';
import type { SqliteCore } from './core.js';

function boxKey(core: SqliteCore, userId: number, mailboxId: number | null): number {
  if (mailboxId === null) return 0;
  const b = core.mailboxRow(mailboxId);
  if (b.user_id !== userId) throw new StoreError('NOT_FOUND', 'no such mailbox');
  return mailboxId;
}

export function getMetadata(core: SqliteCore, userId: number, mailboxId: number | null, names: readonly string[], depth: MetadataDepth): Promise<MetadataEntry[]> {
  return core.run(async () => {
    const box = boxKey(core, userId, mailboxId);
    const found = new Map<string, Buffer>();
    const st = core.sql('SELECT name, value FROM metadata WHERE user_id = ? AND mailbox_id = ? AND (name = ? OR (name > ? AND name < ?))');
    for (const raw of names) {
      const base = raw.toLowerCase();
      // Everything below base sorts between "base/" and "base0" ('0' follows '/').
      const rows = st.all(userId, box, base, depth === 0 ? base : base + '/', depth === 0 ? base : base + '0') as Array<{ name: string; value: Buffer }>;
      for (const r of rows) if (withinDepth(r.name, base, depth)) found.set(r.name, r.value);
    }
    return [...found.keys()].sort().map((name) => ({ name, value: found.get(name)! }));
  });
}

export function setMetadata(
  core: SqliteCore,
  userId: number,
  mailboxId: number | null,
  entries: ReadonlyArray<{ name: string; value: Buffer | null }>,
  limits: MetadataLimits,
): Promise<'ok' | 'toomany'> {
  return core.run(async () =>
    core.groupCommit((): 'ok' | 'toomany' => {
      const box = boxKey(core, userId, mailboxId);
      const last = new Map<string, Buffer | null>();
      for (const e of entries) last.set(e.name.toLowerCase(), e.value);
      const totals = core.sql('SELECT count(*) AS n, coalesce(sum(length(CAST(name AS BLOB)) + length(value)), 0) AS size FROM metadata WHERE user_id = ?').get(userId) as {
        n: number;
        size: number;
      };
      let { n, size } = totals;
      const old = core.sql('SELECT length(CAST(name AS BLOB)) + length(value) FROM metadata WHERE user_id = ? AND mailbox_id = ? AND name = ?').pluck();
      let adds = false;
      for (const [name, value] of last) {
        const had = old.get(userId, box, name) as number | undefined;
        if (had !== undefined) {
          n--;
          size -= had;
        }
        if (value !== null) {
          adds = true;
          n++;
          size += Buffer.byteLength(name) + value.length;
        }
      }
      if (adds && (n > limits.maxEntries || size > limits.maxTotalSize)) return 'toomany';
      const put = core.sql('INSERT OR REPLACE INTO metadata (user_id, mailbox_id, name, value) VALUES (?, ?, ?, ?)');
      const del = core.sql('DELETE FROM metadata WHERE user_id = ? AND mailbox_id = ? AND name = ?');
      for (const [name, value] of last) {
        if (value === null) del.run(userId, box, name);
        else put.run(userId, box, name, value);
      }
      return 'ok';
    }),
  );
}

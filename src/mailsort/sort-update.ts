/**
 * Incremental sorting: the order of a mailbox's table after some messages arrived or left, from the order
 * before, without sorting everything again.
 *
 * Contract of `updateSort(before, after, criteria)`:
 * - `before` is the uid order sortMessages gave for the same mailbox's earlier table and the same criteria;
 *   `after` is the table now (same uids naming the same messages, as a uid names the same bytes until it is
 *   expunged);
 * - returns exactly what sortMessages(after, criteria) returns: the uids of `before` still in `after` keep
 *   their relative order, and the new rows, sorted among themselves, are merged in by the same total order
 *   (the criteria, then uid; string keys by the pool's collation ranks, numbers with non-finite as 0);
 * - returns null when a uid repeats in `after` or more than a quarter of its rows are new (a full sort is
 *   then as cheap); the caller sorts from scratch. Never throws.
 */
import type { SortCriterion } from './sort.js';
import type { SortKeyTable } from './table.js';

/** Share of new rows beyond which a full sort is preferred. */
const MAX_NEW = 0.25;

export function updateSort(before: readonly number[], after: SortKeyTable, criteria: readonly SortCriterion[]): number[] | null {
  const n = after.length;
  let maxUid = 0;
  for (let i = 0; i < n; i++) if ((after.uid[i] as number) > maxUid) maxUid = after.uid[i] as number;
  for (const u of before) if (u > maxUid) maxUid = u;
  const rowOf = new Int32Array(maxUid + 1).fill(-1);
  for (let i = 0; i < n; i++) {
    const u = after.uid[i] as number;
    if (rowOf[u]! >= 0) return null;
    rowOf[u] = i;
  }
  const kept: number[] = [];
  const seen = new Uint8Array(maxUid + 1);
  for (const u of before) {
    const r = rowOf[u]!;
    if (r >= 0 && !seen[u]) {
      kept.push(r);
      seen[u] = 1;
    }
  }
  const added: number[] = [];
  for (let i = 0; i < n; i++) if (!seen[after.uid[i] as number]) added.push(i);
  if (added.length > Math.max(16, n * MAX_NEW)) return null;
  const cmp = rowCompare(after, criteria);
  added.sort(cmp);
  const out = new Array<number>(n);
  let i = 0;
  let j = 0;
  for (let w = 0; w < n; w++) {
    const take = j >= added.length || (i < kept.length && cmp(kept[i]!, added[j]!) < 0) ? kept[i++]! : added[j++]!;
    out[w] = after.uid[take] as number;
  }
  return out;
}

/** The total order of sortMessages on two rows of `t`: each criterion, then uid. */
function rowCompare(t: SortKeyTable, criteria: readonly SortCriterion[]): (a: number, b: number) => number {
  const keys = criteria.map((c) => {
    const f = c.field;
    const sign = c.reverse ? -1 : 1;
    if (f === 'arrival' || f === 'sent' || f === 'size') {
      const col = t[f];
      return { sign, key: (r: number): number => (Number.isFinite(col[r]) ? (col[r] as number) : 0) };
    }
    const rank = t.pool.ranks();
    const col = t[f];
    return { sign, key: (r: number): number => rank[col[r] as number] as number };
  });
  const uid = t.uid;
  return (a, b) => {
    for (const k of keys) {
      const d = k.key(a) - k.key(b);
      if (d !== 0) return d * k.sign;
    }
    return (uid[a] as number) - (uid[b] as number);
  };
}

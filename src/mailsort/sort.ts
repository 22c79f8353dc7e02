/**
 * Sorting by a list of criteria (RFC 5256 section 3 SORT, RFC 5957 DISPLAYFROM/DISPLAYTO), over precomputed
 * SortKeys held as a SortKeyTable (an array of SortKeys is made into one first): one native sort of a
 * Float64Array of packed (rank, place) keys, no comparator callback.
 *
 * Contract of `sortMessages(records, criteria)`:
 * - returns the uids of `records` ordered by the first criterion, ties by the next, and so on; messages equal
 *   on every criterion keep uid order (ascending uid is the mailbox's sequence order), whatever order the
 *   records come in;
 * - `reverse` reverses only its own criterion, never the final uid tie-break (RFC 5256: REVERSE SUBJECT is not
 *   the reverse of SUBJECT);
 * - string keys compare by code point (the octet order of i;unicode-casemap keys); numbers numerically;
 * - an empty criteria list sorts by uid; duplicate uids are kept as given. Never throws.
 */
import type { SortKeys } from './keys.js';
import { SortKeyTable } from './table.js';

/** A sort criterion: `sent` is RFC 5256 DATE, `arrival` is ARRIVAL; the others are named as in IMAP. */
export type SortField = 'arrival' | 'sent' | 'size' | 'subject' | 'from' | 'to' | 'cc' | 'displayFrom' | 'displayTo';

export interface SortCriterion {
  field: SortField;
  reverse?: boolean;
}

type NumberField = 'arrival' | 'sent' | 'size';

function isNumberField(f: SortField): f is NumberField {
  return f === 'arrival' || f === 'sent' || f === 'size';
}

/** Ranks (0 = smallest, equal keys share a rank) of one criterion, all below `count`. */
interface Ranks {
  rank: Float64Array;
  count: number;
}

/** Sorted distinct values of `v` (native numeric sort, no comparator). */
function distinct(v: Float64Array): Float64Array {
  const sorted = v.slice().sort();
  let w = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (w === 0 || sorted[i] !== sorted[w - 1]) sorted[w++] = sorted[i] as number;
  }
  return sorted.subarray(0, w);
}

/** Replaces every value of `v` by its index in `uniq` (which holds each of them exactly once). */
function rankInPlace(v: Float64Array, uniq: Float64Array): void {
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as number;
    let lo = 0;
    let hi = uniq.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((uniq[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    v[i] = lo;
  }
}

/**
 * Ranks without sorting, when the values are integers whose span (in steps of 1000 when all are whole
 * thousands, as dates in milliseconds mostly are) is small enough for rank * n + place to stay exact:
 * (x - min) / step, in place. Null when not.
 */
function spanRanks(v: Float64Array): Ranks | null {
  const n = v.length;
  if (n === 0) return { rank: v, count: 0 };
  let min = Infinity;
  let max = -Infinity;
  let thousands = true;
  for (let i = 0; i < n; i++) {
    const x = v[i] as number;
    if (!Number.isSafeInteger(x)) return null;
    if (x < min) min = x;
    if (x > max) max = x;
    if (thousands && x % 1000 !== 0) thousands = false;
  }
  const step = thousands ? 1000 : 1;
  const count = (max - min) / step + 1;
  if (count * n > Number.MAX_SAFE_INTEGER) return null;
  for (let i = 0; i < n; i++) v[i] = ((v[i] as number) - min) / step;
  return { rank: v, count };
}

function numberRanks(v: Float64Array): Ranks {
  const uniq = distinct(v);
  rankInPlace(v, uniq);
  return { rank: v, count: uniq.length };
}

function ranksFor(t: SortKeyTable, c: SortCriterion): Ranks {
  const n = t.length;
  const field = c.field;
  let r: Ranks;
  if (isNumberField(field)) {
    const col = t[field];
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = col[i] as number;
      v[i] = Number.isFinite(x) ? x : 0;
    }
    r = spanRanks(v) ?? numberRanks(v);
  } else {
    // The pool's collation ranks: distinct strings have distinct ranks, equal keys share their string's.
    const rankOfId = t.pool.ranks();
    const col = t[field];
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = rankOfId[col[i] as number] as number;
    r = { rank: v, count: rankOfId.length };
  }
  if (c.reverse) for (let i = 0; i < n; i++) r.rank[i] = r.count - 1 - (r.rank[i] as number);
  return r;
}

/**
 * Positions of the records in (uid, input position) order: tie[i] is record i's place, at[p] the record at
 * place p. Records usually come in uid order already, which is checked first.
 */
function tieOrder(t: SortKeyTable): { tie: Uint32Array; at: Uint32Array } {
  const n = t.length;
  const uid = t.uid;
  const at = new Uint32Array(n);
  for (let i = 0; i < n; i++) at[i] = i;
  let ordered = true;
  for (let i = 1; i < n && ordered; i++) ordered = (uid[i - 1] as number) <= (uid[i] as number);
  if (!ordered) at.sort((a, b) => (uid[a] as number) - (uid[b] as number) || a - b);
  const tie = new Uint32Array(n);
  for (let p = 0; p < n; p++) tie[at[p] as number] = p;
  return { tie, at };
}

/** The uids of `records` in the order the criteria give (see the module contract). */
export function sortMessages(records: SortKeyTable | readonly SortKeys[], criteria: readonly SortCriterion[]): number[] {
  const t = records instanceof SortKeyTable ? records : SortKeyTable.fromRecords(records);
  const n = t.length;
  const uid = t.uid;
  const { tie, at } = tieOrder(t);
  // Fold the criteria into one rank, most significant first (rank * count' + rank'). The result is made dense
  // again only when the final key (rank * n + place) could otherwise exceed 2^53 and stop being exact.
  // String ranks come from the pool (all of the mailbox's strings), so their count may exceed n: such ranks
  // are made dense first when the fold would not stay exact.
  let cur: Ranks | null = null;
  for (const c of criteria) {
    let next = ranksFor(t, c);
    if (cur === null) cur = next;
    else {
      if (cur.count * next.count * n > Number.MAX_SAFE_INTEGER) {
        if (next.count > n) next = numberRanks(next.rank);
        if (cur.count > n) cur = numberRanks(cur.rank);
      }
      const v: Float64Array = cur.rank;
      for (let i = 0; i < n; i++) v[i] = (v[i] as number) * next.count + (next.rank[i] as number);
      const count: number = cur.count * next.count;
      cur = count * n <= Number.MAX_SAFE_INTEGER ? { rank: v, count } : numberRanks(v);
    }
  }
  const out = new Array<number>(n);
  if (cur === null) {
    for (let p = 0; p < n; p++) out[p] = uid[at[p] as number] as number;
    return out;
  }
  if (cur.count * n > Number.MAX_SAFE_INTEGER) cur = numberRanks(cur.rank);
  const key = cur.rank;
  for (let i = 0; i < n; i++) key[i] = (key[i] as number) * n + (tie[i] as number);
  key.sort();
  for (let p = 0; p < n; p++) {
    const k = key[p] as number;
    const place = k - Math.floor(k / n) * n;
    out[p] = uid[at[place] as number] as number;
  }
  return out;
}

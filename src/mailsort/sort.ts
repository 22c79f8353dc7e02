/**
 * Sorting by a list of criteria (RFC 5256 section 3 SORT, RFC 5957 DISPLAYFROM/DISPLAYTO), over precomputed
 * SortKeys.
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
import { compareCodePoints, needsCodePointCompare } from './casemap.js';
import type { SortKeys } from './keys.js';

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

/** Dense ranks (0 = smallest, equal keys share a rank) of one criterion, and how many distinct ranks. */
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

function numberRanks(v: Float64Array): Ranks {
  const uniq = distinct(v);
  rankInPlace(v, uniq);
  return { rank: v, count: uniq.length };
}

function ranksFor(records: readonly SortKeys[], c: SortCriterion): Ranks {
  const n = records.length;
  const field = c.field;
  let r: Ranks;
  if (isNumberField(field)) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const x = (records[i] as SortKeys)[field];
      v[i] = Number.isFinite(x) ? x : 0;
    }
    r = numberRanks(v);
  } else {
    const ids = new Map<string, number>();
    const uniq: string[] = [];
    const v = new Float64Array(n);
    let wide = false;
    for (let i = 0; i < n; i++) {
      const k = (records[i] as SortKeys)[field];
      let id = ids.get(k);
      if (id === undefined) {
        id = uniq.push(k) - 1;
        ids.set(k, id);
        if (!wide && needsCodePointCompare(k)) wide = true;
      }
      v[i] = id;
    }
    const order = uniq.map((_, i) => i);
    if (wide) order.sort((a, b) => compareCodePoints(uniq[a] as string, uniq[b] as string));
    else order.sort((a, b) => ((uniq[a] as string) < (uniq[b] as string) ? -1 : 1));
    const rankOfId = new Float64Array(uniq.length);
    for (let i = 0; i < order.length; i++) rankOfId[order[i] as number] = i;
    for (let i = 0; i < n; i++) v[i] = rankOfId[v[i] as number] as number;
    r = { rank: v, count: uniq.length };
  }
  if (c.reverse) for (let i = 0; i < n; i++) r.rank[i] = r.count - 1 - (r.rank[i] as number);
  return r;
}

/**
 * Positions of the records in (uid, input position) order: tie[i] is record i's place, at[p] the record at
 * place p. Records usually come in uid order already, which is checked first.
 */
function tieOrder(records: readonly SortKeys[]): { tie: Uint32Array; at: Uint32Array } {
  const n = records.length;
  const at = new Uint32Array(n);
  for (let i = 0; i < n; i++) at[i] = i;
  let ordered = true;
  for (let i = 1; i < n && ordered; i++) ordered = (records[i - 1] as SortKeys).uid <= (records[i] as SortKeys).uid;
  if (!ordered) at.sort((a, b) => (records[a] as SortKeys).uid - (records[b] as SortKeys).uid || a - b);
  const tie = new Uint32Array(n);
  for (let p = 0; p < n; p++) tie[at[p] as number] = p;
  return { tie, at };
}

/** The uids of `records` in the order the criteria give (see the module contract). */
export function sortMessages(records: readonly SortKeys[], criteria: readonly SortCriterion[]): number[] {
  const n = records.length;
  const { tie, at } = tieOrder(records);
  // Fold the criteria into one rank, most significant first (rank * count' + rank'). The result is made dense
  // again only when the final key (rank * n + place) could otherwise exceed 2^53 and stop being exact.
  let cur: Ranks | null = null;
  for (const c of criteria) {
    const next = ranksFor(records, c);
    if (cur === null) cur = next;
    else {
      const v: Float64Array = cur.rank;
      for (let i = 0; i < n; i++) v[i] = (v[i] as number) * next.count + (next.rank[i] as number);
      const count: number = cur.count * next.count;
      cur = count * n <= Number.MAX_SAFE_INTEGER ? { rank: v, count } : numberRanks(v);
    }
  }
  const out = new Array<number>(n);
  if (cur === null) {
    for (let p = 0; p < n; p++) out[p] = (records[at[p] as number] as SortKeys).uid;
    return out;
  }
  const key = cur.rank;
  for (let i = 0; i < n; i++) key[i] = (key[i] as number) * n + (tie[i] as number);
  key.sort();
  for (let p = 0; p < n; p++) {
    const k = key[p] as number;
    const place = k - Math.floor(k / n) * n;
    out[p] = (records[at[place] as number] as SortKeys).uid;
  }
  return out;
}

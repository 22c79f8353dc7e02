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

type Compare = (a: number, b: number) => number;

function compareFor(records: readonly SortKeys[], c: SortCriterion): Compare {
  const n = records.length;
  const sign = c.reverse ? -1 : 1;
  const field = c.field;
  if (isNumberField(field)) {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = (records[i] as SortKeys)[field];
    return (a, b) => sign * ((keys[a] as number) - (keys[b] as number));
  }
  const keys: string[] = new Array<string>(n);
  let wide = false;
  for (let i = 0; i < n; i++) {
    const k = (records[i] as SortKeys)[field];
    keys[i] = k;
    if (!wide && needsCodePointCompare(k)) wide = true;
  }
  if (wide) return (a, b) => sign * compareCodePoints(keys[a] as string, keys[b] as string);
  return (a, b) => {
    const x = keys[a] as string;
    const y = keys[b] as string;
    return x === y ? 0 : x < y ? -sign : sign;
  };
}

/** The uids of `records` in the order the criteria give (see the module contract). */
export function sortMessages(records: readonly SortKeys[], criteria: readonly SortCriterion[]): number[] {
  const n = records.length;
  const uids = new Float64Array(n);
  for (let i = 0; i < n; i++) uids[i] = (records[i] as SortKeys).uid;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const compares = criteria.map((c) => compareFor(records, c));
  const byUid: Compare = (a, b) => (uids[a] as number) - (uids[b] as number) || a - b;
  let cmp: Compare;
  if (compares.length === 0) cmp = byUid;
  else if (compares.length === 1) {
    const c0 = compares[0] as Compare;
    cmp = (a, b) => c0(a, b) || byUid(a, b);
  } else {
    cmp = (a, b) => {
      for (const c of compares) {
        const d = c(a, b);
        if (d !== 0) return d;
      }
      return byUid(a, b);
    };
  }
  order.sort(cmp);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = uids[order[i] as number] as number;
  return out;
}

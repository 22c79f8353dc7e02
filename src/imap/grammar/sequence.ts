/**
 * sequence-set (RFC 9051 section 9) and the SEARCHRES "$" marker (RFC 5182). Numbers are kept unresolved:
 * "*" is resolved against the mailbox by the server's view.
 */
import { ParseError } from './args.js';

/** One range; hi may be "*" (the largest number in use). lo may also be "*". */
export type SeqRange = { lo: number | '*'; hi: number | '*' };

export type SequenceSet = { kind: 'saved' } | { kind: 'ranges'; ranges: SeqRange[] };

function parseSeqNumber(s: string): number | '*' {
  if (s === '*') return '*';
  if (!/^[1-9]\d{0,9}$/.test(s)) throw new ParseError(`Invalid sequence number "${s}"`);
  const n = Number(s);
  if (n > 0xffffffff) throw new ParseError(`Invalid sequence number "${s}"`);
  return n;
}

export function parseSequenceSet(s: string): SequenceSet {
  if (s === '$') return { kind: 'saved' };
  if (!s) throw new ParseError('Empty sequence set');
  const ranges: SeqRange[] = [];
  for (const part of s.split(',')) {
    const c = part.indexOf(':');
    if (c < 0) {
      const n = parseSeqNumber(part);
      ranges.push({ lo: n, hi: n });
    } else {
      ranges.push({ lo: parseSeqNumber(part.slice(0, c)), hi: parseSeqNumber(part.slice(c + 1)) });
    }
  }
  return { kind: 'ranges', ranges };
}

/** True when the atom looks like a sequence set (used by SEARCH to tell a set from a key). */
export function looksLikeSequenceSet(s: string): boolean {
  return s === '$' || /^(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*$/.test(s);
}

/**
 * Resolves ranges against sorted ascending `values` (sequence numbers 1..n or UIDs in use): returns the
 * members of `values` inside any range, ascending. "*" is the largest value; an empty mailbox resolves to [].
 */
export function resolveRanges(ranges: readonly SeqRange[], values: readonly number[]): number[] {
  if (!values.length) return [];
  const max = values[values.length - 1]!;
  const spans = ranges.map((r) => {
    const a = r.lo === '*' ? max : r.lo;
    const b = r.hi === '*' ? max : r.hi;
    return a <= b ? [a, b] : [b, a];
  }) as Array<[number, number]>;
  spans.sort((x, y) => x[0] - y[0]);
  const out: number[] = [];
  let j = 0;
  for (const v of values) {
    while (j < spans.length && spans[j]![1] < v) j++;
    if (j >= spans.length) break;
    // v may be in any span starting at or before it
    for (let k = j; k < spans.length && spans[k]![0] <= v; k++) {
      if (spans[k]![1] >= v) {
        out.push(v);
        break;
      }
    }
  }
  return out;
}

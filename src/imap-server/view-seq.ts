/**
 * Sequence-number arithmetic over a view's ascending UID list (view.ts): where a UID sits, what a
 * sequence or UID set names, and whether a sequence set names a number past the end.
 */
import { resolveRanges, type SeqRange, type SequenceSet } from '../imap/grammar/sequence.js';

/** Index of `uid` in the ascending list `uids` (binary search), or -1. */
export function indexOfUid(uids: readonly number[], uid: number): number {
  let lo = 0;
  let hi = uids.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const v = uids[mid]!;
    if (v === uid) return mid;
    if (v < uid) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** The UIDs a sequence set (or a UID set with uid=true; not a saved search) names in `uids`, ascending. */
export function resolveInView(ranges: readonly SeqRange[], uid: boolean, uids: readonly number[]): number[] {
  if (uid) return resolveRanges(ranges, uids);
  const n = uids.length;
  if (!n) return [];
  const seqs: number[] = new Array(n);
  for (let i = 0; i < n; i++) seqs[i] = i + 1;
  return resolveRanges(ranges, seqs).map((s) => uids[s - 1]!);
}

/** True when a non-UID sequence set names a number above the message count `n` (RFC 9051: BAD). */
export function seqSetOutOfRange(set: SequenceSet, n: number): boolean {
  if (set.kind === 'saved') return false;
  // In an empty mailbox "*" names no message either (RFC 9051 section 9, seq-number): BAD, as Dovecot.
  if (n === 0) return true;
  return set.ranges.some((r) => (r.lo !== '*' && r.lo > n) || (r.hi !== '*' && r.hi > n));
}

/**
 * Memoized sorting and threading over a frozen SortKeyTable or SortKeys array (MailStore.sortKeys hands out
 * the same frozen table for a mailbox while it is unchanged): the result for the same table and the same
 * criteria or algorithm is computed once. Tables and arrays that are not frozen are never memoized (an array's
 * contents could change). Entries live as long as their table does (WeakMap).
 *
 * - `sortMessagesMemo` returns a fresh copy of the memoized uid order each time;
 * - `threadMessagesMemo` returns the memoized forest itself: callers must not change it.
 * - `noteSuccessor(before, after)` says that `after` is the same mailbox's table after a change; a thread
 *   request for `after` then starts from the nearest predecessor threaded by the same algorithm and
 *   re-threads only what the change reaches (thread-update.ts), and a sort request from the nearest
 *   predecessor sorted by the same criteria, merging the new messages in (sort-update.ts), instead of doing
 *   everything again. Only the last link is kept: older tables are not held alive by their successors.
 * Never throws.
 */
import type { SortKeys } from './keys.js';
import { sortMessages, type SortCriterion } from './sort.js';
import { updateSort } from './sort-update.js';
import { SortKeyTable } from './table.js';
import { threadMessages, type ThreadAlgorithm, type ThreadNode } from './thread.js';
import { updateThreads } from './thread-update.js';

/** A mailbox's keys as a store hands them out, or a plain array of them. */
export type KeySet = SortKeyTable | readonly SortKeys[];

const SORTS = new WeakMap<KeySet, Map<string, readonly number[]>>();
const THREADS = new WeakMap<KeySet, Map<ThreadAlgorithm, readonly ThreadNode[]>>();
/** A frozen table's predecessor (the same mailbox before a change), skipping ones never threaded. */
const BEFORE = new WeakMap<KeySet, KeySet>();
/** The same, skipping ones never sorted. */
const SORT_BEFORE = new WeakMap<KeySet, KeySet>();

/** Records that `after` follows `before` (both frozen, the same mailbox's messages before and after a change). */
export function noteSuccessor(before: KeySet, after: KeySet): void {
  if (before === after || !Object.isFrozen(before) || !Object.isFrozen(after)) return;
  // An array never threaded is no starting point; link past it so one chain of arrays is kept alive, not all.
  BEFORE.set(after, THREADS.has(before) ? before : (BEFORE.get(before) ?? before));
  SORT_BEFORE.set(after, SORTS.has(before) ? before : (SORT_BEFORE.get(before) ?? before));
  // The predecessor's own links are not needed any more (a chain would keep every older table alive).
  BEFORE.delete(before);
  SORT_BEFORE.delete(before);
}

function criteriaKey(criteria: readonly SortCriterion[]): string {
  return criteria.map((c) => (c.reverse ? '-' : '+') + c.field).join(',');
}

/** sortMessages(records, criteria), computed once per frozen `records` and criteria list. */
export function sortMessagesMemo(records: KeySet, criteria: readonly SortCriterion[]): number[] {
  if (!Object.isFrozen(records)) return sortMessages(records, criteria);
  let m = SORTS.get(records);
  if (!m) SORTS.set(records, (m = new Map()));
  const k = criteriaKey(criteria);
  let r = m.get(k);
  if (!r) {
    const prev = SORT_BEFORE.get(records);
    const prevOrder = prev && SORTS.get(prev)?.get(k);
    r = (prevOrder && records instanceof SortKeyTable && updateSort(prevOrder, records, criteria)) || sortMessages(records, criteria);
    m.set(k, r);
  }
  return r.slice();
}

/** threadMessages(records, algorithm), computed once per frozen `records` and algorithm (shared result). */
export function threadMessagesMemo(records: KeySet, algorithm: ThreadAlgorithm): readonly ThreadNode[] {
  if (!Object.isFrozen(records)) return threadMessages(records, algorithm);
  let m = THREADS.get(records);
  if (!m) THREADS.set(records, (m = new Map()));
  let r = m.get(algorithm);
  if (r) return r;
  const prev = BEFORE.get(records);
  const prevForest = prev && THREADS.get(prev)?.get(algorithm);
  r = (prev && prevForest && updateThreads(prev, prevForest, records, algorithm)) || threadMessages(records, algorithm);
  m.set(algorithm, r);
  return r;
}

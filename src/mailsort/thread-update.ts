/**
 * Incremental threading: the forest of a mailbox after some messages arrived or left, from the forest
 * before, by re-threading only the threads the change can reach.
 *
 * Threads of every algorithm interact only through shared ids (Message-IDs, References and In-Reply-To
 * entries, dummies) and, for REFERENCES and ORDEREDSUBJECT, base subjects (step 5 merges roots by subject;
 * ORDEREDSUBJECT groups by it). So the affected threads are found as a closure: start from the ids and
 * subjects of the added and removed messages, take in every old thread with a member sharing one of them,
 * add that thread's ids and subjects, repeat. Re-threading the affected members plus the added messages
 * gives exactly their part of the full answer; the other threads are kept as they were, and the top level
 * is ordered by the algorithm's own total order (REFERENCES and ORDEREDSUBJECT: the thread's head by date
 * then uid; REFS: the newest message's date, then the head's uid), which is what a full run produces.
 *
 * `updateThreads` returns null when the change reaches more than a quarter of the messages (a full run is
 * then as cheap); the caller threads from scratch. Its cost is a few linear passes without sorting (the
 * unaffected threads keep their order; the new ones are placed by bisection) plus threading the subset. Never throws; the returned forest shares untouched
 * subtrees with `before` (neither may be changed).
 */
import type { SortKeys } from './keys.js';
import { threadMessages, type ThreadAlgorithm, type ThreadNode } from './thread.js';

/** Share of the messages beyond which re-threading everything is preferred. */
const MAX_AFFECTED = 0.25;

export function updateThreads(
  beforeRecords: readonly SortKeys[],
  before: readonly ThreadNode[],
  records: readonly SortKeys[],
  algorithm: ThreadAlgorithm,
): ThreadNode[] | null {
  const { added, removed } = difference(beforeRecords, records);
  if (added.length === 0 && removed.size === 0) return before.slice();
  const limit = Math.max(16, records.length * MAX_AFFECTED);
  if (added.length + removed.size > limit) return null;

  // The old keys and thread of each old uid (typed and dense: this pass is over every message).
  let maxUid = 0;
  for (const r of beforeRecords) if (r.uid > maxUid) maxUid = r.uid;
  const keyOf: Array<SortKeys | undefined> = new Array<SortKeys | undefined>(maxUid + 1);
  for (const r of beforeRecords) keyOf[r.uid] = r;
  const threadOf = new Int32Array(maxUid + 1).fill(-1);
  const stack: ThreadNode[] = [];
  before.forEach((top, t) => {
    stack.push(top);
    for (let n = stack.pop(); n; n = stack.pop()) {
      if (n.uid !== null && n.uid <= maxUid) threadOf[n.uid] = t;
      for (const c of n.children) stack.push(c);
    }
  });

  const bySubject = algorithm !== 'refs';
  const byIds = algorithm !== 'orderedsubject';
  const ids = new Set<string>();
  const subjects = new Set<string>();
  const absorb = (r: SortKeys): void => {
    if (byIds) {
      if (r.messageId !== null) ids.add(r.messageId);
      for (const p of r.parents) ids.add(p);
    }
    // REFERENCES never merges by an empty subject (step 5); ORDEREDSUBJECT groups those too.
    if (bySubject && (r.subject !== '' || algorithm === 'orderedsubject')) subjects.add(r.subject);
  };
  const affected = new Set<number>();
  const subset: SortKeys[] = [...added];
  const take = (t: number): boolean => {
    if (affected.has(t)) return false;
    affected.add(t);
    stack.push(before[t]!);
    for (let n = stack.pop(); n; n = stack.pop()) {
      if (n.uid !== null) {
        const r = keyOf[n.uid];
        if (r) {
          absorb(r);
          if (!removed.has(r.uid)) subset.push(r);
        }
      }
      for (const c of n.children) stack.push(c);
    }
    return true;
  };
  for (const r of added) absorb(r);
  for (const r of removed.values()) {
    absorb(r);
    const t = threadOf[r.uid]!;
    if (t >= 0) take(t);
  }
  for (let grew = true; grew; ) {
    grew = false;
    for (const r of beforeRecords) {
      const t = threadOf[r.uid]!;
      if (t < 0 || affected.has(t)) continue;
      const hit =
        (bySubject && subjects.has(r.subject)) || (byIds && ((r.messageId !== null && ids.has(r.messageId)) || r.parents.some((p) => ids.has(p))));
      if (hit && take(t)) grew = true;
    }
    if (subset.length > limit) return null;
  }

  const fresh = new Map<number, SortKeys>();
  for (const r of subset) fresh.set(r.uid, r);
  const keyFor = (uid: number): SortKeys | undefined => fresh.get(uid) ?? keyOf[uid];
  const kept = affected.size ? before.filter((_, t) => !affected.has(t)) : before.slice();
  // Both lists are in the algorithm's top-level order already; the few new threads are placed by bisection.
  return mergeTop(kept, subset.length ? threadMessages(subset, algorithm) : [], (n) => rankOf(n, keyFor, algorithm));
}

/** Messages only in `after` and only in `before` (by uid); a merge walk when both are in uid order. */
function difference(before: readonly SortKeys[], after: readonly SortKeys[]): { added: SortKeys[]; removed: Map<number, SortKeys> } {
  const added: SortKeys[] = [];
  const removed = new Map<number, SortKeys>();
  if (ascending(before) && ascending(after)) {
    let i = 0;
    let j = 0;
    while (i < before.length || j < after.length) {
      const b = before[i];
      const a = after[j];
      if (a && (!b || a.uid < b.uid)) {
        added.push(a);
        j++;
      } else if (b && (!a || b.uid < a.uid)) {
        removed.set(b.uid, b);
        i++;
      } else {
        i++;
        j++;
      }
    }
    return { added, removed };
  }
  const had = new Set(before.map((r) => r.uid));
  const has = new Set(after.map((r) => r.uid));
  for (const r of after) if (!had.has(r.uid)) added.push(r);
  for (const r of before) if (!has.has(r.uid)) removed.set(r.uid, r);
  return { added, removed };
}

function ascending(records: readonly SortKeys[]): boolean {
  for (let i = 1; i < records.length; i++) if (records[i - 1]!.uid >= records[i]!.uid) return false;
  return true;
}

/** The uid a thread is named by: its root, or a dummy's first child's. */
function headUid(n: ThreadNode): number {
  let h = n;
  while (h.uid === null && h.children[0]) h = h.children[0];
  return h.uid ?? 0;
}

/** A thread's place in the top-level order, as [date, uid]. */
function rankOf(n: ThreadNode, keyFor: (uid: number) => SortKeys | undefined, algorithm: ThreadAlgorithm): [number, number] {
  const head = headUid(n);
  if (algorithm !== 'refs') return [keyFor(head)?.sent ?? 0, head];
  let newest = -Infinity;
  const stack: ThreadNode[] = [n];
  for (let m = stack.pop(); m; m = stack.pop()) {
    if (m.uid !== null) newest = Math.max(newest, keyFor(m.uid)?.sent ?? -Infinity);
    for (const c of m.children) stack.push(c);
  }
  return [newest, head];
}

function mergeTop(kept: ThreadNode[], added: readonly ThreadNode[], rank: (n: ThreadNode) => [number, number]): ThreadNode[] {
  if (added.length === 0) return kept;
  const before = (a: [number, number], b: [number, number]): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  const at: number[] = [];
  let lo = 0;
  for (const n of added) {
    const r = rank(n);
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(rank(kept[mid]!), r)) lo = mid + 1;
      else hi = mid;
    }
    at.push(lo);
  }
  const out: ThreadNode[] = [];
  let k = 0;
  added.forEach((n, i) => {
    while (k < at[i]!) out.push(kept[k++]!);
    out.push(n);
  });
  while (k < kept.length) out.push(kept[k++]!);
  return out;
}

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
 * unaffected threads keep their order; the new ones are placed by bisection) plus threading the subset; it
 * reads table columns and compares pool ids, so two tables must share their pools (successive tables of one
 * mailbox do): otherwise, and when a uid repeats, it also returns null. Arrays of SortKeys are pooled
 * together first. Never throws; the returned forest shares untouched subtrees with `before` (neither may be
 * changed).
 */
import type { SortKeys } from './keys.js';
import { SortKeyTable, StringPool } from './table.js';
import { threadMessages, type ThreadAlgorithm, type ThreadNode } from './thread.js';

/** Share of the messages beyond which re-threading everything is preferred. */
const MAX_AFFECTED = 0.25;

type Keys = SortKeyTable | readonly SortKeys[];

export function updateThreads(beforeKeys: Keys, before: readonly ThreadNode[], keys: Keys, algorithm: ThreadAlgorithm): ThreadNode[] | null {
  const pair = onePool(beforeKeys, keys);
  if (!pair) return null;
  const [old, now] = pair;
  let maxUid = 0;
  for (const t of pair) for (let i = 0; i < t.length; i++) if ((t.uid[i] as number) > maxUid) maxUid = t.uid[i] as number;
  // Rows by uid (typed and dense: this pass is over every message); a duplicate uid means a full run.
  const oldRow = rowsByUid(old, maxUid);
  const newRow = rowsByUid(now, maxUid);
  if (!oldRow || !newRow) return null;
  const added: number[] = [];
  for (let i = 0; i < now.length; i++) if (oldRow[now.uid[i] as number]! < 0) added.push(i);
  const removed: number[] = [];
  for (let i = 0; i < old.length; i++) if (newRow[old.uid[i] as number]! < 0) removed.push(i);
  if (added.length === 0 && removed.length === 0) return before.slice();
  const limit = Math.max(16, now.length * MAX_AFFECTED);
  if (added.length + removed.length > limit) return null;

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
  // The ids and subjects the change reaches, as marks over the (shared) pools.
  const ids = new Uint8Array(now.ids.size);
  const subjects = new Uint8Array(now.pool.size);
  const absorb = (t: SortKeyTable, r: number): void => {
    if (byIds) {
      const id = t.messageId[r] as number;
      if (id >= 0) ids[id] = 1;
      for (let p = t.parentAt[r] as number; p < (t.parentAt[r + 1] as number); p++) ids[t.parents[p] as number] = 1;
    }
    // REFERENCES never merges by an empty subject (step 5); ORDEREDSUBJECT groups those too.
    const s = t.subject[r] as number;
    if (bySubject && (algorithm === 'orderedsubject' || t.pool.strings[s] !== '')) subjects[s] = 1;
  };
  const hit = (r: number): boolean => {
    if (bySubject && subjects[old.subject[r] as number]) return true;
    if (!byIds) return false;
    const id = old.messageId[r] as number;
    if (id >= 0 && ids[id]) return true;
    for (let p = old.parentAt[r] as number; p < (old.parentAt[r + 1] as number); p++) if (ids[old.parents[p] as number]) return true;
    return false;
  };
  const affected = new Set<number>();
  /** Rows of `now` to re-thread. */
  const subset: number[] = [...added];
  const take = (t: number): boolean => {
    if (affected.has(t)) return false;
    affected.add(t);
    stack.push(before[t]!);
    for (let n = stack.pop(); n; n = stack.pop()) {
      if (n.uid !== null && n.uid <= maxUid) {
        const r = oldRow[n.uid]!;
        if (r >= 0) {
          absorb(old, r);
          const k = newRow[n.uid]!;
          if (k >= 0) subset.push(k);
        }
      }
      for (const c of n.children) stack.push(c);
    }
    return true;
  };
  for (const r of added) absorb(now, r);
  for (const r of removed) {
    absorb(old, r);
    const t = threadOf[old.uid[r] as number]!;
    if (t >= 0) take(t);
  }
  for (let grew = true; grew; ) {
    grew = false;
    for (let r = 0; r < old.length; r++) {
      const t = threadOf[old.uid[r] as number]!;
      if (t < 0 || affected.has(t)) continue;
      if (hit(r) && take(t)) grew = true;
    }
    if (subset.length > limit) return null;
  }

  const sentOf = (uid: number): number | undefined => {
    if (uid > maxUid) return undefined;
    const k = newRow[uid]!;
    if (k >= 0) return now.sent[k];
    const r = oldRow[uid]!;
    return r >= 0 ? old.sent[r] : undefined;
  };
  const kept = affected.size ? before.filter((_, t) => !affected.has(t)) : before.slice();
  // Both lists are in the algorithm's top-level order already; the few new threads are placed by bisection.
  return mergeTop(kept, subset.length ? threadMessages(now.select(subset), algorithm) : [], (n) => rankOf(n, sentOf, algorithm));
}

/** Both key sets as tables over the same pools (ids comparable), or null when two tables' pools differ. */
function onePool(a: Keys, b: Keys): [SortKeyTable, SortKeyTable] | null {
  if (a instanceof SortKeyTable && b instanceof SortKeyTable) return a.pool === b.pool && a.ids === b.ids ? [a, b] : null;
  const pool = new StringPool();
  const ids = new StringPool();
  return [SortKeyTable.fromRecords(a, pool, ids), SortKeyTable.fromRecords(b, pool, ids)];
}

/** row[uid] = the table's row of uid, or -1; null when a uid appears twice. */
function rowsByUid(t: SortKeyTable, maxUid: number): Int32Array | null {
  const row = new Int32Array(maxUid + 1).fill(-1);
  for (let i = 0; i < t.length; i++) {
    const u = t.uid[i] as number;
    if (row[u]! >= 0) return null;
    row[u] = i;
  }
  return row;
}

/** The uid a thread is named by: its root, or a dummy's first child's. */
function headUid(n: ThreadNode): number {
  let h = n;
  while (h.uid === null && h.children[0]) h = h.children[0];
  return h.uid ?? 0;
}

/** A thread's place in the top-level order, as [date, uid]. */
function rankOf(n: ThreadNode, sentOf: (uid: number) => number | undefined, algorithm: ThreadAlgorithm): [number, number] {
  const head = headUid(n);
  if (algorithm !== 'refs') return [sentOf(head) ?? 0, head];
  let newest = -Infinity;
  const stack: ThreadNode[] = [n];
  for (let m = stack.pop(); m; m = stack.pop()) {
    if (m.uid !== null) newest = Math.max(newest, sentOf(m.uid) ?? -Infinity);
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

/**
 * Threading over precomputed SortKeys: RFC 5256 section 4 ORDEREDSUBJECT and REFERENCES, and REFS (the
 * THREAD=REFS of draft-ietf-morg-inthread as Dovecot runs it).
 *
 * Contract of `threadMessages(records, algorithm)`:
 * - returns a forest of ThreadNode in thread order; every record's uid appears exactly once; `uid: null`
 *   marks a dummy (a message that is referenced but not among the records, or a subject-merge parent), which
 *   only ever appears at the top level and always has at least two children;
 * - "sequence order" in the RFC (ties, which duplicate keeps a Message-ID) is ascending uid; the order of
 *   `records` does not matter;
 * - dates are SortKeys.sent (section 2.2), ties broken by uid;
 * - ORDEREDSUBJECT: messages grouped by base subject, each group a thread whose first message (by sent date)
 *   is the parent of all the others, threads ordered by their first message;
 * - REFERENCES: steps 1-6 of section 4: links from References (or In-Reply-To), a later message's own link
 *   overriding one guessed from another message's References, no link that would make a loop, messages
 *   without a valid Message-ID or with a duplicate one get a unique id, dummies pruned (step 3), threads
 *   whose roots share a base subject merged (step 5), siblings sorted by date (steps 4 and 6);
 * - REFS: REFERENCES steps 1-3 and 6 without the subject merging, threads ordered by their newest message's
 *   sent date (ties by the uid heading the thread); children ordered by date as in REFERENCES.
 * Runs over a SortKeyTable's columns (an array of SortKeys is made into one first): no object per message
 * besides the algorithm's own containers. Iterative throughout: deep reply chains do not exhaust the stack.
 * Never throws.
 */
import type { SortKeys } from './keys.js';
import { SortKeyTable } from './table.js';

export type ThreadAlgorithm = 'orderedsubject' | 'references' | 'refs';

/** One node of a thread tree: a message (its uid) or a dummy (null), with its replies in date order. */
export interface ThreadNode {
  uid: number | null;
  children: ThreadNode[];
}

/** The threads of `keys` by `algorithm` (see the module contract). */
export function threadMessages(keys: SortKeyTable | readonly SortKeys[], algorithm: ThreadAlgorithm): ThreadNode[] {
  const t = keys instanceof SortKeyTable ? keys : SortKeyTable.fromRecords(keys);
  if (algorithm === 'orderedsubject') return orderedSubject(t);
  const roots = pruneDummies(linkReferences(t));
  const byHead = headOrder(t);
  if (algorithm === 'references') return toNodes(t, sortAll(mergeBySubject(t, sortRoots(roots, byHead)), byHead));
  return toNodes(t, sortByNewest(t, sortAll(roots, byHead)));
}

/** Maps every uid of a forest to the uid heading its thread (a dummy's first child). */
export function threadHeads(forest: readonly ThreadNode[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const top of forest) {
    let head = top;
    while (head.uid === null && head.children[0]) head = head.children[0];
    const headUid = head.uid;
    if (headUid === null) continue;
    const stack: ThreadNode[] = [top];
    for (let n = stack.pop(); n; n = stack.pop()) {
      if (n.uid !== null) out.set(n.uid, headUid);
      for (const c of n.children) stack.push(c);
    }
  }
  return out;
}

/** Rows by sent date, ties by uid. */
function rowOrder(t: SortKeyTable): (a: number, b: number) => number {
  const sent = t.sent;
  const uid = t.uid;
  return (a, b) => (sent[a] as number) - (sent[b] as number) || (uid[a] as number) - (uid[b] as number);
}

function orderedSubject(t: SortKeyTable): ThreadNode[] {
  const groups = new Map<number, number[]>();
  for (let i = 0; i < t.length; i++) {
    const s = t.subject[i] as number;
    const g = groups.get(s);
    if (g) g.push(i);
    else groups.set(s, [i]);
  }
  const threads = [...groups.values()];
  const bySent = rowOrder(t);
  for (const g of threads) g.sort(bySent);
  threads.sort((a, b) => bySent(a[0] as number, b[0] as number));
  return threads.map((g) => ({
    uid: t.uid[g[0] as number] as number,
    children: g.slice(1).map((r) => ({ uid: t.uid[r] as number, children: [] })),
  }));
}

/** A container of the REFERENCES algorithm: a message (its table row), or a dummy (row -1). */
interface Box {
  row: number;
  parent: Box | null;
  kids: Box[];
  /** Set while the box is a child of the root (step 5 bookkeeping). */
  top: boolean;
  /** How many boxes have this one as parent during step 1: a box without any cannot close a loop. */
  linked: number;
}

/** The children of a box without any: shared and frozen, so an accidental push throws instead of leaking. */
const NO_KIDS: Box[] = Object.freeze([]) as unknown as Box[];

function newBox(row: number): Box {
  return { row, parent: null, kids: NO_KIDS, top: false, linked: 0 };
}

function addKid(parent: Box, kid: Box): void {
  if (parent.kids === NO_KIDS) parent.kids = [kid];
  else parent.kids.push(kid);
}

/** True when making `parent` the parent of `child` would close a loop (child is parent or its ancestor). */
function wouldLoop(parent: Box, child: Box): boolean {
  if (parent === child) return true;
  if (child.linked === 0) return false; // nothing below child, so parent cannot be there
  for (let b: Box | null = parent; b; b = b.parent) if (b === child) return true;
  return false;
}

function setParent(child: Box, parent: Box | null): void {
  if (child.parent) child.parent.linked--;
  child.parent = parent;
  if (parent) parent.linked++;
}

/** Step 1 (links) and step 2 (the root set): the top-level boxes, children lists filled in. */
function linkReferences(t: SortKeyTable): Box[] {
  const n = t.length;
  const uid = t.uid;
  let order: Uint32Array | null = null;
  for (let i = 1; i < n; i++) {
    if ((uid[i - 1] as number) > (uid[i] as number)) {
      // Stable: equal uids keep their input order.
      order = Uint32Array.from({ length: n }, (_, k) => k).sort((a, b) => (uid[a] as number) - (uid[b] as number) || a - b);
      break;
    }
  }
  // Boxes by Message-ID: ids are the table's id pool indexes.
  const byId: Array<Box | undefined> = new Array<Box | undefined>(t.ids.size);
  const boxes: Box[] = [];
  const boxOf = (id: number): Box => {
    let b = byId[id];
    if (!b) {
      b = newBox(-1);
      byId[id] = b;
      boxes.push(b);
    }
    return b;
  };
  for (let k = 0; k < n; k++) {
    const row = order ? (order[k] as number) : k;
    const id = t.messageId[row] as number;
    let own = id < 0 ? undefined : byId[id];
    if (own && own.row < 0) own.row = row;
    else if (own || id < 0) {
      // Missing or duplicate Message-ID: a unique id nobody can reference.
      own = newBox(row);
      boxes.push(own);
    } else {
      own = newBox(row);
      byId[id] = own;
      boxes.push(own);
    }
    const from = t.parentAt[row] as number;
    const to = t.parentAt[row + 1] as number;
    // (1A) chain the references; an existing parent is kept, loops are refused.
    let last: Box | null = from < to ? boxOf(t.parents[from] as number) : null;
    for (let p = from + 1; p < to; p++) {
      const parent = last as Box;
      const child = boxOf(t.parents[p] as number);
      if (child.parent === null && !wouldLoop(parent, child)) setParent(child, parent);
      last = child;
    }
    // (1B) the last reference is this message's parent, replacing a parent guessed from other References.
    if (own.parent !== last) {
      setParent(own, null);
      if (last && !wouldLoop(last, own)) setParent(own, last);
    }
  }
  const roots: Box[] = [];
  for (const b of boxes) {
    if (b.parent) addKid(b.parent, b);
    else roots.push(b);
  }
  return roots;
}

/** Step 3: dummies dropped or replaced by their children, except a root dummy with several children. */
function pruneDummies(roots: Box[]): Box[] {
  const preorder: Box[] = [];
  const stack = [...roots];
  for (let b = stack.pop(); b; b = stack.pop()) {
    preorder.push(b);
    for (const k of b.kids) stack.push(k);
  }
  // Children before parents, so a dummy's own children are final when it is spliced away.
  for (let i = preorder.length - 1; i >= 0; i--) {
    const b = preorder[i] as Box;
    if (!b.kids.some((k) => k.row < 0)) continue;
    const kids: Box[] = [];
    for (const k of b.kids) {
      if (k.row >= 0) kids.push(k);
      else
        for (const g of k.kids) {
          g.parent = b;
          kids.push(g);
        }
    }
    b.kids = kids;
  }
  const out: Box[] = [];
  for (const r of roots) {
    let top: Box | undefined = r;
    if (r.row < 0) top = r.kids.length === 0 ? undefined : r.kids.length === 1 ? r.kids[0] : r;
    if (!top) continue;
    top.parent = null;
    top.top = true;
    out.push(top);
  }
  return out;
}

/** The row a box sorts and is named by: its own, or a dummy's first child's. */
function headOf(b: Box): number {
  let h = b;
  while (h.row < 0 && h.kids[0]) h = h.kids[0];
  return h.row;
}

/** Boxes by their head's sent date, ties by uid. */
function headOrder(t: SortKeyTable): (a: Box, b: Box) => number {
  const bySent = rowOrder(t);
  return (a, b) => bySent(headOf(a), headOf(b));
}

/** Step 4: the root set in date order, dummies by their (date-sorted) first child. */
function sortRoots(roots: Box[], byHead: (a: Box, b: Box) => number): Box[] {
  for (const r of roots) if (r.row < 0) r.kids.sort(byHead);
  return roots.sort(byHead);
}

/** Step 5: threads whose roots share a non-empty base subject are merged. */
function mergeBySubject(t: SortKeyTable, roots: Box[]): Box[] {
  const subjectOf = (b: Box): number => t.subject[headOf(b)] as number;
  const empty = (s: number): boolean => t.pool.strings[s] === '';
  const reply = (b: Box): boolean => t.replyOrForward[b.row] === 1;
  const table = new Map<number, Box>();
  // (5B) the subject table: a dummy wins over a message, a non-reply over a reply, else the first one.
  for (const r of roots) {
    const subject = subjectOf(r);
    if (empty(subject)) continue;
    const e = table.get(subject);
    if (!e) table.set(subject, r);
    else if (e.row >= 0 && (r.row < 0 || (reply(e) && !reply(r)))) table.set(subject, r);
  }
  // (5C) merge each root into its subject's table entry.
  const added: Box[] = [];
  for (const r of roots) {
    if (!r.top) continue;
    const subject = subjectOf(r);
    if (empty(subject)) continue;
    const e = table.get(subject) as Box;
    if (e === r) continue;
    if (r.row < 0 && e.row < 0) {
      for (const k of r.kids) addKid(e, k);
      r.kids = NO_KIDS;
      r.top = false;
    } else if (e.row < 0 || (r.row >= 0 && reply(r) && !reply(e))) {
      addKid(e, r);
      r.top = false;
    } else if (r.row < 0) {
      // Not reachable through step 5B (a dummy always takes the table entry); kept total all the same.
      addKid(r, e);
      e.top = false;
      table.set(subject, r);
    } else {
      const dummy = newBox(-1);
      dummy.kids = [e, r];
      dummy.top = true;
      e.top = false;
      r.top = false;
      added.push(dummy);
      table.set(subject, dummy);
    }
  }
  return roots.filter((r) => r.top).concat(added);
}

/** Step 6: every set of siblings in date order, the root set last (dummies by their first child). */
function sortAll(roots: Box[], byHead: (a: Box, b: Box) => number): Box[] {
  const stack = [...roots];
  for (let b = stack.pop(); b; b = stack.pop()) {
    if (b.kids.length > 1) b.kids.sort(byHead);
    for (const k of b.kids) stack.push(k);
  }
  return roots.sort(byHead);
}

/** REFS: threads ordered by their newest message, ties by the uid heading the thread. */
function sortByNewest(t: SortKeyTable, roots: Box[]): Box[] {
  const newest = new Float64Array(roots.length);
  const stack: Box[] = [];
  roots.forEach((r, i) => {
    let max = -Infinity;
    stack.push(r);
    for (let b = stack.pop(); b; b = stack.pop()) {
      if (b.row >= 0 && (t.sent[b.row] as number) > max) max = t.sent[b.row] as number;
      for (const k of b.kids) stack.push(k);
    }
    newest[i] = max;
  });
  const order = roots.map((_, i) => i);
  const headUid = (i: number): number => t.uid[headOf(roots[i] as Box)] as number;
  order.sort((a, b) => (newest[a] as number) - (newest[b] as number) || headUid(a) - headUid(b));
  return order.map((i) => roots[i] as Box);
}

function toNodes(t: SortKeyTable, roots: readonly Box[]): ThreadNode[] {
  const out: ThreadNode[] = [];
  const stack: Array<[Box, ThreadNode]> = [];
  const uidOf = (b: Box): number | null => (b.row >= 0 ? (t.uid[b.row] as number) : null);
  for (const r of roots) {
    const n: ThreadNode = { uid: uidOf(r), children: [] };
    out.push(n);
    stack.push([r, n]);
  }
  for (let e = stack.pop(); e; e = stack.pop()) {
    const [b, n] = e;
    for (const k of b.kids) {
      const c: ThreadNode = { uid: uidOf(k), children: [] };
      n.children.push(c);
      stack.push([k, c]);
    }
  }
  return out;
}

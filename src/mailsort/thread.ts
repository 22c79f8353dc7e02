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
 * Iterative throughout: deep reply chains do not exhaust the stack. Never throws.
 */
import type { SortKeys } from './keys.js';
import { SortKeyTable } from './table.js';

export type ThreadAlgorithm = 'orderedsubject' | 'references' | 'refs';

/** One node of a thread tree: a message (its uid) or a dummy (null), with its replies in date order. */
export interface ThreadNode {
  uid: number | null;
  children: ThreadNode[];
}

/** The threads of `records` by `algorithm` (see the module contract). */
export function threadMessages(keys: SortKeyTable | readonly SortKeys[], algorithm: ThreadAlgorithm): ThreadNode[] {
  const records = keys instanceof SortKeyTable ? keys.records() : keys;
  if (algorithm === 'orderedsubject') return orderedSubject(records);
  const roots = pruneDummies(linkReferences(records));
  if (algorithm === 'references') return toNodes(sortAll(mergeBySubject(sortRoots(roots))));
  return toNodes(sortByNewest(sortAll(roots)));
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

function bySentThenUid(a: SortKeys, b: SortKeys): number {
  return a.sent - b.sent || a.uid - b.uid;
}

function orderedSubject(records: readonly SortKeys[]): ThreadNode[] {
  const groups = new Map<string, SortKeys[]>();
  for (const r of records) {
    const g = groups.get(r.subject);
    if (g) g.push(r);
    else groups.set(r.subject, [r]);
  }
  const threads = [...groups.values()];
  for (const g of threads) g.sort(bySentThenUid);
  threads.sort((a, b) => bySentThenUid(a[0] as SortKeys, b[0] as SortKeys));
  return threads.map((g) => ({
    uid: (g[0] as SortKeys).uid,
    children: g.slice(1).map((r) => ({ uid: r.uid, children: [] })),
  }));
}

/** A container of the REFERENCES algorithm: a message, or a dummy (rec null). */
interface Box {
  rec: SortKeys | null;
  parent: Box | null;
  kids: Box[];
  /** Set while the box is a child of the root (step 5 bookkeeping). */
  top: boolean;
  /** How many boxes have this one as parent during step 1: a box without any cannot close a loop. */
  linked: number;
}

/** The children of a box without any: shared and frozen, so an accidental push throws instead of leaking. */
const NO_KIDS: Box[] = Object.freeze([]) as unknown as Box[];

function newBox(rec: SortKeys | null): Box {
  return { rec, parent: null, kids: NO_KIDS, top: false, linked: 0 };
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
function linkReferences(records: readonly SortKeys[]): Box[] {
  let inOrder = records;
  for (let i = 1; i < records.length; i++) {
    if ((records[i - 1] as SortKeys).uid > (records[i] as SortKeys).uid) {
      inOrder = [...records].sort((a, b) => a.uid - b.uid);
      break;
    }
  }
  const byId = new Map<string, Box>();
  const boxes: Box[] = [];
  const boxOf = (id: string): Box => {
    let b = byId.get(id);
    if (!b) {
      b = newBox(null);
      byId.set(id, b);
      boxes.push(b);
    }
    return b;
  };
  for (const rec of inOrder) {
    const id = rec.messageId;
    let own = id === null ? undefined : byId.get(id);
    if (own && own.rec === null) own.rec = rec;
    else if (own || id === null) {
      // Missing or duplicate Message-ID: a unique id nobody can reference.
      own = newBox(rec);
      boxes.push(own);
    } else {
      own = newBox(rec);
      byId.set(id, own);
      boxes.push(own);
    }
    const refs = rec.parents;
    // (1A) chain the references; an existing parent is kept, loops are refused.
    let last: Box | null = refs.length > 0 ? boxOf(refs[0] as string) : null;
    for (let i = 1; i < refs.length; i++) {
      const parent = last as Box;
      const child = boxOf(refs[i] as string);
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
    if (!b.kids.some((k) => k.rec === null)) continue;
    const kids: Box[] = [];
    for (const k of b.kids) {
      if (k.rec !== null) kids.push(k);
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
    if (r.rec === null) top = r.kids.length === 0 ? undefined : r.kids.length === 1 ? r.kids[0] : r;
    if (!top) continue;
    top.parent = null;
    top.top = true;
    out.push(top);
  }
  return out;
}

/** The message a box sorts and is named by: itself, or a dummy's first child. */
function headOf(b: Box): SortKeys {
  let h = b;
  while (h.rec === null && h.kids[0]) h = h.kids[0];
  return h.rec as SortKeys;
}

function byHead(a: Box, b: Box): number {
  return bySentThenUid(headOf(a), headOf(b));
}

/** Step 4: the root set in date order, dummies by their (date-sorted) first child. */
function sortRoots(roots: Box[]): Box[] {
  for (const r of roots) if (r.rec === null) r.kids.sort(byHead);
  return roots.sort(byHead);
}

/** Step 5: threads whose roots share a non-empty base subject are merged. */
function mergeBySubject(roots: Box[]): Box[] {
  const table = new Map<string, Box>();
  // (5B) the subject table: a dummy wins over a message, a non-reply over a reply, else the first one.
  for (const r of roots) {
    const subject = headOf(r).subject;
    if (subject === '') continue;
    const t = table.get(subject);
    if (!t) table.set(subject, r);
    else if (t.rec !== null && (r.rec === null || (t.rec.replyOrForward && !r.rec.replyOrForward))) {
      table.set(subject, r);
    }
  }
  // (5C) merge each root into its subject's table entry.
  const added: Box[] = [];
  for (const r of roots) {
    if (!r.top) continue;
    const subject = headOf(r).subject;
    if (subject === '') continue;
    const t = table.get(subject) as Box;
    if (t === r) continue;
    if (r.rec === null && t.rec === null) {
      for (const k of r.kids) addKid(t, k);
      r.kids = NO_KIDS;
      r.top = false;
    } else if (t.rec === null || (r.rec !== null && r.rec.replyOrForward && !t.rec.replyOrForward)) {
      addKid(t, r);
      r.top = false;
    } else if (r.rec === null) {
      // Not reachable through step 5B (a dummy always takes the table entry); kept total all the same.
      addKid(r, t);
      t.top = false;
      table.set(subject, r);
    } else {
      const dummy = newBox(null);
      dummy.kids = [t, r];
      dummy.top = true;
      t.top = false;
      r.top = false;
      added.push(dummy);
      table.set(subject, dummy);
    }
  }
  return roots.filter((r) => r.top).concat(added);
}

/** Step 6: every set of siblings in date order, the root set last (dummies by their first child). */
function sortAll(roots: Box[]): Box[] {
  const stack = [...roots];
  for (let b = stack.pop(); b; b = stack.pop()) {
    if (b.kids.length > 1) b.kids.sort(byHead);
    for (const k of b.kids) stack.push(k);
  }
  return roots.sort(byHead);
}

/** REFS: threads ordered by their newest message, ties by the uid heading the thread. */
function sortByNewest(roots: Box[]): Box[] {
  const newest = new Float64Array(roots.length);
  const stack: Box[] = [];
  roots.forEach((r, i) => {
    let max = -Infinity;
    stack.push(r);
    for (let b = stack.pop(); b; b = stack.pop()) {
      if (b.rec && b.rec.sent > max) max = b.rec.sent;
      for (const k of b.kids) stack.push(k);
    }
    newest[i] = max;
  });
  const order = roots.map((_, i) => i);
  order.sort((a, b) => (newest[a] as number) - (newest[b] as number) || headOf(roots[a] as Box).uid - headOf(roots[b] as Box).uid);
  return order.map((i) => roots[i] as Box);
}

function toNodes(roots: readonly Box[]): ThreadNode[] {
  const out: ThreadNode[] = [];
  const stack: Array<[Box, ThreadNode]> = [];
  for (const r of roots) {
    const n: ThreadNode = { uid: r.rec ? r.rec.uid : null, children: [] };
    out.push(n);
    stack.push([r, n]);
  }
  for (let e = stack.pop(); e; e = stack.pop()) {
    const [b, n] = e;
    for (const k of b.kids) {
      const c: ThreadNode = { uid: k.rec ? k.rec.uid : null, children: [] };
      n.children.push(c);
      stack.push([k, c]);
    }
  }
  return out;
}


/**
 * Extended SEARCH and SORT results (RFC 4731 ESEARCH, RFC 5267 ESORT and CONTEXT=SEARCH/SORT, RFC 5182
 * SEARCHRES, RFC 9394 PARTIAL), shared by commands/search.ts and commands/sort.ts:
 * - `deliverResults` answers one command: SAVE, then "* ESEARCH" with MIN/MAX/COUNT/ALL/PARTIAL/MODSEQ
 *   (for SORT in sort order: MIN and MAX are the first and last of the sorted result, ALL keeps the order);
 * - RETURN (UPDATE) registers the command as a search context on the selected view: after every command
 *   `flushWithContexts` re-runs each context's search (and sort) when the mailbox changed and reports the
 *   difference as "* ESEARCH (TAG ..) ADDTO/REMOVEFROM" (RFC 5267 section 4.4): removals before the view's
 *   own updates (so before the EXPUNGEs, numbered as the client still knows them), additions after (after
 *   the EXISTS announcing them); CANCELUPDATE (commands/cancelupdate.ts) ends a context.
 * Never throws for a failed re-run: the context is dropped and the failure logged.
 */
import type { SearchKey, SearchReturn, PartialRange } from '../imap/grammar/search.js';
import { esearchLine, okLine, type EsearchResult } from './responses.js';
import type { CommandContext, Session } from './session.js';
import type { MailboxView } from './view.js';

/** Re-runs a search over the view's messages: the matching uids ascending (commands/search.ts Evaluator). */
export type SearchRunner = (view: MailboxView, key: SearchKey) => Promise<number[]>;

/** Puts matching uids in a SORT context's order (commands/sort.ts). */
export type ResultOrder = (view: MailboxView, uids: number[]) => Promise<number[]>;

/** One RETURN (UPDATE) context: the last result reported to the client. */
interface Context {
  tag: string;
  uid: boolean;
  key: SearchKey;
  order: ResultOrder | null;
  run: SearchRunner;
  /** The result as last reported (uids, in result order) and each one's number then. */
  result: number[];
  numbers: Map<number, number>;
  /** The view's (HIGHESTMODSEQ, message count) the result was computed at. */
  stamp: string;
}

const CONTEXTS = new WeakMap<MailboxView, Context[]>();

/** Total contexts a view keeps (RFC 5267 section 4.2 lets the server refuse more: NOUPDATE). */
const MAX_CONTEXTS = 16;

export interface ResultsInput {
  /** Matching uids in result order (ascending for SEARCH, sort order for SORT). */
  uids: number[];
  returns: SearchReturn[];
  partial: PartialRange | null;
  sorted: boolean;
  modseq: number | null;
  key: SearchKey;
  order: ResultOrder | null;
  run: SearchRunner;
}

/** Position slice of RFC 9394 PARTIAL: [start, end) into a result of `n`. */
function partialSlice(p: PartialRange, n: number): [number, number] {
  if (!p.last) return [Math.min(p.lo - 1, n), Math.min(p.hi, n)];
  return [Math.max(n - p.hi, 0), Math.max(n - p.lo + 1, 0)];
}

/** Sends the ESEARCH answer of one SEARCH/SORT with RETURN options; returns whether only SAVE was asked. */
export function deliverResults(ctx: CommandContext, view: MailboxView, r: ResultsInput): boolean {
  const s = ctx.session;
  // No result option (RETURN (), or only the CONTEXT hint) means ALL; UPDATE alone asks for updates only.
  const asksData = r.partial !== null || r.returns.some((o) => o !== 'CONTEXT');
  const ret: SearchReturn[] = asksData ? r.returns : [...r.returns, 'ALL'];
  const uids = r.uids;
  if (ret.includes('SAVE')) {
    const hasMin = ret.includes('MIN');
    const hasMax = ret.includes('MAX');
    if ((hasMin || hasMax) && !ret.includes('ALL') && !ret.includes('COUNT') && r.partial === null) {
      const saved: number[] = [];
      if (hasMin && uids.length) saved.push(uids[0]!);
      if (hasMax && uids.length && uids[uids.length - 1] !== saved[0]) saved.push(uids[uids.length - 1]!);
      view.savedSearch = saved.sort((a, b) => a - b);
    } else if (r.partial !== null && !ret.includes('ALL') && !ret.includes('COUNT')) {
      const [a, b] = partialSlice(r.partial, uids.length);
      view.savedSearch = uids.slice(a, b).sort((x, y) => x - y);
    } else view.savedSearch = r.sorted ? uids.slice().sort((a, b) => a - b) : uids;
    if (ret.length === 1 && r.partial === null) return true;
  }
  const num = (u: number): number => (ctx.uid ? u : view.seqOf(u));
  const out: EsearchResult = {};
  // For SORT, MIN and MAX are the first and last in sort order (RFC 5267 section 3.1).
  if (ret.includes('MIN') && uids.length) out.min = num(uids[0]!);
  if (ret.includes('MAX') && uids.length) out.max = num(uids[uids.length - 1]!);
  if (ret.includes('COUNT')) out.count = uids.length;
  if (ret.includes('ALL') && uids.length) out.all = uids.map(num);
  if (r.partial !== null) {
    const [a, b] = partialSlice(r.partial, uids.length);
    const p = r.partial;
    out.partial = { range: p.last ? `-${p.lo}:-${p.hi}` : `${p.lo}:${p.hi}`, set: uids.slice(a, b).map(num) };
  }
  if (r.modseq !== null) out.modseq = r.modseq;
  if (ret.includes('UPDATE')) {
    const list = CONTEXTS.get(view) ?? [];
    if (list.length >= MAX_CONTEXTS) s.send(Buffer.from(okLine(`NOUPDATE ${quoted(ctx.tag)}`, 'Too many search contexts')));
    else {
      const numbers = new Map<number, number>();
      for (const u of uids) numbers.set(u, num(u));
      const kept = list.filter((c) => c.tag !== ctx.tag);
      kept.push({ tag: ctx.tag, uid: ctx.uid, key: r.key, run: r.run, result: uids.slice(), numbers, stamp: stampOf(view), order: r.order });
      CONTEXTS.set(view, kept);
      view.onExpunge = (gone, sink) => removeExpunged(view, gone, sink);
    }
  }
  s.send(Buffer.from(esearchLine(ctx.tag, ctx.uid, out)));
  return false;
}

/** CANCELUPDATE: ends the contexts of the given tags; false when one of them is unknown. */
export function cancelContexts(view: MailboxView, tags: readonly string[]): boolean {
  const list = CONTEXTS.get(view) ?? [];
  const known = tags.every((t) => list.some((c) => c.tag === t));
  CONTEXTS.set(
    view,
    list.filter((c) => !tags.includes(c.tag)),
  );
  return known;
}

/**
 * REMOVEFROM for messages about to be reported expunged (view.onExpunge), numbered as the client still
 * knows them: sent before the EXPUNGE responses (RFC 5267 section 4.4).
 */
function removeExpunged(view: MailboxView, gone: readonly number[], sink: { send(buf: Buffer): void }): void {
  const goneSet = new Set(gone);
  for (const c of CONTEXTS.get(view) ?? []) {
    const removed = c.result.filter((u) => goneSet.has(u));
    if (!removed.length) continue;
    const pos = c.result.indexOf(removed[0]!) + 1;
    const nums = removed.map((u) => (c.uid ? u : view.seqOf(u) || c.numbers.get(u) || 0)).filter((n) => n > 0);
    c.result = c.result.filter((u) => !goneSet.has(u));
    if (nums.length) sink.send(Buffer.from(esearchLine(c.tag, c.uid, { removeFrom: { pos, set: sortIfSearch(nums, c) } })));
  }
}

/** A tag as an IMAP quoted string (tags never hold CR, LF or NUL). */
function quoted(tag: string): string {
  return `"${tag.replace(/[\\"]/g, '\\$&')}"`;
}

function stampOf(view: MailboxView): string {
  return `${view.highestModseq}/${view.exists}`;
}

/**
 * The view's pending updates (view.flush) with the ADDTO/REMOVEFROM of its search contexts around them (see
 * the module comment).
 */
export async function flushWithContexts(view: MailboxView, session: Session, allowExpunge: boolean): Promise<void> {
  const list = CONTEXTS.get(view);
  if (!list || list.length === 0) return view.flush(session, allowExpunge);
  const adds: Array<() => void> = [];
  for (const c of list.slice()) {
    if (c.stamp === stampOf(view)) continue;
    let next: number[];
    try {
      const live = view.uids.filter((u) => !view.isExpunged(u));
      const hits = await c.run(view, c.key);
      const liveSet = new Set(live);
      const found = hits.filter((u) => liveSet.has(u));
      next = c.order ? await c.order(view, found) : found;
    } catch (e) {
      session.logger.warn({ err: e instanceof Error ? e.message : String(e), tag: c.tag }, 'search context update failed');
      CONTEXTS.set(
        view,
        (CONTEXTS.get(view) ?? []).filter((x) => x !== c),
      );
      continue;
    }
    c.stamp = stampOf(view);
    const nextSet = new Set(next);
    const prevSet = new Set(c.result);
    const removed = c.result.filter((u) => !nextSet.has(u));
    if (removed.length) {
      const nums = removed.map((u) => (c.uid ? u : view.seqOf(u) || c.numbers.get(u) || 0)).filter((n) => n > 0);
      const pos = c.result.indexOf(removed[0]!) + 1;
      if (nums.length) session.send(Buffer.from(esearchLine(c.tag, c.uid, { removeFrom: { pos, set: sortIfSearch(nums, c) } })));
    }
    const added = next.filter((u) => !prevSet.has(u));
    c.result = next;
    if (added.length) {
      const pos = next.indexOf(added[0]!) + 1;
      adds.push(() => {
        const nums = added.map((u) => (c.uid ? u : view.seqOf(u))).filter((n) => n > 0);
        if (nums.length) session.send(Buffer.from(esearchLine(c.tag, c.uid, { addTo: { pos, set: sortIfSearch(nums, c) } })));
      });
    }
  }
  view.flush(session, allowExpunge);
  for (const a of adds) a();
  const after = CONTEXTS.get(view) ?? [];
  for (const c of after) {
    c.numbers.clear();
    for (const u of c.result) c.numbers.set(u, c.uid ? u : view.seqOf(u));
    c.stamp = stampOf(view);
  }
}

function sortIfSearch(nums: number[], c: Context): number[] {
  return c.order ? nums : nums.sort((a, b) => a - b);
}

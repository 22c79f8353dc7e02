/**
 * Email/query and Email/queryChanges (RFC 8621 4.4, 4.5; RFC 8620 5.5, 5.6). Candidates come from the
 * account view; conditions on metadata are tested there, text conditions (text, from, to, cc, bcc,
 * subject, body, header) ask the store per mailbox (searchText, envelopes, header blocks), hasAttachment
 * reads MIME indexes. Sorts use the view (receivedAt, size, keywords) and the store's cached sort keys
 * (sentAt, from, to, subject). Full result lists are remembered per (filter, sort, collapseThreads) and
 * state, so paging and queryChanges do not recompute.
 */
import type { Args, Call } from './api.js';
import type { Account, EmailRec } from './account.js';
import { comparators, optBool, optInt, optObject, optUint, resolveId } from './args.js';
import { MethodError, invalid } from './errors.js';
import { hasKeyword, isKeyword } from './keywords.js';
import { parseHeaderBlock, decodeMimeWords, unfoldHeader } from '../mime/index.js';
import { splitBody, walk } from './body.js';
import { casemap } from '../mailsort/casemap.js';
import type { SortKeys } from '../mailsort/index.js';

type Filter = Record<string, unknown>;
interface Comparator {
  property: string;
  isAscending: boolean;
  keyword?: string;
  collation?: string;
}

const CONDITIONS = new Set([
  'inMailbox', 'inMailboxOtherThan', 'before', 'after', 'minSize', 'maxSize', 'allInThreadHaveKeyword', 'someInThreadHaveKeyword',
  'noneInThreadHaveKeyword', 'hasKeyword', 'notKeyword', 'hasAttachment', 'text', 'from', 'to', 'cc', 'bcc', 'subject', 'body', 'header',
]);
const TEXT_CONDITIONS = new Set(['text', 'from', 'to', 'cc', 'bcc', 'subject', 'body', 'header', 'hasAttachment']);
const SORTS = new Set(['receivedAt', 'sentAt', 'size', 'from', 'to', 'subject', 'hasKeyword', 'allInThreadHaveKeyword', 'someInThreadHaveKeyword']);
/** Most ids one Email/query returns (RFC 8620 5.5: the server may cap limit). */
export const MAX_QUERY_LIMIT = 1000;
const RESULT_CACHE = 32;
/**
 * Most conditions and operators in one filter. Each is tested against every message of the account; a
 * request of 50 000 text conditions would hold the process for minutes (IMAP SEARCH is bounded by its line).
 */
export const MAX_FILTER_CONDITIONS = 1000;
/** Most text conditions (text, body, from, subject, header...) in one filter: each reads or scans every message. */
export const MAX_TEXT_CONDITIONS = 100;

function checkFilter(f: unknown, call: Call, depth = 0, seen = { n: 0, text: 0 }): void {
  if (depth > 16) invalid('filter nested too deeply');
  if (++seen.n > MAX_FILTER_CONDITIONS) invalid(`a filter has at most ${MAX_FILTER_CONDITIONS} conditions`);
  if (typeof f !== 'object' || f === null || Array.isArray(f)) invalid('a filter must be an object');
  const o = f as Filter;
  if ('operator' in o) {
    if (!['AND', 'OR', 'NOT'].includes(o['operator'] as string)) throw new MethodError('unsupportedFilter', `unknown operator ${String(o['operator'])}`);
    if (!Array.isArray(o['conditions'])) invalid('conditions must be an array');
    for (const c of o['conditions'] as unknown[]) checkFilter(c, call, depth + 1, seen);
    return;
  }
  for (const [k, v] of Object.entries(o)) {
    if (!CONDITIONS.has(k)) throw new MethodError('unsupportedFilter', `unknown filter condition ${k}`);
    if (TEXT_CONDITIONS.has(k) && ++seen.text > MAX_TEXT_CONDITIONS) invalid(`a filter has at most ${MAX_TEXT_CONDITIONS} text conditions`);
    if ((k === 'before' || k === 'after') && (typeof v !== 'string' || Number.isNaN(Date.parse(v)))) invalid(`${k} must be a UTCDate`);
    if ((k === 'minSize' || k === 'maxSize') && (typeof v !== 'number' || v < 0)) invalid(`${k} must be an unsigned integer`);
    if (k.endsWith('Keyword') && (typeof v !== 'string' || !isKeyword(v))) invalid(`${k} must be a keyword`);
    if (k === 'inMailbox' && typeof v !== 'string') invalid('inMailbox must be an id');
    if (k === 'inMailboxOtherThan' && (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))) invalid('inMailboxOtherThan must be an array of ids');
    if (k === 'hasAttachment' && typeof v !== 'boolean') invalid('hasAttachment must be a boolean');
    if (['text', 'from', 'to', 'cc', 'bcc', 'subject', 'body'].includes(k) && typeof v !== 'string') invalid(`${k} must be a string`);
    if (k === 'header' && (!Array.isArray(v) || v.length < 1 || v.length > 2 || !v.every((x) => typeof x === 'string'))) invalid('header must be [name] or [name, value]');
  }
  if (typeof o['inMailbox'] === 'string') o['inMailbox'] = resolveId(call, o['inMailbox']);
}

function checkSort(args: Args): Comparator[] {
  const sort = comparators(args);
  if (sort === null) return [{ property: 'receivedAt', isAscending: false }];
  return sort.map((c) => {
    if (!SORTS.has(c['property'])) throw new MethodError('unsupportedSort', `cannot sort by ${c['property']}`);
    if (c['collation'] !== undefined && !['i;ascii-numeric', 'i;ascii-casemap', 'i;unicode-casemap'].includes(c['collation'] as string)) throw new MethodError('unsupportedSort', 'unknown collation');
    const out: Comparator = { property: c['property'], isAscending: c['isAscending'] !== false };
    if (c['property'].endsWith('eyword')) {
      if (typeof c['keyword'] !== 'string' || !isKeyword(c['keyword'])) invalid('keyword sorts need a keyword');
      out.keyword = c['keyword'];
    }
    return out;
  });
}

function threadHas(a: Account, r: EmailRec, kw: string, all: boolean): boolean {
  const t = a.threads.get(r.threadId);
  if (!t) return false;
  for (const x of t) {
    const h = hasKeyword(x.flags, kw);
    if (all && !h) return false;
    if (!all && h) return true;
  }
  return all;
}

/** Per text condition object: the set of matching email ids among the candidates. */
async function textMatches(a: Account, f: Filter, cands: readonly EmailRec[], memo: Map<Filter, Set<string>>): Promise<void> {
  if ('operator' in f) {
    for (const c of f['conditions'] as Filter[]) await textMatches(a, c, cands, memo);
    return;
  }
  if (!Object.keys(f).some((k) => TEXT_CONDITIONS.has(k))) return;
  const byBox = new Map<number, EmailRec[]>();
  for (const r of cands) {
    let l = byBox.get(r.mailboxId);
    if (!l) byBox.set(r.mailboxId, (l = []));
    l.push(r);
  }
  let match: Set<string> | null = null;
  const intersect = (ids: Iterable<string>): void => {
    const s = new Set(ids);
    match = match === null ? s : new Set([...match].filter((x) => s.has(x)));
  };
  for (const k of Object.keys(f)) {
    if (!TEXT_CONDITIONS.has(k)) continue;
    const v = f[k];
    const found: string[] = [];
    for (const [boxId, recs] of byBox) {
      const uids = recs.map((r) => r.uid).sort((x, y) => x - y);
      const byUid = new Map(recs.map((r) => [r.uid, r]));
      if (k === 'text' || k === 'body') {
        for (const uid of await a.store.mail.searchText(boxId, uids, v as string, k === 'text' ? 'text' : 'body')) found.push(byUid.get(uid)!.id);
      } else if (k === 'hasAttachment') {
        for await (const m of a.store.mail.readMessages(boxId, uids, { index: true })) {
          const has = splitBody(walk(m.index.root)).attachments.length > 0;
          if (has === v) found.push(byUid.get(m.uid)!.id);
        }
      } else {
        const name = k === 'header' ? (v as string[])[0]!.toLowerCase() : k;
        const needle = k === 'header' ? ((v as string[])[1] ?? null) : (v as string);
        const want = needle === null ? null : casemap(needle);
        for await (const m of a.store.mail.readMessages(boxId, uids, { header: true })) {
          const fields = parseHeaderBlock(m.header).filter((x) => x.name.toLowerCase() === name);
          if (fields.length === 0) continue;
          if (want === null || fields.some((x) => casemap(decodeMimeWords(unfoldHeader(x.value))).includes(want))) found.push(byUid.get(m.uid)!.id);
        }
      }
    }
    intersect(found);
  }
  memo.set(f, match ?? new Set());
}

function test(a: Account, f: Filter, r: EmailRec, memo: Map<Filter, Set<string>>): boolean {
  if ('operator' in f) {
    const cs = f['conditions'] as Filter[];
    if (f['operator'] === 'AND') return cs.every((c) => test(a, c, r, memo));
    if (f['operator'] === 'OR') return cs.some((c) => test(a, c, r, memo));
    return !cs.some((c) => test(a, c, r, memo));
  }
  for (const [k, v] of Object.entries(f)) {
    switch (k) {
      case 'inMailbox':
        if (a.boxes.get(r.mailboxId)?.mb.mailboxObjectId !== v) return false;
        break;
      case 'inMailboxOtherThan':
        if ((v as string[]).includes(a.boxes.get(r.mailboxId)?.mb.mailboxObjectId ?? '')) return false;
        break;
      case 'before':
        if (!(r.receivedAt < Date.parse(v as string))) return false;
        break;
      case 'after':
        if (!(r.receivedAt >= Date.parse(v as string))) return false;
        break;
      case 'minSize':
        if (r.size < (v as number)) return false;
        break;
      case 'maxSize':
        if (r.size >= (v as number)) return false;
        break;
      case 'hasKeyword':
        if (!hasKeyword(r.flags, v as string)) return false;
        break;
      case 'notKeyword':
        if (hasKeyword(r.flags, v as string)) return false;
        break;
      case 'allInThreadHaveKeyword':
        if (!threadHas(a, r, v as string, true)) return false;
        break;
      case 'someInThreadHaveKeyword':
        if (!threadHas(a, r, v as string, false)) return false;
        break;
      case 'noneInThreadHaveKeyword':
        if (threadHas(a, r, v as string, false)) return false;
        break;
    }
  }
  const m = memo.get(f);
  return m ? m.has(r.id) : true;
}

async function sortKeysOf(a: Account, recs: readonly EmailRec[]): Promise<Map<string, SortKeys>> {
  const out = new Map<string, SortKeys>();
  const byBox = new Map<number, EmailRec[]>();
  for (const r of recs) {
    let l = byBox.get(r.mailboxId);
    if (!l) byBox.set(r.mailboxId, (l = []));
    l.push(r);
  }
  for (const [boxId, list] of byBox) {
    const all = list.length * 2 > (a.boxes.get(boxId)?.byUid.size ?? 0);
    const keys = await a.store.mail.sortKeys(boxId, all ? undefined : list.map((r) => r.uid).sort((x, y) => x - y));
    const byUid = new Map(list.map((r) => [r.uid, r]));
    for (const k of keys) {
      const r = byUid.get(k.uid);
      if (r) out.set(r.id, k);
    }
  }
  return out;
}

/** The full sorted (and collapsed) result list. */
async function computeIds(a: Account, filter: Filter | null, sort: Comparator[], collapse: boolean): Promise<string[]> {
  let cands: EmailRec[];
  const inMailbox = filter && !('operator' in filter) && typeof filter['inMailbox'] === 'string' ? a.boxByObjectId.get(filter['inMailbox']) : undefined;
  if (inMailbox) cands = [...inMailbox.byUid.values()];
  else if (filter && typeof filter['inMailbox'] === 'string' && !('operator' in filter)) cands = [];
  else cands = [...a.emails.values()];
  if (filter) {
    const memo = new Map<Filter, Set<string>>();
    await textMatches(a, filter, cands, memo);
    cands = cands.filter((r) => test(a, filter, r, memo));
  }
  const needKeys = sort.some((c) => ['sentAt', 'from', 'to', 'subject'].includes(c.property));
  const keys = needKeys ? await sortKeysOf(a, cands) : null;
  const cmps = sort.map((c) => {
    const dir = c.isAscending ? 1 : -1;
    switch (c.property) {
      case 'receivedAt':
        return (x: EmailRec, y: EmailRec) => dir * (x.receivedAt - y.receivedAt);
      case 'size':
        return (x: EmailRec, y: EmailRec) => dir * (x.size - y.size);
      case 'sentAt':
        return (x: EmailRec, y: EmailRec) => dir * ((keys!.get(x.id)?.sent ?? 0) - (keys!.get(y.id)?.sent ?? 0));
      case 'hasKeyword':
        return (x: EmailRec, y: EmailRec) => dir * (Number(hasKeyword(x.flags, c.keyword!)) - Number(hasKeyword(y.flags, c.keyword!)));
      case 'allInThreadHaveKeyword':
      case 'someInThreadHaveKeyword': {
        const all = c.property === 'allInThreadHaveKeyword';
        return (x: EmailRec, y: EmailRec) => dir * (Number(threadHas(a, x, c.keyword!, all)) - Number(threadHas(a, y, c.keyword!, all)));
      }
      default: {
        const field = c.property === 'from' ? 'displayFrom' : c.property === 'to' ? 'displayTo' : 'subject';
        return (x: EmailRec, y: EmailRec) => {
          const p = keys!.get(x.id)?.[field] ?? '';
          const q = keys!.get(y.id)?.[field] ?? '';
          return dir * (p < q ? -1 : p > q ? 1 : 0);
        };
      }
    }
  });
  cands.sort((x, y) => {
    for (const c of cmps) {
      const r = c(x, y);
      if (r) return r;
    }
    return x.id < y.id ? -1 : x.id > y.id ? 1 : 0;
  });
  if (collapse) {
    const seen = new Set<string>();
    cands = cands.filter((r) => (seen.has(r.threadId) ? false : (seen.add(r.threadId), true)));
  }
  return cands.map((r) => r.id);
}

interface CachedResult {
  ids: string[];
}
const results = new WeakMap<Account, Map<string, CachedResult>>();

function remember(a: Account, key: string, ids: string[]): void {
  let m = results.get(a);
  if (!m) results.set(a, (m = new Map()));
  m.delete(key);
  m.set(key, { ids });
  if (m.size > RESULT_CACHE) m.delete(m.keys().next().value as string);
}

function recall(a: Account, key: string): string[] | null {
  return results.get(a)?.get(key)?.ids ?? null;
}

/** True when the filter or sort looks at keywords (the results then change with flag changes). */
function usesKeywords(filter: Filter | null, sort: Comparator[]): boolean {
  if (sort.some((c) => c.keyword !== undefined)) return true;
  return filter !== null && /"(hasKeyword|notKeyword|allInThreadHaveKeyword|someInThreadHaveKeyword|noneInThreadHaveKeyword)"/.test(JSON.stringify(filter));
}

function queryArgs(args: Args, call: Call): { filter: Filter | null; sort: Comparator[]; collapse: boolean; key: string; flagFree: boolean } {
  const filter = optObject(args, 'filter');
  if (filter) checkFilter(filter, call);
  const sort = checkSort(args);
  const collapse = optBool(args, 'collapseThreads', false);
  return { filter, sort, collapse, key: JSON.stringify([filter, sort, collapse]), flagFree: !usesKeywords(filter, sort) };
}

/**
 * The full result list for the current state: remembered under the state (for queryChanges and paging),
 * and, when it ignores keywords, under the account's membership version too, so flag changes do not
 * cost a recomputation.
 */
async function resultIds(a: Account, q: ReturnType<typeof queryArgs>, state: string): Promise<string[]> {
  const stateKey = `${q.key}|${state}`;
  const memberKey = `${q.key}|m${a.membership}`;
  let ids = recall(a, stateKey) ?? (q.flagFree ? recall(a, memberKey) : null);
  if (!ids) {
    ids = await computeIds(a, q.filter, q.sort, q.collapse);
    if (q.flagFree) remember(a, memberKey, ids);
  }
  remember(a, stateKey, ids);
  return ids;
}

export async function emailQuery(args: Args, call: Call): Promise<Args> {
  const a = call.account;
  const q = queryArgs(args, call);
  const position = optInt(args, 'position', 0);
  const anchor = args['anchor'];
  const anchorOffset = optInt(args, 'anchorOffset', 0);
  const limitArg = optUint(args, 'limit', null);
  const calculateTotal = optBool(args, 'calculateTotal', false);
  if (anchor !== undefined && anchor !== null && typeof anchor !== 'string') invalid('anchor must be an id');
  const state = a.emailState();
  const ids = await resultIds(a, q, state);
  const limit = Math.min(limitArg ?? MAX_QUERY_LIMIT, MAX_QUERY_LIMIT);
  let start: number;
  if (typeof anchor === 'string') {
    const i = ids.indexOf(resolveId(call, anchor));
    if (i < 0) throw new MethodError('anchorNotFound');
    start = Math.max(0, i + anchorOffset);
  } else if (position < 0) start = Math.max(0, ids.length + position);
  else start = position;
  const out: Args = {
    accountId: a.accountId,
    queryState: state,
    canCalculateChanges: true,
    position: start,
    ids: ids.slice(start, start + limit),
    collapseThreads: q.collapse,
  };
  if (calculateTotal) out['total'] = ids.length;
  if (limitArg !== null && limitArg > MAX_QUERY_LIMIT) out['limit'] = MAX_QUERY_LIMIT;
  return out;
}

export async function emailQueryChanges(args: Args, call: Call): Promise<Args> {
  const a = call.account;
  const q = queryArgs(args, call);
  const since = args['sinceQueryState'];
  if (typeof since !== 'string') invalid('sinceQueryState is required');
  const maxChanges = optUint(args, 'maxChanges', null);
  const upToId = args['upToId'];
  if (upToId !== undefined && upToId !== null && typeof upToId !== 'string') invalid('upToId must be an id');
  const old = recall(a, `${q.key}|${since}`);
  if (!old) throw new MethodError('cannotCalculateChanges', 'the old query state is no longer known');
  const state = a.emailState();
  const now = await resultIds(a, q, state);
  const oldIndex = new Map(old.map((id, i) => [id, i]));
  const nowSet = new Set(now);
  const removed: string[] = [];
  const added: Array<{ id: string; index: number }> = [];
  for (const id of old) if (!nowSet.has(id)) removed.push(id);
  let lastOld = -1;
  for (let i = 0; i < now.length; i++) {
    const id = now[i]!;
    const oi = oldIndex.get(id);
    if (oi === undefined) added.push({ id, index: i });
    else if (oi < lastOld) {
      removed.push(id);
      added.push({ id, index: i });
    } else lastOld = oi;
    if (typeof upToId === 'string' && id === upToId) break;
  }
  // Emails changed since the old state may have moved under a sort on mutable properties: report them
  // as removed and re-added (RFC 8620 5.6 allows extra entries).
  if (maxChanges !== null && removed.length + added.length > maxChanges) throw new MethodError('tooManyChanges');
  const out: Args = { accountId: a.accountId, oldQueryState: since, newQueryState: state, removed, added };
  if (optBool(args, 'calculateTotal', false)) out['total'] = now.length;
  return out;
}

/**
 * Mailbox/get, /changes, /query, /queryChanges, /set (RFC 8621 2). Ids are the MAILBOXIDs; roles come from
 * SPECIAL-USE (INBOX is "inbox"). In the user's own account myRights grants all (INBOX may not be deleted
 * or renamed away); in a shared account it follows the user's ACL rights, and /set checks them (shared.ts).
 * Counts come from the account view.
 */
import type { Args, Call } from './api.js';
import { checkRights, myRightsOf } from './shared.js';
import type { Account, Box } from './account.js';
import { isSeen } from './account.js';
import { applyPatch, checkSetSize, comparators, getIds, getProperties, optBool, optObject, resolveId } from './args.js';
import { MethodError, setError, invalid, type SetError } from './errors.js';
import type { SpecialUse } from '../store/types.js';
import { isStoreError } from '../store/types.js';

const ROLE_OF: Record<string, string> = { '\\Sent': 'sent', '\\Drafts': 'drafts', '\\Trash': 'trash', '\\Junk': 'junk', '\\Archive': 'archive', '\\All': 'all', '\\Flagged': 'flagged' };
const USE_OF: Record<string, SpecialUse> = Object.fromEntries(Object.entries(ROLE_OF).map(([k, v]) => [v, k as SpecialUse]));
const SORT_ORDER: Record<string, number> = { inbox: 1, drafts: 2, sent: 3, archive: 4, junk: 5, trash: 6 };
const PROPS = ['id', 'name', 'parentId', 'role', 'sortOrder', 'totalEmails', 'unreadEmails', 'totalThreads', 'unreadThreads', 'myRights', 'isSubscribed'];
const KNOWN = new Set(PROPS);
const COUNT_PROPS = ['totalEmails', 'unreadEmails', 'totalThreads', 'unreadThreads'];
const DELIM = '/';

export function roleOf(box: Box): string | null {
  if (box.mb.name === 'INBOX') return 'inbox';
  return box.mb.specialUse ? (ROLE_OF[box.mb.specialUse] ?? null) : null;
}

/** The account's mailbox with a role, if any. */
export function boxWithRole(account: Account, role: string): Box | null {
  for (const b of account.boxes.values()) if (roleOf(b) === role) return b;
  return null;
}

function parentOf(account: Account, box: Box): Box | null {
  const i = box.mb.name.lastIndexOf(DELIM);
  if (i <= 0) return null;
  const parentName = box.mb.name.slice(0, i);
  for (const b of account.boxes.values()) if (b.mb.name === parentName) return b;
  return null;
}

const countCache = new WeakMap<Box, { modseq: number; size: number; threads: number; unreadThreads: number }>();

function threadCounts(box: Box): { threads: number; unreadThreads: number } {
  const c = countCache.get(box);
  if (c && c.modseq === box.modseq && c.size === box.byUid.size) return c;
  const all = new Set<string>();
  const unread = new Set<string>();
  for (const r of box.byUid.values()) {
    all.add(r.threadId);
    if (!isSeen(r.flags)) unread.add(r.threadId);
  }
  const v = { modseq: box.modseq, size: box.byUid.size, threads: all.size, unreadThreads: unread.size };
  countCache.set(box, v);
  return v;
}

export function mailboxObject(account: Account, box: Box): Record<string, unknown> {
  const parent = parentOf(account, box);
  const role = roleOf(box);
  const tc = threadCounts(box);
  const isInbox = role === 'inbox';
  return {
    id: box.mb.mailboxObjectId,
    name: parent ? box.mb.name.slice(parent.mb.name.length + 1) : box.mb.name,
    parentId: parent ? parent.mb.mailboxObjectId : null,
    role,
    sortOrder: role ? (SORT_ORDER[role] ?? 10) : 10,
    totalEmails: box.byUid.size,
    unreadEmails: box.unread,
    totalThreads: tc.threads,
    unreadThreads: tc.unreadThreads,
    myRights: myRightsOf(account.rightsOf(box.mb.id), isInbox, !account.shared),
    isSubscribed: box.mb.subscribed,
  };
}

/** The Mailbox state: a digest of every mailbox object, remembered for Mailbox/changes. */
export function mailboxState(account: Account): string {
  const snap = new Map<string, string>();
  for (const b of account.boxes.values()) snap.set(b.mb.mailboxObjectId, JSON.stringify(mailboxObject(account, b)));
  return account.rememberMailboxes(snap);
}

export async function mailboxGet(args: Args, call: Call): Promise<Args> {
  const a = call.account;
  const ids = getIds(args, call);
  const props = getProperties(args, KNOWN, PROPS);
  const list: Array<Record<string, unknown>> = [];
  const notFound: string[] = [];
  const boxes = ids === null ? [...a.boxes.values()] : ids.map((id) => a.boxByObjectId.get(id) ?? id);
  for (const b of boxes) {
    if (typeof b === 'string') {
      notFound.push(b);
      continue;
    }
    const o = mailboxObject(a, b);
    list.push(Object.fromEntries(props.map((p) => [p, o[p]])));
  }
  return { accountId: a.accountId, state: mailboxState(a), list, notFound };
}

export async function mailboxChanges(args: Args, call: Call): Promise<Args> {
  const a = call.account;
  const since = args['sinceState'];
  if (typeof since !== 'string') invalid('sinceState is required');
  const max = args['maxChanges'];
  if (max !== undefined && max !== null && (typeof max !== 'number' || !Number.isInteger(max) || max < 1)) invalid('maxChanges must be a positive integer');
  const newState = mailboxState(a);
  const old = await a.mailboxSnapshot(since);
  if (!old) throw new MethodError('cannotCalculateChanges', 'state too old or unknown');
  const now = a.mailboxSnapshots.get(newState)!;
  const created: string[] = [];
  const updated: string[] = [];
  const destroyed: string[] = [];
  let onlyCounts = true;
  for (const [id, v] of now) {
    const o = old.get(id);
    if (o === undefined) created.push(id);
    else if (o !== v) {
      updated.push(id);
      const x = JSON.parse(o) as Record<string, unknown>;
      const y = JSON.parse(v) as Record<string, unknown>;
      for (const k of Object.keys(y)) if (!COUNT_PROPS.includes(k) && JSON.stringify(x[k]) !== JSON.stringify(y[k])) onlyCounts = false;
    }
  }
  for (const id of old.keys()) if (!now.has(id)) destroyed.push(id);
  if (typeof max === 'number' && created.length + updated.length + destroyed.length > max) throw new MethodError('cannotCalculateChanges', 'more changes than maxChanges');
  return {
    accountId: a.accountId,
    oldState: since,
    newState,
    hasMoreChanges: false,
    created,
    updated,
    destroyed,
    updatedProperties: updated.length > 0 && onlyCounts && created.length === 0 && destroyed.length === 0 ? COUNT_PROPS : null,
  };
}

function matchFilter(a: Account, b: Box, f: Record<string, unknown>): boolean {
  if (typeof f['operator'] === 'string') {
    const conds = f['conditions'];
    if (!Array.isArray(conds)) invalid('FilterOperator needs conditions');
    const rs = conds.map((c) => {
      if (typeof c !== 'object' || c === null || Array.isArray(c)) invalid('each condition must be a FilterOperator or FilterCondition object');
      return matchFilter(a, b, c as Record<string, unknown>);
    });
    if (f['operator'] === 'AND') return rs.every(Boolean);
    if (f['operator'] === 'OR') return rs.some(Boolean);
    if (f['operator'] === 'NOT') return !rs.some(Boolean);
    invalid(`unknown operator ${String(f['operator'])}`);
  }
  const o = mailboxObject(a, b);
  for (const [k, v] of Object.entries(f)) {
    if (k === 'parentId' && o['parentId'] !== v) return false;
    else if (k === 'name' && !(typeof v === 'string' && String(o['name']).toLowerCase().includes(v.toLowerCase()))) return false;
    else if (k === 'role' && o['role'] !== v) return false;
    else if (k === 'hasAnyRole' && (o['role'] !== null) !== v) return false;
    else if (k === 'isSubscribed' && o['isSubscribed'] !== v) return false;
    else if (!['parentId', 'name', 'role', 'hasAnyRole', 'isSubscribed'].includes(k)) throw new MethodError('unsupportedFilter', `unknown filter condition ${k}`);
  }
  return true;
}

export async function mailboxQuery(args: Args, call: Call): Promise<Args> {
  const a = call.account;
  const filter = optObject(args, 'filter');
  const sort = comparators(args);
  let boxes = [...a.boxes.values()].filter((b) => !filter || matchFilter(a, b, filter));
  const cmp: Array<(x: Box, y: Box) => number> = [];
  if (sort) {
    for (const s of sort) {
      const dir = s['isAscending'] === false ? -1 : 1;
      if (s['property'] === 'name') cmp.push((x, y) => dir * x.mb.name.localeCompare(y.mb.name));
      else if (s['property'] === 'sortOrder') cmp.push((x, y) => dir * ((mailboxObject(a, x)['sortOrder'] as number) - (mailboxObject(a, y)['sortOrder'] as number)));
      else throw new MethodError('unsupportedSort', `cannot sort mailboxes by ${String(s['property'])}`);
    }
  }
  if (optBool(args, 'sortAsTree', false)) cmp.unshift((x, y) => (x.mb.name < y.mb.name ? -1 : x.mb.name > y.mb.name ? 1 : 0));
  boxes = boxes.sort((x, y) => {
    for (const c of cmp) {
      const r = c(x, y);
      if (r) return r;
    }
    return x.mb.id - y.mb.id;
  });
  const ids = boxes.map((b) => b.mb.mailboxObjectId);
  const position = Math.max(0, Number(args['position'] ?? 0));
  const limit = typeof args['limit'] === 'number' ? args['limit'] : ids.length;
  return {
    accountId: a.accountId,
    queryState: mailboxState(a),
    canCalculateChanges: false,
    position,
    ids: ids.slice(position, position + limit),
    ...(args['calculateTotal'] === true ? { total: ids.length } : {}),
  };
}

export async function mailboxQueryChanges(): Promise<Args> {
  throw new MethodError('cannotCalculateChanges', 'Mailbox/queryChanges is not kept; run Mailbox/query again');
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0 || name.length > 490 || name.includes(DELIM) || /[\u0000-\u001f\u007f]/.test(name)) throw new Error('name');
  return name;
}

export async function mailboxSet(args: Args, call: Call): Promise<Args> {
  const a = call.account;
  checkSetSize(args);
  if (args['ifInState'] !== undefined && args['ifInState'] !== null && args['ifInState'] !== mailboxState(a)) throw new MethodError('stateMismatch');
  const oldState = mailboxState(a);
  const mail = a.store.mail;
  const created: Record<string, unknown> = {};
  const notCreated: Record<string, SetError> = {};
  const updated: Record<string, unknown> = {};
  const notUpdated: Record<string, SetError> = {};
  const destroyed: string[] = [];
  const notDestroyed: Record<string, SetError> = {};
  const fullName = (parentId: unknown, name: string): string | SetError => {
    if (parentId === null || parentId === undefined) return name;
    if (typeof parentId !== 'string') return setError('invalidProperties', 'parentId', ['parentId']);
    const parent = a.boxByObjectId.get(resolveId(call, parentId));
    if (!parent) return setError('invalidProperties', 'no such parent', ['parentId']);
    return `${parent.mb.name}${DELIM}${name}`;
  };
  // The view is synced once after the creates (each sync reads the whole mailbox list: once per create made
  // a thousand creates quadratic, 47 s at 5000 mailboxes), or before one that needs a mailbox just created
  // (as its parent) or the roles as they now are.
  const made: Array<[string, string]> = [];
  let unsynced = false;
  const synced = async (): Promise<void> => {
    if (!unsynced) return;
    unsynced = false;
    await a.sync();
  };
  for (const [cid, raw] of Object.entries((args['create'] ?? {}) as Record<string, Record<string, unknown>>)) {
    try {
      for (const k of Object.keys(raw)) if (!['name', 'parentId', 'role', 'sortOrder', 'isSubscribed'].includes(k)) throw setError('invalidProperties', `cannot set ${k}`, [k]);
      if ((typeof raw['parentId'] === 'string' && !a.boxByObjectId.has(resolveId(call, raw['parentId']))) || (raw['role'] !== undefined && raw['role'] !== null)) await synced();
      let name: string;
      try {
        name = checkName(raw['name']);
      } catch {
        throw setError('invalidProperties', 'invalid name', ['name']);
      }
      const full = fullName(raw['parentId'], name);
      if (typeof full !== 'string') throw full;
      if (a.shared) {
        const parent = typeof raw['parentId'] === 'string' ? a.boxByObjectId.get(resolveId(call, raw['parentId'])) : undefined;
        if (!parent) throw setError('forbidden', 'no top-level mailbox may be created in a shared account');
        checkRights(a, parent.mb.id, 'k', 'creating a child mailbox');
        if (raw['role'] !== undefined && raw['role'] !== null) throw setError('forbidden', 'roles are the owner\'s to set');
      }
      const role = raw['role'];
      if (role !== undefined && role !== null && (typeof role !== 'string' || !USE_OF[role])) throw setError('invalidProperties', 'unsupported role', ['role']);
      if (typeof role === 'string' && boxWithRole(a, role)) throw setError('invalidProperties', 'a mailbox has this role already', ['role']);
      const mb = await mail.createMailbox(a.userId, full, { specialUse: typeof role === 'string' ? USE_OF[role]! : null, origin: a.origin });
      if (raw['isSubscribed'] !== false) await mail.setSubscribed(a.userId, full, true, { origin: a.origin });
      unsynced = true;
      call.createdIds.set(cid, mb.mailboxObjectId);
      made.push([cid, mb.mailboxObjectId]);
    } catch (e) {
      notCreated[cid] = storeSetError(e);
    }
  }
  await synced();
  for (const [cid, id] of made) {
    const box = a.boxByObjectId.get(id);
    const o = box ? mailboxObject(a, box) : { id };
    created[cid] = { id, ...Object.fromEntries(COUNT_PROPS.map((k) => [k, o[k] ?? 0])), myRights: o['myRights'], sortOrder: o['sortOrder'] };
  }
  for (const [rawId, patch] of Object.entries((args['update'] ?? {}) as Record<string, Record<string, unknown>>)) {
    const id = resolveId(call, rawId);
    try {
      const box = a.boxByObjectId.get(id);
      if (!box) throw setError('notFound');
      const cur = mailboxObject(a, box);
      let next: Record<string, unknown>;
      try {
        next = applyPatch(cur, patch);
      } catch (e) {
        throw setError('invalidPatch', (e as Error).message);
      }
      for (const k of Object.keys(next)) {
        if (JSON.stringify(next[k]) === JSON.stringify(cur[k])) continue;
        if (!['name', 'parentId', 'role', 'sortOrder', 'isSubscribed'].includes(k)) throw setError('invalidProperties', `${k} is server-set`, [k]);
      }
      if (next['name'] !== cur['name'] || next['parentId'] !== cur['parentId']) {
        if (roleOf(box) === 'inbox') throw setError('forbidden', 'INBOX cannot be renamed');
        checkRights(a, box.mb.id, 'x', 'renaming');
        let name: string;
        try {
          name = checkName(next['name']);
        } catch {
          throw setError('invalidProperties', 'invalid name', ['name']);
        }
        const full = fullName(next['parentId'], name);
        if (typeof full !== 'string') throw full;
        if (full === box.mb.name || full.startsWith(box.mb.name + DELIM)) throw setError('invalidProperties', 'a mailbox cannot be its own ancestor', ['parentId']);
        if (a.shared && next['parentId'] !== cur['parentId']) {
          const parent = typeof next['parentId'] === 'string' ? a.boxByObjectId.get(resolveId(call, next['parentId'])) : undefined;
          if (!parent) throw setError('forbidden', 'no top-level mailbox in a shared account');
          checkRights(a, parent.mb.id, 'k', 'moving a mailbox under another');
        }
        await mail.renameMailbox(a.userId, box.mb.name, full, { origin: a.origin });
        await a.sync();
      }
      if (a.shared && (next['role'] !== cur['role'] || next['isSubscribed'] !== cur['isSubscribed'])) throw setError('forbidden', 'role and subscription are the owner\'s to set');
      if (next['role'] !== cur['role']) {
        const role = next['role'];
        if (role !== null && (typeof role !== 'string' || !USE_OF[role])) throw setError('invalidProperties', 'unsupported role', ['role']);
        if (typeof role === 'string' && boxWithRole(a, role)) throw setError('invalidProperties', 'a mailbox has this role already', ['role']);
        await mail.setSpecialUse(box.mb.id, typeof role === 'string' ? USE_OF[role]! : null, { origin: a.origin });
      }
      if (next['isSubscribed'] !== cur['isSubscribed']) {
        if (typeof next['isSubscribed'] !== 'boolean') throw setError('invalidProperties', 'isSubscribed', ['isSubscribed']);
        await mail.setSubscribed(a.userId, box.mb.name, next['isSubscribed'], { origin: a.origin });
      }
      await a.sync();
      updated[id] = null;
    } catch (e) {
      notUpdated[id] = storeSetError(e);
    }
  }
  const removeEmails = optBool(args, 'onDestroyRemoveEmails', false);
  for (const rawId of (args['destroy'] ?? []) as string[]) {
    const id = resolveId(call, rawId);
    try {
      const box = a.boxByObjectId.get(id);
      if (!box) throw setError('notFound');
      if (roleOf(box) === 'inbox') throw setError('forbidden', 'INBOX cannot be destroyed');
      checkRights(a, box.mb.id, 'x', 'destroying');
      for (const b of a.boxes.values()) if (b.mb.name.startsWith(box.mb.name + DELIM)) throw setError('mailboxHasChild');
      if (box.byUid.size > 0 && !removeEmails) throw setError('mailboxHasEmail');
      await mail.deleteMailbox(a.userId, box.mb.name, { origin: a.origin });
      await mail.setSubscribed(a.userId, box.mb.name, false, { origin: a.origin }).catch(() => undefined);
      await a.sync();
      destroyed.push(id);
    } catch (e) {
      notDestroyed[id] = storeSetError(e);
    }
  }
  return { accountId: a.accountId, oldState, newState: mailboxState(a), created, updated, destroyed, notCreated, notUpdated, notDestroyed };
}

/** A thrown SetError, or the SetError for a store failure. */
export function storeSetError(e: unknown): SetError {
  if (e && typeof e === 'object' && 'type' in e && typeof (e as SetError).type === 'string' && !(e instanceof Error)) return e as SetError;
  if (isStoreError(e, 'EXISTS')) return setError('alreadyExists', e.message);
  if (isStoreError(e, 'NOT_FOUND')) return setError('notFound', e.message);
  if (isStoreError(e, 'OVER_QUOTA')) return setError('overQuota', e.message);
  if (isStoreError(e, 'TOO_BIG')) return setError('tooLarge', e.message);
  if (isStoreError(e, 'INVALID')) return setError('invalidProperties', e.message);
  if (isStoreError(e, 'HAS_CHILDREN')) return setError('mailboxHasChild', e.message);
  if (isStoreError(e, 'NO_PERM')) return setError('forbidden', e.message);
  if (e instanceof MethodError) throw e;
  return setError('serverFail', e instanceof Error ? e.message : 'failed');
}

/**
 * JMAP for Sieve Scripts (RFC 9661): SieveScript/get, /changes, /set (with onSuccessActivateScript and
 * onSuccessDeactivateScript), /query and /validate over store.sieve, the same scripts ManageSieve serves
 * and delivery runs, so a script set here is listed there and filters the next message.
 *
 * Scripts in the store are keyed by name; JMAP ids must survive a rename, so the id of each name is kept
 * as a store object (store.jmap, kind "SieveScript": name, revision, active). Every call first reconciles
 * those objects with the scripts as they are (changes made over ManageSieve appear as updates, a rename
 * there as a destroy and a create), with a compare-and-set on the state so two processes never give one
 * script two ids. The state is that object kind's change counter.
 *
 * Content travels as blobs: create/update take a blobId (an upload, usually), and each script's content is
 * the blob `V<id>r<revision>`, downloadable until the script changes.
 */
import { randomBytes } from 'node:crypto';
import type { Args, Call } from './api.js';
import { checkSetSize, comparators, getIds, getProperties, optBool, optObject, optString, resolveId } from './args.js';
import { MethodError, invalid, setError, type SetError } from './errors.js';
import { readBlob, type Blob } from './blob.js';
import { checkIfInState, setOutcome, storedChanges } from './stored.js';
import { compileSieve, formatCompileError, SIEVE_EXTENSIONS, SIEVE_LIMITS } from '../sieve/index.js';
import { DEFAULT_SIEVE_QUOTA, MAX_SCRIPT_NAME, scriptNameProblem, type SieveQuota } from '../store/sieve.js';
import { isStoreError } from '../store/types.js';
import type { Store } from '../store/handle.js';

export const SIEVE_KIND = 'SieveScript';
const PROPS = ['id', 'name', 'blobId', 'isActive'];

interface ScriptRec {
  id: string;
  name: string;
  revision: number;
  active: boolean;
}

/** The account capability (RFC 9661 2). */
export function sieveAccountCapability(quota: SieveQuota = DEFAULT_SIEVE_QUOTA): Record<string, unknown> {
  return {
    implementation: 'mailroom',
    maxSizeScriptName: MAX_SCRIPT_NAME,
    maxSizeScript: quota.maxScriptSize,
    maxNumberScripts: quota.maxScripts,
    maxNumberRedirects: SIEVE_LIMITS.maxRedirects,
    sieveExtensions: [...SIEVE_EXTENSIONS],
    notificationMethods: null,
    externalLists: null,
  };
}

function contentBlobId(r: ScriptRec): string {
  return `V${r.id}r${r.revision}`;
}

function toObject(r: ScriptRec): Record<string, unknown> {
  return { id: r.id, name: r.name, blobId: contentBlobId(r), isActive: r.active };
}

/**
 * Brings the SieveScript objects in line with the store's scripts and returns them with the state.
 * `prefer` maps a script name to the id it must get (creates and renames made by this call).
 */
export async function reconcile(store: Store, userId: number, prefer: ReadonlyMap<string, string> = new Map()): Promise<{ state: number; list: ScriptRec[] }> {
  for (let attempt = 0; ; attempt++) {
    const scripts = await store.sieve.listScripts(userId);
    const { state, objects } = await store.jmap.listObjects(userId, SIEVE_KIND);
    const byName = new Map(objects.map((o) => [String(o.data['name']), { id: o.id, data: o.data }]));
    const preferredIds = new Set(prefer.values());
    const put: ScriptRec[] = [];
    const list: ScriptRec[] = [];
    const kept = new Set<string>();
    for (const s of scripts) {
      const known = byName.get(s.name);
      const id = prefer.get(s.name) ?? (known && !preferredIds.has(known.id) ? known.id : 's' + randomBytes(10).toString('hex'));
      const rec: ScriptRec = { id, name: s.name, revision: s.revision, active: s.active };
      list.push(rec);
      kept.add(id);
      if (!known || known.id !== id || known.data['revision'] !== s.revision || known.data['active'] !== s.active) put.push(rec);
    }
    const destroy = objects.filter((o) => !kept.has(o.id)).map((o) => o.id);
    if (put.length === 0 && destroy.length === 0) return { state, list };
    const next = await store.jmap.writeObjects(userId, SIEVE_KIND, { put: put.map((r) => ({ id: r.id, data: { name: r.name, revision: r.revision, active: r.active } })), destroy }, state);
    if (next !== null) return { state: next, list };
    // Another process reconciled meanwhile: read again (its ids win).
    if (attempt >= 5) throw new MethodError('serverFail', 'Sieve scripts kept changing');
  }
}

/** The content blob of a script (`V<id>r<revision>`) while the script still has that revision. */
export async function sieveBlob(store: Store, userId: number, blobId: string): Promise<Blob | null> {
  const m = /^V(s[0-9a-f]{20})r(\d{1,15})$/.exec(blobId);
  if (!m) return null;
  const { list } = await reconcile(store, userId);
  const rec = list.find((r) => r.id === m[1] && r.revision === Number(m[2]));
  if (!rec) return null;
  const s = await store.sieve.getScript(userId, rec.name);
  return s && s.revision === rec.revision ? { data: Buffer.from(s.content, 'utf8'), type: 'application/sieve' } : null;
}

export async function sieveGet(args: Args, call: Call): Promise<Args> {
  const { state, list } = await reconcile(call.account.store, call.account.userId);
  const ids = getIds(args, call);
  const props = getProperties(args, new Set(PROPS), PROPS);
  const byId = new Map(list.map((r) => [r.id, r]));
  const recs = ids === null ? list : ids.map((i) => byId.get(i)).filter((x): x is ScriptRec => !!x);
  return {
    accountId: call.account.accountId,
    state: String(state),
    list: recs.map((r) => Object.fromEntries(props.map((p) => [p, toObject(r)[p]]))),
    notFound: ids === null ? [] : ids.filter((i) => !byId.has(i)),
  };
}

export async function sieveChanges(args: Args, call: Call): Promise<Args> {
  await reconcile(call.account.store, call.account.userId);
  return storedChanges(args, call, SIEVE_KIND);
}

export async function sieveQuery(args: Args, call: Call): Promise<Args> {
  const { state, list } = await reconcile(call.account.store, call.account.userId);
  const filter = optObject(args, 'filter') ?? {};
  for (const k of Object.keys(filter)) if (k !== 'name' && k !== 'isActive') throw new MethodError('unsupportedFilter', `unknown filter ${k}`);
  if (filter['name'] !== undefined && typeof filter['name'] !== 'string') throw new MethodError('unsupportedFilter', 'name must be a string');
  if (filter['isActive'] !== undefined && typeof filter['isActive'] !== 'boolean') throw new MethodError('unsupportedFilter', 'isActive must be a boolean');
  let out = list.filter((r) => (typeof filter['name'] !== 'string' || r.name.toLowerCase().includes(filter['name'].toLowerCase())) && (filter['isActive'] === undefined || r.active === filter['isActive']));
  const cmps = (comparators(args) ?? []).map((c) => {
    if (c['property'] !== 'name' && c['property'] !== 'isActive') throw new MethodError('unsupportedSort', `cannot sort by ${String(c['property'])}`);
    const dir = c['isAscending'] === false ? -1 : 1;
    return c['property'] === 'name' ? (x: ScriptRec, y: ScriptRec) => dir * (x.name < y.name ? -1 : x.name > y.name ? 1 : 0) : (x: ScriptRec, y: ScriptRec) => dir * (Number(x.active) - Number(y.active));
  });
  out = [...out].sort((x, y) => cmps.reduce((acc, f) => acc || f(x, y), 0));
  const position = Math.max(0, Number(args['position'] ?? 0) || 0);
  const limit = typeof args['limit'] === 'number' ? args['limit'] : out.length;
  const res: Args = { accountId: call.account.accountId, queryState: String(state), canCalculateChanges: false, position, ids: out.slice(position, position + limit).map((r) => r.id) };
  if (optBool(args, 'calculateTotal', false)) res['total'] = out.length;
  return res;
}

/** The script source of a blob, or a SetError (blobNotFound, invalidSieve). */
async function sourceOf(call: Call, blobId: unknown): Promise<string> {
  if (typeof blobId !== 'string') throw setError('invalidProperties', 'blobId is required', ['blobId']);
  const blob = await readBlob(call.account, resolveId(call, blobId), call.server.blobSources(call.user));
  if (!blob) throw { ...setError('blobNotFound'), notFound: [blobId] };
  const r = compileSieve(blob.data);
  if (!r.ok) throw setError('invalidSieve', r.errors.map((x) => formatCompileError(x)).join('\n') || 'the script does not compile', ['blobId']);
  return blob.data.toString('utf8');
}

export async function sieveValidate(args: Args, call: Call): Promise<Args> {
  const blobId = optString(args, 'blobId');
  if (blobId === null) invalid('blobId is required');
  try {
    await sourceOf(call, blobId);
    return { accountId: call.account.accountId, error: null };
  } catch (e) {
    if (e instanceof MethodError) throw e;
    const err = e as SetError;
    if (err.type === 'blobNotFound') throw new MethodError('invalidArguments', `no blob ${blobId}`);
    return { accountId: call.account.accountId, error: err };
  }
}

function quotaError(p: string): SetError {
  return p === 'maxsize' ? setError('tooLarge', 'the script is larger than maxSizeScript') : setError('overQuota', p === 'maxscripts' ? 'too many scripts' : 'script storage is full');
}

function checkName(name: unknown, list: readonly ScriptRec[], self: string | null): string {
  if (typeof name !== 'string') throw setError('invalidProperties', 'name must be a string', ['name']);
  const problem = scriptNameProblem(name);
  if (problem) throw setError('invalidProperties', problem, ['name']);
  const taken = list.find((r) => r.name === name && r.id !== self);
  if (taken) throw { ...setError('alreadyExists', `a script named ${name} exists`), existingId: taken.id };
  return name;
}

function checkServerSet(o: Record<string, unknown>, rec: ScriptRec | null): void {
  for (const k of Object.keys(o)) {
    if (k === 'name' || k === 'blobId') continue;
    if (k === 'isActive' && o[k] === (rec?.active ?? false)) continue;
    if (k === 'id' && rec && o[k] === rec.id) continue;
    throw setError('invalidProperties', `${k} cannot be set`, [k]);
  }
}

export async function sieveSet(args: Args, call: Call, quota: SieveQuota): Promise<Args> {
  checkSetSize(args);
  const store = call.account.store;
  const userId = call.account.userId;
  const before = await reconcile(store, userId);
  checkIfInState(args, String(before.state));
  const out = setOutcome();
  const list = [...before.list];
  const prefer = new Map<string, string>();
  let failed = false;
  const fail = (e: unknown): SetError => {
    failed = true;
    if (isStoreError(e, 'INVALID')) return setError('invalidProperties', e.message, ['name']);
    if (isStoreError(e, 'EXISTS')) return setError('alreadyExists', e.message);
    if (isStoreError(e, 'NOT_FOUND')) return setError('notFound');
    if (isStoreError(e, 'NO_PERM')) return setError('sieveIsActive', 'the active script cannot be destroyed');
    if (e instanceof Error) throw e;
    return e as SetError;
  };
  for (const [cid, o] of Object.entries((args['create'] ?? {}) as Record<string, Record<string, unknown>>)) {
    try {
      if (typeof o !== 'object' || o === null || Array.isArray(o)) throw setError('invalidProperties', 'a SieveScript must be an object');
      checkServerSet(o, null);
      let name = o['name'];
      if (name === undefined || name === null) name = `script-${randomBytes(4).toString('hex')}`;
      name = checkName(name, list, null);
      const source = await sourceOf(call, o['blobId']);
      const r = await store.sieve.putScript(userId, name as string, source, quota);
      if (r !== 'ok') throw quotaError(r);
      const id = 's' + randomBytes(10).toString('hex');
      prefer.set(name as string, id);
      list.push({ id, name: name as string, revision: 0, active: false });
      call.createdIds.set(cid, id);
      out.created[cid] = { id, name };
    } catch (e) {
      out.notCreated[cid] = fail(e);
    }
  }
  for (const [rawId, o] of Object.entries((args['update'] ?? {}) as Record<string, Record<string, unknown>>)) {
    const id = resolveId(call, rawId);
    const rec = list.find((r) => r.id === id);
    try {
      if (!rec) throw setError('notFound');
      checkServerSet(o, rec);
      if (o['blobId'] !== undefined) {
        const source = await sourceOf(call, o['blobId']);
        const r = await store.sieve.putScript(userId, rec.name, source, quota);
        if (r !== 'ok') throw quotaError(r);
      }
      if (o['name'] !== undefined && o['name'] !== rec.name) {
        const name = checkName(o['name'], list, rec.id);
        await store.sieve.renameScript(userId, rec.name, name);
        rec.name = name;
      }
      prefer.set(rec.name, rec.id);
      out.updated[id] = null;
    } catch (e) {
      out.notUpdated[id] = fail(e);
    }
  }
  for (const rawId of (args['destroy'] ?? []) as string[]) {
    const id = resolveId(call, rawId);
    const rec = list.find((r) => r.id === id);
    try {
      if (!rec) throw setError('notFound');
      await store.sieve.deleteScript(userId, rec.name);
      list.splice(list.indexOf(rec), 1);
      out.destroyed.push(id);
    } catch (e) {
      out.notDestroyed[id] = fail(e);
    }
  }
  // RFC 9661 2.2: (de)activation only when every create, update and destroy succeeded.
  const activate = optString(args, 'onSuccessActivateScript');
  const deactivate = optBool(args, 'onSuccessDeactivateScript', false);
  if (!failed) {
    const target = activate === null ? undefined : list.find((r) => r.id === resolveId(call, activate));
    const was = list.find((r) => r.active);
    if (target && target !== was) await store.sieve.setActive(userId, target.name);
    else if (!target && deactivate && was) await store.sieve.setActive(userId, null);
    const active = target ?? (deactivate ? undefined : was);
    for (const r of list) {
      if ((r === active) === r.active) continue;
      const isActive = r === active;
      const cid = [...call.createdIds].find(([, v]) => v === r.id)?.[0];
      if (cid !== undefined && out.created[cid]) Object.assign(out.created[cid] as object, { isActive });
      else out.updated[r.id] = { ...((out.updated[r.id] as object | null) ?? {}), isActive };
    }
  }
  const after = await reconcile(store, userId, prefer);
  for (const [cid, c] of Object.entries(out.created)) {
    const rec = after.list.find((r) => r.id === (c as { id: string }).id);
    if (rec) out.created[cid] = { ...toObject(rec), ...(c as object) };
  }
  return { accountId: call.account.accountId, oldState: String(before.state), newState: String(after.state), ...out };
}

/**
 * Identity (RFC 8621 6), kept in the store (store.jmap, kind "Identity") so every worker process answers
 * the same. The user's own address ("primary") and each alias that resolves to the user are identities
 * that always exist and cannot be destroyed; a name, reply-to, bcc or signature set on them is stored as
 * an object under the same id. Identities the user creates (for any address the user owns, the same rule
 * as SMTP submission, delivery/sender.ts) are stored objects with mayDelete true. The state is the store's
 * change counter for the kind, so Identity/changes is exact across processes and restarts.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Args, Call } from './api.js';
import { checkSetSize, getIds, resolveId } from './args.js';
import { MethodError, setError, type SetError } from './errors.js';
import { checkIfInState, setOutcome, storedChanges } from './stored.js';
import { ownsAddress } from '../delivery/sender.js';
import { addressKey } from '../lib/ascii.js';

export const IDENTITY_KIND = 'Identity';
/** Ids of identities the user created start with this; built-in ones never do. */
const CREATED_PREFIX = 'i';

export interface IdentityRec {
  id: string;
  name: string;
  email: string;
  replyTo: Array<{ name: string | null; email: string }> | null;
  bcc: Array<{ name: string | null; email: string }> | null;
  textSignature: string;
  htmlSignature: string;
  mayDelete: boolean;
}

const SETTABLE = ['name', 'replyTo', 'bcc', 'textSignature', 'htmlSignature'] as const;

/** The id of the built-in identity of `email` ("primary" for the login address). */
function builtinId(call: Call, email: string): string {
  return email === call.user.address ? 'primary' : 'a' + createHash('sha256').update(email).digest('hex').slice(0, 16);
}

function blank(id: string, email: string, mayDelete: boolean): IdentityRec {
  return { id, name: '', email, replyTo: null, bcc: null, textSignature: '', htmlSignature: '', mayDelete };
}

/** The account's identities (built-in ones merged with their stored settings) and the state. */
export async function loadIdentities(call: Call): Promise<{ state: number; list: IdentityRec[] }> {
  const store = call.account.store;
  const addrs = [call.user.address];
  for (const al of await store.directory.listAliases()) if (!addrs.includes(al.from) && (await ownsAddress(store.directory, call.user, al.from))) addrs.push(al.from);
  const { state, objects } = await store.jmap.listObjects(call.account.userId, IDENTITY_KIND);
  const stored = new Map(objects.map((o) => [o.id, o.data as unknown as IdentityRec]));
  const list: IdentityRec[] = [];
  for (const email of addrs) {
    const id = builtinId(call, email);
    list.push({ ...blank(id, email, false), ...stored.get(id), id, email, mayDelete: false });
    stored.delete(id);
  }
  for (const rec of stored.values()) if (rec.mayDelete) list.push(rec);
  return { state, list };
}

export async function identityGet(args: Args, call: Call): Promise<Args> {
  const { state, list } = await loadIdentities(call);
  const ids = getIds(args, call);
  const byId = new Map(list.map((r) => [r.id, r]));
  return {
    accountId: call.account.accountId,
    state: String(state),
    list: ids === null ? list : ids.map((i) => byId.get(i)).filter((x): x is IdentityRec => !!x),
    notFound: ids === null ? [] : ids.filter((i) => !byId.has(i)),
  };
}

export async function identityChanges(args: Args, call: Call): Promise<Args> {
  const ch = await storedChanges(args, call, IDENTITY_KIND);
  // A built-in identity always existed: its first stored settings are an update.
  const builtin = (id: string) => !id.startsWith(CREATED_PREFIX);
  return {
    ...ch,
    created: ch.created.filter((id) => !builtin(id)),
    updated: [...ch.updated, ...ch.created.filter(builtin)],
    destroyed: ch.destroyed,
  };
}

function addresses(v: unknown, prop: string): IdentityRec['replyTo'] {
  if (v === null) return null;
  if (!Array.isArray(v) || !v.every((a) => typeof a === 'object' && a !== null && typeof (a as { email?: unknown }).email === 'string')) {
    throw setError('invalidProperties', `${prop} must be null or EmailAddress objects`, [prop]);
  }
  return (v as Array<{ name?: unknown; email: string }>).map((a) => ({ name: typeof a.name === 'string' ? a.name : null, email: a.email }));
}

/** Applies settable properties of `o` to `rec`; throws a SetError on a bad or immutable one. */
function applyProps(rec: IdentityRec, o: Record<string, unknown>, creating: boolean): void {
  for (const [k, v] of Object.entries(o)) {
    if (k === 'replyTo' || k === 'bcc') rec[k] = addresses(v, k);
    else if ((SETTABLE as readonly string[]).includes(k)) {
      if (typeof v !== 'string') throw setError('invalidProperties', `${k} must be a string`, [k]);
      (rec as unknown as Record<string, unknown>)[k] = v;
    } else if (!(creating && (k === 'email' || k === 'id' || k === 'mayDelete'))) throw setError('invalidProperties', `cannot set ${k}`, [k]);
  }
}

export async function identitySet(args: Args, call: Call): Promise<Args> {
  checkSetSize(args);
  const jmap = call.account.store.jmap;
  const { state, list } = await loadIdentities(call);
  const oldState = String(state);
  checkIfInState(args, oldState);
  const ifIn = args['ifInState'];
  const byId = new Map(list.map((r) => [r.id, r]));
  const out = setOutcome();
  const { created, notCreated, updated, notUpdated, destroyed, notDestroyed } = out;
  const put: IdentityRec[] = [];
  for (const [cid, o] of Object.entries((args['create'] ?? {}) as Record<string, Record<string, unknown>>)) {
    try {
      const email = typeof o['email'] === 'string' ? addressKey(o['email']) : '';
      if (!email || !(await ownsAddress(call.account.store.directory, call.user, email))) throw setError('forbiddenFrom', `${email} is not one of your addresses`);
      const rec = blank(CREATED_PREFIX + randomBytes(8).toString('hex'), email, true);
      applyProps(rec, o, true);
      put.push(rec);
      call.createdIds.set(cid, rec.id);
      created[cid] = { id: rec.id, mayDelete: true };
    } catch (e) {
      notCreated[cid] = e as SetError;
    }
  }
  for (const [rawId, patch] of Object.entries((args['update'] ?? {}) as Record<string, Record<string, unknown>>)) {
    const id = resolveId(call, rawId);
    const cur = byId.get(id) ?? put.find((p) => p.id === id);
    try {
      if (!cur || typeof patch !== 'object' || patch === null) throw setError('notFound');
      const next = { ...cur };
      applyProps(next, patch, false);
      put.push(next);
      updated[id] = null;
    } catch (e) {
      notUpdated[id] = e as SetError;
    }
  }
  const destroy: string[] = [];
  for (const rawId of (args['destroy'] ?? []) as string[]) {
    const id = resolveId(call, rawId);
    const rec = byId.get(id);
    if (!rec) notDestroyed[id] = setError('notFound');
    else if (!rec.mayDelete) notDestroyed[id] = setError('forbidden', 'this identity is one of your own addresses');
    else {
      destroy.push(id);
      destroyed.push(id);
    }
  }
  const next = await jmap.writeObjects(call.account.userId, IDENTITY_KIND, { put: put.map((r) => ({ id: r.id, data: { ...r } })), destroy }, ifIn === undefined || ifIn === null ? null : state);
  if (next === null) throw new MethodError('stateMismatch');
  return { accountId: call.account.accountId, oldState, newState: String(next), ...out };
}

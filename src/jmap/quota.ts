/**
 * Quota (RFC 9425) from the store's quota part (store.quota: usage and effective limits) when the store
 * has one, and VacationResponse (RFC 8621 8) over the vacation setting the Sieve stage applies
 * (store.sieve getVacation/setVacation).
 */
import { createHash } from 'node:crypto';
import type { Args, Call } from './api.js';
import type { Store } from '../store/handle.js';
import { applyPatch, checkSetSize, getIds } from './args.js';
import { MethodError, invalid, setError, type SetError } from './errors.js';
import { vacationProblem, type VacationSettings } from '../store/sieve.js';

interface QuotaPart {
  usage(userId: number): Promise<{ storage: number; messages: number }>;
  limits(userId: number): Promise<{ storage: number | null; messages: number | null }>;
}

/** The store's quota part, when this build has one. */
export function quotaStore(store: Store): QuotaPart | null {
  const q = (store as unknown as { quota?: QuotaPart }).quota;
  return q && typeof q.usage === 'function' && typeof q.limits === 'function' ? q : null;
}

async function quotas(call: Call): Promise<Array<Record<string, unknown>>> {
  const q = quotaStore(call.account.store);
  if (!q) return [];
  const [u, l] = await Promise.all([q.usage(call.account.userId), q.limits(call.account.userId)]);
  const out: Array<Record<string, unknown>> = [];
  const one = (id: string, name: string, resourceType: string, used: number, limit: number | null): void => {
    if (limit === null || !Number.isFinite(limit)) return;
    out.push({ id, name, resourceType, used, hardLimit: limit, scope: 'account', types: ['Email'], warnLimit: null, softLimit: null, description: null });
  };
  one('storage', `${call.user.address} storage`, 'octets', u.storage, l.storage);
  one('messages', `${call.user.address} messages`, 'count', u.messages, l.messages);
  return out;
}

function quotaState(list: Array<Record<string, unknown>>): string {
  return 'q' + list.map((x) => `${String(x['id'])}:${String(x['used'])}:${String(x['hardLimit'])}`).join(',');
}

export async function quotaGet(args: Args, call: Call): Promise<Args> {
  const all = await quotas(call);
  const ids = getIds(args, call);
  const list = ids ? all.filter((x) => ids.includes(x['id'] as string)) : all;
  const notFound = ids ? ids.filter((i) => !all.some((x) => x['id'] === i)) : [];
  const props = args['properties'];
  const shaped = Array.isArray(props) ? list.map((o) => Object.fromEntries(Object.entries(o).filter(([k]) => k === 'id' || (props as string[]).includes(k)))) : list;
  return { accountId: call.account.accountId, state: quotaState(all), list: shaped, notFound };
}

export async function quotaChanges(args: Args, call: Call): Promise<Args> {
  const all = await quotas(call);
  const state = quotaState(all);
  const since = args['sinceState'];
  if (typeof since !== 'string') invalid('sinceState is required');
  if (since === state) return { accountId: call.account.accountId, oldState: since, newState: state, hasMoreChanges: false, created: [], updated: [], destroyed: [], updatedProperties: null };
  if (!since.startsWith('q')) throw new MethodError('cannotCalculateChanges');
  const old = new Set(since.slice(1).split(',').filter(Boolean).map((x) => x.split(':')[0]!));
  const now = new Set(all.map((x) => x['id'] as string));
  return {
    accountId: call.account.accountId,
    oldState: since,
    newState: state,
    hasMoreChanges: false,
    created: [...now].filter((x) => !old.has(x)),
    updated: [...now].filter((x) => old.has(x)),
    destroyed: [...old].filter((x) => !now.has(x)),
    updatedProperties: ['used'],
  };
}

export async function quotaQuery(_args: Args, call: Call): Promise<Args> {
  const all = await quotas(call);
  return { accountId: call.account.accountId, queryState: quotaState(all), canCalculateChanges: false, position: 0, ids: all.map((x) => x['id']) };
}

// ---- VacationResponse ----

const VACATION_ID = 'singleton';

function dateOrNull(d: Date | null | undefined): string | null {
  return d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : null;
}

async function vacationObject(call: Call): Promise<Record<string, unknown>> {
  const v = await call.account.store.sieve.getVacation(call.account.userId);
  return {
    id: VACATION_ID,
    isEnabled: v.enabled,
    fromDate: dateOrNull(v.fromDate),
    toDate: dateOrNull(v.toDate),
    subject: v.subject === '' ? null : v.subject,
    textBody: v.textBody === '' ? null : v.textBody,
    htmlBody: v.htmlBody ?? null,
  };
}

function vacationState(o: Record<string, unknown>): string {
  return 'v' + hash(JSON.stringify(o));
}

function hash(s: string): string {
  return createHash('sha256').update(s).digest('base64url').slice(0, 16);
}

export async function vacationGet(args: Args, call: Call): Promise<Args> {
  const o = await vacationObject(call);
  const want = getIds(args, call) ?? [VACATION_ID];
  return {
    accountId: call.account.accountId,
    state: vacationState(o),
    list: want.includes(VACATION_ID) ? [o] : [],
    notFound: want.filter((i) => i !== VACATION_ID),
  };
}

export async function vacationSet(args: Args, call: Call): Promise<Args> {
  checkSetSize(args);
  const cur = await vacationObject(call);
  const oldState = vacationState(cur);
  if (args['ifInState'] !== undefined && args['ifInState'] !== null && args['ifInState'] !== oldState) throw new MethodError('stateMismatch');
  const notCreated: Record<string, SetError> = {};
  const notUpdated: Record<string, SetError> = {};
  const notDestroyed: Record<string, SetError> = {};
  const updated: Record<string, unknown> = {};
  for (const cid of Object.keys((args['create'] ?? {}) as object)) notCreated[cid] = setError('singleton', 'VacationResponse exists already');
  for (const id of (args['destroy'] ?? []) as string[]) notDestroyed[id] = setError('singleton', 'VacationResponse cannot be destroyed');
  for (const [id, patch] of Object.entries((args['update'] ?? {}) as Record<string, Record<string, unknown>>)) {
    if (id !== VACATION_ID) {
      notUpdated[id] = setError('notFound');
      continue;
    }
    let next: Record<string, unknown>;
    try {
      next = applyPatch(cur, patch);
    } catch (e) {
      notUpdated[id] = setError('invalidPatch', (e as Error).message);
      continue;
    }
    const date = (k: string): Date | null => {
      const v = next[k];
      if (v === null || v === undefined) return null;
      const d = typeof v === 'string' ? new Date(v) : new Date(NaN);
      if (Number.isNaN(d.getTime())) throw new Error(k);
      return d;
    };
    try {
      if (next['id'] !== VACATION_ID) throw new Error('id');
      for (const k of ['subject', 'textBody', 'htmlBody']) if (next[k] !== null && next[k] !== undefined && typeof next[k] !== 'string') throw new Error(k);
      if (typeof next['isEnabled'] !== 'boolean') throw new Error('isEnabled');
      const v: VacationSettings = {
        enabled: next['isEnabled'],
        subject: (next['subject'] as string | null) ?? '',
        textBody: (next['textBody'] as string | null) ?? '',
        htmlBody: (next['htmlBody'] as string | null) ?? null,
        fromDate: date('fromDate'),
        toDate: date('toDate'),
      };
      const problem = vacationProblem(v);
      if (problem) throw new Error(problem);
      await call.account.store.sieve.setVacation(call.account.userId, v);
      updated[id] = null;
    } catch (e) {
      const p = (e as Error).message;
      notUpdated[id] = setError('invalidProperties', `bad ${p}`, [p]);
    }
  }
  const newState = vacationState(await vacationObject(call));
  return { accountId: call.account.accountId, oldState, newState, created: {}, updated, destroyed: [], notCreated, notUpdated, notDestroyed };
}

/**
 * Push (RFC 8620 7): StateChange objects for EventSource streams (7.3), JMAP-over-WebSocket push (RFC 8887
 * 4.3.5) and PushSubscriptions (7.2, with the PushVerification round trip). A change committed anywhere
 * wakes the account view (store change bus), which then tells the hub; the hub computes the account's
 * type states once and sends each listener the types that changed since what it last saw.
 * PushSubscription URLs: https anywhere, plain http only to loopback. A subscription with keys gets every
 * message encrypted (webpush.ts, RFC 8291).
 */
import { randomBytes } from 'node:crypto';
import type { Account } from './account.js';
import { mailboxState } from './mailbox.js';
import type { Args, Call } from './api.js';
import { checkSetSize, getIds, resolveId } from './args.js';
import { invalid, setError, type SetError } from './errors.js';
import type { PushSubscriptionRecord } from '../store/tokens.js';
import { encryptPush, pushKeysProblem, type PushKeys } from './webpush.js';

export type TypeStates = Record<string, string>;
export const PUSH_TYPES = ['Email', 'Mailbox', 'Thread', 'EmailDelivery'] as const;

export function typeStates(a: Account): TypeStates {
  const email = a.emailState();
  return { Email: email, Mailbox: mailboxState(a), Thread: email };
}

export interface PushListener {
  /** Types wanted (null: all). */
  types: ReadonlySet<string> | null;
  /** Last states sent. */
  seen: TypeStates;
  send(changed: TypeStates): void;
}

/** One account's listeners, fed from its change notifications. */
export class PushHub {
  readonly #listeners = new Map<Account, Set<PushListener>>();
  readonly #hooks = new Map<Account, () => void>();
  #emailCounts = new Map<Account, number>();

  add(a: Account, l: PushListener): () => void {
    let set = this.#listeners.get(a);
    if (!set) {
      set = new Set();
      this.#listeners.set(a, set);
      const hook = () => this.#changed(a);
      this.#hooks.set(a, hook);
      a.listeners.add(hook);
      this.#emailCounts.set(a, a.emails.size);
    }
    set.add(l);
    return () => {
      const s = this.#listeners.get(a);
      if (!s) return;
      s.delete(l);
      if (s.size === 0) {
        this.#listeners.delete(a);
        const h = this.#hooks.get(a);
        if (h) a.listeners.delete(h);
        this.#hooks.delete(a);
      }
    };
  }

  count(a: Account): number {
    return this.#listeners.get(a)?.size ?? 0;
  }

  #changed(a: Account): void {
    const set = this.#listeners.get(a);
    if (!set || set.size === 0) return;
    const states = typeStates(a);
    const before = this.#emailCounts.get(a) ?? 0;
    this.#emailCounts.set(a, a.emails.size);
    for (const l of set) {
      const changed: TypeStates = {};
      for (const [t, s] of Object.entries(states)) {
        if (l.seen[t] !== s && (!l.types || l.types.has(t))) changed[t] = s;
      }
      if (changed['Email'] && a.emails.size > before && (!l.types || l.types.has('EmailDelivery'))) changed['EmailDelivery'] = states['Email']!;
      if (Object.keys(changed).length === 0) continue;
      Object.assign(l.seen, changed);
      try {
        l.send(changed);
      } catch {
        // a broken stream is removed by its own close handler
      }
    }
  }
}

export function stateChange(a: Account, changed: TypeStates): Record<string, unknown> {
  return { '@type': 'StateChange', changed: { [a.accountId]: changed } };
}

export function parseTypes(v: string | null | undefined): Set<string> | null {
  if (v === null || v === undefined || v === '' || v === '*') return null;
  return new Set(v.split(',').map((s) => s.trim()).filter(Boolean));
}

// ---- PushSubscription (RFC 8620 7.2) ----

/** True for a URL push messages may go to: https, or http to a loopback host. */
export function pushUrlAllowed(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.username || u.password) return false;
  if (u.protocol === 'https:') return true;
  return u.protocol === 'http:' && (u.hostname === '127.0.0.1' || u.hostname === '[::1]' || u.hostname === 'localhost');
}

/**
 * POSTs one push message, encrypted (RFC 8291, aes128gcm) when the subscription has keys; resolves
 * whether it was accepted (2xx). Bounded to 10 s, never throws.
 */
export async function postPush(url: string, body: unknown, keys: PushKeys | null = null): Promise<boolean> {
  try {
    const json = Buffer.from(JSON.stringify(body), 'utf8');
    const r = await fetch(url, {
      method: 'POST',
      headers: keys
        ? { 'Content-Type': 'application/octet-stream', 'Content-Encoding': 'aes128gcm', TTL: '86400', Urgency: 'normal' }
        : { 'Content-Type': 'application/json', TTL: '86400', Urgency: 'normal' },
      body: keys ? encryptPush(json, keys) : json,
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    await r.arrayBuffer().catch(() => undefined);
    return r.status >= 200 && r.status < 300;
  } catch {
    return false;
  }
}

const PUSH_PROPS = ['id', 'deviceClientId', 'verificationCode', 'expires', 'types'];
/**
 * PushSubscriptions one user may hold (a device needs one). Each create POSTs a PushVerification to its URL
 * and each change a push to every verified one: unbounded, a user could make the server send thousands of
 * requests to any https address. Past it a create is overQuota (RFC 8620 5.3).
 */
export const MAX_PUSH_SUBSCRIPTIONS_PER_USER = 50;
/** Expiry the server grants at most (RFC 8620 7.2: the server may shorten it). */
export const PUSH_MAX_LIFETIME_MS = 7 * 24 * 3600 * 1000;

function toObject(p: PushSubscriptionRecord, props: readonly string[]): Record<string, unknown> {
  const full: Record<string, unknown> = {
    id: p.id,
    deviceClientId: p.deviceClientId,
    verificationCode: p.verified ? p.verificationCode : null,
    expires: p.expires ? p.expires.toISOString().replace(/\.\d{3}Z$/, 'Z') : null,
    types: p.types,
  };
  return Object.fromEntries(props.map((k) => [k, full[k]]));
}

export async function pushSubscriptionGet(args: Args, call: Call): Promise<Args> {
  const all = await call.account.store.tokens.pushList(call.account.userId);
  const ids = getIds(args, call);
  let props = PUSH_PROPS;
  if (Array.isArray(args['properties'])) {
    props = args['properties'] as string[];
    for (const p of props) if (!PUSH_PROPS.includes(p)) invalid(`unknown property ${p}`);
    if (!props.includes('id')) props = ['id', ...props];
  }
  const list = (ids === null ? all : all.filter((p) => ids.includes(p.id))).map((p) => toObject(p, props));
  return { list, notFound: ids === null ? [] : ids.filter((i) => !all.some((p) => p.id === i)) };
}

export async function pushSubscriptionSet(args: Args, call: Call, onVerified: (p: PushSubscriptionRecord) => void): Promise<Args> {
  checkSetSize(args);
  const tokens = call.account.store.tokens;
  const userId = call.account.userId;
  const created: Record<string, unknown> = {};
  const notCreated: Record<string, SetError> = {};
  const updated: Record<string, unknown> = {};
  const notUpdated: Record<string, SetError> = {};
  const destroyed: string[] = [];
  const notDestroyed: Record<string, SetError> = {};
  const expiry = (v: unknown): Date => {
    const max = new Date(Date.now() + PUSH_MAX_LIFETIME_MS);
    if (v === undefined || v === null) return max;
    const d = typeof v === 'string' ? new Date(v) : new Date(NaN);
    if (Number.isNaN(d.getTime())) throw setError('invalidProperties', 'expires must be a UTCDate', ['expires']);
    return d > max ? max : d;
  };
  const typesOf = (v: unknown): string[] | null => {
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw setError('invalidProperties', 'types must be a list of type names', ['types']);
    return v as string[];
  };
  // Destroys are applied last, as RFC 8620 5.3 orders them, but they make room for the creates of the same call.
  const destroying = new Set(((args['destroy'] ?? []) as unknown[]).filter((x): x is string => typeof x === 'string'));
  const existing = await tokens.pushList(userId);
  let held = existing.filter((p) => !destroying.has(p.id)).length;
  for (const [cid, o] of Object.entries((args['create'] ?? {}) as Record<string, Record<string, unknown>>)) {
    try {
      if (held >= MAX_PUSH_SUBSCRIPTIONS_PER_USER) throw setError('overQuota', `at most ${MAX_PUSH_SUBSCRIPTIONS_PER_USER} push subscriptions per user`);
      if (typeof o['deviceClientId'] !== 'string' || o['deviceClientId'].length === 0 || o['deviceClientId'].length > 255) throw setError('invalidProperties', 'deviceClientId is required', ['deviceClientId']);
      if (typeof o['url'] !== 'string' || !pushUrlAllowed(o['url'])) throw setError('invalidProperties', 'url must be https (or http on loopback)', ['url']);
      const keysProblem = o['keys'] === undefined || o['keys'] === null ? null : pushKeysProblem(o['keys']);
      if (keysProblem) throw setError('invalidProperties', keysProblem, ['keys']);
      if (o['verificationCode'] !== undefined && o['verificationCode'] !== null) throw setError('forbidden', 'verificationCode is set by the server', ['verificationCode']);
      const rec: PushSubscriptionRecord = {
        id: 'P' + randomBytes(9).toString('hex'),
        userId,
        deviceClientId: o['deviceClientId'],
        url: o['url'],
        keys: o['keys'] ? { p256dh: String((o['keys'] as PushKeys).p256dh), auth: String((o['keys'] as PushKeys).auth) } : null,
        verificationCode: randomBytes(16).toString('hex'),
        verified: false,
        expires: expiry(o['expires']),
        types: typesOf(o['types']),
      };
      await tokens.pushPut(rec);
      held++;
      call.createdIds.set(cid, rec.id);
      created[cid] = { id: rec.id, expires: toObject(rec, ['expires'])['expires'] };
      // RFC 8620 7.2.2: the PushVerification goes to the URL once the subscription exists.
      void postPush(rec.url, { '@type': 'PushVerification', pushSubscriptionId: rec.id, verificationCode: rec.verificationCode }, rec.keys);
    } catch (e) {
      notCreated[cid] = e instanceof Error ? setError('serverFail', e.message) : (e as SetError);
    }
  }
  const all = await tokens.pushList(userId);
  for (const [rawId, patch] of Object.entries((args['update'] ?? {}) as Record<string, Record<string, unknown>>)) {
    const id = resolveId(call, rawId);
    const rec = all.find((p) => p.id === id);
    try {
      if (!rec) throw setError('notFound');
      const next = { ...rec };
      for (const [k, v] of Object.entries(patch)) {
        if (k === 'verificationCode') {
          if (v !== rec.verificationCode) throw setError('invalidProperties', 'wrong verification code', ['verificationCode']);
          next.verified = true;
        } else if (k === 'expires') next.expires = expiry(v);
        else if (k === 'types') next.types = typesOf(v);
        else throw setError('invalidProperties', `cannot change ${k}`, [k]);
      }
      await tokens.pushPut(next);
      if (next.verified) onVerified(next);
      updated[id] = 'expires' in patch ? { expires: toObject(next, ['expires'])['expires'] } : null;
    } catch (e) {
      notUpdated[id] = e instanceof Error ? setError('serverFail', e.message) : (e as SetError);
    }
  }
  for (const rawId of (args['destroy'] ?? []) as string[]) {
    const id = resolveId(call, rawId);
    if (await tokens.pushDelete(userId, id)) destroyed.push(id);
    else notDestroyed[id] = setError('notFound');
  }
  return { created, updated, destroyed, notCreated, notUpdated, notDestroyed };
}

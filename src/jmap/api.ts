/**
 * The JMAP API endpoint's request processing (RFC 8620 3.3-3.7): request validation (request-level
 * errors), the session limits, method calls in order with result references (3.7) and creation ids, and
 * method-level errors. Methods are registered in methods.ts; each is a function of (args, call).
 */
import type { User } from '../store/types.js';
import type { Account } from './account.js';
import { MethodError, RequestError } from './errors.js';
import type { JmapServer } from './server.js';
import type { SharedOwner } from './shared.js';

export const CAP = {
  core: 'urn:ietf:params:jmap:core',
  mail: 'urn:ietf:params:jmap:mail',
  submission: 'urn:ietf:params:jmap:submission',
  vacation: 'urn:ietf:params:jmap:vacationresponse',
  quota: 'urn:ietf:params:jmap:quota',
  websocket: 'urn:ietf:params:jmap:websocket',
  sieve: 'urn:ietf:params:jmap:sieve',
} as const;

/** The limits of the core capability (RFC 8620 2), enforced here and in the methods. */
export const LIMITS = {
  maxSizeUpload: 50_000_000,
  maxConcurrentUpload: 4,
  maxSizeRequest: 10_000_000,
  maxConcurrentRequests: 4,
  maxCallsInRequest: 32,
  maxObjectsInGet: 1000,
  maxObjectsInSet: 1000,
  collationAlgorithms: ['i;ascii-numeric', 'i;ascii-casemap', 'i;unicode-casemap'],
} as const;

export type Args = Record<string, unknown>;
export type Invocation = [string, Args, string];

export interface Call {
  server: JmapServer;
  user: User;
  account: Account;
  using: ReadonlySet<string>;
  /** Creation id -> server id, shared by the whole request (RFC 8620 3.3 createdIds). */
  createdIds: Map<string, string>;
  /** Responses to add after this method's own (implicit calls such as onSuccessUpdateEmail). */
  follow: Array<Invocation>;
  callId: string;
  /** The client's address (trace fields). */
  remoteAddress: string;
  /** The owners sharing mailboxes with the user, read once per request (shared.ts). */
  owners: ReadonlyMap<number, SharedOwner>;
}

export type Method = (args: Args, call: Call) => Promise<Args>;

export interface MethodSpec {
  fn: Method;
  /** Capability the request must use for this method. */
  cap: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Deepest nesting of arrays and objects accepted in a request. JSON.parse takes any depth, but the code that
 * walks arguments and JSON.stringify of the response recurse: a request nested 100 000 deep would overflow the
 * stack and end as a 500. No JMAP object comes near this (filters stop at 16, body structures at MIME_MAX_DEPTH).
 */
export const MAX_REQUEST_DEPTH = 256;

/** True when `v` nests arrays/objects deeper than `max` levels (iterative: safe at any depth). */
function nestedDeeper(v: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[v, 1]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (d > max) return true;
    for (const y of Array.isArray(x) ? x : Object.values(x)) if (typeof y === 'object' && y !== null) stack.push([y, d + 1]);
  }
  return false;
}

/** Checks the shape of a Request object (RFC 8620 3.3); throws RequestError. */
export function parseRequest(body: unknown, known: ReadonlySet<string>): { using: Set<string>; calls: Invocation[]; createdIds: Record<string, string> | null } {
  if (!isObject(body)) throw new RequestError('notRequest', 400, 'the request is not a JSON object');
  if (nestedDeeper(body, MAX_REQUEST_DEPTH)) throw new RequestError('notRequest', 400, `the request nests arrays and objects deeper than ${MAX_REQUEST_DEPTH} levels`);
  const using = body['using'];
  const calls = body['methodCalls'];
  if (!Array.isArray(using) || !using.every((u) => typeof u === 'string')) throw new RequestError('notRequest', 400, '"using" must be an array of strings');
  if (!Array.isArray(calls)) throw new RequestError('notRequest', 400, '"methodCalls" must be an array');
  for (const c of calls) {
    if (!Array.isArray(c) || c.length !== 3 || typeof c[0] !== 'string' || !isObject(c[1]) || typeof c[2] !== 'string') {
      throw new RequestError('notRequest', 400, 'each method call must be [name, arguments object, method call id]');
    }
  }
  const cid = body['createdIds'];
  if (cid !== undefined && (!isObject(cid) || !Object.values(cid).every((v) => typeof v === 'string'))) throw new RequestError('notRequest', 400, '"createdIds" must map ids to ids');
  for (const u of using as string[]) if (!known.has(u)) throw new RequestError('unknownCapability', 400, `unknown capability: ${u}`);
  if (calls.length > LIMITS.maxCallsInRequest) throw new RequestError('limit', 400, `at most ${LIMITS.maxCallsInRequest} method calls per request`, 'maxCallsInRequest');
  return { using: new Set(using as string[]), calls: calls as Invocation[], createdIds: (cid as Record<string, string> | undefined) ?? null };
}

/** JSON Pointer (RFC 6901) with JMAP's "*" array mapping (RFC 8620 3.7). Returns undefined when it does not resolve. */
export function evalPointer(value: unknown, path: string): unknown {
  if (path === '') return value;
  if (!path.startsWith('/')) return undefined;
  const tokens = path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  // walk() recurses once per token; no response nests this deep, so such a path resolves to nothing.
  if (tokens.length > MAX_REQUEST_DEPTH * 4) return undefined;
  const walk = (v: unknown, i: number): unknown => {
    if (i === tokens.length) return v;
    const t = tokens[i]!;
    if (Array.isArray(v)) {
      if (t === '*') {
        const out: unknown[] = [];
        for (const item of v) {
          const r = walk(item, i + 1);
          if (r === undefined) return undefined;
          if (Array.isArray(r)) out.push(...r);
          else out.push(r);
        }
        return out;
      }
      if (!/^(0|[1-9]\d*)$/.test(t)) return undefined;
      const n = Number(t);
      return n < v.length ? walk(v[n], i + 1) : undefined;
    }
    if (isObject(v)) return Object.prototype.hasOwnProperty.call(v, t) ? walk(v[t], i + 1) : undefined;
    return undefined;
  };
  return walk(value, 0);
}

/**
 * Most JSON text that the values of result references may add to one request's arguments, all references
 * together. A resolved value is the earlier response itself, not a copy, so a few calls that each reference
 * the previous response twice (Core/echo) double the response with every call: 2^31 copies from 32 calls.
 * Real references carry id lists; the request size limit is far above those.
 */
export const MAX_REFERENCED_JSON = LIMITS.maxSizeRequest;

/**
 * The length of `v` as JSON (close to it: numbers and escapes are counted short), or Infinity once it passes
 * `max`. Iterative and stops at `max`, so a value that shares its parts many times costs at most `max` steps.
 */
export function jsonSizeWithin(v: unknown, max: number): number {
  let n = 0;
  const stack: unknown[] = [v];
  while (stack.length) {
    const x = stack.pop();
    if (typeof x === 'string') n += x.length + 3;
    else if (typeof x !== 'object' || x === null) n += 6;
    else if (Array.isArray(x)) {
      n += 2 + x.length;
      for (const y of x) stack.push(y);
    } else {
      n += 2;
      for (const [k, y] of Object.entries(x)) {
        n += k.length + 4;
        stack.push(y);
      }
    }
    if (n > max) return Infinity;
  }
  return n;
}

/**
 * Replaces "#name" arguments by the values their ResultReferences point at (RFC 8620 3.7). `budget.left` is
 * what the resolved values of this request may still amount to (MAX_REFERENCED_JSON); past it the call is
 * refused with requestTooLarge.
 */
export function resolveReferences(args: Args, responses: readonly Invocation[], budget: { left: number } = { left: MAX_REFERENCED_JSON }): Args {
  const out: Args = {};
  for (const [k, v] of Object.entries(args)) {
    if (!k.startsWith('#')) {
      if (Object.prototype.hasOwnProperty.call(args, '#' + k)) throw new MethodError('invalidArguments', `both ${k} and #${k} given`);
      out[k] = v;
      continue;
    }
    if (!isObject(v) || typeof v['resultOf'] !== 'string' || typeof v['name'] !== 'string' || typeof v['path'] !== 'string') {
      throw new MethodError('invalidResultReference', `#${k.slice(1)} is not a ResultReference`);
    }
    const src = responses.find((r) => r[2] === v['resultOf']);
    if (!src) throw new MethodError('invalidResultReference', `no response with method call id ${String(v['resultOf'])}`);
    if (src[0] !== v['name']) throw new MethodError('invalidResultReference', `the response ${String(v['resultOf'])} is ${src[0]}, not ${String(v['name'])}`);
    const val = evalPointer(src[1], v['path']);
    if (val === undefined) throw new MethodError('invalidResultReference', `path ${v['path']} does not resolve`);
    const size = jsonSizeWithin(val, budget.left);
    if (size === Infinity) throw new MethodError('requestTooLarge', `the values of the result references in this request exceed ${MAX_REFERENCED_JSON} octets`);
    budget.left -= size;
    out[k.slice(1)] = val;
  }
  return out;
}

/** Runs the method calls of one request; returns the Response object (RFC 8620 3.4). */
export async function runRequest(server: JmapServer, user: User, account: Account, body: unknown, remoteAddress = ''): Promise<Args> {
  const req = parseRequest(body, server.capabilityNames);
  const createdIds = new Map<string, string>(Object.entries(req.createdIds ?? {}));
  const responses: Invocation[] = [];
  // One sync per request and account: methods that change mail sync again themselves.
  await account.sync();
  const owners = await server.sharedOwners(user);
  const synced = new Set<Account>([account]);
  const references = { left: MAX_REFERENCED_JSON };
  for (const [name, rawArgs, callId] of req.calls) {
    const call: Call = { server, user, account, using: req.using, createdIds, follow: [], callId, remoteAddress, owners };
    try {
      const spec = server.methods.get(name);
      if (!spec || !req.using.has(spec.cap) || !req.using.has(CAP.core)) throw new MethodError('unknownMethod', `unknown method ${name}`);
      const args = resolveReferences(rawArgs, responses, references);
      if ('accountId' in args && args['accountId'] !== account.accountId) {
        const other = typeof args['accountId'] === 'string' ? await server.accountFor(user, args['accountId'], owners) : null;
        if (!other) throw new MethodError('accountNotFound', `no account ${String(args['accountId'])}`);
        // A shared account offers only the mail capability (shared.ts).
        if (spec.cap !== CAP.mail) throw new MethodError('accountNotSupportedByMethod', `${name} is not available on a shared account`);
        if (!synced.has(other)) {
          await other.sync();
          synced.add(other);
        }
        call.account = other;
      }
      const result = await spec.fn(args, call);
      responses.push([name, result, callId], ...call.follow);
    } catch (e) {
      if (e instanceof MethodError) responses.push(['error', e.toJSON(), callId]);
      else {
        server.ctx.logger.error({ err: e, method: name }, 'JMAP method failed');
        responses.push(['error', { type: 'serverFail', description: 'internal error' }, callId]);
      }
    }
  }
  await account.flushSnapshots();
  const out: Args = { methodResponses: responses, sessionState: server.sessionState(user, owners) };
  if (req.createdIds !== null) out['createdIds'] = Object.fromEntries(createdIds);
  return out;
}

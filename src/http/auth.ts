/**
 * Request authentication for every HTTP plugin (the contract in BRIEF/types.ts):
 *  - `Authorization: Basic` with the account password, checked by the Authenticator, so it is throttled
 *    exactly like IMAP LOGIN (per address, per address and user, per user). Refused over cleartext HTTP
 *    from anywhere but loopback, as IMAP refuses LOGIN without TLS (LOGINDISABLED).
 *  - `Authorization: Bearer <token>`: an app or session token (store.tokens).
 *  - the web session: cookie `mr_session` holding a session token. A request so authenticated with an
 *    unsafe method (anything but GET, HEAD, OPTIONS) must carry header `X-CSRF-Token` equal to the cookie
 *    `mr_csrf` (double submit), else it is refused with 403.
 * Failed token and cookie checks count as failures of the source address (Authenticator.recordFailure),
 * so guessing tokens is throttled too.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { User } from '../store/types.js';
import { isLoopback } from '../lib/service.js';
import type { HttpContext } from './types.js';

export const SESSION_COOKIE = 'mr_session';
export const CSRF_COOKIE = 'mr_csrf';
export const CSRF_HEADER = 'x-csrf-token';
export const BASIC_REALM = 'mailroom';

export interface Authed {
  user: User;
  via: 'basic' | 'bearer' | 'cookie';
  /** The token used (bearer and cookie). */
  tokenId: string | null;
}

export type AuthOutcome =
  | { ok: true; auth: Authed }
  | { ok: false; status: 401 | 403 | 429 | 503; reason: 'missing' | 'bad-credentials' | 'throttled' | 'temporary' | 'csrf' | 'insecure' };

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const authed = new WeakMap<FastifyRequest, Authed>();

/** True when the request came over TLS or from loopback. */
export function isSecureRequest(req: FastifyRequest): boolean {
  return req.protocol === 'https' || isLoopback(req.socket.remoteAddress);
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks the request's credentials (see the header). Does not reply. */
export async function authenticate(req: FastifyRequest, ctx: HttpContext): Promise<AuthOutcome> {
  const known = authed.get(req);
  if (known) return { ok: true, auth: known };
  const ip = req.socket.remoteAddress ?? '';
  const header = req.headers.authorization;
  const fail = async (user: string): Promise<AuthOutcome> => {
    await ctx.auth.recordFailure(ip, user);
    return { ok: false, status: 401, reason: 'bad-credentials' };
  };
  const done = (a: Authed): AuthOutcome => {
    authed.set(req, a);
    return { ok: true, auth: a };
  };
  const byToken = async (secret: string, via: 'bearer' | 'cookie'): Promise<AuthOutcome> => {
    let t;
    try {
      t = await ctx.store.tokens.verify(secret);
    } catch {
      return { ok: false, status: 503, reason: 'temporary' };
    }
    if (!t || (via === 'cookie' && t.kind !== 'session')) return fail('');
    const user = await ctx.store.directory.getUserById(t.userId);
    if (!user) return fail('');
    return done({ user, via, tokenId: t.id });
  };
  if (typeof header === 'string' && header.length > 0) {
    const sp = header.indexOf(' ');
    const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
    const value = sp < 0 ? '' : header.slice(sp + 1).trim();
    if (scheme === 'bearer') return byToken(value, 'bearer');
    if (scheme === 'basic') {
      if (!isSecureRequest(req)) return { ok: false, status: 403, reason: 'insecure' };
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return fail('');
      const r = await ctx.auth.verify(decoded.slice(0, colon), decoded.slice(colon + 1), { remoteAddress: ip });
      if (r.ok) return done({ user: r.user, via: 'basic', tokenId: null });
      if (r.reason === 'throttled') return { ok: false, status: 429, reason: 'throttled' };
      if (r.reason === 'temporary') return { ok: false, status: 503, reason: 'temporary' };
      return { ok: false, status: 401, reason: 'bad-credentials' };
    }
    return { ok: false, status: 401, reason: 'missing' };
  }
  const cookies = (req as FastifyRequest & { cookies?: Record<string, string | undefined> }).cookies ?? {};
  const session = cookies[SESSION_COOKIE];
  if (typeof session === 'string' && session.length > 0) {
    if (!SAFE_METHODS.has(req.method)) {
      const sent = req.headers[CSRF_HEADER];
      const csrf = cookies[CSRF_COOKIE];
      if (typeof sent !== 'string' || typeof csrf !== 'string' || csrf.length === 0 || !sameString(sent, csrf)) {
        return { ok: false, status: 403, reason: 'csrf' };
      }
    }
    return byToken(session, 'cookie');
  }
  return { ok: false, status: 401, reason: 'missing' };
}

/** The authentication of a request that passed requireAuth (or authenticate), else null. */
export function requestAuth(req: FastifyRequest): Authed | null {
  return authed.get(req) ?? null;
}

/** Replies to a failed authentication: 401 with the challenges, 403, 429 or 503, with a JSON problem body. */
export function replyAuthFailure(reply: FastifyReply, out: Exclude<AuthOutcome, { ok: true }>): FastifyReply {
  // The webmail's requests (they carry X-CSRF-Token, possibly empty) get no challenge: a Basic challenge would
  // make the browser open its own password dialog over the page instead of its sign-in form.
  const fromWebmail = reply.request.headers[CSRF_HEADER] !== undefined;
  if (out.status === 401 && !fromWebmail) void reply.header('WWW-Authenticate', `Basic realm="${BASIC_REALM}", charset="UTF-8", Bearer realm="${BASIC_REALM}"`);
  if (out.status === 429) void reply.header('Retry-After', '10');
  const detail: Record<typeof out.reason, string> = {
    missing: 'authentication required',
    'bad-credentials': 'invalid credentials',
    throttled: 'too many failed attempts; try again later',
    temporary: 'temporary failure; try again later',
    csrf: 'missing or wrong X-CSRF-Token header',
    insecure: 'passwords are only accepted over HTTPS',
  };
  return reply
    .code(out.status)
    .type('application/problem+json')
    .send({ type: 'about:blank', status: out.status, detail: detail[out.reason] });
}

/** A Fastify onRequest or preHandler hook: authenticates or replies with the failure (as onRequest, before any body is read). */
export function requireAuth(ctx: HttpContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const out = await authenticate(req, ctx);
    if (!out.ok) await replyAuthFailure(reply, out);
  };
}

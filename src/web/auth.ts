/**
 * Web sessions. Sign-in (session.ts) creates a session token in store.tokens and sets two cookies:
 *   mr_session  the token secret; HttpOnly, SameSite=Strict, Secure on HTTPS, Path=/
 *   mr_csrf     a random value the page reads and sends back as X-CSRF-Token on unsafe requests (double
 *               submit: another site can neither read it nor set the header)
 * Requests are authenticated by the listener's one request authentication (src/http/auth.ts): the cookie
 * with the CSRF check, a bearer token or HTTP Basic. needUser() answers the refusal itself.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { HttpContext } from '../http/types.js';
import { authenticate, CSRF_COOKIE, SESSION_COOKIE, type Authed } from '../http/auth.js';

export function isSecure(req: FastifyRequest): boolean {
  return req.protocol === 'https';
}

function cookie(name: string, value: string, opts: { httpOnly: boolean; secure: boolean; maxAge: number }): string {
  return `${name}=${encodeURIComponent(value)}; Path=/; Max-Age=${opts.maxAge}; SameSite=Strict${opts.httpOnly ? '; HttpOnly' : ''}${opts.secure ? '; Secure' : ''}`;
}

export function setSessionCookies(req: FastifyRequest, reply: FastifyReply, secret: string, csrf: string, ttlMs: number): void {
  const secure = isSecure(req);
  const maxAge = Math.max(0, Math.floor(ttlMs / 1000));
  reply.header('set-cookie', [cookie(SESSION_COOKIE, secret, { httpOnly: true, secure, maxAge }), cookie(CSRF_COOKIE, csrf, { httpOnly: false, secure, maxAge })]);
}

export function clearSessionCookies(req: FastifyRequest, reply: FastifyReply): void {
  const secure = isSecure(req);
  reply.header('set-cookie', [cookie(SESSION_COOKIE, '', { httpOnly: true, secure, maxAge: 0 }), cookie(CSRF_COOKIE, '', { httpOnly: false, secure, maxAge: 0 })]);
}

export function newCsrfValue(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * The request's authentication, or null after replying 401/403/429/503. The web API's 401 carries no
 * WWW-Authenticate challenge: a Basic challenge would make browsers open their own password dialog over the
 * page instead of letting it show the sign-in form.
 */
export async function needUser(ctx: HttpContext, req: FastifyRequest, reply: FastifyReply): Promise<Authed | null> {
  const out = await authenticate(req, ctx);
  if (out.ok) return out.auth;
  if (out.status === 429) void reply.header('retry-after', '10');
  await reply.code(out.status).type('application/problem+json').send({ type: 'about:blank', status: out.status, detail: out.reason, error: out.reason });
  return null;
}

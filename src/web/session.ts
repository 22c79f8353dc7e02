/**
 * /api/session (sign in, who am I, sign out), /api/password, /api/tokens (app tokens), /api/render (HTML mail
 * sanitized for the reading pane) and /api/client-settings. JSON in and out.
 */
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../http/types.js';
import { hashPassword } from '../auth/index.js';
import { isAdmin } from '../store/directory.js';
import { authenticate } from '../http/auth.js';
import { clearSessionCookies, needUser, newCsrfValue, setSessionCookies } from './auth.js';
import { renderDocument, sanitizeMailHtml } from './sanitize.js';
import { API_PATH, SESSION_PATH, accountIdOf } from '../jmap/server.js';
import type { User } from '../store/types.js';

/**
 * What the webmail needs for its first request, given with the sign-in answer so that the first paint is one
 * JMAP request (folders and the first page of INBOX together) instead of session, folders, then the page.
 */
async function mailStart(ctx: HttpContext, user: User) {
  const inbox = await ctx.store.mail.getMailbox(user.id, 'INBOX');
  return { jmap: { sessionUrl: SESSION_PATH, apiUrl: API_PATH, accountId: accountIdOf(user.id) }, inboxId: inbox?.mailboxObjectId ?? null };
}

export interface WebOptions {
  /** Lifetime of a web session. Default 12 hours. */
  sessionTtlMs?: number;
}

/** Longest accepted password (the directory hashes it; bounds the work of one request). */
const MAX_PASSWORD = 1024;
/** Web sessions one user keeps: a sign-in past it ends the oldest (and always removes expired ones). */
export const MAX_SESSIONS_PER_USER = 50;
/** App tokens (Bearer) one user may hold; more are refused until one is revoked. */
export const MAX_APP_TOKENS_PER_USER = 100;

function str(v: unknown, max = 2048): string | null {
  return typeof v === 'string' && v.length <= max ? v : null;
}

/** Before a sign-in: removes the user's expired sessions and the oldest beyond MAX_SESSIONS_PER_USER - 1. */
async function pruneSessions(ctx: HttpContext, userId: number): Promise<void> {
  const now = Date.now();
  const sessions = (await ctx.store.tokens.list(userId)).filter((t) => t.kind === 'session').sort((x, y) => x.createdAt.getTime() - y.createdAt.getTime());
  const expired = sessions.filter((t) => t.expiresAt !== null && t.expiresAt.getTime() <= now);
  const live = sessions.filter((t) => !expired.includes(t));
  const gone = [...expired, ...live.slice(0, Math.max(0, live.length - (MAX_SESSIONS_PER_USER - 1)))];
  for (const t of gone) await ctx.store.tokens.revoke(userId, t.id);
}

export function registerSessionRoutes(app: FastifyInstance, ctx: HttpContext, opts: WebOptions): void {
  const ttl = opts.sessionTtlMs ?? 12 * 3600 * 1000;

  app.post('/api/session', async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const email = str(body.email, 320);
    const password = str(body.password, MAX_PASSWORD);
    if (!email || password === null) return reply.code(400).send({ error: 'email and password are required' });
    const r = await ctx.auth.verify(email, password, { remoteAddress: req.ip });
    if (!r.ok) {
      if (r.reason === 'throttled') return reply.code(429).send({ error: 'too many failed sign-ins; try again later' });
      if (r.reason === 'temporary') return reply.code(503).send({ error: 'temporary failure; try again' });
      return reply.code(401).send({ error: 'wrong email address or password' });
    }
    await pruneSessions(ctx, r.user.id);
    const { secret } = await ctx.store.tokens.create(r.user.id, { name: `web session ${req.ip}`, kind: 'session', expiresAt: new Date(Date.now() + ttl) });
    const csrf = newCsrfValue();
    setSessionCookies(req, reply, secret, csrf, ttl);
    ctx.logger.info({ user: r.user.address, ip: req.ip }, 'web sign-in');
    return { address: r.user.address, admin: isAdmin(r.user), csrf, expiresIn: Math.floor(ttl / 1000), ...(await mailStart(ctx, r.user)) };
  });

  app.get('/api/session', async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    return { address: a.user.address, admin: isAdmin(a.user), ...(await mailStart(ctx, a.user)) };
  });

  app.delete('/api/session', async (req, reply) => {
    const out = await authenticate(req, ctx);
    if (!out.ok && out.reason === 'csrf') return reply.code(403).send({ error: 'missing or wrong X-CSRF-Token header' });
    if (out.ok && out.auth.via === 'cookie' && out.auth.tokenId !== null) await ctx.store.tokens.revoke(out.auth.user.id, out.auth.tokenId);
    clearSessionCookies(req, reply);
    return { signedOut: true };
  });

  app.post('/api/password', async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const current = str(body.current, MAX_PASSWORD);
    const next = str(body.next, MAX_PASSWORD);
    if (current === null || next === null) return reply.code(400).send({ error: 'current and next are required' });
    if (next.length < 8) return reply.code(400).send({ error: 'the new password needs at least 8 characters' });
    const r = await ctx.auth.verify(a.user.address, current, { remoteAddress: req.ip });
    if (!r.ok) return reply.code(r.reason === 'throttled' ? 429 : 403).send({ error: 'the current password is wrong' });
    await ctx.store.directory.setPasswordHash(a.user.address, await hashPassword(next));
    ctx.auth.forgetCached(a.user.address);
    return { changed: true };
  });

  app.get('/api/tokens', async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    const list = (await ctx.store.tokens.list(a.user.id)).filter((t) => t.kind !== 'session');
    return { tokens: list.map((t) => ({ id: String(t.id), name: t.name ?? '', createdAt: t.createdAt ?? null, expiresAt: t.expiresAt ?? null })) };
  });

  app.post('/api/tokens', async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    const name = str(((req.body ?? {}) as Record<string, unknown>).name, 100)?.trim();
    if (!name) return reply.code(400).send({ error: 'a name (1-100 characters) is required' });
    const held = (await ctx.store.tokens.list(a.user.id)).filter((x) => x.kind === 'app').length;
    if (held >= MAX_APP_TOKENS_PER_USER) return reply.code(409).send({ error: `at most ${MAX_APP_TOKENS_PER_USER} app tokens; revoke one first` });
    const t = await ctx.store.tokens.create(a.user.id, { name, kind: 'app' });
    return { id: String(t.id), name, secret: t.secret };
  });

  app.delete<{ Params: { id: string } }>('/api/tokens/:id', async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    const tokens = ctx.store.tokens;
    const mine = (await tokens.list(a.user.id)).find((t) => String(t.id) === req.params.id && t.kind !== 'session');
    if (!mine) return reply.code(404).send({ error: 'no such token' });
    await tokens.revoke(a.user.id, mine.id);
    return { revoked: true };
  });

  app.post('/api/render', { bodyLimit: 16 * 1024 * 1024 }, async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body.html !== 'string') return reply.code(400).send({ error: 'html is required' });
    const remote = body.remoteImages === true;
    const s = sanitizeMailHtml(body.html, { remoteImages: remote });
    return { document: renderDocument(s, remote), blockedImages: s.blockedImages };
  });

  app.get('/api/client-settings', async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    return { hostname: ctx.hostname, address: a.user.address, listeners: ctx.listeners() };
  });
}

/**
 * Self-service settings API for the signed-in user: quota usage, the Sieve filter script (raw mode: the
 * active script, saved under the name "webmail" and activated; validated by the Sieve compiler), the rule
 * editor and forwarding (filters.ts, written into that same script) and the vacation reply (store.sieve's vacation
 * setting, applied by the Sieve delivery stage).
 */
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../http/types.js';
import { DEFAULT_SIEVE_QUOTA } from '../store/sieve.js';
import { isStoreError } from '../store/types.js';
import { needUser } from './auth.js';
import { compileSieve, formatCompileError } from '../sieve/index.js';
import { FilterError, generateSieve, parseFilterSet, readFilterSet } from './filters.js';

export const WEB_SCRIPT = 'webmail';

function date(v: unknown): Date | null | undefined {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v !== 'string') return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

type Saved = { ok: true; name: string } | { ok: false; status: number; error: string };

/**
 * Validates `content` with the Sieve compiler delivery uses (so a saved script always runs) and stores it as
 * the active script (the one active now, or "webmail", activated).
 */
async function saveScript(ctx: HttpContext, userId: number, content: string): Promise<Saved> {
  const compiled = compileSieve(content);
  if (!compiled.ok) return { ok: false, status: 400, error: compiled.errors.slice(0, 5).map((e) => formatCompileError(e)).join('; ') };
  const active = await ctx.store.sieve.getActiveScript(userId);
  const name = active?.name ?? WEB_SCRIPT;
  let r;
  try {
    r = await ctx.store.sieve.putScript(userId, name, content, DEFAULT_SIEVE_QUOTA);
  } catch (e) {
    if (isStoreError(e, 'INVALID')) return { ok: false, status: 400, error: (e as Error).message };
    throw e;
  }
  if (r !== 'ok') return { ok: false, status: 413, error: `over the script quota (${String(r)})` };
  if (!active) await ctx.store.sieve.setActive(userId, name);
  return { ok: true, name };
}

export function registerSettingsRoutes(app: FastifyInstance, ctx: HttpContext): void {
  app.get('/api/quota', async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    return { usage: await ctx.store.quota.usage(a.user.id), limits: await ctx.store.quota.limits(a.user.id) };
  });

  app.get('/api/sieve', async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    const s = await ctx.store.sieve.getActiveScript(a.user.id);
    return { name: s?.name ?? null, content: s?.content ?? '' };
  });

  app.put('/api/sieve', { bodyLimit: 2 * 1024 * 1024 }, async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    const content = ((req.body ?? {}) as Record<string, unknown>).content;
    if (typeof content !== 'string') return reply.code(400).send({ error: 'content is required' });
    const r = await saveScript(ctx, a.user.id, content);
    return r.ok ? { name: r.name, saved: true } : reply.code(r.status).send({ error: r.error });
  });

  app.get('/api/filters', async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    const s = await ctx.store.sieve.getActiveScript(a.user.id);
    const back = readFilterSet(s?.content ?? '');
    const folders = (await ctx.store.mail.listMailboxes(a.user.id)).map((m) => m.name).sort();
    return { ...back.set, managed: back.managed, handEdited: back.handEdited, folders };
  });

  app.put('/api/filters', async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    let set;
    try {
      set = parseFilterSet(req.body);
    } catch (e) {
      if (e instanceof FilterError) return reply.code(400).send({ error: e.message });
      throw e;
    }
    const content = generateSieve(set);
    const r = await saveScript(ctx, a.user.id, content);
    return r.ok ? { name: r.name, saved: true, script: content } : reply.code(r.status).send({ error: r.error });
  });

  app.get('/api/vacation', async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    return await ctx.store.sieve.getVacation(a.user.id);
  });

  app.put('/api/vacation', async (req, reply) => {
    const a = await needUser(ctx, req, reply);
    if (!a) return reply;
    const b = (req.body ?? {}) as Record<string, unknown>;
    const fromDate = date(b.fromDate);
    const toDate = date(b.toDate);
    if (typeof b.enabled !== 'boolean' || typeof b.subject !== 'string' || typeof b.textBody !== 'string' || fromDate === undefined || toDate === undefined) {
      return reply.code(400).send({ error: 'enabled, subject, textBody (and optional ISO fromDate, toDate) are required' });
    }
    try {
      await ctx.store.sieve.setVacation(a.user.id, { enabled: b.enabled, subject: b.subject.slice(0, 500), textBody: b.textBody.slice(0, 100_000), fromDate, toDate });
    } catch (e) {
      if (isStoreError(e, 'INVALID')) return reply.code(400).send({ error: (e as Error).message });
      throw e;
    }
    return { saved: true };
  });
}

/**
 * Self-service settings API for the signed-in user: quota usage, the Sieve filter script (raw mode: the
 * active script, saved under the name "webmail" and activated) and the vacation reply (store.sieve's vacation
 * setting, applied by the Sieve delivery stage).
 */
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../http/types.js';
import { DEFAULT_SIEVE_QUOTA } from '../store/sieve.js';
import { isStoreError } from '../store/types.js';
import { needUser } from './auth.js';

export const WEB_SCRIPT = 'webmail';

function date(v: unknown): Date | null | undefined {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v !== 'string') return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
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
    const active = await ctx.store.sieve.getActiveScript(a.user.id);
    const name = active?.name ?? WEB_SCRIPT;
    let r;
    try {
      r = await ctx.store.sieve.putScript(a.user.id, name, content, DEFAULT_SIEVE_QUOTA);
    } catch (e) {
      if (isStoreError(e, 'INVALID')) return reply.code(400).send({ error: (e as Error).message });
      throw e;
    }
    if (r !== 'ok') return reply.code(413).send({ error: `over the script quota (${String(r)})` });
    if (!active) await ctx.store.sieve.setActive(a.user.id, name);
    return { name, saved: true };
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

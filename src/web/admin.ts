/**
 * The admin API (/api/admin/*, administrator role only; JSON): users, domains with the DNS records to publish,
 * aliases, the outbound queue (list, retry now, delete, bounce to the sender), status with the last hour's
 * samples (status-history.ts). /metrics is served here
 * too: to loopback clients, or to administrators from anywhere.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpContext } from '../http/types.js';
import { hashPassword } from '../auth/index.js';
import { isAdmin } from '../store/directory.js';
import { isStoreError } from '../store/types.js';
import { createUserWithDomain, isValidAddress } from '../server/mailroom.js';
import { generatePassword } from '../cli/user.js';
import { buildDsn } from '../delivery/dsn.js';
import { domainDnsRecords, ensureDomainKey, formatZoneLine } from '../mailauth/index.js';
import { metrics, metricsText, recentLog, serverTotals, type RecentLine } from '../lib/metrics.js';
import type { Authed } from '../http/auth.js';
import { needUser } from './auth.js';
import { StatusHistory } from './status-history.js';
import { addressKey } from '../lib/ascii.js';

/** The records a domain needs in DNS (MX, SPF, DKIM per key, DMARC), each with its zone-file line. */
async function domainRecords(ctx: HttpContext, domain: string) {
  return (await domainDnsRecords(ctx.store, domain, ctx.hostname)).map((r) => ({ ...r, zone: formatZoneLine(r) }));
}

function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}

async function needAdmin(ctx: HttpContext, req: FastifyRequest, reply: FastifyReply): Promise<Authed | null> {
  const a = await needUser(ctx, req, reply);
  if (!a) return null;
  if (!isAdmin(a.user)) {
    await reply.code(403).send({ error: 'administrators only' });
    return null;
  }
  return a;
}

function storeFailure(reply: FastifyReply, e: unknown): FastifyReply {
  if (isStoreError(e, 'NOT_FOUND')) return reply.code(404).send({ error: 'not found' });
  if (isStoreError(e, 'EXISTS')) return reply.code(409).send({ error: 'already exists' });
  if (isStoreError(e, 'INVALID')) return reply.code(400).send({ error: (e as Error).message });
  throw e;
}

export function registerAdminRoutes(app: FastifyInstance, ctx: HttpContext, history: StatusHistory = new StatusHistory(ctx.store)): void {
  const d = ctx.store.directory;
  app.addHook('onReady', async () => history.start());
  app.addHook('onClose', async () => history.stop());
  type P = { Params: { address: string } };

  app.get('/metrics', async (req, reply) => {
    if (!isLoopback(req.socket.remoteAddress ?? '')) {
      const a = await needAdmin(ctx, req, reply);
      if (!a) return reply;
    }
    metrics.queueLength.set((await ctx.store.queue.list()).length);
    reply.header('content-type', metrics.registry.contentType);
    return metricsText();
  });

  app.register(async (api) => {
    api.addHook('preHandler', async (req, reply) => {
      const a = await needAdmin(ctx, req, reply);
      if (!a) return reply;
    });

    api.get('/api/admin/users', async () => {
      const q = ctx.store.quota;
      const users = await d.listUsers();
      return {
        users: await Promise.all(
          users.map(async (u) => ({
            id: u.id,
            address: u.address,
            admin: isAdmin(u),
            createdAt: u.createdAt,
            quota: { usage: await q.usage(u.id), limits: await q.limits(u.id) },
          })),
        ),
      };
    });

    api.post('/api/admin/users', async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const address = typeof body.address === 'string' ? addressKey(body.address) : '';
      if (!isValidAddress(address)) return reply.code(400).send({ error: 'invalid address' });
      const password = typeof body.password === 'string' && body.password.length >= 8 ? body.password : generatePassword();
      try {
        await createUserWithDomain(d, address, password);
        if (body.admin === true) await d.setAdmin(address, true);
      } catch (e) {
        return storeFailure(reply, e);
      }
      return reply.code(201).send({ address, admin: body.admin === true, password: typeof body.password === 'string' ? undefined : password });
    });

    api.delete<P>('/api/admin/users/:address', async (req, reply) => {
      try {
        await d.deleteUser(req.params.address);
      } catch (e) {
        return storeFailure(reply, e);
      }
      ctx.auth.forgetCached(addressKey(req.params.address));
      return { deleted: addressKey(req.params.address) };
    });

    api.post<P>('/api/admin/users/:address/password', async (req, reply) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const password = typeof body.password === 'string' && body.password.length >= 8 ? body.password : generatePassword();
      try {
        await d.setPasswordHash(req.params.address, await hashPassword(password));
      } catch (e) {
        return storeFailure(reply, e);
      }
      ctx.auth.forgetCached(addressKey(req.params.address));
      return { address: addressKey(req.params.address), password: typeof body.password === 'string' ? undefined : password };
    });

    api.post<P>('/api/admin/users/:address/admin', async (req, reply) => {
      const on = ((req.body ?? {}) as Record<string, unknown>).admin;
      if (typeof on !== 'boolean') return reply.code(400).send({ error: 'admin: true or false is required' });
      try {
        await d.setAdmin(req.params.address, on);
      } catch (e) {
        return storeFailure(reply, e);
      }
      return { address: addressKey(req.params.address), admin: on };
    });

    api.put<P>('/api/admin/users/:address/quota', async (req, reply) => {
      const q = ctx.store.quota;
      const u = await d.getUser(req.params.address);
      if (!u) return reply.code(404).send({ error: 'not found' });
      const body = (req.body ?? {}) as Record<string, unknown>;
      const lim = (v: unknown): number | null | undefined => (v === null ? null : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
      await q.setLimits(u.id, { storage: lim(body.storage), messages: lim(body.messages) });
      return { address: u.address, limits: await q.limits(u.id) };
    });

    api.get('/api/admin/domains', async () => ({
      domains: await Promise.all((await d.listDomains()).map(async (name) => ({ name, records: await domainRecords(ctx, name) }))),
    }));

    api.post('/api/admin/domains', async (req, reply) => {
      const name = ((req.body ?? {}) as Record<string, unknown>).name;
      const domain = typeof name === 'string' ? addressKey(name) : '';
      if (!/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(domain)) {
        return reply.code(400).send({ error: 'invalid domain' });
      }
      await d.addDomain(domain);
      // A new domain gets its DKIM key at once, so the records to publish are complete.
      await ensureDomainKey(ctx.store.dkim, domain);
      return reply.code(201).send({ name: domain, records: await domainRecords(ctx, domain) });
    });

    api.get('/api/admin/aliases', async () => ({ aliases: await d.listAliases() }));

    api.post('/api/admin/aliases', async (req, reply) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      if (typeof b.from !== 'string' || typeof b.to !== 'string') return reply.code(400).send({ error: 'from and to are required' });
      try {
        await d.addAlias(b.from, b.to);
      } catch (e) {
        return storeFailure(reply, e);
      }
      return reply.code(201).send({ from: addressKey(b.from), to: addressKey(b.to) });
    });

    api.delete<{ Params: { from: string } }>('/api/admin/aliases/:from', async (req, reply) => {
      try {
        await d.removeAlias(req.params.from);
      } catch (e) {
        return storeFailure(reply, e);
      }
      return { deleted: addressKey(req.params.from) };
    });

    api.get('/api/admin/queue', async () => ({ queue: await ctx.store.queue.list() }));

    type Q = { Params: { id: string } };
    const queued = async (id: string) => (await ctx.store.queue.list()).find((m) => m.id === id) ?? null;

    api.post<Q>('/api/admin/queue/:id/retry', async (req, reply) => {
      const m = await queued(req.params.id);
      if (!m) return reply.code(404).send({ error: 'not found' });
      await ctx.store.queue.update(m.id, { recipients: m.recipients, attempts: m.attempts, nextAttemptAt: new Date(), lastError: m.lastError });
      ctx.queue?.kick();
      return { retried: m.id };
    });

    api.delete<Q>('/api/admin/queue/:id', async (req, reply) => {
      try {
        await ctx.store.queue.remove(req.params.id);
      } catch (e) {
        return storeFailure(reply, e);
      }
      return { deleted: req.params.id };
    });

    api.post<Q>('/api/admin/queue/:id/bounce', async (req, reply) => {
      const m = await queued(req.params.id);
      if (!m) return reply.code(404).send({ error: 'not found' });
      const raw = await ctx.store.queue.read(m.id);
      if (m.sender) {
        const failed = m.recipients.map((recipient) => ({ recipient, status: '5.3.0', diagnostic: '550 5.3.0 Delivery cancelled by the administrator' }));
        await ctx.store.queue.enqueue('', [m.sender], buildDsn({ reportingMta: ctx.hostname, to: m.sender, originalEnvelopeFrom: m.sender, arrivalDate: m.createdAt, failed, original: raw }));
        ctx.queue?.kick();
      }
      await ctx.store.queue.remove(m.id);
      return { bounced: m.id, notified: m.sender || null };
    });

    api.get('/api/admin/log', async (req) => {
      const q = (req.query ?? {}) as Record<string, unknown>;
      const level = q.level === 'warn' || q.level === 'error' ? (q.level as RecentLine['level']) : 'info';
      const limit = Math.min(1000, Math.max(1, Number(q.limit) || 200));
      return { lines: recentLog.lines({ filter: typeof q.filter === 'string' ? q.filter.slice(0, 200) : '', minLevel: level, limit }) };
    });

    api.get('/api/admin/status', async () => {
      const users = await d.listUsers();
      let storage = 0;
      for (const u of users) storage += (await ctx.store.quota.usage(u.id)).storage;
      const queue = await ctx.store.queue.list();
      return {
        deliveriesPerMinute: history.deliveriesPerMinute(),
        history: { intervalSeconds: history.intervalMs / 1000, samples: history.samples() },
        hostname: ctx.hostname,
        uptimeSeconds: Math.round(process.uptime()),
        listeners: ctx.listeners(),
        connections: (await serverTotals()).connections,
        queueLength: queue.length,
        users: users.length,
        storageUsed: storage,
        memory: process.memoryUsage().rss,
      };
    });
  });
}

/**
 * Workload 6 — many concurrent IMAP connections in IDLE. `idleConnections` connections (spread over
 * several loopback source addresses, at most 40 per address, so neither ephemeral ports nor per-IP limits
 * get in the way) log in to a set of accounts (at most 50 connections per account, under both servers'
 * per-user limits), SELECT INBOX and enter IDLE. Then one APPEND per account is sent, all at once, from a
 * separate connection. Measured: from sending the APPENDs until every idling connection has seen the new
 * EXISTS. Memory: the server is sampled with every connection idling (peak of the whole mailroom process;
 * PSS summed over all of Dovecot's processes). Check: every watcher saw exactly the expected EXISTS, and
 * each INBOX grew by one.
 */
import { generateMessage } from '../corpus.js';
import { ImapConn, selectInfo, type Untagged } from '../lib/imap.js';
import { currentMemory, openFileLimit } from '../lib/proc.js';
import { check, corpusOptions, imapLogin, parallel, type BenchConfig, type RunContext, type RunOutcome, type UserSpec, type Workload } from '../lib/harness.js';

const PER_USER = 50;
const APPEND_FIRST_INDEX = 4_000_000;

export function idleUsers(cfg: BenchConfig): string[] {
  return Array.from({ length: Math.max(1, Math.ceil(cfg.sizes.idleConnections / PER_USER)) }, (_, k) => `idle${k}@${cfg.domain}`);
}

interface Watcher {
  conn: ImapConn;
  user: number;
  /** EXISTS count this run waits for. */
  target: number;
  seen: boolean;
  resolve: () => void;
  done: Promise<void>;
  idle: { done: () => Promise<unknown> };
}

interface Pool {
  /** Wall time to connect, log in, SELECT and enter IDLE on every connection (50 at a time), ms. */
  setupMs: number;
  /** Server memory growth per idling connection, bytes (memory with all connected minus before, / n). */
  perConnection: number;
  users: string[];
  counts: number[];
  controls: ImapConn[];
  watchers: Watcher[];
}

/** Idling connections are set up once per server and kept across runs (logging in 1000 clients is not what is measured). */
const pools = new Map<string, Pool>();

async function setUp(ctx: RunContext): Promise<Pool> {
  const { cfg } = ctx;
  const users = idleUsers(cfg);
  const n = cfg.sizes.idleConnections;
  const counts: number[] = [];
  const controls: ImapConn[] = [];
  const watchers: Watcher[] = [];
  const pool: Pool = { setupMs: 0, perConnection: 0, users, counts, controls, watchers };
  const t0 = Date.now();
  const before = currentMemory(ctx.target.pid, ctx.target.memMode);
  try {
    // One control connection per account: counts, and the APPEND.
    for (const [k, u] of users.entries()) {
      const c = await imapLogin(ctx, u, n + k);
      counts.push(selectInfo(await c.ok('EXAMINE INBOX')).exists);
      controls.push(c);
    }
    await parallel(
      Array.from({ length: n }, (_, i) => i),
      50,
      async (i) => {
        const user = i % users.length;
        const w: Watcher = { conn: null as unknown as ImapConn, user, target: 0, seen: false, resolve: () => undefined, done: Promise.resolve(), idle: { done: () => Promise.resolve() } };
        const onUntagged = (u: Untagged): void => {
          const m = /^\* (\d+) EXISTS/i.exec(u.text);
          if (m && w.target > 0 && Number(m[1]) >= w.target && !w.seen) {
            w.seen = Number(m[1]) === w.target;
            w.resolve();
          }
        };
        w.conn = await imapLogin(ctx, users[user]!, i, onUntagged);
        const sel = await w.conn.ok('SELECT INBOX');
        check(selectInfo(sel).exists === counts[user], `watcher ${i}: SELECT EXISTS ${selectInfo(sel).exists}, expected ${counts[user]}`);
        w.idle = await w.conn.idle();
        watchers.push(w);
      },
    );
  } catch (e) {
    await tearDown(pool, false);
    throw e;
  }
  pool.setupMs = Date.now() - t0;
  await new Promise((r) => setTimeout(r, 200));
  pool.perConnection = Math.max(0, currentMemory(ctx.target.pid, ctx.target.memMode) - before) / n;
  return pool;
}

async function tearDown(pool: Pool, polite: boolean): Promise<void> {
  if (polite) {
    await parallel(pool.watchers, 100, async (w) => {
      const r = (await w.idle.done()) as { status?: string };
      check(r.status === 'OK', `IDLE ended with ${String(r.status)}`);
    });
  }
  for (const w of pool.watchers) w.conn.destroy();
  for (const c of pool.controls) await c.logout();
}

export const imapIdle: Workload = {
  id: 'idle',
  title: 'IMAP IDLE fan-out',
  metric: 'time until every IDLE connection saw the new EXISTS',
  users(cfg: BenchConfig): UserSpec[] {
    return idleUsers(cfg).map((address) => ({ address, messages: { first: 0, count: 20 } }));
  },
  async run(ctx: RunContext): Promise<RunOutcome> {
    const { cfg } = ctx;
    const n = cfg.sizes.idleConnections;
    let pool = pools.get(ctx.target.name);
    if (!pool) {
      // Both servers' connections at once need two descriptors per watcher here; when the limit is short,
      // the other server's pool is closed first (and set up again at its next run).
      const limit = openFileLimit();
      for (const [name, other] of pools) {
        if (limit !== null && other.watchers.length + other.controls.length + n + idleUsers(cfg).length + 1024 > limit) {
          await tearDown(other, false);
          pools.delete(name);
        }
      }
      pool = await setUp(ctx);
      pools.set(ctx.target.name, pool);
    }
    const p = pool;
    const last = ctx.run === cfg.runs - 1;
    try {
      for (const w of p.watchers) {
        w.target = p.counts[w.user]! + 1;
        w.seen = false;
        w.done = new Promise<void>((r) => (w.resolve = r));
      }
      const msgs = p.users.map((_, k) => generateMessage(corpusOptions(cfg), APPEND_FIRST_INDEX + ctx.run * 1000 + k).raw);
      const { measured } = await ctx.measure(async (sample) => {
        sample(); // every connection is idling now: the memory peak of this workload
        await Promise.all(p.controls.map((c, k) => c.ok('APPEND INBOX', { literal: msgs[k]! })));
        await Promise.all(p.watchers.map((w) => w.done));
      });
      const missed = p.watchers.filter((w) => !w.seen).length;
      check(missed === 0, `${missed} of ${n} IDLE connections did not see exactly the new EXISTS`);
      for (const [k, c] of p.controls.entries()) {
        const after = selectInfo(await c.ok('EXAMINE INBOX')).exists;
        check(after === p.counts[k]! + 1, `${p.users[k]}: ${after} messages after one APPEND, expected ${p.counts[k]! + 1}`);
        p.counts[k] = after;
      }
      if (last) {
        pools.delete(ctx.target.name);
        await tearDown(p, true);
      }
      return {
        measured,
        detail: `${n} connections on ${p.users.length} accounts from ${Math.min(cfg.sourceAddresses.length, Math.ceil(n / 40))} source addresses, ${measured.processes} server processes, server memory grew by ~${(p.perConnection / 1024).toFixed(0)} KB per idling connection (less when the heap had room); setting them up (LOGIN, SELECT, IDLE; 50 at a time) took ${(p.setupMs / 1000).toFixed(1)} s`,
        checks: [`${n} idling connections each saw the new EXISTS`, 'each INBOX grew by exactly one', 'IDLE ended with OK'],
      };
    } catch (e) {
      pools.delete(ctx.target.name);
      await tearDown(p, false);
      throw e;
    }
  },
};

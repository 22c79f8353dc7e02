/**
 * Workload 6 — many concurrent IMAP connections in IDLE. `idleConnections` connections (spread over
 * several 127.0.0.x source addresses, at most 40 per address, so neither ephemeral ports nor per-IP limits
 * get in the way) log in to a set of accounts (at most 50 connections per account, under both servers'
 * per-user limits), SELECT INBOX and enter IDLE. Then one APPEND per account is sent, all at once, from a
 * separate connection. Measured: from sending the APPENDs until every idling connection has seen the new
 * EXISTS. Memory: the server is sampled with every connection idling (peak of the whole mailroom process;
 * PSS summed over all of Dovecot's processes). Check: every watcher saw exactly the expected EXISTS, and
 * each INBOX grew by one.
 */
import { generateMessage } from '../corpus.js';
import { ImapConn, selectInfo, type Untagged } from '../lib/imap.js';
import { check, corpusOptions, imapLogin, parallel, type BenchConfig, type RunContext, type RunOutcome, type UserSpec, type Workload } from '../lib/harness.js';

const PER_USER = 50;
const APPEND_FIRST_INDEX = 4_000_000;

export function idleUsers(cfg: BenchConfig): string[] {
  return Array.from({ length: Math.max(1, Math.ceil(cfg.sizes.idleConnections / PER_USER)) }, (_, k) => `idle${k}@${cfg.domain}`);
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
    const users = idleUsers(cfg);
    const n = cfg.sizes.idleConnections;
    const watchers: Array<{ conn: ImapConn; user: number; target: number; seen: boolean; resolve: () => void; done: Promise<void> }> = [];
    const before: number[] = [];
    // One control connection per account: counts before, and the APPEND later.
    const controls: ImapConn[] = [];
    for (const [k, u] of users.entries()) {
      const c = await imapLogin(ctx, u, n + k);
      before.push(selectInfo(await c.ok('EXAMINE INBOX')).exists);
      controls.push(c);
    }
    const idles: Array<{ done: () => Promise<unknown> }> = [];
    const slots = Array.from({ length: n }, (_, i) => i);
    try {
      await parallel(slots, 50, async (i) => {
        const user = i % users.length;
        let resolve!: () => void;
        const done = new Promise<void>((r) => (resolve = r));
        const w = { conn: null as unknown as ImapConn, user, target: before[user]! + 1, seen: false, resolve, done };
        const onUntagged = (u: Untagged): void => {
          const m = /^\* (\d+) EXISTS/i.exec(u.text);
          if (m && Number(m[1]) >= w.target && !w.seen) {
            w.seen = Number(m[1]) === w.target;
            w.resolve();
          }
        };
        w.conn = await imapLogin(ctx, users[user]!, i, onUntagged);
        const sel = await w.conn.ok('SELECT INBOX');
        check(selectInfo(sel).exists === before[user], `watcher ${i}: SELECT EXISTS ${selectInfo(sel).exists}, expected ${before[user]}`);
        idles.push(await w.conn.idle());
        watchers.push(w);
      });
      const msgs = users.map((_, k) => generateMessage(corpusOptions(cfg), APPEND_FIRST_INDEX + ctx.run * 1000 + k).raw);
      const { measured } = await ctx.measure(async (sample) => {
        sample(); // every connection is idling now: the memory peak of this workload
        await Promise.all(controls.map((c, k) => c.ok('APPEND INBOX', { literal: msgs[k]! })));
        await Promise.all(watchers.map((w) => w.done));
      });
      const missed = watchers.filter((w) => !w.seen).length;
      check(missed === 0, `${missed} of ${n} IDLE connections did not see exactly EXISTS ${'n+1'}`);
      await parallel(idles, 100, async (idle) => {
        await idle.done();
      });
      for (const [k, c] of controls.entries()) {
        const after = selectInfo(await c.ok('EXAMINE INBOX')).exists;
        check(after === before[k]! + 1, `${users[k]}: ${after} messages after one APPEND, expected ${before[k]! + 1}`);
      }
      return {
        measured,
        detail: `${n} connections on ${users.length} accounts from ${Math.min(cfg.sourceAddresses.length, Math.ceil(n / 40))} source addresses, ${measured.processes} server processes`,
        checks: [`${n} watchers saw EXISTS ${'n+1'}`, 'each INBOX grew by exactly one'],
      };
    } finally {
      await parallel(watchers, 100, async (w) => {
        w.conn.destroy();
      });
      for (const c of controls) await c.logout();
    }
  },
};

/**
 * Workload 3 — IMAP header overview of a big mailbox: what a client does when it opens a folder for the
 * first time: SELECT, then FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE). Measured: SELECT to the tagged OK of
 * the FETCH. Check: one FETCH response per message, UIDs exactly 1..n in order, every RFC822.SIZE equal to
 * the stored message's size, and an ENVELOPE in each.
 */
import { fetchListItem, fetchNumber, isFetch, selectInfo, type Untagged } from '../lib/imap.js';
import { check, corpusIndexFor, imapLogin, type BenchConfig, type RunContext, type RunOutcome, type UserSpec, type Workload } from '../lib/harness.js';

export function bigUser(cfg: BenchConfig): string {
  return `big@${cfg.domain}`;
}

/** ENVELOPE and BODYSTRUCTURE per UID from each server's first run, compared in compare(). */
const seen = new Map<string, { envelope: Map<number, string>; bodystructure: Map<number, string> }>();

function collect(rows: Untagged[], item: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const r of rows) {
    const uid = fetchNumber(r.text, 'UID');
    const v = fetchListItem(r, item);
    if (uid !== null && v !== null) out.set(uid, v);
  }
  return out;
}

function differences(name: string, a: Map<number, string>, b: Map<number, string>): string {
  const diff = [...a.keys()].filter((uid) => a.get(uid) !== b.get(uid));
  if (diff.length === 0) return `${name} identical for all ${a.size} messages`;
  const uid = diff[0]!;
  const x = a.get(uid) ?? 'none';
  const y = b.get(uid) ?? 'none';
  let at = 0;
  while (at < x.length && at < y.length && x[at] === y[at]) at++;
  const from = Math.max(0, at - 60);
  const cut = (v: string): string => (from > 0 ? '...' : '') + v.slice(from, at + 120).replace(/`/g, "'") + (v.length > at + 120 ? '...' : '');
  return `${name} differs for ${diff.length} of ${a.size} messages; first at UID ${uid}, character ${at}: mailroom \`${cut(x)}\` vs Dovecot \`${cut(y)}\``;
}

export const imapOverview: Workload = {
  id: 'overview',
  title: 'IMAP header overview',
  metric: 'SELECT + FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)',
  users(cfg: BenchConfig): UserSpec[] {
    return [{ address: bigUser(cfg), messages: { first: 0, count: cfg.sizes.bigMailbox } }];
  },
  async run(ctx: RunContext): Promise<RunOutcome> {
    const n = ctx.cfg.sizes.bigMailbox;
    const corpus = corpusIndexFor(ctx.cfg);
    const c = await imapLogin(ctx, bigUser(ctx.cfg), 0);
    const { value, measured } = await ctx.measure(async () => {
      const sel = await c.ok('SELECT INBOX');
      const fetch = await c.ok('FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)');
      return { sel, fetch };
    });
    if (ctx.run === 0) {
      // Untimed cross-check material: both servers' ENVELOPE and BODYSTRUCTURE of the same messages.
      const bs = await c.ok('FETCH 1:* (UID BODYSTRUCTURE)');
      seen.set(ctx.target.name, { envelope: collect(value.fetch.untagged.filter(isFetch), 'ENVELOPE'), bodystructure: collect(bs.untagged.filter(isFetch), 'BODYSTRUCTURE') });
    }
    await c.logout();
    check(selectInfo(value.sel).exists === n, `SELECT reported ${selectInfo(value.sel).exists} messages, expected ${n}`);
    const rows = value.fetch.untagged.filter(isFetch);
    check(rows.length === n, `FETCH returned ${rows.length} responses, expected ${n}`);
    let bytes = 0;
    for (let k = 0; k < n; k++) {
      const t = rows[k]!.text;
      const uid = fetchNumber(t, 'UID');
      const size = fetchNumber(t, 'RFC822.SIZE');
      check(uid === k + 1, `response ${k + 1} has UID ${uid}, expected ${k + 1}`);
      check(size === corpus.info(k).size, `UID ${uid}: RFC822.SIZE ${size}, expected ${corpus.info(k).size}`);
      check(/ENVELOPE \(/.test(t), `UID ${uid}: no ENVELOPE`);
      bytes += t.length;
    }
    return {
      measured,
      detail: `${n} msgs, ${(bytes / 1048576).toFixed(1)} MB of responses, ${(n / (measured.ms / 1000)).toFixed(0)} msg/s`,
      checks: [`${n} FETCH responses`, 'UIDs 1..n in order', 'every RFC822.SIZE exact'],
    };
  },
  compare(): string | null {
    const m = seen.get('mailroom');
    const d = seen.get('dovecot');
    seen.clear();
    if (!m || !d) return null;
    return `Cross-check of the big mailbox (informational): ${differences('ENVELOPE', m.envelope, d.envelope)}; ${differences('BODYSTRUCTURE', m.bodystructure, d.bodystructure)}.`;
  },
};

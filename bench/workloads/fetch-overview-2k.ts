/**
 * FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE) of a 2,000-message INBOX, 50 times in a row on one selected
 * connection: a client refreshing its header list, where the reply rendering itself is the cost (the
 * mailbox is selected before the measured section, so SELECT is not in it). Check on every FETCH: one
 * response per message, UIDs 1..n in order, every RFC822.SIZE exact, an ENVELOPE in each.
 */
import { fetchNumber, isFetch } from '../lib/imap.js';
import { check, corpusIndexFor, imapLogin, type BenchConfig, type RunContext, type RunOutcome, type UserSpec, type Workload } from '../lib/harness.js';
import { OVERVIEW_2K_CORPUS_BASE } from './corpus-ranges.js';

function shape(cfg: BenchConfig): { messages: number; repeats: number } {
  return cfg.smoke ? { messages: 40, repeats: 3 } : { messages: 2000, repeats: 50 };
}

function user(cfg: BenchConfig): string {
  return `ov2k@${cfg.domain}`;
}

export const fetchOverview2k: Workload = {
  id: 'fetch-overview-2k',
  title: 'FETCH overview of 2,000 messages x 50',
  metric: '50 x FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE) on a selected 2,000-message INBOX',
  users(cfg: BenchConfig): UserSpec[] {
    return [{ address: user(cfg), messages: { first: OVERVIEW_2K_CORPUS_BASE, count: shape(cfg).messages } }];
  },
  async run(ctx: RunContext): Promise<RunOutcome> {
    const { messages: n, repeats } = shape(ctx.cfg);
    const corpus = corpusIndexFor(ctx.cfg);
    const c = await imapLogin(ctx, user(ctx.cfg), 0);
    await c.ok('SELECT INBOX');
    let bytes = 0;
    const { measured } = await ctx.measure(async () => {
      for (let k = 0; k < repeats; k++) {
        const res = await c.ok('FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)');
        const rows = res.untagged.filter(isFetch);
        check(rows.length === n, `FETCH ${k + 1} returned ${rows.length} responses, expected ${n}`);
        for (let i = 0; i < n; i++) {
          const t = rows[i]!.text;
          const uid = fetchNumber(t, 'UID');
          check(uid === i + 1, `FETCH ${k + 1}: response ${i + 1} has UID ${uid}`);
          check(fetchNumber(t, 'RFC822.SIZE') === corpus.info(OVERVIEW_2K_CORPUS_BASE + i).size, `FETCH ${k + 1}: UID ${uid} has the wrong RFC822.SIZE`);
          check(t.includes('ENVELOPE ('), `FETCH ${k + 1}: UID ${uid} has no ENVELOPE`);
          if (k === 0) bytes += t.length;
        }
      }
    });
    await c.logout();
    return {
      measured,
      detail: `${repeats} x ${n} msgs, ${(bytes / 1048576).toFixed(1)} MB per FETCH, ${((repeats * n) / (measured.ms / 1000)).toFixed(0)} msg/s`,
      checks: [`${repeats} FETCHes of ${n} responses`, 'UIDs 1..n in order', 'every RFC822.SIZE exact'],
    };
  },
};

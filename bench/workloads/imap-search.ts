/**
 * Workload 5 — SEARCH BODY over the big mailbox: UID SEARCH BODY <word> where the word is planted in the
 * decoded body text (7bit, quoted-printable or base64; plain and HTML parts; inside forwarded messages'
 * covering text) of about 4% of the corpus. Measured: the UID SEARCH command alone (the mailbox is already
 * selected). Check: the result is exactly the set of messages the corpus planted the word in.
 */
import { NEEDLE } from '../corpus.js';
import { searchResult } from '../lib/imap.js';
import { check, corpusIndexFor, imapLogin, type BenchConfig, type RunContext, type RunOutcome, type UserSpec, type Workload } from '../lib/harness.js';
import { bigUser, imapOverview } from './imap-overview.js';

export const imapSearch: Workload = {
  id: 'search',
  title: 'IMAP SEARCH BODY',
  metric: `UID SEARCH BODY "${NEEDLE}" over the big mailbox`,
  users(cfg: BenchConfig): UserSpec[] {
    return imapOverview.users(cfg); // the same big mailbox (users are de-duplicated by address)
  },
  async run(ctx: RunContext): Promise<RunOutcome> {
    const n = ctx.cfg.sizes.bigMailbox;
    const corpus = corpusIndexFor(ctx.cfg);
    const expected: number[] = [];
    for (let k = 0; k < n; k++) if (corpus.info(k).needle) expected.push(k + 1);
    const c = await imapLogin(ctx, bigUser(ctx.cfg), 0);
    await c.ok('EXAMINE INBOX');
    const { value, measured } = await ctx.measure(() => c.ok(`UID SEARCH BODY "${NEEDLE}"`));
    await c.logout();
    const got = searchResult(value);
    check(got.length === expected.length && got.every((u, i) => u === expected[i]), `SEARCH returned ${got.length} UIDs [${got.slice(0, 10).join(' ')}...], expected ${expected.length} [${expected.slice(0, 10).join(' ')}...]`);
    return {
      measured,
      detail: `${n} msgs scanned, ${got.length} hits`,
      checks: [`result equals the ${expected.length} planted messages`],
    };
  },
};

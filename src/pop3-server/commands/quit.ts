/**
 * QUIT (RFC 1939 sections 4 and 6). In AUTHORIZATION state: goodbye. In TRANSACTION state: the UPDATE
 * state — deletions, \Seen for retrieved messages and retrieval records are committed as one store
 * transaction (Maildrop.commit, which IMAP sessions then see as EXPUNGE/VANISHED and flag changes), the
 * retention policy runs, the maildrop lock is released, and only then is +OK sent.
 */
import { noArgs, defineCommand } from '../command.js';
import { err, ok } from '../reply.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export const quit = defineCommand({
  name: 'QUIT',
  states: ['authorization', 'transaction'],
  parse: noArgs,
  run: async (ctx) => {
    const s = ctx.state;
    if (s.kind !== 'transaction') {
      ctx.state = { kind: 'closed' };
      return ok(`${ctx.shared.hostname} POP3 server signing off`, { after: 'close' });
    }
    ctx.state = { kind: 'closed' };
    const { shared } = ctx;
    const plan = s.maildrop.commitPlan(shared.markSeenOnRetrieve, shared.retentionDays !== null);
    try {
      if (plan.expunge.length || plan.seen.length || plan.retrieved.length) {
        await shared.store.maildrop.commit(s.maildrop.mailboxId, plan);
      }
    } catch (e) {
      ctx.log.error({ err: e, user: s.user.address }, 'pop3 QUIT commit failed');
      await s.release().catch(() => undefined);
      return err('Could not commit the changes; no messages were deleted', 'SYS/TEMP', { after: 'close' });
    }
    if (shared.retentionDays !== null) {
      try {
        const purged = await shared.store.maildrop.purgeRetrieved(s.maildrop.mailboxId, new Date(Date.now() - shared.retentionDays * DAY_MS));
        if (purged > 0) ctx.log.info({ user: s.user.address, purged }, 'pop3 retention purge');
      } catch (e) {
        // The session's own changes are committed; the purge is retried at the next login.
        ctx.log.warn({ err: e, user: s.user.address }, 'pop3 retention purge failed');
      }
    }
    await s.release().catch((e: unknown) => ctx.log.warn({ err: e }, 'pop3 maildrop unlock failed'));
    const n = plan.expunge.length;
    ctx.log.info({ user: s.user.address, deleted: n, retrieved: plan.retrieved.length }, 'pop3 logout');
    return ok(`${ctx.shared.hostname} POP3 server signing off (${n} message${n === 1 ? '' : 's'} deleted)`, { after: 'close' });
  },
});

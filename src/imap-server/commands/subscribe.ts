/**
 * SUBSCRIBE and UNSUBSCRIBE (RFC 9051 6.3.7, 6.3.8): SUBSCRIBE needs an existing mailbox (NO [NONEXISTENT])
 * and answers NO [LIMIT] past MAX_SUBSCRIPTIONS_PER_USER (subscriptions outlive DELETE, so they need their
 * own bound: LIST walks them all); UNSUBSCRIBE accepts any name.
 */
import { parseMailbox } from '../../imap/grammar/commands.js';
import { no, ok } from '../errors.js';
import { MAX_SUBSCRIPTIONS_PER_USER } from '../list-pattern.js';
import { AUTH, currentUser, defineCommand } from '../session.js';
import { resolveMailbox } from '../namespaces.js';

export const subscribe = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseMailbox,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const name = ctx.session.decodeMailbox(args.mailbox);
    await resolveMailbox(ctx, name, 'l');
    const subscribed = await ctx.service.store.listSubscriptions(user.id);
    if (subscribed.length >= MAX_SUBSCRIPTIONS_PER_USER && !subscribed.includes(name)) throw no('Too many subscriptions', 'LIMIT');
    // The origin keeps this session's NOTIFY from being told of its own change (notify.ts).
    await ctx.service.store.setSubscribed(user.id, name, true, { origin: ctx.session.id });
    return ok('Subscribe completed');
  },
});

export const unsubscribe = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseMailbox,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const name = ctx.session.decodeMailbox(args.mailbox);
    await ctx.service.store.setSubscribed(user.id, name, false, { origin: ctx.session.id });
    return ok('Unsubscribe completed');
  },
});

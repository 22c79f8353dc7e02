/**
 * SUBSCRIBE and UNSUBSCRIBE (RFC 9051 6.3.7, 6.3.8): SUBSCRIBE needs an existing mailbox (NO [NONEXISTENT]);
 * UNSUBSCRIBE accepts any name.
 */
import { parseMailbox } from '../../imap/grammar/commands.js';
import { ok } from '../errors.js';
import { AUTH, currentUser, defineCommand, existingMailbox } from '../session.js';
import { announceMailboxEvent } from './notify.js';

export const subscribe = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseMailbox,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const name = ctx.session.decodeMailbox(args.mailbox);
    await existingMailbox(ctx, name);
    await ctx.service.store.setSubscribed(user.id, name, true);
    announceMailboxEvent(ctx, { kind: 'subscribe', name });
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
    await ctx.service.store.setSubscribed(user.id, name, false);
    announceMailboxEvent(ctx, { kind: 'unsubscribe', name });
    return ok('Unsubscribe completed');
  },
});

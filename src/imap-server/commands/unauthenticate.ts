/**
 * UNAUTHENTICATE (RFC 8437 section 3): no arguments; valid in the authenticated and selected states.
 * Closes the selected mailbox without expunging (like UNSELECT), forgets the user and everything the
 * session enabled, and returns to the not-authenticated state: the client may then LOGIN or AUTHENTICATE
 * again on the same connection (TLS and COMPRESS stay in effect). Answers OK [CAPABILITY ...] with the
 * list that applies again (LITERAL-, AUTH=, STARTTLS when not yet under TLS). A 'breaks' command: sequence
 * numbers end with the selected state.
 */
import { parseNone } from '../../imap/grammar/commands.js';
import { ok } from '../errors.js';
import { AUTH, defineCommand } from '../session.js';

export const unauthenticate = defineCommand({
  states: AUTH,
  seq: 'breaks',
  parse: parseNone,
  async run(ctx) {
    ctx.session.setState({ kind: 'not-authenticated' });
    ctx.session.logger.info({}, 'unauthenticated');
    return ok('Unauthenticate completed', `CAPABILITY ${ctx.session.capabilities().join(' ')}`);
  },
});

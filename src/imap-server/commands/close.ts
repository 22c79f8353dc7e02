/**
 * CLOSE (RFC 9051 6.4.1: expunges silently unless read-only) and UNSELECT (RFC 3691: no expunge): both
 * leave the selected state. Sequence numbers stop meaning anything, so both are 'breaks' commands.
 */
import { parseNone } from '../../imap/grammar/commands.js';
import { ok } from '../errors.js';
import { SELECTED, currentUser, defineCommand, selectedView } from '../session.js';

export const close = defineCommand({
  states: SELECTED,
  seq: 'breaks',
  parse: parseNone,
  async run(ctx) {
    const view = selectedView(ctx);
    const user = currentUser(ctx);
    ctx.session.setState({ kind: 'authenticated', user });
    // RFC 9051 6.4.1: expunge silently, no EXPUNGE responses.
    // Without the "e" right (RFC 4314) CLOSE only closes, as Dovecot does.
    if (!view.readOnly && view.rights.includes('e')) await ctx.service.store.expunge(view.mailbox.id);
    return ok('CLOSE completed');
  },
});

export const unselect = defineCommand({
  states: SELECTED,
  seq: 'breaks',
  parse: parseNone,
  async run(ctx) {
    ctx.session.setState({ kind: 'authenticated', user: currentUser(ctx) });
    return ok('UNSELECT completed');
  },
});

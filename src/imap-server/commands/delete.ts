/**
 * DELETE (RFC 9051 6.3.5): removes a mailbox (never INBOX). Deleting the selected mailbox ends the
 * session with the mailbox-deleted BYE after the tagged OK (as Dovecot does).
 */
import { parseMailbox } from '../../imap/grammar/commands.js';
import { no, ok } from '../errors.js';
import { mailboxDeletedBye } from '../responses.js';
import { AUTH, currentUser, defineCommand } from '../session.js';
import { resolveMailbox } from '../namespaces.js';

export const del = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseMailbox,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const name = ctx.session.decodeMailbox(args.mailbox);
    if (name === 'INBOX') throw no('INBOX cannot be deleted', 'CANNOT');
    const st = ctx.session.state;
    const store = ctx.service.store;
    // RFC 4314 section 4: DELETE takes "x"; another owner's mailbox is deleted from the owner's store.
    const target = await resolveMailbox(ctx, name, 'x');
    const mb = target.mailbox;
    // The origin keeps this session's NOTIFY from being told of its own change (notify.ts).
    await store.deleteMailbox(target.ownerId, mb.name, { origin: ctx.session.id });
    if (st.kind === 'selected' && st.view.mailbox.id === mb.id) {
      // The selected mailbox is gone: leave the selected state (Dovecot does the same).
      ctx.session.setState({ kind: 'authenticated', user });
      ctx.session.send(mailboxDeletedBye());
      return { status: 'OK', text: 'Delete completed', after: () => ctx.session.end() };
    }
    return ok('Delete completed');
  },
});

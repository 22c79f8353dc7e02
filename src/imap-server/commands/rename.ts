/**
 * RENAME (RFC 9051 6.3.6): renames a mailbox and its inferiors, creating missing superiors of the new
 * name; renaming INBOX moves its messages. NO [ALREADYEXISTS], [CANNOT], [NONEXISTENT] or [LIMIT] (too many
 * mailboxes with the new superiors) otherwise.
 */
import type { Args } from '../../imap/grammar/args.js';
import { no, ok } from '../errors.js';
import { AUTH, defineCommand } from '../session.js';
import { creationPlace, findMailbox, resolveMailbox } from '../namespaces.js';
import { checkMailboxLimit, createParents } from './create.js';

export interface RenameArgs {
  from: string;
  to: string;
}

export function parseRename(args: Args): RenameArgs {
  const from = args.astring('mailbox name');
  const to = args.astring('new mailbox name');
  args.end();
  return { from, to };
}

export const rename = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseRename,
  async run(ctx, args) {
    const from = ctx.session.decodeMailbox(args.from);
    let to = ctx.session.decodeMailbox(args.to);
    to = to.replace(/\/+$/, '');
    if (!to) throw no('Invalid mailbox name', 'CANNOT');
    if (to === 'INBOX') throw no('Mailbox already exists', 'ALREADYEXISTS');
    // The same name: it already exists (Dovecot answers ALREADYEXISTS too); under itself: CANNOT.
    if (from !== 'INBOX' && to === from) throw no('Mailbox already exists', 'ALREADYEXISTS');
    if (from !== 'INBOX' && to.startsWith(from + '/')) throw no('Cannot rename a mailbox under itself', 'CANNOT');
    const store = ctx.service.store;
    // RFC 4314 section 4: "x" on the old name, "k" on the new parent, both of one owner (namespaces.ts).
    const source = await resolveMailbox(ctx, from, 'x');
    if (await findMailbox(ctx, to)) throw no('Mailbox already exists', 'ALREADYEXISTS');
    const place = await creationPlace(ctx, to);
    if (place.ownerId !== source.ownerId) throw no('Cannot rename a mailbox to another owner', 'CANNOT');
    // Renaming INBOX leaves it in place, so the new name is one more mailbox.
    await checkMailboxLimit(store, place.ownerId, place.name, from === 'INBOX');
    // The origin keeps this session's NOTIFY from being told of its own changes (notify.ts).
    const origin = ctx.session.id;
    await createParents(store, place.ownerId, place.name, origin);
    await store.renameMailbox(place.ownerId, source.mailbox.name, place.name, { origin });
    return ok('Rename completed');
  },
});

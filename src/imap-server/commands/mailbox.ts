/** CREATE (with RFC 6154 USE), DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 9051 6.3.4-6.3.8). */
import { isStoreError, type MailStore, type SpecialUse } from '../../store/types.js';
import { SPECIAL_USE_VALUES } from '../../store/message-prep.js';
import { parseCreate, parseMailbox, parseRename } from '../../imap/grammar/commands.js';
import { no, ok } from '../errors.js';
import { AUTH, currentUser, defineCommand, existingMailbox } from '../session.js';

/** Creates the missing superior names of `name` (RFC 9051 6.3.4: the server SHOULD create them). */
async function createParents(store: MailStore, userId: number, name: string): Promise<void> {
  const levels = name.split('/');
  for (let i = 1; i < levels.length; i++) {
    const parent = levels.slice(0, i).join('/');
    if (!parent || parent === 'INBOX') continue;
    try {
      if (!(await store.getMailbox(userId, parent))) await store.createMailbox(userId, parent);
    } catch (e) {
      if (!isStoreError(e, 'EXISTS')) throw e;
    }
  }
}

export const create = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseCreate,
  async run(ctx, args) {
    const user = currentUser(ctx);
    let name = ctx.session.decodeMailbox(args.mailbox);
    if (name.endsWith('/')) name = name.replace(/\/+$/, '');
    if (!name) throw no('Invalid mailbox name', 'CANNOT');
    if (name === 'INBOX') throw no('Mailbox already exists', 'ALREADYEXISTS');
    let specialUse: SpecialUse | null = null;
    if (args.specialUse.length) {
      if (args.specialUse.length > 1) throw no('Only one special-use attribute per mailbox', 'USEATTR');
      const want = args.specialUse[0]!.toLowerCase();
      const found = SPECIAL_USE_VALUES.find((s) => s.toLowerCase() === want);
      if (!found) throw no('Unsupported special-use attribute', 'USEATTR');
      specialUse = found;
    }
    const store = ctx.service.store;
    await createParents(store, user.id, name);
    const mb = await store.createMailbox(user.id, name, { specialUse });
    // RFC 8474 section 4.1: the new mailbox's MAILBOXID in the tagged OK.
    return ok('Create completed', `MAILBOXID (${mb.mailboxObjectId})`);
  },
});

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
    const mb = await existingMailbox(ctx, name);
    await store.deleteMailbox(user.id, name);
    if (st.kind === 'selected' && st.view.mailbox.id === mb.id) {
      // The selected mailbox is gone: leave the selected state (Dovecot does the same).
      ctx.session.setState({ kind: 'authenticated', user });
      ctx.session.send(Buffer.from('* BYE Selected mailbox was deleted, have to disconnect.\r\n'));
      return { status: 'OK', text: 'Delete completed', after: () => ctx.session.end() };
    }
    return ok('Delete completed');
  },
});

export const rename = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseRename,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const from = ctx.session.decodeMailbox(args.from);
    let to = ctx.session.decodeMailbox(args.to);
    to = to.replace(/\/+$/, '');
    if (!to) throw no('Invalid mailbox name', 'CANNOT');
    if (to === 'INBOX') throw no('Mailbox already exists', 'ALREADYEXISTS');
    if (from !== 'INBOX' && (to === from || to.startsWith(from + '/'))) throw no('Cannot rename a mailbox under itself', 'CANNOT');
    const store = ctx.service.store;
    await existingMailbox(ctx, from);
    if (await store.getMailbox(user.id, to)) throw no('Mailbox already exists', 'ALREADYEXISTS');
    await createParents(store, user.id, to);
    await store.renameMailbox(user.id, from, to);
    return ok('Rename completed');
  },
});

export const subscribe = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseMailbox,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const name = ctx.session.decodeMailbox(args.mailbox);
    await existingMailbox(ctx, name);
    await ctx.service.store.setSubscribed(user.id, name, true);
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
    return ok('Unsubscribe completed');
  },
});

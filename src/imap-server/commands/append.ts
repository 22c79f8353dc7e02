/** APPEND (RFC 9051 6.3.12; APPENDUID RFC 4315; APPENDLIMIT RFC 7889; UTF8 RFC 6855). */
import { parseAppend } from '../../imap/grammar/commands.js';
import { no, ok } from '../errors.js';
import { AUTH, currentUser, defineCommand } from '../session.js';

export const append = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseAppend,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const name = ctx.session.decodeMailbox(args.mailbox);
    if (args.message.length > ctx.service.limits.appendLimit) throw no('Message too large', 'TOOBIG');
    if (!args.message.length) throw no("Can't save a zero byte message", 'CANNOT');
    const store = ctx.service.store;
    const mb = await store.getMailbox(user.id, name);
    if (!mb) throw no('Mailbox does not exist', 'TRYCREATE');
    const flags = args.flags.filter((f) => f.toLowerCase() !== '\\recent');
    const r = await store.append(mb.id, args.message, args.date ? { flags, internalDate: args.date } : { flags });
    return ok('Append completed', `APPENDUID ${r.uidValidity} ${r.uid}`);
  },
});

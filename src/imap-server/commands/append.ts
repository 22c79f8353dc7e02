/**
 * APPEND (RFC 9051 6.3.12; APPENDUID RFC 4315; APPENDLIMIT RFC 7889; UTF8 RFC 6855). Grammar: mailbox,
 * optional flag list, optional date-time, then the message as a literal (literal8 inside UTF8 (...)).
 * Stores the message as sent and answers OK [APPENDUID]; NO [TOOBIG] over the limit, NO [CANNOT] for an
 * empty message, NO [TRYCREATE] when the mailbox does not exist. \Recent from the client is dropped.
 */
import { Args, ParseError, parseDateTime, parseFlag } from '../../imap/grammar/args.js';
import { no, ok } from '../errors.js';
import { AUTH, currentUser, defineCommand } from '../session.js';

// ---- grammar ----

export interface AppendArgs {
  mailbox: string;
  flags: string[];
  date: Date | null;
  message: Buffer;
  binary: boolean;
}

export function parseAppend(args: Args): AppendArgs {
  const mailbox = args.astring('mailbox name');
  let flags: string[] = [];
  let date: Date | null = null;
  let t = args.next('message literal');
  if (t.t === 'list') {
    flags = t.v.map(parseFlag);
    t = args.next('message literal');
  }
  if (t.t === 'string' && !t.literal) {
    date = parseDateTime(t.v.toString('latin1'));
    t = args.next('message literal');
  }
  let binary = false;
  let message: Buffer;
  if (t.t === 'atom' && t.v.toUpperCase() === 'UTF8') {
    // RFC 6855 section 4: APPEND ... UTF8 (literal8)
    const inner = args.list('UTF8 literal');
    if (inner.length !== 1 || inner[0]!.t !== 'string' || !inner[0]!.literal) throw new ParseError('UTF8 needs a literal');
    message = inner[0]!.v;
    binary = inner[0]!.binary;
  } else {
    if (t.t !== 'string' || !t.literal) throw new ParseError('Message must be sent as a literal');
    message = t.v;
    binary = t.binary;
  }
  args.end();
  return { mailbox, flags, date, message, binary };
}

// ---- handler ----

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

/**
 * REPLACE / UID REPLACE (RFC 8508): "REPLACE seq mailbox append-message" stores the message in `mailbox`
 * (flags, date-time, literal, UTF8 or CATENATE as for APPEND) and expunges message `seq` of the selected
 * mailbox in the same store transaction (AppendOptions.replaces), so other sessions see one change. Answers
 * "* OK [APPENDUID v uid]", the EXPUNGE (or VANISHED) of the old message, then OK. BAD for a sequence
 * number beyond the mailbox, NO for a UID that is gone, NO [CANNOT] in a read-only mailbox, NO [TRYCREATE],
 * [TOOBIG], [BADURL] and [CANNOT] as APPEND; on any failure the old message stays.
 */
import { Args, ParseError, parseNumber } from '../../imap/grammar/args.js';
import type { SequenceSet } from '../../imap/grammar/sequence.js';
import { bad, no, ok, type Completion } from '../errors.js';
import { SELECTED, currentUser, defineCommand, selectedView, type CommandContext } from '../session.js';
import { okLine } from '../responses.js';
import { destinationMailbox } from '../namespaces.js';
import { messageBytes, parseMessage, type AppendMessage } from './append.js';

export interface ReplaceArgs {
  n: number;
  mailbox: string;
  message: AppendMessage;
}

export function parseReplace(args: Args): ReplaceArgs {
  const n = parseNumber(args.atom('message number'), 'message number');
  if (n < 1) throw new ParseError('Message numbers start at 1');
  const mailbox = args.astring('mailbox name');
  const message = parseMessage(args);
  args.end();
  return { n, mailbox, message };
}

async function runReplace(ctx: CommandContext, args: ReplaceArgs): Promise<Completion> {
  const s = ctx.session;
  const view = selectedView(ctx);
  if (view.readOnly) throw no('Mailbox is read-only', 'CANNOT');
  const set: SequenceSet = { kind: 'ranges', ranges: [{ lo: args.n, hi: args.n }] };
  if (!ctx.uid && view.seqOutOfRange(set)) throw bad('Invalid message sequence number');
  const [uid] = view.resolve(set, ctx.uid).filter((u) => !view.isExpunged(u));
  if (uid === undefined) throw no('No such message');
  const m = args.message;
  if (m.message && m.message.length > ctx.service.limits.appendLimit) throw no('Message too large', 'TOOBIG');
  const store = ctx.service.store;
  // RFC 4314 section 4 as for APPEND and MOVE: "i" on the destination, "t" and "e" on the source.
  const dest = (await destinationMailbox(ctx, s.decodeMailbox(args.mailbox))).mailbox;
  if (!(view.rights.includes('t') && view.rights.includes('e'))) throw no('Permission denied', 'NOPERM');
  const raw = await messageBytes(ctx, m);
  const flags = m.flags.filter((f) => f.toLowerCase() !== '\\recent');
  const replaces = { mailboxId: view.mailbox.id, uid };
  const r = await store.append(dest.id, raw, m.date ? { flags, internalDate: m.date, replaces } : { flags, replaces });
  s.send(Buffer.from(okLine(`APPENDUID ${r.uidValidity} ${r.uid}`, 'Replacement Message ready')));
  view.reportExpunged([uid], s);
  return ok('REPLACE completed');
}

export const replace = defineCommand({ states: SELECTED, seq: 'uses', parse: parseReplace, run: runReplace });
export const uidReplace = defineCommand({ states: SELECTED, seq: 'none', parse: parseReplace, run: runReplace });

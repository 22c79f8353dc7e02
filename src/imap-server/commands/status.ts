/**
 * STATUS (RFC 9051 6.3.11, RFC 7889 APPENDLIMIT, RFC 8438 SIZE, RFC 9208 DELETED-STORAGE, RFC 7162 HIGHESTMODSEQ, RFC 8474 MAILBOXID).
 * Grammar: mailbox and a non-empty item list (the item names are shared with LIST RETURN STATUS).
 * NO [NONEXISTENT] for a missing mailbox.
 */
import type { Mailbox } from '../../store/types.js';
import { WireWriter } from '../../imap/wire/encode.js';
import { Args, ParseError } from '../../imap/grammar/args.js';
import { ok } from '../errors.js';
import { AUTH, defineCommand, type CommandContext } from '../session.js';
import { resolveMailbox, statusFor } from '../namespaces.js';
import { writeStatus } from '../responses.js';
import { deletedStorage } from './quota.js';

// ---- grammar ----

export const STATUS_ITEMS = ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'DELETED-STORAGE', 'SIZE', 'HIGHESTMODSEQ', 'APPENDLIMIT', 'MAILBOXID'] as const;

export function parseStatusItem(s: string): string {
  const up = s.toUpperCase();
  if (!(STATUS_ITEMS as readonly string[]).includes(up)) throw new ParseError(`Unknown status item ${s.slice(0, 40)}`);
  return up;
}

export interface StatusArgs {
  mailbox: string;
  items: string[];
}

export function parseStatus(args: Args): StatusArgs {
  const mailbox = args.astring('mailbox name');
  const list = args.list('status items');
  if (!list.length) throw new ParseError('Empty status item list');
  const items: string[] = [];
  for (const t of list) {
    if (t.t !== 'atom') throw new ParseError('Invalid status item');
    const it = parseStatusItem(t.v);
    if (!items.includes(it)) items.push(it);
  }
  args.end();
  return { mailbox, items };
}

// ---- handler ----

/** Writes "* STATUS name (items)" for one mailbox. */
export async function sendStatus(ctx: CommandContext, mb: Mailbox, items: readonly string[]): Promise<void> {
  const st = await statusFor(ctx, mb);
  const parts: string[] = [];
  for (const it of items) {
    switch (it) {
      case 'MESSAGES':
        parts.push(`MESSAGES ${st.messages}`);
        break;
      case 'RECENT':
        parts.push(`RECENT ${st.recent}`);
        break;
      case 'UIDNEXT':
        parts.push(`UIDNEXT ${st.uidNext}`);
        break;
      case 'UIDVALIDITY':
        parts.push(`UIDVALIDITY ${st.uidValidity}`);
        break;
      case 'UNSEEN':
        parts.push(`UNSEEN ${st.unseen}`);
        break;
      case 'DELETED':
        parts.push(`DELETED ${st.deleted}`);
        break;
      case 'DELETED-STORAGE':
        parts.push(`DELETED-STORAGE ${await deletedStorage(ctx, mb)}`);
        break;
      case 'SIZE':
        parts.push(`SIZE ${st.size}`);
        break;
      case 'HIGHESTMODSEQ':
        parts.push(`HIGHESTMODSEQ ${st.highestModseq}`);
        break;
      case 'APPENDLIMIT':
        parts.push(`APPENDLIMIT ${ctx.service.limits.appendLimit}`);
        break;
      case 'MAILBOXID':
        parts.push(`MAILBOXID (${mb.mailboxObjectId})`);
        break;
    }
  }
  const w = new WireWriter(ctx.session.utf8);
  writeStatus(w, ctx.session.encodeMailbox(mb.name), parts);
  ctx.session.send(w.toBuffer());
}

export const status = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseStatus,
  async run(ctx, args) {
    // RFC 4314 section 4: STATUS takes "r"; another owner's mailbox is answered under the client's name.
    const mb = (await resolveMailbox(ctx, ctx.session.decodeMailbox(args.mailbox), 'r')).shown;
    await sendStatus(ctx, mb, args.items);
    return ok('STATUS completed');
  },
});

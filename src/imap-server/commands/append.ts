/**
 * APPEND (RFC 9051 6.3.12; APPENDUID RFC 4315; APPENDLIMIT RFC 7889; UTF8 RFC 6855; MULTIAPPEND RFC 3502;
 * CATENATE RFC 4469). Grammar: mailbox, then one or more messages, each with an optional flag list and
 * date-time and then its data: a literal (literal8 inside UTF8 (...)), or CATENATE (TEXT literal / URL
 * astring ...) whose URLs name messages or sections of the user's mailboxes (RFC 5092, see src/urlauth/).
 * All messages are stored or none, in one store transaction (MailStore.appendMany): consecutive UIDs, one
 * wake-up for other sessions, and a refused batch leaves the mailbox as it was (no UID or MODSEQ used).
 * The answer is OK [APPENDUID validity uid-set] (RFC 4315); NO [LIMIT] over MAX_APPEND_BATCH messages,
 * NO [TOOBIG] over the limit, NO [CANNOT] for an empty message, NO [TRYCREATE] when the mailbox does not
 * exist, NO [BADURL url] for an URL that does not resolve, NO [OVERQUOTA] when the batch would exceed it.
 * \Recent from the client is dropped. A message sent as a literal8 (BINARY, RFC 3516 4.4) has its
 * Content-Transfer-Encoding: binary parts stored base64-encoded (src/mime/binary.ts, as Dovecot does).
 */
import { Args, ParseError, astringOf, parseDateTime, parseFlag } from '../../imap/grammar/args.js';
import type { Token } from '../../imap/wire/tokenizer.js';
import { formatSequenceSet } from '../../imap/wire/encode.js';
import type { AppendItem } from '../../store/types.js';
import { MAX_APPEND_BATCH } from '../../store/append-check.js';
import { resolveUrl, urlBytes } from '../../urlauth/resolve.js';
import { encodeBinaryParts } from '../../mime/binary.js';
import { no, ok } from '../errors.js';
import { AUTH, currentUser, defineCommand, type CommandContext } from '../session.js';
import { urlContext } from './urlauth.js';
import { appendFlags, destinationMailbox, markAppendedSeen } from '../namespaces.js';

// ---- grammar ----

/** One CATENATE part (RFC 4469 cat-part). */
export type CatenatePart = { kind: 'text'; data: Buffer } | { kind: 'url'; url: string };

export interface AppendMessage {
  flags: string[];
  date: Date | null;
  /** The literal; null for CATENATE. */
  message: Buffer | null;
  /** The CATENATE parts; null for a literal. */
  parts: CatenatePart[] | null;
  binary: boolean;
}

export interface AppendArgs {
  mailbox: string;
  messages: AppendMessage[];
}

function isLiteral(t: Token | undefined): t is Extract<Token, { t: 'string' }> {
  return t !== undefined && t.t === 'string' && t.literal;
}

function parseCatenate(list: Token[]): CatenatePart[] {
  if (!list.length) throw new ParseError('Empty CATENATE list');
  const parts: CatenatePart[] = [];
  for (let i = 0; i < list.length; i += 2) {
    const kind = list[i]!;
    const value = list[i + 1];
    const k = kind.t === 'atom' ? kind.v.toUpperCase() : '';
    if (k === 'TEXT' && isLiteral(value)) parts.push({ kind: 'text', data: value.v });
    else if (k === 'URL' && value && value.t !== 'list') parts.push({ kind: 'url', url: astringOf(value, 'URL') }); // url = "URL" SP astring (RFC 4469)
    else throw new ParseError('CATENATE parts are TEXT literal or URL string');
  }
  return parts;
}

/** One append-message (RFC 3502): flags, date-time, then a literal, UTF8 (literal8) or CATENATE; REPLACE's too. */
export function parseMessage(args: Args): AppendMessage {
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
  const kw = t.t === 'atom' ? t.v.toUpperCase() : '';
  if (kw === 'CATENATE') return { flags, date, message: null, parts: parseCatenate(args.list('CATENATE parts')), binary: false };
  let binary = false;
  let message: Buffer;
  if (kw === 'UTF8') {
    // RFC 6855 section 4: APPEND ... UTF8 (literal8)
    const inner = args.list('UTF8 literal');
    if (inner.length !== 1 || !isLiteral(inner[0]) || !inner[0].binary) throw new ParseError('UTF8 needs a literal8');
    message = inner[0].v;
    binary = inner[0].binary;
  } else {
    if (!isLiteral(t)) throw new ParseError('Message must be sent as a literal');
    message = t.v;
    binary = t.binary;
  }
  return { flags, date, message, parts: null, binary };
}

export function parseAppend(args: Args): AppendArgs {
  const mailbox = args.astring('mailbox name');
  const messages = [parseMessage(args)];
  while (!args.done) messages.push(parseMessage(args));
  return { mailbox, messages };
}

// ---- handler ----

/** The message a CATENATE list builds; NO [BADURL] for an URL that does not resolve, NO [TOOBIG] over the limit. */
async function catenate(ctx: CommandContext, parts: readonly CatenatePart[]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  const limit = ctx.service.limits.appendLimit;
  for (const p of parts) {
    let data: Buffer | null = null;
    if (p.kind === 'text') data = p.data;
    else {
      const uctx = urlContext(ctx);
      const r = await resolveUrl(uctx, p.url, 'own');
      data = r && (await urlBytes(uctx, r));
      if (data === null) throw no(`Bad URL`, `BADURL ${p.url}`);
    }
    size += data.length;
    if (size > limit) throw no('Message too large', 'TOOBIG');
    chunks.push(data);
  }
  return Buffer.concat(chunks, size);
}

/** The bytes to store for one append-message (APPEND, REPLACE); NO [CANNOT] when empty, see catenate. */
export async function messageBytes(ctx: CommandContext, m: AppendMessage): Promise<Buffer> {
  // RFC 3516 4.4: binary parts of a literal8 are stored base64-encoded, so BODY[] stays a valid message.
  const raw = m.message ? (m.binary ? encodeBinaryParts(m.message) : m.message) : await catenate(ctx, m.parts!);
  if (!raw.length) throw no("Can't save a zero byte message", 'CANNOT');
  return raw;
}

export const append = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseAppend,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const name = ctx.session.decodeMailbox(args.mailbox);
    for (const m of args.messages) if (m.message && m.message.length > ctx.service.limits.appendLimit) throw no('Message too large', 'TOOBIG');
    if (args.messages.length > MAX_APPEND_BATCH) throw no(`At most ${MAX_APPEND_BATCH} messages in one APPEND`, 'LIMIT');
    const store = ctx.service.store;
    const target = await destinationMailbox(ctx, name);
    const items: AppendItem[] = [];
    const privateSeen: boolean[] = [];
    for (const m of args.messages) {
      const raw = await messageBytes(ctx, m);
      const { flags, seen } = appendFlags(target, m.flags.filter((f) => f.toLowerCase() !== '\\recent'));
      items.push({ raw, opts: m.date ? { flags, internalDate: m.date } : { flags } });
      privateSeen.push(seen);
    }
    // RFC 3502: all or nothing. Several messages are one store transaction (appendMany): nobody sees a
    // part of them, and a refused batch leaves no UID, MODSEQ or blob behind.
    const mb = target.mailbox;
    // Into the selected mailbox, this session is the first to be told of the new message: it claims \Recent
    // in the append's own transaction instead of with a write of its own at the refresh after it.
    const st = ctx.session.state;
    const view = st.kind === 'selected' && st.view.mailbox.id === mb.id ? st.view : null;
    let done;
    if (items.length === 1) {
      const one = items[0]!;
      done = [await store.append(mb.id, one.raw, view?.claimsRecent ? { ...one.opts, claimRecent: true } : one.opts)];
    } else done = await store.appendMany(mb.id, items);
    // The view takes the new messages in from the results when it can; else its refresh reads them.
    const claim = done[0]!.recentClaim;
    if (view && !view.applyOwnAppend(done) && claim) view.noteRecentClaim(claim);
    await markAppendedSeen(
      ctx,
      target,
      done.filter((_, i) => privateSeen[i]).map((r) => r.uid),
    );
    return ok('Append completed', `APPENDUID ${done[0]!.uidValidity} ${formatSequenceSet(done.map((r) => r.uid))}`);
  },
});

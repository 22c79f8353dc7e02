/**
 * GETMETADATA and SETMETADATA (RFC 5464 METADATA and METADATA-SERVER): annotations of a mailbox, or of the
 * server when the mailbox name is empty, kept by the store (store/metadata.ts) per user.
 *
 * Grammar (RFC 5464 section 5, with errata 3868: several entries are a parenthesized list):
 *   GETMETADATA [SP "(" option *(SP option) ")"] SP mailbox SP (entry / "(" entry *(SP entry) ")")
 *     option = "MAXSIZE" SP number / "DEPTH" SP ("0" / "1" / "infinity")
 *   SETMETADATA SP mailbox SP "(" entry SP (nstring / literal8) *(SP entry SP value) ")"
 * Entry names: "/private" or "/shared" then "/"-separated components; no "*", "%", control characters,
 * empty components or trailing "/" (section 3.2); otherwise BAD. Names are case-insensitive and answered
 * lower-cased.
 *
 * GETMETADATA answers one "* METADATA mailbox (entry value ...)" as Dovecot does: the names asked for in
 * their order, "entry NIL" for one without a value when DEPTH is 0, each followed (DEPTH 1 or infinity)
 * by the entries below it in name order; none when nothing is found. Entries over MAXSIZE are left out
 * and the tagged OK says [METADATA LONGENTRIES n] (n: the largest left out). SETMETADATA sets values and removes
 * entries set to NIL, all or none: a value over METADATA_LIMITS.maxValueSize is NO [METADATA MAXSIZE n],
 * more entries or octets per user than the limits NO [METADATA TOOMANY]. A mailbox that does not exist is
 * NO [NONEXISTENT].
 */
import type { Token } from '../../imap/wire/tokenizer.js';
import { Args, ParseError, astringOf } from '../../imap/grammar/args.js';
import { WireWriter } from '../../imap/wire/encode.js';
import { withinDepth, type MetadataDepth } from '../../store/metadata.js';
import { no, ok } from '../errors.js';
import { AUTH, currentUser, defineCommand, existingMailbox, type CommandContext } from '../session.js';

/** Per-value and per-user limits of annotations. */
export const METADATA_LIMITS = { maxValueSize: 16 * 1024, maxEntries: 1000, maxTotalSize: 1024 * 1024 } as const;

export interface GetMetadataArgs {
  mailbox: string;
  entries: string[];
  maxSize: number | null;
  depth: MetadataDepth;
}

export interface SetMetadataArgs {
  mailbox: string;
  entries: Array<{ name: string; value: Buffer | null }>;
}

/** Checks an entry name (RFC 5464 3.2); `bare` allows "/private" and "/shared" alone (GETMETADATA). */
function entryName(t: Token, bare: boolean): string {
  if (t.t === 'list') throw new ParseError('Expected an entry name');
  const name = astringOf(t, 'entry name'); // entry = astring (RFC 5464): no literal8
  const lower = name.toLowerCase();
  const top = lower.startsWith('/private') ? '/private' : lower.startsWith('/shared') ? '/shared' : null;
  const rest = top ? lower.slice(top.length) : '';
  const ok =
    top !== null &&
    (rest === '' ? bare : rest.startsWith('/')) &&
    !/[*%\x00-\x1f\x7f]/.test(lower) &&
    !lower.includes('//') &&
    !lower.endsWith('/');
  if (!ok) throw new ParseError(`Invalid entry name ${JSON.stringify(name)}`);
  return lower;
}

export function parseGetMetadata(args: Args): GetMetadataArgs {
  let maxSize: number | null = null;
  let depth: MetadataDepth = 0;
  if (args.peek()?.t === 'list') {
    const opts = new Args(args.list('options'));
    while (!opts.done) {
      const o = opts.atom('option').toUpperCase();
      if (o === 'MAXSIZE') maxSize = opts.number('MAXSIZE');
      else if (o === 'DEPTH') {
        const d = opts.atom('DEPTH').toLowerCase();
        if (d === '0') depth = 0;
        else if (d === '1') depth = 1;
        else if (d === 'infinity') depth = 'infinity';
        else throw new ParseError('DEPTH must be 0, 1 or infinity');
      } else throw new ParseError(`Unknown GETMETADATA option ${o}`);
    }
  }
  const mailbox = args.astring('mailbox name');
  const t = args.next('entry names');
  const entries = t.t === 'list' ? t.v.map((e) => entryName(e, true)) : [entryName(t, true)];
  if (!entries.length) throw new ParseError('Missing entry names');
  args.end();
  return { mailbox, entries, maxSize, depth };
}

export function parseSetMetadata(args: Args): SetMetadataArgs {
  const mailbox = args.astring('mailbox name');
  const list = args.list('entry values');
  args.end();
  if (!list.length || list.length % 2) throw new ParseError('Expected entry and value pairs');
  const entries: SetMetadataArgs['entries'] = [];
  for (let i = 0; i < list.length; i += 2) {
    const name = entryName(list[i]!, false);
    const v = list[i + 1]!;
    if (v.t === 'string') entries.push({ name, value: v.v });
    else if (v.t === 'atom' && v.v.toUpperCase() === 'NIL') entries.push({ name, value: null });
    else throw new ParseError('Expected a value (string, literal or NIL)');
  }
  return { mailbox, entries };
}

/** The mailbox id the annotations belong to: null for the server (empty name). */
async function target(ctx: CommandContext, raw: string): Promise<number | null> {
  if (raw === '') return null;
  return (await existingMailbox(ctx, ctx.session.decodeMailbox(raw))).id;
}

function writeValue(w: WireWriter, v: Buffer | null): void {
  if (v === null) w.text('NIL');
  else if (v.includes(0)) w.literal(v, true);
  else w.string(v);
}

export const getmetadata = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseGetMetadata,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const mailboxId = await target(ctx, args.mailbox);
    const found = await ctx.service.store.getMetadata(user.id, mailboxId, args.entries, args.depth);
    // As Dovecot: the names asked for in their order (NIL when a name has no value and DEPTH is 0), each
    // followed by the entries below it in name order; every entry once.
    const byName = new Map(found.map((e) => [e.name, e.value]));
    const out = new Map<string, Buffer | null>();
    for (const base of args.entries) {
      const v = byName.get(base);
      if (v !== undefined || args.depth === 0) out.set(base, v ?? null);
      if (args.depth === 0) continue;
      for (const e of found) if (e.name !== base && withinDepth(e.name, base, args.depth) && !out.has(e.name)) out.set(e.name, e.value);
    }
    let longest = 0;
    const w = new WireWriter(ctx.session.utf8);
    let first = true;
    for (const [name, v] of out) {
      if (v !== null && args.maxSize !== null && v.length > args.maxSize) {
        longest = Math.max(longest, v.length);
        continue;
      }
      w.text(first ? '* METADATA ' : ' ');
      if (first) w.astring(args.mailbox).text(' (');
      first = false;
      w.astring(name).sp();
      writeValue(w, v);
    }
    if (!first) {
      w.text(')\r\n');
      ctx.session.send(w.toBuffer());
    }
    return longest ? ok('Getmetadata completed', `METADATA LONGENTRIES ${longest}`) : ok('Getmetadata completed');
  },
});

export const setmetadata = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseSetMetadata,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const mailboxId = await target(ctx, args.mailbox);
    if (args.entries.some((e) => e.value !== null && e.value.length > METADATA_LIMITS.maxValueSize)) {
      throw no('Metadata value too large', `METADATA MAXSIZE ${METADATA_LIMITS.maxValueSize}`);
    }
    const r = await ctx.service.store.setMetadata(user.id, mailboxId, args.entries, METADATA_LIMITS);
    if (r === 'toomany') throw no('Too many metadata entries', 'METADATA TOOMANY');
    return ok('Setmetadata completed');
  },
});

/**
 * URLAUTH (RFC 4467) and URLAUTH=BINARY (RFC 5524): RESETKEY, GENURLAUTH and URLFETCH. URL parsing,
 * signing and resolving are in src/urlauth/ (shared with BURL in submission).
 * - RESETKEY [mailbox *(SP mechanism)]: forgets the access key of the mailbox (all mailboxes without one);
 *   every URL signed with it stops resolving. NO [NONEXISTENT] for an unknown mailbox, BAD for a
 *   mechanism other than INTERNAL. With a mailbox the tagged OK carries [URLMECH INTERNAL], the mechanisms
 *   the mailbox's URLs can use (RFC 4467 section 6.1); SELECT and EXAMINE send the same code untagged.
 * - GENURLAUTH 1*(SP url-rump SP mechanism): "* GENURLAUTH url ..."; NO when a rump is not an absolute
 *   URL of the user's own mailbox with ";URLAUTH=access" (access user+id, submit+id or authuser), BAD for a
 *   mechanism other than INTERNAL.
 * - URLFETCH 1*(SP (url / "(" url *(SP (BODY / BINARY / BODYPARTSTRUCTURE)) ")")): one
 *   "* URLFETCH url data" per URL; data is NIL when the URL does not resolve for this user (bad token, reset
 *   key, access for someone else, expired, message gone), a literal for the plain form, or the RFC 5524
 *   list (BODYPARTSTRUCTURE first, then BODY / BINARY; BINARY of an unknown encoding gives NIL).
 */
import { Args, ParseError, astringOf } from '../../imap/grammar/args.js';
import { WireWriter } from '../../imap/wire/encode.js';
import { findPart } from '../../mime/index.js';
import { decodedEntity } from '../../mime/binary-decode.js';
import { generateUrlauth, resolveUrl, urlBytes, type UrlContext } from '../../urlauth/resolve.js';
import { binaryBytes } from '../fetch/render.js';
import { writeBodyStructure } from '../fetch/structure.js';
import { ImapError, bad, no, ok } from '../errors.js';
import { writeGenurlauth, writeUrlfetchClose, writeUrlfetchOpen } from '../responses.js';
import { AUTH, currentUser, defineCommand, existingMailbox, type CommandContext } from '../session.js';

/** How this session resolves IMAP URLs. */
export function urlContext(ctx: CommandContext): UrlContext {
  const user = currentUser(ctx);
  return { mail: ctx.service.store, directory: ctx.service.directory, user: { id: user.id, address: user.address } };
}

function mechanism(args: Args): void {
  if (args.astring('URLAUTH mechanism').toUpperCase() !== 'INTERNAL') throw bad('Unsupported URLAUTH mechanism');
}

/** The URLMECH response code: INTERNAL is the one mechanism, with no per-mailbox data (RFC 4467 6.1). */
export const URLMECH = 'URLMECH INTERNAL';

// ---- RESETKEY ----

export interface ResetKeyArgs {
  mailbox: string | null;
}

export function parseResetKey(args: Args): ResetKeyArgs {
  if (args.done) return { mailbox: null };
  const mailbox = args.astring('mailbox name');
  while (!args.done) mechanism(args);
  return { mailbox };
}

export const resetkey = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseResetKey,
  async run(ctx, args) {
    const user = currentUser(ctx);
    const mb = args.mailbox === null ? null : await existingMailbox(ctx, ctx.session.decodeMailbox(args.mailbox));
    await ctx.service.store.resetUrlauthKeys(user.id, mb?.id ?? null);
    return mb ? ok('RESETKEY completed', URLMECH) : ok('RESETKEY completed');
  },
});

// ---- GENURLAUTH ----

export interface GenUrlauthArgs {
  rumps: string[];
}

export function parseGenUrlauth(args: Args): GenUrlauthArgs {
  const rumps: string[] = [];
  do {
    rumps.push(args.astring('URL'));
    mechanism(args);
  } while (!args.done);
  return { rumps };
}

export const genurlauth = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseGenUrlauth,
  async run(ctx, args) {
    const uctx = urlContext(ctx);
    const urls: string[] = [];
    for (const r of args.rumps) {
      const u = await generateUrlauth(uctx, r);
      if (u === null) throw no('Invalid URL');
      urls.push(u);
    }
    const w = new WireWriter(ctx.session.utf8);
    writeGenurlauth(w, urls);
    ctx.session.send(w.toBuffer());
    return ok('GENURLAUTH completed');
  },
});

// ---- URLFETCH ----

export interface UrlFetchItem {
  url: string;
  /** null for the plain form (RFC 4467); else the RFC 5524 parameters asked for. */
  params: { body: boolean; binary: boolean; bodyPartStructure: boolean } | null;
}

export function parseUrlFetch(args: Args): { items: UrlFetchItem[] } {
  const items: UrlFetchItem[] = [];
  do {
    const t = args.next('URL');
    if (t.t !== 'list') {
      items.push({ url: astringOf(t, 'URL'), params: null });
      continue;
    }
    if (!t.v.length) throw new ParseError('Empty URLFETCH list');
    const params = { body: false, binary: false, bodyPartStructure: false };
    for (const p of t.v.slice(1)) {
      const name = p.t === 'atom' ? p.v.toUpperCase() : '';
      if (name === 'BODY') params.body = true;
      else if (name === 'BINARY') params.binary = true;
      else if (name === 'BODYPARTSTRUCTURE') params.bodyPartStructure = true;
      else throw new ParseError('URLFETCH parameters are BODY, BINARY and BODYPARTSTRUCTURE');
    }
    items.push({ url: astringOf(t.v[0]!, 'URL'), params });
  } while (!args.done);
  return { items };
}

function lineCount(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

/** Whether bytes can go in a plain literal (no NUL, no 8-bit): else literal8 (RFC 3516). */
function sevenBit(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! === 0 || b[i]! > 0x7f) return false;
  return true;
}

async function fetchOne(ctx: CommandContext, uctx: UrlContext, item: UrlFetchItem, w: WireWriter): Promise<void> {
  writeUrlfetchOpen(w, item.url);
  const r = await resolveUrl(uctx, item.url, 'fetch');
  const body = r && (await urlBytes(uctx, r));
  if (!r || body === null) return void w.text('NIL');
  const p = item.params;
  if (!p) return void w.literal(body);
  const loc = r.section.text === null ? findPart(r.index, r.section.part.join('.')) : null;
  let data = body;
  let structure = loc?.part ?? null;
  if (p.binary && loc) {
    const leaf = !loc.part.message && !(loc.part.type === 'multipart' && loc.part.children.length);
    if (leaf) {
      try {
        data = (await binaryBytes(ctx.service.store, r.mailboxId, r.uid, r.index, r.section.part)) ?? body;
      } catch (e) {
        if (e instanceof ImapError) return void w.text('NIL');
        throw e;
      }
      structure = { ...loc.part, octets: data.length, lines: lineCount(data) };
    } else {
      // A message or multipart: its leaves decoded, as Dovecot's binary converter gives it.
      const converted = decodedEntity(await ctx.service.store.readBytes(r.mailboxId, r.uid), loc.part, !r.section.part.length);
      data = converted.data;
      structure = converted.structure;
    }
  }
  const parts: Array<(w: WireWriter) => void> = [];
  if (p.bodyPartStructure) {
    if (!structure) return void w.text('NIL');
    // With BINARY the structure has the decoded sizes and lines (as Dovecot).
    const part = structure;
    parts.push((ww) => writeBodyStructure(ww.text('BODYPARTSTRUCTURE '), part, true));
  }
  if (p.body) parts.push((ww) => ww.text('BODY ').literal(body));
  if (p.binary) parts.push((ww) => ww.text('BINARY ').literal(data, !sevenBit(data)));
  w.list(parts, (ww, f) => f(ww));
}

export const urlfetch = defineCommand({
  states: AUTH,
  seq: 'none',
  parse: parseUrlFetch,
  async run(ctx, args) {
    const uctx = urlContext(ctx);
    for (const item of args.items) {
      const w = new WireWriter(ctx.session.utf8);
      await fetchOne(ctx, uctx, item, w);
      writeUrlfetchClose(w);
      await ctx.session.sendAsync(w.toBuffer());
    }
    return ok('URLFETCH completed');
  },
});

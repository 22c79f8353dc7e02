/**
 * FETCH response rendering. Metadata items come from the view; ENVELOPE/BODY/BODYSTRUCTURE come from the
 * stored MIME index; body sections are byte ranges of the stored blob read with store.readBytes(range).
 * The message is never re-parsed. Each message's response is built whole and written with backpressure,
 * except a literal of the message's own bytes larger than STREAM_PIECE, which is read and sent in pieces.
 * renderMessage/renderMessageInto take the command's RenderContext and one RenderRecord per message; they
 * throw ImapError NO [UNKNOWN-CTE] for BINARY of an unknown encoding and StoreError NOT_FOUND when the
 * message disappeared from the store.
 */
import type { MessageMeta } from '../../store/types.js';
import type { MailStore } from '../../store/mail.js';
import type { Envelope, MessageIndex } from '../../mime/types.js';
import { findPart, headerFieldsSlice, decodePartBody, UnknownTransferEncodingError } from '../../mime/index.js';
import { decodedBytes, hasEncodedLeaf, unknownEncodingIn } from '../../mime/binary-decode.js';
import { WireWriter, formatDateTime } from '../../imap/wire/encode.js';
import type { FetchItem, Partial, Section } from '../../imap/grammar/fetch.js';
import { no } from '../errors.js';
import { ConnectionClosedError, type Session } from '../session.js';
import type { MailboxView } from '../view.js';
import { writeFlags } from '../view-flags.js';
import { writeBodyStructure, writeEnvelope } from './structure.js';
import { messagePreview } from './preview.js';
import { cachedHeaderSlice, keptHeaderSlice } from './header-cache.js';
import { writeFetchClose, writeFetchOpen } from '../responses.js';

export interface RenderOptions {
  /** Include UID, first in each response (UID FETCH, QRESYNC, or the UID item asked for). */
  uid: boolean;
  /** Include MODSEQ (CHANGEDSINCE given, or MODSEQ asked). */
  modseq: boolean;
  /** UIDs whose FLAGS must be included because this FETCH changed them (\Seen). */
  flagsChanged: ReadonlySet<number>;
}

/** True when the item needs the MIME index (not only metadata and the whole blob). */
export function needsIndex(it: FetchItem): boolean {
  switch (it.kind) {
    case 'ENVELOPE':
    case 'BODY':
    case 'BODYSTRUCTURE':
    case 'RFC822.HEADER':
    case 'RFC822.TEXT':
    case 'BINARY':
    case 'BINARY.SIZE':
    case 'PREVIEW':
      return true;
    case 'BODY[]':
      return it.section.part.length > 0 || it.section.text !== null;
    default:
      return false;
  }
}

/** True when the item needs nothing of the MIME index but the envelope (the overview fast path: the store reads only the kept envelope text). */
export function envelopeOnly(it: FetchItem): boolean {
  return it.kind === 'ENVELOPE' || !needsIndex(it);
}

/** True when the item is the top-level header or some of its fields (BODY[HEADER...], RFC822.HEADER). */
export function isRootHeader(it: FetchItem): boolean {
  if (it.kind === 'RFC822.HEADER') return true;
  if (it.kind !== 'BODY[]' || it.section.part.length > 0) return false;
  const t = it.section.text;
  return t === 'HEADER' || t === 'HEADER.FIELDS' || t === 'HEADER.FIELDS.NOT';
}

/** True when the item needs nothing of the message but its header block (the store's getHeaders fast path). */
export function headerOnly(it: FetchItem): boolean {
  return isRootHeader(it) || !needsIndex(it);
}

/** True when the item is a set of top-level header fields (BODY[HEADER.FIELDS (...)], or .NOT): a slice the session keeps. */
function slicedHeaderItem(it: FetchItem): it is Extract<FetchItem, { kind: 'BODY[]' }> {
  return it.kind === 'BODY[]' && isRootHeader(it) && it.section.text !== 'HEADER';
}

/**
 * True when every item of a header-only FETCH (headerOnly) renders for message `uid` without its header block:
 * each header item is a field slice this session already keeps (keptHeaderSlice).
 */
export function headerKept(ctx: RenderContext, uid: number): boolean {
  for (const it of ctx.items) {
    if (!isRootHeader(it)) continue;
    if (!slicedHeaderItem(it) || keptHeaderSlice(ctx.session, ctx.view.mailbox.id, uid, it.section) === undefined) return false;
  }
  return true;
}

/** True when fetching the item sets \Seen (RFC 9051 6.4.5). */
export function setsSeen(it: FetchItem): boolean {
  return it.kind === 'RFC822' || it.kind === 'RFC822.TEXT' || ((it.kind === 'BODY[]' || it.kind === 'BINARY') && !it.peek);
}

/** What stays the same for every message of one FETCH command. */
export interface RenderContext {
  readonly store: MailStore;
  readonly session: Session;
  readonly view: MailboxView;
  readonly items: readonly FetchItem[];
  readonly opts: RenderOptions;
  /** The lower-cased names of each HEADER.FIELDS section of the items, made at the first message (see fieldSet). */
  readonly fieldSets: Map<Section, ReadonlySet<string>>;
}

/** The lower-cased field names of a HEADER.FIELDS(.NOT) section, made once per command. */
function fieldSet(ctx: RenderContext, s: Section): ReadonlySet<string> {
  let set = ctx.fieldSets.get(s);
  if (!set) ctx.fieldSets.set(s, (set = new Set(s.fields.map((f) => f.toLowerCase()))));
  return set;
}

/**
 * One message to render. Callers may reuse one record for every message of a command (the hot path
 * allocates nothing per message for it); the renderer reads it only until its promise settles.
 */
export interface RenderRecord {
  seq: number;
  meta: MessageMeta;
  /** The MIME index when the store read it; null otherwise. */
  index: MessageIndex | null;
  /** The envelope's IMAP text kept at delivery (imap/wire/envelope-text.ts), when the store read that. */
  envelopeText: string | null;
  /** The envelope when the store read only that (no index, no kept text). */
  envelope: Envelope | null;
  /** The message's header block when the store read only that: header items are cut from it. */
  header: Buffer | null;
}

/**
 * Bytes of one response held before the next item that reads the store: past it, what is rendered so far
 * is handed to `spill` (sent) first. Without it, `FETCH n (BODY.PEEK[] BODY.PEEK[] ...)` held every item of
 * a big message at once: a hundred items of a 64 MB message are 6.4 GB.
 */
export const SPILL_BYTES = 1024 * 1024;

/**
 * Renders one "* seq FETCH (...)" response as its pieces (literals are the buffers read from the store, not
 * copies). Throws ImapError NO [UNKNOWN-CTE] for BINARY of an unknown encoding.
 *
 * With `spill`, a response that grows past SPILL_BYTES goes out in parts: before each further item that reads
 * the store, the pieces so far are passed to `spill` (which sends them, in order, after anything pending), so
 * at most about one item is held. A failure after a part went out cannot be answered any more (the client
 * has half a response): the connection is ended and ConnectionClosedError thrown.
 */
export async function renderMessage(ctx: RenderContext, rec: RenderRecord, spill?: (chunks: Buffer[]) => Promise<void>): Promise<Buffer[]> {
  const w = new WireWriter(ctx.session.utf8);
  if (!spill) {
    await renderMessageInto(w, ctx, rec);
    return w.toChunks();
  }
  const st = openResponse(w, ctx, rec);
  let spilled = false;
  const send = (chunks: Buffer[]): Promise<void> => {
    spilled = true;
    return spill(chunks);
  };
  try {
    for (const it of ctx.items) {
      if (renderPlainItem(w, it, ctx, rec, st)) continue;
      if (w.approxLength >= SPILL_BYTES) await send(w.toChunks());
      const span = streamedSpan(it, rec.meta.size);
      if (span) await streamLiteral(w, it, ctx, rec, st, span, send);
      else await renderStoredItem(w, it, ctx, rec, st);
    }
  } catch (e) {
    if (!spilled || e instanceof ConnectionClosedError) throw e;
    ctx.session.logger.warn({ err: e instanceof Error ? e.message : String(e), uid: rec.meta.uid }, 'FETCH failed after part of its response was sent; closing the connection');
    ctx.session.end();
    throw new ConnectionClosedError();
  }
  closeResponse(w, ctx, rec, st);
  return w.toChunks();
}

/**
 * Like renderMessage, appending to `w` (several messages into one writer for header overviews). A throw
 * (NOT_FOUND, UNKNOWN-CTE) can leave a partial response in `w`: share a writer only for items that read
 * nothing from the store (metadata and ENVELOPE).
 */
export async function renderMessageInto(w: WireWriter, ctx: RenderContext, rec: RenderRecord): Promise<void> {
  const st = openResponse(w, ctx, rec);
  for (const it of ctx.items) if (!renderPlainItem(w, it, ctx, rec, st)) await renderStoredItem(w, it, ctx, rec, st);
  closeResponse(w, ctx, rec, st);
}

/** True when the item is rendered from the view, the MIME index or the kept envelope alone, never reading the store. */
export function plainItem(it: FetchItem): boolean {
  switch (it.kind) {
    case 'PREVIEW':
    case 'RFC822':
    case 'RFC822.HEADER':
    case 'RFC822.TEXT':
    case 'BODY[]':
    case 'BINARY':
    case 'BINARY.SIZE':
      return false;
    default:
      return true;
  }
}

/**
 * renderMessageInto without a promise, for items that read nothing from the store: every item plainItem,
 * or a root header item (isRootHeader) when `rec.header` holds the header block. Throws for any other item.
 */
export function renderPlainInto(w: WireWriter, ctx: RenderContext, rec: RenderRecord): void {
  const st = openResponse(w, ctx, rec);
  for (const it of ctx.items) if (!renderPlainItem(w, it, ctx, rec, st)) throw new Error(`${it.kind} reads the store`);
  closeResponse(w, ctx, rec, st);
}

/** One response being written: nothing yet (no separating space), FLAGS and MODSEQ written at most once. */
interface ResponseState {
  first: boolean;
  flagsDone: boolean;
  modseqDone: boolean;
}

function sep(w: WireWriter, st: ResponseState): void {
  if (!st.first) w.sp();
  st.first = false;
}

function openResponse(w: WireWriter, ctx: RenderContext, rec: RenderRecord): ResponseState {
  writeFetchOpen(w, rec.seq);
  const st: ResponseState = { first: true, flagsDone: false, modseqDone: false };
  if (ctx.opts.uid) {
    sep(w, st);
    w.text(`UID ${rec.meta.uid}`);
  }
  return st;
}

/** FLAGS (what this FETCH changed, when not asked for) and MODSEQ (when due) unless written, then ")". */
function closeResponse(w: WireWriter, ctx: RenderContext, rec: RenderRecord, st: ResponseState): void {
  if (ctx.opts.flagsChanged.has(rec.meta.uid)) writeFlagsItem(w, ctx, rec.meta, st);
  if (ctx.opts.modseq) writeModseqItem(w, rec.meta, st);
  writeFetchClose(w);
}

/** FLAGS, once per response. */
function writeFlagsItem(w: WireWriter, ctx: RenderContext, meta: MessageMeta, st: ResponseState): void {
  if (st.flagsDone) return;
  sep(w, st);
  w.text('FLAGS ');
  writeFlags(w, ctx.view.flagsOf(meta, ctx.session.rev2));
  st.flagsDone = true;
}

/** MODSEQ, once per response. */
function writeModseqItem(w: WireWriter, meta: MessageMeta, st: ResponseState): void {
  if (st.modseqDone) return;
  sep(w, st);
  w.text(`MODSEQ (${meta.modseq})`);
  st.modseqDone = true;
}

/** Writes an item that needs nothing from the store; false (nothing written) for one that does. */
function renderPlainItem(w: WireWriter, it: FetchItem, ctx: RenderContext, rec: RenderRecord, st: ResponseState): boolean {
  const { meta, index, envelope, envelopeText, header } = rec;
  switch (it.kind) {
    case 'UID':
      return true;
    case 'FLAGS':
      writeFlagsItem(w, ctx, meta, st);
      return true;
    case 'INTERNALDATE':
      sep(w, st);
      w.text(`INTERNALDATE "${formatDateTime(meta.internalDate)}"`);
      return true;
    case 'RFC822.SIZE':
      sep(w, st);
      w.text(`RFC822.SIZE ${meta.size}`);
      return true;
    case 'MODSEQ':
      writeModseqItem(w, meta, st);
      return true;
    case 'SAVEDATE':
      // RFC 8514; messages stored before save dates were kept report their internal date.
      sep(w, st);
      w.text(`SAVEDATE "${formatDateTime(meta.savedDate ?? meta.internalDate)}"`);
      return true;
    case 'EMAILID':
      sep(w, st);
      w.text(`EMAILID (${meta.emailId})`);
      return true;
    case 'THREADID':
      sep(w, st);
      w.text(`THREADID (${meta.threadId})`);
      return true;
    case 'ENVELOPE':
      sep(w, st);
      w.text('ENVELOPE ');
      if (envelopeText !== null) w.text(envelopeText);
      else writeEnvelope(w, envelope ?? index!.envelope);
      return true;
    case 'BODY':
      sep(w, st);
      w.text('BODY ');
      writeBodyStructure(w, index!.root, false);
      return true;
    case 'BODYSTRUCTURE':
      sep(w, st);
      w.text('BODYSTRUCTURE ');
      writeBodyStructure(w, index!.root, true);
      return true;
    case 'RFC822.HEADER':
      if (!header) return false;
      sep(w, st);
      w.text(`${it.kind} `).literal(header);
      return true;
    case 'BODY[]': {
      if (!isRootHeader(it)) return false;
      const s = it.section;
      let data: Buffer | undefined;
      if (header) data = s.text === 'HEADER' ? header : cachedHeaderSlice(ctx.session, ctx.view.mailbox.id, meta.uid, s, () => headerSection(ctx, header, s));
      // Without the header block read, a field slice this session has cut before (see slicedHeaderItem).
      else if (s.text !== 'HEADER') data = keptHeaderSlice(ctx.session, ctx.view.mailbox.id, meta.uid, s);
      if (data === undefined) return false;
      sep(w, st);
      writeBodySection(w, it, data);
      return true;
    }
    default:
      return false;
  }
}

/** `BODY[section]<start> literal`; a section that does not exist (null) is an empty string, as Dovecot sends. */
function writeBodySection(w: WireWriter, it: Extract<FetchItem, { kind: 'BODY[]' }>, data: Buffer | null): void {
  w.text(bodySectionName(it));
  w.literal(data === null ? Buffer.alloc(0) : applyPartial(data, it.partial));
}

/** `BODY[section]<start> ` (with its space), the name before a body section's literal. */
function bodySectionName(it: Extract<FetchItem, { kind: 'BODY[]' }>): string {
  return it.partial ? `${it.name}<${it.partial.start}> ` : `${it.name} `;
}

/**
 * Bytes per store read of a streamed literal (see streamedSpan). At most about one piece of it is held at a
 * time: a 5 MB message fetched whole was 5 MB of one worker's memory until the client had read it all.
 */
export const STREAM_PIECE = 256 * 1024;

/**
 * The byte range [start, end) of the message that an item sends as one literal of the message's own bytes
 * (BODY[] or BODY.PEEK[] of the whole message, with or without <start.length>, and RFC822), when it is larger
 * than STREAM_PIECE: renderMessage with `spill` then reads and sends it in pieces (streamLiteral). Null for
 * every other item and for smaller ranges, which are read whole and go out with one write.
 */
export function streamedSpan(it: FetchItem, size: number): { start: number; end: number } | null {
  const span = messageSpan(it, size);
  return span && span.end - span.start > STREAM_PIECE ? span : null;
}

/** The byte range of the message that BODY[]<partial> of the whole message or RFC822 sends; null for other items. */
function messageSpan(it: FetchItem, size: number): { start: number; end: number } | null {
  let start = 0;
  let end = size;
  if (it.kind === 'BODY[]') {
    if (it.section.part.length > 0 || it.section.text !== null) return null;
    if (it.partial) {
      start = Math.min(it.partial.start, size);
      end = Math.min(size, it.partial.start + it.partial.length);
    }
  } else if (it.kind !== 'RFC822') return null;
  return { start, end };
}

/**
 * Writes an item of streamedSpan as its name and one literal, read from the store STREAM_PIECE bytes at a
 * time; each piece but the last is passed to `spill` (sent) before the next is read. The output is the
 * same as that of renderStoredItem. The first read happens before anything is written, so a message that
 * is gone (NOT_FOUND) fails as it does there. A message whose bytes are fewer than its recorded size is
 * sent as read when the first piece shows it (as a whole read sends it); a later short piece leaves the
 * literal unfinishable and throws, and renderMessage then closes the connection.
 */
async function streamLiteral(
  w: WireWriter,
  it: FetchItem,
  ctx: RenderContext,
  rec: RenderRecord,
  st: ResponseState,
  span: { start: number; end: number },
  spill: (chunks: Buffer[]) => Promise<void>,
): Promise<void> {
  const mbId = ctx.view.mailbox.id;
  const uid = rec.meta.uid;
  const read = (from: number): Promise<Buffer> => ctx.store.readBytes(mbId, uid, { start: from, end: Math.min(span.end, from + STREAM_PIECE) });
  let piece = await read(span.start);
  sep(w, st);
  w.text(it.kind === 'BODY[]' ? bodySectionName(it) : `${it.kind} `);
  if (piece.length < Math.min(span.end - span.start, STREAM_PIECE)) {
    w.literal(piece);
    return;
  }
  w.text(`{${span.end - span.start}}\r\n`);
  for (let off = span.start; ; ) {
    w.bytes(piece);
    off += piece.length;
    if (off >= span.end) return;
    await spill(w.toChunks());
    piece = await read(off);
    if (piece.length !== Math.min(span.end - off, STREAM_PIECE)) throw new Error(`message ${uid} has fewer bytes than its size ${rec.meta.size}`);
  }
}

/** Writes an item that reads message bytes from the store (the items renderPlainItem declines). */
async function renderStoredItem(w: WireWriter, it: FetchItem, ctx: RenderContext, rec: RenderRecord, st: ResponseState): Promise<void> {
  const { store, view } = ctx;
  const { meta, index } = rec;
  const mbId = view.mailbox.id;
  switch (it.kind) {
    case 'PREVIEW':
      sep(w, st);
      w.text('PREVIEW ').string(await messagePreview(store, mbId, meta, index!));
      break;
    case 'RFC822': {
      sep(w, st);
      w.text('RFC822 ').literal(await store.readBytes(mbId, meta.uid));
      break;
    }
    case 'RFC822.HEADER':
    case 'RFC822.TEXT': {
      sep(w, st);
      const r = index!.root;
      const span = it.kind === 'RFC822.HEADER' ? { start: r.headerStart, end: r.headerEnd } : { start: r.bodyStart, end: r.bodyEnd };
      w.text(`${it.kind} `).literal(await readSpan(store, mbId, meta.uid, span.start, span.end));
      break;
    }
    case 'BODY[]': {
      sep(w, st);
      // A partial of the whole message reads only its range (a 50 KB partial of a 5 MB message read 5 MB).
      const span = it.partial ? messageSpan(it, meta.size) : null;
      if (span) {
        w.text(bodySectionName(it));
        w.literal(await readSpan(store, mbId, meta.uid, span.start, span.end));
        break;
      }
      writeBodySection(w, it, await sectionBytes(store, mbId, meta.uid, index, it.section, ctx));
      break;
    }
    case 'BINARY': {
      sep(w, st);
      const data = await binaryBytes(store, mbId, meta.uid, index!, it.part);
      w.text(`BINARY[${it.part.join('.')}]`);
      if (it.partial) w.text(`<${it.partial.start}>`);
      w.sp();
      const d = data === null ? Buffer.alloc(0) : applyPartial(data, it.partial);
      // Only data holding NUL needs a literal8; 8-bit data without it goes as a plain literal (RFC 3516 4.3,
      // errata 3978: the client then knows there is no NUL without scanning; Dovecot sends 8bit parts so too).
      w.literal(d, d.includes(0));
      break;
    }
    case 'BINARY.SIZE': {
      sep(w, st);
      const data = await binaryBytes(store, mbId, meta.uid, index!, it.part);
      w.text(`BINARY.SIZE[${it.part.join('.')}] ${data === null ? 0 : data.length}`);
      break;
    }
  }
}

export function applyPartial(data: Buffer, p: Partial | null): Buffer {
  if (!p) return data;
  if (p.start >= data.length) return Buffer.alloc(0);
  return data.subarray(p.start, Math.min(data.length, p.start + p.length));
}

async function readSpan(store: Pick<MailStore, 'readBytes'>, mbId: number, uid: number, start: number, end: number): Promise<Buffer> {
  if (end <= start) return Buffer.alloc(0);
  return store.readBytes(mbId, uid, { start, end });
}

/**
 * BODY[...HEADER], BODY[...HEADER.FIELDS (...)] and BODY[...HEADER.FIELDS.NOT (...)] from that message's
 * header block (with a FETCH's context, its field names are lower-cased once per command).
 */
function headerSection(ctx: RenderContext | null, header: Buffer, s: Section): Buffer {
  if (s.text === 'HEADER') return header;
  return headerFieldsSlice(header, { headerStart: 0, headerEnd: header.length }, ctx ? fieldSet(ctx, s) : s.fields, s.text === 'HEADER.FIELDS.NOT');
}

/** BODY[section] bytes; null when the section does not exist in this message. */
export async function sectionBytes(
  store: Pick<MailStore, 'readBytes'>,
  mbId: number,
  uid: number,
  index: MessageIndex | null,
  s: Section,
  ctx: RenderContext | null = null,
): Promise<Buffer | null> {
  if (!s.part.length && s.text === null) return store.readBytes(mbId, uid);
  const loc = findPart(index!, s.part.join('.'));
  if (!loc) return null;
  switch (s.text) {
    case null:
      return readSpan(store, mbId, uid, loc.body.start, loc.body.end);
    case 'MIME':
      return loc.mime ? readSpan(store, mbId, uid, loc.mime.start, loc.mime.end) : null;
    case 'HEADER':
      return loc.message ? readSpan(store, mbId, uid, loc.message.header.start, loc.message.header.end) : null;
    case 'TEXT':
      return loc.message ? readSpan(store, mbId, uid, loc.message.text.start, loc.message.text.end) : null;
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      return loc.message ? headerSection(ctx, await readSpan(store, mbId, uid, loc.message.header.start, loc.message.header.end), s) : null;
  }
}

/**
 * BINARY[part] bytes (transfer-decoded); null when the part does not exist. A leaf is its decoded body; a
 * whole message (part []), a message/rfc822 part or a multipart is given as Dovecot's binary converter
 * gives it (RFC 3516 4.2 leaves the form to the server): every base64 or quoted-printable leaf inside
 * decoded, its Content-Transfer-Encoding value made "binary", all else byte for byte. So BINARY[] of a
 * one-part base64 message is its header (CTE "binary") and the decoded body. Throws NO [UNKNOWN-CTE]
 * when the part, or any part inside it, has an encoding we cannot decode.
 */
export async function binaryBytes(store: MailStore, mbId: number, uid: number, index: MessageIndex, part: number[]): Promise<Buffer | null> {
  const whole = !part.length;
  const p = whole ? index.root : findPart(index, part.join('.'))?.part;
  if (!p) return null;
  if (whole || p.message || (p.type === 'multipart' && p.children.length)) {
    const bad = unknownEncodingIn(p);
    if (bad !== null) throw no(`Unknown Content-Transfer-Encoding ${bad}`, 'UNKNOWN-CTE');
    if (!hasEncodedLeaf(p)) return whole ? store.readBytes(mbId, uid) : readSpan(store, mbId, uid, p.bodyStart, p.bodyEnd);
    return decodedBytes(await store.readBytes(mbId, uid), p, whole);
  }
  const body = await readSpan(store, mbId, uid, p.bodyStart, p.bodyEnd);
  try {
    return decodePartBody(body, { ...p, bodyStart: 0, bodyEnd: body.length });
  } catch (e) {
    if (e instanceof UnknownTransferEncodingError) throw no(`Unknown Content-Transfer-Encoding ${e.encoding}`, 'UNKNOWN-CTE');
    throw e;
  }
}

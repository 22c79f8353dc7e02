/**
 * FETCH response rendering. Metadata items come from the view; ENVELOPE/BODY/BODYSTRUCTURE come from the
 * stored MIME index; body sections are byte ranges of the stored blob read with store.readBytes(range).
 * The message is never re-parsed. Each message's response is built whole and written with backpressure.
 * renderMessage/renderMessageInto take the command's RenderContext and one RenderRecord per message; they
 * throw ImapError NO [UNKNOWN-CTE] for BINARY of an unknown encoding and StoreError NOT_FOUND when the
 * message disappeared from the store.
 */
import type { MessageMeta } from '../../store/types.js';
import type { MailStore } from '../../store/mail.js';
import type { Envelope, MessageIndex } from '../../mime/types.js';
import { findPart, headerFieldsSlice, decodePartBody, UnknownTransferEncodingError } from '../../mime/index.js';
import { WireWriter, formatDateTime } from '../../imap/wire/encode.js';
import type { FetchItem, Partial, Section } from '../../imap/grammar/fetch.js';
import { formatSection } from '../../imap/grammar/fetch.js';
import { no } from '../errors.js';
import type { Session } from '../session.js';
import { writeFlags, type MailboxView } from '../view.js';
import { writeBodyStructure, writeEnvelope } from './structure.js';
import { messagePreview } from './preview.js';
import { writeFetchClose, writeFetchOpen } from '../responses.js';

export interface RenderOptions {
  /** Include UID (UID FETCH, or QRESYNC). */
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
 * Renders one "* seq FETCH (...)" response as its pieces (literals are the buffers read from the store, not
 * copies). Throws ImapError NO [UNKNOWN-CTE] for BINARY of an unknown encoding.
 */
export async function renderMessage(ctx: RenderContext, rec: RenderRecord): Promise<Buffer[]> {
  const w = new WireWriter(ctx.session.utf8);
  await renderMessageInto(w, ctx, rec);
  return w.toChunks();
}

/**
 * Like renderMessage, appending to `w` (several messages into one writer for header overviews). A throw
 * (NOT_FOUND, UNKNOWN-CTE) can leave a partial response in `w`: share a writer only for items that read
 * nothing from the store (metadata and ENVELOPE).
 */
export async function renderMessageInto(w: WireWriter, ctx: RenderContext, rec: RenderRecord): Promise<void> {
  const { store, session, view, items, opts } = ctx;
  const { seq, meta, index, envelope, envelopeText, header } = rec;
  const mbId = view.mailbox.id;
  writeFetchOpen(w, seq);
  let first = true;
  const sep = (): void => {
    if (!first) w.sp();
    first = false;
  };
  const wantUid = opts.uid || items.some((i) => i.kind === 'UID');
  if (wantUid) {
    sep();
    w.text(`UID ${meta.uid}`);
  }
  let flagsDone = false;
  let modseqDone = false;
  for (const it of items) {
    switch (it.kind) {
      case 'UID':
        break;
      case 'FLAGS':
        if (flagsDone) break;
        sep();
        w.text('FLAGS ');
        writeFlags(w, view.flagsOf(meta, session.rev2));
        flagsDone = true;
        break;
      case 'INTERNALDATE':
        sep();
        w.text(`INTERNALDATE "${formatDateTime(meta.internalDate)}"`);
        break;
      case 'RFC822.SIZE':
        sep();
        w.text(`RFC822.SIZE ${meta.size}`);
        break;
      case 'MODSEQ':
        if (modseqDone) break;
        sep();
        w.text(`MODSEQ (${meta.modseq})`);
        modseqDone = true;
        break;
      case 'SAVEDATE':
        // RFC 8514; messages stored before save dates were kept report their internal date.
        sep();
        w.text(`SAVEDATE "${formatDateTime(meta.savedDate ?? meta.internalDate)}"`);
        break;
      case 'PREVIEW':
        sep();
        w.text('PREVIEW ').string(await messagePreview(store, mbId, meta, index!));
        break;
      case 'EMAILID':
        sep();
        w.text(`EMAILID (${meta.emailId})`);
        break;
      case 'THREADID':
        sep();
        w.text(`THREADID (${meta.threadId})`);
        break;
      case 'ENVELOPE':
        sep();
        w.text('ENVELOPE ');
        if (envelopeText !== null) w.text(envelopeText);
        else writeEnvelope(w, envelope ?? index!.envelope);
        break;
      case 'BODY':
        sep();
        w.text('BODY ');
        writeBodyStructure(w, index!.root, false);
        break;
      case 'BODYSTRUCTURE':
        sep();
        w.text('BODYSTRUCTURE ');
        writeBodyStructure(w, index!.root, true);
        break;
      case 'RFC822': {
        sep();
        w.text('RFC822 ').literal(await store.readBytes(mbId, meta.uid));
        break;
      }
      case 'RFC822.HEADER':
      case 'RFC822.TEXT': {
        sep();
        if (it.kind === 'RFC822.HEADER' && header) {
          w.text(`${it.kind} `).literal(header);
          break;
        }
        const r = index!.root;
        const span = it.kind === 'RFC822.HEADER' ? { start: r.headerStart, end: r.headerEnd } : { start: r.bodyStart, end: r.bodyEnd };
        w.text(`${it.kind} `).literal(await readSpan(store, mbId, meta.uid, span.start, span.end));
        break;
      }
      case 'BODY[]': {
        sep();
        const data = header && isRootHeader(it) ? headerSection(header, it.section) : await sectionBytes(store, mbId, meta.uid, index, it.section);
        w.text(`BODY[${formatSection(it.section)}]`);
        if (it.partial) w.text(`<${it.partial.start}>`);
        w.sp();
        // A section that does not exist is an empty string (what Dovecot sends), not an error.
        w.literal(data === null ? Buffer.alloc(0) : applyPartial(data, it.partial));
        break;
      }
      case 'BINARY': {
        sep();
        const data = await binaryBytes(store, mbId, meta.uid, index!, it.part);
        w.text(`BINARY[${it.part.join('.')}]`);
        if (it.partial) w.text(`<${it.partial.start}>`);
        w.sp();
        const d = data === null ? Buffer.alloc(0) : applyPartial(data, it.partial);
        w.literal(d, !isSevenBit(d));
        break;
      }
      case 'BINARY.SIZE': {
        sep();
        const data = await binaryBytes(store, mbId, meta.uid, index!, it.part);
        w.text(`BINARY.SIZE[${it.part.join('.')}] ${data === null ? 0 : data.length}`);
        break;
      }
    }
  }
  if (!flagsDone && opts.flagsChanged.has(meta.uid)) {
    sep();
    w.text('FLAGS ');
    writeFlags(w, view.flagsOf(meta, session.rev2));
  }
  if (!modseqDone && opts.modseq) {
    sep();
    w.text(`MODSEQ (${meta.modseq})`);
  }
  writeFetchClose(w);
}

/** Decoded content that is not 7-bit goes out as literal8 (RFC 3516 section 4.2; Dovecot does the same). */
function isSevenBit(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! === 0 || b[i]! > 0x7f) return false;
  return true;
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

/** BODY[...HEADER], BODY[...HEADER.FIELDS (...)] and BODY[...HEADER.FIELDS.NOT (...)] from that message's header block. */
function headerSection(header: Buffer, s: Section): Buffer {
  if (s.text === 'HEADER') return header;
  return headerFieldsSlice(header, { headerStart: 0, headerEnd: header.length }, s.fields, s.text === 'HEADER.FIELDS.NOT');
}

/** BODY[section] bytes; null when the section does not exist in this message. */
export async function sectionBytes(store: Pick<MailStore, 'readBytes'>, mbId: number, uid: number, index: MessageIndex | null, s: Section): Promise<Buffer | null> {
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
      return loc.message ? headerSection(await readSpan(store, mbId, uid, loc.message.header.start, loc.message.header.end), s) : null;
  }
}

/** BINARY[part] bytes (transfer-decoded); null when the part does not exist. */
export async function binaryBytes(store: MailStore, mbId: number, uid: number, index: MessageIndex, part: number[]): Promise<Buffer | null> {
  if (!part.length) return store.readBytes(mbId, uid);
  const loc = findPart(index, part.join('.'));
  if (!loc) return null;
  const p = loc.part;
  if (p.type === 'multipart' && p.children.length) throw no('BINARY of a multipart is not allowed', 'UNKNOWN-CTE');
  const body = await readSpan(store, mbId, uid, p.bodyStart, p.bodyEnd);
  try {
    return decodePartBody(body, { ...p, bodyStart: 0, bodyEnd: body.length });
  } catch (e) {
    if (e instanceof UnknownTransferEncodingError) throw no(`Unknown Content-Transfer-Encoding ${e.encoding}`, 'UNKNOWN-CTE');
    throw e;
  }
}

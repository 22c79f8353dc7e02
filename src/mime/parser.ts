/**
 * Raw RFC 5322 / MIME (RFC 2045, 2046) bytes -> MessageIndex: a part tree with byte offsets plus the
 * ENVELOPE and BODYSTRUCTURE data IMAP needs (RFC 9051 sections 6.4.5 and 7.5.2).
 *
 * Input is expected with CRLF line endings (the store normalises first, see normalizeLineEndings);
 * bare LF input still indexes without error but header/boundary detection keys on CRLF.
 *
 * Guarantees (checked by the property tests):
 * - never throws on any input;
 * - for every part: headerStart <= headerEnd == bodyStart <= bodyEnd, all inside the parent's span;
 * - the children of a multipart are ordered and disjoint; what lies between them is preamble,
 *   delimiter lines (each including the CRLF that precedes it) and epilogue;
 * - a multipart part always has at least one child: with no usable boundary its body becomes one
 *   header-less text/plain child spanning the whole body (IMAP BODYSTRUCTURE requires 1*body);
 * - a message/rfc822 or message/global part always has `message` set; its encapsulated root spans
 *   exactly the part's body;
 * - nesting deeper than MIME_MAX_DEPTH: a multipart or message part at that depth becomes an opaque
 *   application/octet-stream leaf (its header and bytes are kept, it is just not descended into);
 * - at most MIME_MAX_PARTS parts: the part that reaches the limit spans the rest of its parent's body
 *   (later delimiters included), and a multipart or message part met past it is an opaque leaf.
 *
 * Speed: boundaries and header ends are found with Buffer.indexOf over subarrays (large multipart
 * regions through one per-message list of "--" line starts, so nesting does not rescan big bodies);
 * bodies are never converted to strings; lines are counted only where IMAP reports them (text/*,
 * message/*), composed bottom-up so each byte is counted at most once.
 */
import { MIME_MAX_DEPTH, MIME_MAX_PARTS } from '../lib/limits.js';
import { parseAddressList } from './address.js';
import { headerFields, parseParameterized, stripComments, type HeaderFields } from './headers.js';
import type { Envelope, MessageIndex, MimePart, ParameterizedValue } from './types.js';

const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');
const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const SP = 0x20;
const HTAB = 0x09;

/**
 * Where the header of the entity starting at `start` ends: the offset just past the blank line
 * (CRLF CRLF), `start + 2` when the entity begins with a blank line (empty header), or `end` when
 * there is no blank line (the whole entity is header, the body is empty).
 */
export function messageHeaderEnd(raw: Buffer, start = 0, end = raw.length): number {
  if (end - start >= 2 && raw[start] === CR && raw[start + 1] === LF) return start + 2;
  const i = raw.subarray(start, end).indexOf(CRLFCRLF);
  return i < 0 ? end : start + i + 4;
}

/**
 * "Size in text lines" (RFC 9051 body-fld-lines) of raw[start, end): the number of line breaks (LF).
 * A final line without a line break is not counted; this matches Dovecot, so a part "Hello" followed
 * by a boundary (whose preceding CRLF belongs to the delimiter) has 0 lines.
 */
export function countLines(raw: Buffer, start: number, end: number): number {
  if (end <= start) return 0;
  const body = raw.subarray(start, end);
  const len = body.length;
  let n = 0;
  let i = 0;
  while (i < len) {
    const j = body.indexOf(LF, i);
    if (j < 0) break;
    n++;
    if (j - i < 16) {
      // Dense line breaks: a call per LF costs more than looking at the bytes, so count the
      // next 4 KB directly. Sparse text and base64 (76-char lines) stay on indexOf.
      const stop = Math.min(len, j + 4096);
      for (let k = j + 1; k < stop; k++) if (body[k] === LF) n++;
      i = stop;
    } else {
      i = j + 1;
    }
  }
  return n;
}

interface Headers {
  /** The block's fields and unfolded values (searchableText reads them again: see headersOf). */
  all: HeaderFields;
  /** First value of a field by lowercased name, unfolded. */
  get(name: string): string | null;
}

function readHeaders(raw: Buffer, start: number, end: number): Headers {
  const all = headerFields(raw, start, end);
  // First occurrence of each field wins (RFC 5322 allows one; Dovecot's ENVELOPE takes the last).
  const first = new Map<string, number>();
  all.fields.forEach((f, i) => {
    const key = f.name.toLowerCase();
    if (!first.has(key)) first.set(key, i);
  });
  return {
    all,
    get(name: string): string | null {
      const i = first.get(name);
      return i === undefined ? null : all.value(i);
    },
  };
}

/** The header fields read while indexing, by the part (top-level root, encapsulated roots) they belong to. */
const readFields = new WeakMap<MimePart, { raw: Buffer; fields: HeaderFields }>();

/**
 * The fields of `part`'s header in `raw` with their unfolded values: those indexMessage read for this very
 * part object of these very bytes when it made them, else read now.
 */
export function headersOf(raw: Buffer, part: MimePart): HeaderFields {
  const known = readFields.get(part);
  return known !== undefined && known.raw === raw ? known.fields : headerFields(raw, part.headerStart, part.headerEnd);
}

const TOKEN_RE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function contentType(
  h: Headers,
  defaultType: [string, string],
): { type: string; subtype: string; params: Array<[string, string]>; rawParams?: Array<[string, string]> } {
  const v = h.get('content-type');
  let type = defaultType[0];
  let subtype = defaultType[1];
  let params: Array<[string, string]> = [];
  let rawParams: Array<[string, string]> | undefined;
  if (v !== null) {
    const pv = parseParameterized(v);
    const slash = pv.value.indexOf('/');
    const t = slash < 0 ? '' : pv.value.slice(0, slash).trim();
    const st = slash < 0 ? '' : pv.value.slice(slash + 1).trim();
    if (TOKEN_RE.test(t) && TOKEN_RE.test(st)) {
      type = t;
      subtype = st;
      params = pv.params;
      rawParams = pv.rawParams;
    } else {
      // RFC 2045 5.2: an unparseable Content-Type means text/plain; charset=us-ascii.
      type = 'text';
      subtype = 'plain';
      params = [];
    }
  }
  if (type === 'text' && !params.some(([k]) => k === 'charset')) {
    params.push(['charset', 'us-ascii']);
    if (rawParams && !rawParams.some(([k]) => k === 'charset' || k === 'charset*')) rawParams.push(['charset', 'us-ascii']);
  }
  return rawParams ? { type, subtype, params, rawParams } : { type, subtype, params };
}

function disposition(h: Headers): ParameterizedValue | null {
  const v = h.get('content-disposition');
  if (v === null) return null;
  const pv = parseParameterized(v);
  if (!pv.value || !TOKEN_RE.test(pv.value)) return null;
  return pv;
}

function language(h: Headers): string[] | null {
  const v = h.get('content-language');
  if (v === null) return null;
  const list = stripComments(v)
    .split(/[\s,]+/)
    .filter((x) => x.length > 0);
  return list.length ? list : null;
}

function envelopeOf(h: Headers): Envelope {
  const from = addr(h, 'from');
  const sender = addr(h, 'sender') ?? from;
  const replyTo = addr(h, 'reply-to') ?? from;
  return {
    date: h.get('date'),
    subject: h.get('subject'),
    from,
    sender,
    replyTo,
    to: addr(h, 'to'),
    cc: addr(h, 'cc'),
    bcc: addr(h, 'bcc'),
    inReplyTo: h.get('in-reply-to'),
    messageId: h.get('message-id'),
  };
}

function addr(h: Headers, name: string): Envelope['from'] {
  const v = h.get(name);
  return v === null ? null : parseAddressList(v);
}

function isMessageType(type: string, subtype: string): boolean {
  return type === 'message' && (subtype === 'rfc822' || subtype === 'global');
}

function emptyEnvelope(): Envelope {
  return { date: null, subject: null, from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null };
}

/** A header-less text/plain part spanning raw[start, end) (used for multiparts without usable boundaries). */
function plainLeaf(raw: Buffer, section: string, start: number, end: number): MimePart {
  return {
    section,
    headerStart: start,
    headerEnd: start,
    bodyStart: start,
    bodyEnd: end,
    type: 'text',
    subtype: 'plain',
    params: [['charset', 'us-ascii']],
    id: null,
    description: null,
    encoding: '7BIT',
    octets: end - start,
    lines: countLines(raw, start, end),
    md5: null,
    disposition: null,
    language: null,
    location: null,
    children: [],
    message: null,
  };
}

interface Delimiter {
  /** Start of the delimiter including the CRLF that precedes it (== dashStart at the region start). */
  from: number;
  dashStart: number;
  /** Just past the delimiter line's CRLF (or the region end). */
  to: number;
  close: boolean;
}

const CRLF_DASHES = Buffer.from('\r\n--');

interface Ctx {
  raw: Buffer;
  /**
   * Sorted offsets of every line that starts with "--" (after a CRLF), computed once per message
   * when a large multipart region is searched; 'dense' when there are too many to be worth it.
   */
  dashLines: Int32Array | 'dense' | null;
  dashCount: number;
  /** Regions at least this large are searched through dashLines (see findDelimiters). */
  dashIndexFrom: number;
  /** Parts made so far (bounded by MIME_MAX_PARTS). */
  parts: number;
}

function dashLines(ctx: Ctx): Int32Array | 'dense' {
  if (ctx.dashLines !== null) return ctx.dashLines;
  const { raw } = ctx;
  const cap = Math.max(1024, raw.length >> 8);
  let list = new Int32Array(64);
  let n = 0;
  let i = raw.indexOf(CRLF_DASHES);
  while (i >= 0) {
    if (n === cap) {
      ctx.dashLines = 'dense';
      return 'dense';
    }
    if (n === list.length) {
      const bigger = new Int32Array(list.length * 2);
      bigger.set(list);
      list = bigger;
    }
    list[n++] = i + 2;
    i = raw.indexOf(CRLF_DASHES, i + 2);
  }
  ctx.dashLines = list;
  ctx.dashCount = n;
  return list;
}

/** First index in list[0, n) whose value is >= x. */
function lowerBound(list: Int32Array, n: number, x: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * If a delimiter line for `needle` ("--boundary") starts at region offset i (already known to be at a
 * line start), returns its end offset and whether it closes; else null. RFC 2046 5.1.1: "--boundary",
 * then "--" for the close delimiter, optional transport padding (SP/HTAB), then CRLF or the region end.
 * A close delimiter followed by junk on its line still closes (the rest of the line is epilogue).
 */
function delimiterAt(body: Buffer, i: number, needle: Buffer, atMessageEnd: boolean): { to: number; close: boolean } | null {
  const len = body.length;
  if (i + needle.length > len || body.compare(needle, 0, needle.length, i, i + needle.length) !== 0) return null;
  let j = i + needle.length;
  let close = false;
  if (body[j] === DASH && body[j + 1] === DASH) {
    close = true;
    j += 2;
  }
  while (j < len && (body[j] === SP || body[j] === HTAB)) j++;
  // At the end of the region the line is ended by the enclosing delimiter's CRLF, so a part follows
  // (empty); at the very end of the message nothing follows and the delimiter only ends the last
  // part, like a close delimiter (Dovecot reads both cases the same way).
  if (j >= len) return { to: len, close: close || atMessageEnd };
  if (body[j] === CR && body[j + 1] === LF) return { to: j + 2, close };
  if (!close) return null;
  const eol = body.indexOf(CRLF, j);
  return { to: eol < 0 ? len : eol + 2, close };
}

/**
 * Finds the boundary delimiter lines of a multipart body raw[start, end), up to and including the
 * close delimiter. Each delimiter's span runs from the CRLF that precedes it (the CRLF belongs to the
 * delimiter, RFC 2046 5.1.1) to just past its own CRLF.
 *
 * Small regions are searched with Buffer.indexOf for the boundary. Large regions (nested multiparts
 * around a big attachment would otherwise be rescanned once per nesting level) look only at the
 * message's "--" line starts, found once per message, unless those are dense in the region.
 */
function findDelimiters(ctx: Ctx, start: number, end: number, boundary: string, max: number): Delimiter[] {
  const { raw } = ctx;
  const out: Delimiter[] = [];
  const needle = Buffer.from('--' + boundary, 'utf8');
  const body = raw.subarray(start, end);
  const len = body.length;
  const atMessageEnd = end === raw.length;
  const push = (i: number, d: { to: number; close: boolean }): void => {
    out.push({ from: start + (i === 0 ? 0 : i - 2), dashStart: start + i, to: start + d.to, close: d.close });
  };
  const list = len >= ctx.dashIndexFrom ? dashLines(ctx) : 'dense';
  if (list !== 'dense') {
    // Line starts strictly inside the region are preceded by a CRLF inside it (offset >= 2).
    const lo = lowerBound(list, ctx.dashCount, start + 2);
    const hi = lowerBound(list, ctx.dashCount, end);
    if (hi - lo <= len >> 8 || ctx.dashIndexFrom === 0) {
      let next = 0; // region offset before which no delimiter may start (inside the previous one)
      const first = delimiterAt(body, 0, needle, atMessageEnd);
      if (first) {
        push(0, first);
        if (first.close || out.length >= max) return out;
        next = first.to;
      }
      for (let k = lo; k < hi; k++) {
        const i = list[k]! - start;
        if (i < next) continue;
        const d = delimiterAt(body, i, needle, atMessageEnd);
        if (!d) continue;
        push(i, d);
        if (d.close || out.length >= max) break;
        next = d.to;
      }
      return out;
    }
  }
  let i = body.indexOf(needle);
  while (i >= 0) {
    const atLineStart = i === 0 || (i >= 2 && body[i - 1] === LF && body[i - 2] === CR);
    const d = atLineStart ? delimiterAt(body, i, needle, atMessageEnd) : null;
    if (d) {
      push(i, d);
      if (d.close || out.length >= max) break;
      i = body.indexOf(needle, d.to);
    } else {
      i = body.indexOf(needle, i + 1);
    }
  }
  return out;
}

/**
 * Parses the entity raw[start, end) (header + body) as one part numbered `section`.
 * `childPrefix` is the prefix for child section numbers ("" at the top level, "N." below part N).
 */
/**
 * Line counts are composed bottom-up so that every byte is counted at most once, however deeply
 * message/rfc822 parts nest: a message part's line count is the LF count of the encapsulated header
 * plus the LF count of the encapsulated body, itself composed from its parts and delimiters. Inside a
 * message part (`needLf`) every part reports its body's LF count; elsewhere only text parts count.
 * `lf` is -1 when it was not computed.
 */
interface Parsed {
  part: MimePart;
  headers: Headers;
  lf: number;
}

function parseEntity(ctx: Ctx, start: number, end: number, section: string, childPrefix: string, depth: number, defaultType: [string, string], needLf: boolean): Parsed {
  const { raw } = ctx;
  ctx.parts++;
  const headerEnd = messageHeaderEnd(raw, start, end);
  const h = readHeaders(raw, start, headerEnd);
  const ct = contentType(h, defaultType);
  let { type, subtype, params } = ct;
  const bodyStart = headerEnd;
  const bodyEnd = end;
  const encRaw = h.get('content-transfer-encoding');
  const part: MimePart = {
    section,
    headerStart: start,
    headerEnd,
    bodyStart,
    bodyEnd,
    type,
    subtype,
    params,
    id: h.get('content-id'),
    description: h.get('content-description'),
    encoding: encRaw ? stripComments(encRaw).trim() || '7BIT' : '7BIT',
    octets: bodyEnd - bodyStart,
    lines: 0,
    md5: h.get('content-md5'),
    disposition: disposition(h),
    language: language(h),
    location: h.get('content-location'),
    children: [],
    message: null,
  };
  if (ct.rawParams) part.rawParams = ct.rawParams;
  const nests = type === 'multipart' || isMessageType(type, subtype);
  if (nests && (depth >= MIME_MAX_DEPTH || ctx.parts >= MIME_MAX_PARTS)) {
    type = part.type = 'application';
    subtype = part.subtype = 'octet-stream';
    params = part.params = [];
    delete part.rawParams;
  }
  let lf = -1;
  if (type === 'multipart') {
    lf = parseMultipart(ctx, part, childPrefix, depth, subtype === 'digest' ? ['message', 'rfc822'] : ['text', 'plain'], needLf);
  } else if (isMessageType(type, subtype)) {
    // The encapsulated message is addressed through this part's number X (X.HEADER, X.TEXT, X.1 ...);
    // a top-level message/rfc822 root (section "") is addressed as part "1".
    const x = section === '' ? '1' : section;
    const inner = parseEntity(ctx, bodyStart, bodyEnd, x, x + '.', depth + 1, ['text', 'plain'], true);
    part.message = { envelope: envelopeOf(inner.headers), root: inner.part };
    readFields.set(inner.part, { raw, fields: inner.headers.all });
    lf = part.lines = countLines(raw, inner.part.headerStart, inner.part.headerEnd) + inner.lf;
  } else if (type === 'text' || needLf) {
    lf = countLines(raw, bodyStart, bodyEnd);
    if (type === 'text') part.lines = lf;
  }
  return { part, headers: h, lf };
}

/** Parses the children of a multipart; returns the LF count of its body when `needLf`, else -1. */
function parseMultipart(ctx: Ctx, part: MimePart, childPrefix: string, depth: number, childDefault: [string, string], needLf: boolean): number {
  const { raw } = ctx;
  const boundary = part.params.find(([k]) => k === 'boundary')?.[1];
  // One delimiter more than the parts left: the last part indexed spans the rest (see below).
  const delims = boundary ? findDelimiters(ctx, part.bodyStart, part.bodyEnd, boundary, Math.max(1, MIME_MAX_PARTS - ctx.parts) + 1) : [];
  const openDelims = delims.filter((d) => !d.close);
  if (openDelims.length === 0) {
    ctx.parts++;
    const leaf = plainLeaf(raw, childPrefix + '1', part.bodyStart, part.bodyEnd);
    part.children.push(leaf);
    return needLf ? leaf.lines : -1;
  }
  let lf = 0;
  let pos = part.bodyStart;
  for (let k = 0; k < delims.length; k++) {
    const d = delims[k]!;
    if (d.close) break;
    // The part that reaches MIME_MAX_PARTS is the last: it spans the rest of the body.
    const last = ctx.parts + 1 >= MIME_MAX_PARTS;
    const next = last ? undefined : delims[k + 1];
    const cStart = d.to;
    // The CRLF before the next delimiter belongs to that delimiter; an empty part may share it.
    const cEnd = next ? Math.max(cStart, next.from) : part.bodyEnd;
    const n = part.children.length + 1;
    const sec = childPrefix + n;
    const child = parseEntity(ctx, cStart, cEnd, sec, sec + '.', depth + 1, childDefault, needLf);
    part.children.push(child.part);
    if (needLf) {
      const c = child.part;
      lf += countLines(raw, pos, c.headerStart) + countLines(raw, c.headerStart, c.headerEnd) + child.lf;
      pos = c.bodyEnd;
    }
    if (last) break;
  }
  if (!needLf) return -1;
  return lf + countLines(raw, pos, part.bodyEnd);
}

/**
 * Indexes a raw message (CRLF line endings). Never throws: on any internal failure it returns an
 * index describing the whole message as one text/plain part with an empty envelope.
 */
export function indexMessage(raw: Buffer): MessageIndex {
  return indexMessageWith(raw, {});
}

/**
 * The part tree of a raw message, as indexMessage's `root` (for readers of the structure only, such as the
 * spam tokenizer: the top-level envelope, a good share of the work, is not built). Never throws.
 */
export function indexParts(raw: Buffer): MimePart {
  return indexMessageWith(raw, { envelope: false }).root;
}

/**
 * indexMessage with tuning knobs, for tests and benchmarks (not re-exported from index.ts):
 * `dashIndexFrom` is the region size from which delimiters are looked up through the message's
 * "--" line starts instead of a boundary scan (default 64 KiB; 0 forces it everywhere, whatever the
 * density, so that tests can check both ways give the same index). `envelope: false` leaves the
 * top-level envelope empty.
 */
export function indexMessageWith(raw: Buffer, opts: { dashIndexFrom?: number; envelope?: boolean }): MessageIndex {
  try {
    const ctx: Ctx = { raw, dashLines: null, dashCount: 0, dashIndexFrom: opts.dashIndexFrom ?? 64 * 1024, parts: 0 };
    const { part, headers } = parseEntity(ctx, 0, raw.length, '', '', 0, ['text', 'plain'], false);
    readFields.set(part, { raw, fields: headers.all });
    return { version: 1, size: raw.length, envelope: opts.envelope === false ? emptyEnvelope() : envelopeOf(headers), root: part };
  } catch {
    const headerEnd = messageHeaderEnd(raw, 0, raw.length);
    const root = plainLeaf(raw, '', 0, raw.length);
    root.headerEnd = headerEnd;
    root.bodyStart = headerEnd;
    root.octets = raw.length - headerEnd;
    root.lines = countLines(raw, headerEnd, raw.length);
    return { version: 1, size: raw.length, envelope: emptyEnvelope(), root };
  }
}

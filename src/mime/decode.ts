/**
 * Decoding helpers: line-ending normalisation, transfer decoding of one part (IMAP BINARY[]),
 * RFC 2047 encoded words, and the searchable text of a message (IMAP SEARCH, client).
 */
import { createRequire } from 'node:module';
import { safeDecode } from './headers.js';
import { headersOf } from './parser.js';
import type { MessageIndex, MimePart } from './types.js';

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HTAB = 0x09;
const EQ = 0x3d;

/**
 * Buffers known to end every line in CRLF (see markCrlfOnly). A WeakSet: marking keeps nothing alive.
 * Message buffers are never modified after they are received, which is what makes a mark stay true.
 */
const crlfOnly = new WeakSet<Buffer>();

/**
 * Records that `buf` has no bare CR or LF, as the caller has just checked (SMTP/LMTP refuse or rewrite bare
 * line ends before a message goes further), so normalizeLineEndings returns it without scanning it again.
 * The caller must not modify the buffer afterwards.
 */
export function markCrlfOnly(buf: Buffer): void {
  crlfOnly.add(buf);
}

/** True when `buf` was marked by markCrlfOnly. */
export function isMarkedCrlfOnly(buf: Buffer): boolean {
  return crlfOnly.has(buf);
}

/**
 * Rewrites bare LF and lone CR as CRLF. Returns the very same Buffer when it is already clean
 * (no copy), a new Buffer otherwise. Scans with indexOf; no per-byte loop; a buffer marked by
 * markCrlfOnly is returned at once.
 */
export function normalizeLineEndings(raw: Buffer): Buffer {
  if (crlfOnly.has(raw)) return raw;
  // Pass 1: count the line breaks that need an extra byte.
  let extra = 0;
  let i = raw.indexOf(LF);
  while (i >= 0) {
    if (i === 0 || raw[i - 1] !== CR) extra++;
    i = raw.indexOf(LF, i + 1);
  }
  i = raw.indexOf(CR);
  while (i >= 0) {
    if (raw[i + 1] !== LF) extra++;
    i = raw.indexOf(CR, i + 1);
  }
  if (extra === 0) return raw;
  // Pass 2: copy, inserting the missing byte of each broken line break.
  const out = Buffer.allocUnsafe(raw.length + extra);
  let o = 0;
  let pos = 0;
  let nextCr = raw.indexOf(CR);
  let nextLf = raw.indexOf(LF);
  const len = raw.length;
  while (pos < len) {
    if (nextCr >= 0 && nextCr < pos) nextCr = raw.indexOf(CR, pos);
    if (nextLf >= 0 && nextLf < pos) nextLf = raw.indexOf(LF, pos);
    let brk: number;
    if (nextCr < 0 && nextLf < 0) brk = -1;
    else if (nextCr < 0) brk = nextLf;
    else if (nextLf < 0) brk = nextCr;
    else brk = Math.min(nextCr, nextLf);
    if (brk < 0) {
      o += raw.copy(out, o, pos, len);
      break;
    }
    o += raw.copy(out, o, pos, brk);
    out[o++] = CR;
    out[o++] = LF;
    pos = raw[brk] === CR && raw[brk + 1] === LF ? brk + 2 : brk + 1;
  }
  return o === out.length ? out : out.subarray(0, o);
}

/** Thrown by decodePartBody for a Content-Transfer-Encoding it does not know (IMAP: NO [UNKNOWN-CTE]). */
export class UnknownTransferEncodingError extends Error {
  readonly code = 'UNKNOWN_CTE';
  constructor(readonly encoding: string) {
    super(`unknown Content-Transfer-Encoding: ${encoding}`);
    this.name = 'UnknownTransferEncodingError';
  }
}

function isWsp(b: number | undefined): boolean {
  return b === SP || b === HTAB;
}

/**
 * Copies src[start, end) (a run without '=') to out at o, deleting whitespace at line ends
 * (RFC 2045 6.7 rule 3: decoders remove trailing white space). Returns bytes written.
 */
function copyQpRun(src: Buffer, start: number, end: number, out: Buffer, o: number): number {
  const o0 = o;
  let pos = start;
  while (pos < end) {
    let cr = src.indexOf(CR, pos);
    if (cr < 0 || cr >= end) cr = end;
    let e = cr;
    if (cr < end || end === src.length) while (e > pos && isWsp(src[e - 1])) e--;
    o += copyBytes(src, pos, e, out, o);
    if (cr >= end) break;
    out[o++] = CR;
    pos = cr + 1;
  }
  return o - o0;
}

/** src[start, end) copied to out at o; short runs (most of quoted-printable text) without a native call. */
function copyBytes(src: Buffer, start: number, end: number, out: Buffer, o: number): number {
  if (end - start > 64) return src.copy(out, o, start, end);
  for (let i = start, j = o; i < end; i++, j++) out[j] = src[i]!;
  return end > start ? end - start : 0;
}

function hexVal(b: number | undefined): number {
  if (b === undefined) return -1;
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  return -1;
}

/** Quoted-printable decoding (RFC 2045 6.7), tolerant: malformed escapes are kept literally. */
export function decodeQuotedPrintable(src: Buffer): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  let o = 0;
  let pos = 0;
  const len = src.length;
  while (pos < len) {
    let eq = src.indexOf(EQ, pos);
    if (eq < 0) eq = len;
    o += copyQpRun(src, pos, eq, out, o);
    if (eq >= len) break;
    const h = hexVal(src[eq + 1]);
    const l = hexVal(src[eq + 2]);
    if (h >= 0 && l >= 0) {
      out[o++] = h * 16 + l;
      pos = eq + 3;
      continue;
    }
    // Soft line break: '=' then optional whitespace then CRLF (or end of data).
    let j = eq + 1;
    while (j < len && isWsp(src[j])) j++;
    if (j >= len) {
      pos = len;
      continue;
    }
    if (src[j] === CR && src[j + 1] === LF) {
      pos = j + 2;
      continue;
    }
    if (src[j] === LF) {
      pos = j + 1;
      continue;
    }
    out[o++] = EQ;
    pos = eq + 1;
  }
  return out.subarray(0, o);
}

/**
 * The transfer-decoded body of one part (for IMAP BINARY[] and SEARCH). 7bit/8bit/binary return a
 * view of `raw` (no copy); base64 and quoted-printable return new Buffers (tolerant of bad input).
 * Throws UnknownTransferEncodingError for any other encoding.
 */
export function decodePartBody(raw: Buffer, part: MimePart, maxBytes = Infinity): Buffer {
  const body = raw.subarray(part.bodyStart, part.bodyEnd);
  const enc = part.encoding.trim().toLowerCase();
  switch (enc) {
    case '':
    case '7bit':
    case '8bit':
    case 'binary':
      return body.subarray(0, maxBytes);
    case 'base64':
      return decodePrefix(body, maxBytes, BASE64_RAW_PER_BYTE, (b) => Buffer.from(b.toString('latin1'), 'base64'));
    case 'quoted-printable':
      return decodePrefix(body, maxBytes, QP_RAW_PER_BYTE, decodeQuotedPrintable);
    default:
      throw new UnknownTransferEncodingError(part.encoding);
  }
}

/** Encoded octets per decoded octet that always suffice, line breaks included (base64 4/3, QP at most 3). */
const BASE64_RAW_PER_BYTE = 2;
const QP_RAW_PER_BYTE = 4;

/**
 * The first maxBytes decoded octets (or all of them), decoding only as much of the body as that needs: a
 * prefix long enough for maxBytes plus a margin, so that a sequence cut at the end of the prefix falls past
 * the octets kept. A prefix that decodes short (unusual amounts of junk between the encoded characters)
 * is retried with the whole body, so the result never depends on where the cut fell.
 */
function decodePrefix(body: Buffer, maxBytes: number, rawPerByte: number, decode: (b: Buffer) => Buffer): Buffer {
  const cut = Number.isFinite(maxBytes) ? Math.ceil(maxBytes * rawPerByte) + 64 : Infinity;
  if (cut < body.length) {
    const head = decode(body.subarray(0, cut));
    if (head.length >= maxBytes + 4) return head.subarray(0, maxBytes);
  }
  const all = decode(body);
  return all.length > maxBytes ? all.subarray(0, maxBytes) : all;
}

/** libmime, loaded with its charset tables on the first encoded word (see decodeCharset in headers.ts). */
let libmime: typeof import('libmime').default | null = null;

/** RFC 2047 encoded words to Unicode (legacy charsets through libmime/iconv-lite). Never throws. */
export function decodeMimeWords(s: string): string {
  if (!s.includes('=?')) return s;
  try {
    libmime ??= createRequire(import.meta.url)('libmime') as typeof import('libmime').default;
    return libmime.decodeWords(s);
  } catch {
    return s;
  }
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };
const ENTITY = /&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi;
/** `<script` or `<style` at lastIndex (sticky). */
const RAW_TEXT_OPEN = /<(script|style)\b/iy;
const RAW_TEXT_CLOSE: Record<string, RegExp> = { script: /<\/script\s*>/gi, style: /<\/style\s*>/gi };
/** What may follow "<" in a tag (a name, an end tag, a declaration or processing instruction). */
const TAG_START = /^[a-z/!?]$/i;
/** A tag at lastIndex (sticky) that ends a line of text. */
const BLOCK_TAG = /<\/?(?:p|div|br|tr|li|h[1-6]|table|blockquote)\b/iy;

function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(ENTITY, (m, e: string) => {
    if (e[0] === '#') {
      const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

/**
 * Crude HTML to text: drops script/style/comments and tags (block tags become a line break, others a
 * space; a "<" not followed by a letter, "/", "!" or "?" is text), decodes the common entities. One pass in linear time whatever the input: a "<" with no ">"
 * after it is text, an unclosed comment, script or style runs to the end (hostile mail such as megabytes
 * of "<div " must not cost quadratic time: this runs on every delivered message).
 */
export function htmlToText(html: string): string {
  let out = '';
  let text = 0; // start of the text not yet copied
  let i = html.indexOf('<');
  while (i >= 0) {
    let end: number;
    let gap = ' ';
    if (html.startsWith('<!--', i)) {
      const c = html.indexOf('-->', i + 4);
      end = c < 0 ? html.length : c + 3;
    } else {
      RAW_TEXT_OPEN.lastIndex = i;
      const open = RAW_TEXT_OPEN.exec(html);
      if (open) {
        const close = RAW_TEXT_CLOSE[open[1]!.toLowerCase()]!;
        close.lastIndex = i + open[0].length;
        const c = close.exec(html);
        end = c ? c.index + c[0].length : html.length;
      } else if (!TAG_START.test(html[i + 1] ?? '')) {
        i = html.indexOf('<', i + 1); // "a < b": text
        continue;
      } else {
        const gt = html.indexOf('>', i + 1);
        if (gt < 0) break; // no tag can end from here on: the rest is text
        BLOCK_TAG.lastIndex = i;
        if (BLOCK_TAG.test(html)) gap = '\n';
        end = gt + 1;
      }
    }
    out += decodeEntities(html.slice(text, i)) + gap;
    text = end;
    i = html.indexOf('<', end);
  }
  return out + decodeEntities(html.slice(text));
}

function headerLines(raw: Buffer, part: MimePart): string {
  let out = '';
  const h = headersOf(raw, part);
  for (let i = 0; i < h.fields.length; i++) out += `${h.fields[i]!.name}: ${decodeMimeWords(h.value(i))}\n`;
  return out;
}

function param(part: MimePart, name: string): string | undefined {
  return part.params.find(([k]) => k === name)?.[1];
}

/**
 * The Unicode text of one text/* leaf: transfer- and charset-decoded, HTML stripped.
 * With `maxBytes`, only that many decoded bytes are converted (the rest is ignored).
 */
export function partText(raw: Buffer, part: MimePart, maxBytes = Infinity): string {
  const max = Math.max(0, Math.floor(maxBytes));
  let bytes: Buffer;
  try {
    bytes = decodePartBody(raw, part, max);
  } catch {
    bytes = raw.subarray(part.bodyStart, Math.min(part.bodyEnd, part.bodyStart + max));
  }
  const text = safeDecode(bytes, param(part, 'charset') ?? 'us-ascii');
  return part.subtype === 'html' ? htmlToText(text) : text;
}

/**
 * Text for IMAP SEARCH and the client. `headers`: the top-level header fields, unfolded and
 * RFC 2047-decoded, one "Name: value\n" line each. `body`: every text/* leaf (attachments included
 * when they are text), transfer- and charset-decoded, HTML crudely stripped, joined with "\n";
 * encapsulated messages contribute their header lines and their text parts. Non-text leaves are skipped.
 * `maxBodyBytes` caps the body text gathered (roughly, in decoded bytes); default unlimited.
 */
export function searchableText(raw: Buffer, index: MessageIndex, opts: { maxBodyBytes?: number } = {}): { headers: string; body: string } {
  const chunks: string[] = [];
  // Budget in decoded bytes over all parts (bounds memory for huge text parts); unlimited by default.
  let budget = opts.maxBodyBytes ?? Infinity;
  const walk = (p: MimePart): void => {
    if (budget <= 0) return;
    if (p.children.length > 0) {
      for (const c of p.children) walk(c);
    } else if (p.message) {
      const h = headerLines(raw, p.message.root);
      chunks.push(h);
      budget -= h.length;
      walk(p.message.root);
    } else if (p.type === 'text') {
      const t = partText(raw, p, budget);
      chunks.push(t);
      budget -= Math.max(1, Buffer.byteLength(t));
    }
  };
  let headers = '';
  try {
    headers = headerLines(raw, index.root);
    walk(index.root);
  } catch {
    // Never fail a search over a damaged index; whatever was gathered is returned.
  }
  return { headers, body: chunks.join('\n') };
}

/** searchableText's `headers` alone ('' when the index does not fit the bytes). */
export function searchableHeaders(raw: Buffer, index: MessageIndex): string {
  try {
    return headerLines(raw, index.root);
  } catch {
    return '';
  }
}

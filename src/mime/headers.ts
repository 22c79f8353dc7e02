/**
 * Header-level helpers: splitting a header block into fields with byte offsets, unfolding, and
 * parsing parameterized values (Content-Type, Content-Disposition) with RFC 2231 continuations.
 * Everything here is pure and tolerant: no function throws on any input.
 */
import { isAscii } from 'node:buffer';
import { createRequire } from 'node:module';
import type { ParameterizedValue } from './types.js';

const CR = 0x0d;
const SP = 0x20;
const HTAB = 0x09;

/** One header field located inside a raw buffer. All offsets are absolute. */
export interface HeaderFieldSpan {
  /** Field name as written (trailing whitespace before the colon removed), not lowercased. */
  name: string;
  /** Offset of the first byte of the field (the name). */
  start: number;
  /** Offset just past the colon. */
  valueStart: number;
  /** Offset of the CRLF that ends the field (== end when the field has no final CRLF). */
  valueEnd: number;
  /** Offset just past the field's final CRLF (== valueEnd when there is none). */
  end: number;
}

/**
 * Walks the fields of a header block given as a latin1 string (one char per byte, so indices are byte
 * offsets): for each field, `visit(name, start, colon, valueEnd, end)` with the name as written (trailing
 * whitespace before the colon removed), the index of the colon, of the CRLF ending the field (or the block
 * end) and just past that CRLF. A field runs from a line start up to the CRLF that is not followed by
 * SP/HTAB (RFC 5322 2.2.3). Lines without a colon (garbage, or a lone blank line) produce no field but are
 * skipped whole, together with their continuation lines. String searches stay in the JS engine, where
 * each Buffer.indexOf call would cross into native code.
 */
export function scanHeaderFields(block: string, visit: (name: string, start: number, colon: number, valueEnd: number, end: number) => void): void {
  const len = block.length;
  let pos = 0;
  let nextColon = block.indexOf(':');
  while (pos < len) {
    // Find the end of this field: a CRLF not followed by WSP.
    let lineEnd = pos;
    let fieldEnd: number; // index of the terminating CRLF (or len)
    for (;;) {
      const lf = block.indexOf('\n', lineEnd);
      if (lf < 0) {
        fieldEnd = len;
        break;
      }
      const next = block.charCodeAt(lf + 1);
      if (lf + 1 < len && (next === SP || next === HTAB)) {
        lineEnd = lf + 1;
        continue;
      }
      fieldEnd = lf > pos && block.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
      break;
    }
    const after = fieldEnd >= len ? len : block.charCodeAt(fieldEnd) === CR ? fieldEnd + 2 : fieldEnd + 1;
    // The next colon is searched once and reused while it lies beyond the current field, so a
    // block of colon-less garbage lines stays linear.
    if (nextColon !== -1 && nextColon < pos) nextColon = block.indexOf(':', pos);
    const colon = nextColon >= 0 && nextColon < fieldEnd ? nextColon : -1;
    if (colon >= 0) {
      let nameEnd = colon;
      while (nameEnd > pos && (block.charCodeAt(nameEnd - 1) === SP || block.charCodeAt(nameEnd - 1) === HTAB)) nameEnd--;
      const name = block.slice(pos, nameEnd);
      // A "name" containing line breaks or whitespace inside is garbage, not a field.
      if (name.length > 0 && !/[\s]/.test(name)) visit(name, pos, colon, fieldEnd, Math.min(after, len));
    }
    if (after <= pos) break; // cannot happen, but never loop forever
    pos = after;
  }
}

/**
 * Splits raw[start, end) (a header block, with or without its terminating blank line) into fields, with
 * absolute offsets (see scanHeaderFields for the rules). Never throws.
 */
export function headerFieldSpans(raw: Buffer, start: number, end: number): HeaderFieldSpan[] {
  return spansOf(raw.toString('latin1', start, end), start);
}

/** The fields of a header block read as latin1 text `block`, which starts at offset `start`. */
function spansOf(block: string, start: number): HeaderFieldSpan[] {
  const out: HeaderFieldSpan[] = [];
  scanHeaderFields(block, (name, s, colon, valueEnd, e) => {
    out.push({ name, start: start + s, valueStart: start + colon + 1, valueEnd: start + valueEnd, end: start + e });
  });
  return out;
}

/** A header block's fields (headerFieldSpans) with their unfolded values (unfoldHeader), each made once. */
export interface HeaderFields {
  readonly fields: readonly HeaderFieldSpan[];
  /** unfoldHeader of the value of fields[i]. */
  value(i: number): string;
}

/**
 * headerFieldSpans of raw[start, end) with a memo of unfolded values. A block of ASCII bytes (nearly every
 * header) reads as the same text in latin1 and UTF-8, so values are cut from the block's one string
 * instead of each being decoded from the bytes again.
 */
export function headerFields(raw: Buffer, start: number, end: number): HeaderFields {
  const block = raw.toString('latin1', start, end);
  const fields = spansOf(block, start);
  const ascii = isAscii(raw.subarray(start, end));
  const values: Array<string | undefined> = [];
  return {
    fields,
    value(i: number): string {
      let v = values[i];
      if (v === undefined) {
        const f = fields[i]!;
        v = values[i] = ascii ? unfoldText(block.slice(f.valueStart - start, f.valueEnd - start)) : unfoldHeader(raw.subarray(f.valueStart, f.valueEnd));
      }
      return v;
    },
  };
}

/**
 * Header fields of a header block, in order: name as written, value raw (the bytes after the colon,
 * folding CRLFs included, final CRLF excluded). The block may include the terminating blank line.
 * Tolerant of garbage: lines without a colon are skipped. Never throws.
 */
export function parseHeaderBlock(block: Buffer): Array<{ name: string; value: Buffer }> {
  return headerFieldSpans(block, 0, block.length).map((f) => ({
    name: f.name,
    value: block.subarray(f.valueStart, f.valueEnd),
  }));
}

/**
 * Unfolds a raw header value (RFC 5322 2.2.3: CRLF immediately followed by WSP is removed),
 * decodes it as UTF-8 (8-bit bytes that are not UTF-8 become U+FFFD) and trims surrounding whitespace.
 * So that the result can always be sent as an IMAP string, any other CR or LF becomes a space and
 * NUL becomes U+FFFD. Encoded words are NOT decoded (see decodeMimeWords).
 */
export function unfoldHeader(value: Buffer): string {
  return unfoldText(value.toString('utf8'));
}

/** unfoldHeader of a value already decoded. */
function unfoldText(text: string): string {
  let s = text;
  if (s.includes('\n') || s.includes('\r')) s = s.replace(/\r?\n(?=[ \t])/g, '').replace(/[\r\n]/g, ' ');
  if (s.includes('\0')) s = s.replace(/\0/g, '\ufffd');
  return s.trim();
}

/**
 * Removes RFC 5322 comments (parenthesized, nestable, with quoted-pairs) outside quoted strings.
 * An unterminated comment runs to the end of the value.
 */
export function stripComments(s: string): string {
  if (!s.includes('(')) return s;
  let out = '';
  let depth = 0;
  let inQuote = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
      if (depth === 0) out += ' ';
      continue;
    }
    if (inQuote) {
      out += c;
      if (c === '\\' && i + 1 < s.length) out += s[++i];
      else if (c === '"') inQuote = false;
      continue;
    }
    if (c === '"') inQuote = true;
    else if (c === '(') {
      depth = 1;
      continue;
    }
    out += c;
  }
  return out;
}

interface RawParam {
  name: string;
  value: string;
  /** true when the value was a quoted string (never percent-decoded even if the name ends with '*'). */
  quoted: boolean;
}

/** Splits `value; a=b; c="d"` into the leading value and raw parameters. Comments must be stripped first. */
function splitParams(s: string): { value: string; params: RawParam[] } {
  const semi = s.indexOf(';');
  const value = (semi < 0 ? s : s.slice(0, semi)).trim();
  const params: RawParam[] = [];
  if (semi < 0) return { value, params };
  let i = semi + 1;
  const n = s.length;
  while (i < n) {
    while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === ';')) i++;
    if (i >= n) break;
    const nameStart = i;
    while (i < n && s[i] !== '=' && s[i] !== ';') i++;
    const name = s.slice(nameStart, i).trim().toLowerCase();
    if (i >= n || s[i] === ';') {
      // Attribute without a value: ignore (not valid RFC 2045).
      continue;
    }
    i++; // '='
    while (i < n && (s[i] === ' ' || s[i] === '\t')) i++;
    let val = '';
    let quoted = false;
    if (s[i] === '"') {
      quoted = true;
      i++;
      while (i < n && s[i] !== '"') {
        if (s[i] === '\\' && i + 1 < n) i++;
        val += s[i];
        i++;
      }
      i++; // closing quote (or end)
      // Anything up to the next ';' after a quoted string is garbage; skip it.
      while (i < n && s[i] !== ';') i++;
    } else {
      const vs = i;
      while (i < n && s[i] !== ';') i++;
      val = s.slice(vs, i).trim();
    }
    if (name) params.push({ name, value: val, quoted });
  }
  return { value, params };
}

/** Percent-decodes an RFC 2231 extended value into bytes (invalid escapes are kept literally). */
function percentDecode(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      for (const b of Buffer.from(s[i]!, 'utf8')) bytes.push(b);
    }
  }
  return Buffer.from(bytes);
}

/**
 * RFC 2231: joins `name*0`, `name*1*`, ... continuations (in numeric order, placed where the first
 * segment appeared) and decodes `name*=charset'lang'%xx` values to Unicode via the named charset
 * (unknown charsets fall back to UTF-8). Plain params pass through. Names must be lowercased already.
 */
export function decodeRfc2231Params(params: Array<{ name: string; value: string; quoted?: boolean }>): Array<[string, string]> {
  return joinParams(params).decoded;
}

/** Percent-encodes bytes outside RFC 2231 attribute-char (for raw joined values of mixed segments). */
function percentEncode(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += b > 0x20 && b < 0x7f && !"*'%()<>@,;:\\\"/[]?=".includes(c) ? c : '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/**
 * Joins RFC 2231 parameters: `decoded` as in decodeRfc2231Params, and `raw` (only when some parameter
 * used RFC 2231 syntax) with continuations joined but values kept in wire form.
 */
function joinParams(params: Array<{ name: string; value: string; quoted?: boolean }>): { decoded: Array<[string, string]>; raw: Array<[string, string]> | null } {
  interface Group {
    segs: Array<{ index: number; value: string; extended: boolean; quoted: boolean }>;
    seen: Set<number>;
  }
  const order: Array<{ kind: 'plain'; name: string; value: string } | { kind: 'group'; name: string }> = [];
  const groups = new Map<string, Group>();
  /** Position in `order` of each plain parameter (maps and sets keep this linear on huge headers). */
  const plainAt = new Map<string, number>();
  for (const p of params) {
    const m = /^([^*]+)\*(\d{1,4})?(\*)?$/.exec(p.name);
    if (!m) {
      if (groups.has(p.name) || plainAt.has(p.name)) continue; // first occurrence wins
      plainAt.set(p.name, order.length);
      order.push({ kind: 'plain', name: p.name, value: p.value });
      continue;
    }
    const base = m[1]!;
    const index = m[2] === undefined ? 0 : parseInt(m[2], 10);
    // "name*" (no index) is extended; "name*N*" is extended; "name*N" is not.
    const extended = m[2] === undefined ? true : m[3] === '*';
    let g = groups.get(base);
    if (!g) {
      g = { segs: [], seen: new Set() };
      groups.set(base, g);
      // A plain "name" seen earlier is superseded by the RFC 2231 form (more precise).
      const plainIdx = plainAt.get(base);
      if (plainIdx !== undefined) order[plainIdx] = { kind: 'group', name: base };
      else order.push({ kind: 'group', name: base });
    }
    if (g.seen.has(index)) continue;
    g.seen.add(index);
    g.segs.push({ index, value: p.value, extended, quoted: p.quoted ?? false });
  }
  const out: Array<[string, string]> = [];
  const raw: Array<[string, string]> = [];
  for (const o of order) {
    if (o.kind === 'plain') {
      if (!groups.has(o.name)) {
        out.push([o.name, o.value]);
        raw.push([o.name, o.value]);
      }
      continue;
    }
    const g = groups.get(o.name)!;
    g.segs.sort((a, b) => a.index - b.index);
    let charset = 'utf-8';
    const bufs: Buffer[] = [];
    g.segs.forEach((seg, i) => {
      let v = seg.value;
      if (seg.extended && !seg.quoted) {
        if (i === 0) {
          const m = /^([^']*)'[^']*'([\s\S]*)$/.exec(v);
          if (m) {
            charset = m[1] || 'utf-8';
            v = m[2]!;
          }
        }
        bufs.push(percentDecode(v));
      } else {
        bufs.push(Buffer.from(v, 'utf8'));
      }
    });
    const all = Buffer.concat(bufs);
    const anyExtended = g.segs.some((s) => s.extended && !s.quoted);
    // Extended segments carry bytes in `charset`; plain segments are ASCII in practice.
    out.push([o.name, anyExtended ? safeDecode(all, charset) : all.toString('utf8')]);
    if (anyExtended) {
      raw.push([o.name + '*', g.segs.map((s) => (s.extended && !s.quoted ? s.value : percentEncode(s.value))).join('')]);
    } else {
      raw.push([o.name, g.segs.map((s) => s.value).join('')]);
    }
  }
  return { decoded: out, raw: groups.size > 0 ? raw : null };
}

/**
 * libmime's charset module (iconv-lite and encoding-japanese with their tables, about 1.6 MB of heap), loaded
 * on the first decode that needs it: a server process that never decodes a legacy charset never holds it.
 */
let charsetModule: typeof import('libmime/lib/charset.js') | null = null;
function decodeCharset(buf: Buffer, charset: string): string {
  charsetModule ??= createRequire(import.meta.url)('libmime/lib/charset.js') as typeof import('libmime/lib/charset.js');
  return charsetModule.decode(buf, charset);
}

/** Charset decoding through libmime/iconv-lite for every input: the reference safeDecode must equal. */
export function slowSafeDecode(buf: Buffer, charset: string): string {
  try {
    return decodeCharset(buf, charset);
  } catch {
    return buf.toString('utf8');
  }
}

/**
 * How a charset name decodes, learnt once per name by probing the reference decoder:
 * - 'utf8': every input decodes as Buffer#toString('utf8') (UTF-8 and its aliases, us-ascii-as-UTF-8
 *   names, and the names libmime refuses or does not know);
 * - 'latin1': every byte maps to the code point of the same value (ISO-8859-1 proper);
 * - 'ascii': bytes below 0x80 decode to themselves, one for one, whatever surrounds them (the
 *   single-byte and stateless double-byte legacy charsets), so an all-ASCII input decodes as latin1;
 * - 'other': always the reference decoder (UTF-16/32, ISO-2022-*, HZ and any charset the probes
 *   cannot prove transparent).
 */
type DecodeKind = 'utf8' | 'latin1' | 'ascii' | 'other';

/** Charsets whose decoders keep state across ASCII bytes (escape or shift sequences) or read code units. */
const STATEFUL = /2022|^hz|utf-?7|utf-?16|utf-?32|ucs-?2|ucs-?4|unicode|^jis|^cp5022|^cp5093|imap|base64|^hex|^x-/i;

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const ASCII_PROBES: Buffer[] = [
  ALL_BYTES.subarray(0, 0x80),
  Buffer.from('\x1b$B$"\x1b(B~{<:Ky2;S{#,~}+AGEAYgBj-', 'latin1'),
  Buffer.from('AAAA=?\x00\x00\x00a\x00b', 'latin1'),
];
const UTF8_PROBES: Buffer[] = [
  ALL_BYTES,
  Buffer.from('caf\u00e9 \u65e5\u672c \u{1f600} ascii', 'utf8'),
  Buffer.from([0xef, 0xbb, 0xbf, 0x61, 0xc3, 0x28, 0xe2, 0x82, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80]),
];

const kinds = new Map<string, DecodeKind>();
/**
 * For 'ascii' charsets proven single-byte (every byte decodes on its own, whatever its neighbour):
 * 1 for each byte value that decodes to the code point of the same value (0x00-0x7f, and for
 * windows-1252 also 0xa0-0xff), so text made only of such bytes decodes as latin1.
 */
const identityBytes = new Map<string, Uint8Array>();
const MAX_CACHED_KINDS = 512;

function sameAs(probes: Buffer[], charset: string, enc: 'utf8' | 'latin1'): boolean {
  return probes.every((p) => slowSafeDecode(p, charset) === p.toString(enc));
}

/** Every ordered pair of byte values, 128 KB: a charset decoding it byte by byte is single-byte. */
let allPairs: Buffer | null = null;

/** The identity-byte table of a single-byte charset, or null when the charset is not provably single-byte. */
function singleByteIdentity(charset: string): Uint8Array | null {
  const single: string[] = [];
  for (let b = 0; b < 256; b++) single.push(slowSafeDecode(ALL_BYTES.subarray(b, b + 1), charset));
  if (!allPairs) {
    allPairs = Buffer.allocUnsafe(2 * 256 * 256);
    for (let a = 0, o = 0; a < 256; a++) for (let b = 0; b < 256; b++, o += 2) { allPairs[o] = a; allPairs[o + 1] = b; }
  }
  let expected = '';
  for (let a = 0; a < 256; a++) for (let b = 0; b < 256; b++) expected += single[a]! + single[b]!;
  if (slowSafeDecode(allPairs, charset) !== expected) return null;
  const table = new Uint8Array(256);
  for (let b = 0; b < 256; b++) table[b] = single[b] === String.fromCharCode(b) ? 1 : 0;
  return table;
}

function kindOf(charset: string): DecodeKind {
  let kind = kinds.get(charset);
  if (kind !== undefined) return kind;
  if (sameAs(UTF8_PROBES, charset, 'utf8')) kind = 'utf8';
  else if (STATEFUL.test(charset.trim())) kind = 'other';
  else if (sameAs([ALL_BYTES], charset, 'latin1')) kind = 'latin1';
  else if (sameAs(ASCII_PROBES, charset, 'latin1')) kind = 'ascii';
  else kind = 'other';
  // Charset names come from messages: bound the cache (a flood of made-up names just stops caching).
  if (kinds.size < MAX_CACHED_KINDS) {
    kinds.set(charset, kind);
    if (kind === 'ascii') {
      const table = singleByteIdentity(charset);
      if (table) identityBytes.set(charset, table);
    }
  }
  return kind;
}

/** true when every byte of buf has a 1 in table. */
function allIdentity(buf: Buffer, table: Uint8Array): boolean {
  for (let i = 0; i < buf.length; i++) if (table[buf[i]!] === 0) return false;
  return true;
}

/**
 * Charset decoding that never throws (unknown charsets decode as UTF-8). Gives exactly what
 * slowSafeDecode gives, without going through the charset machinery when it cannot matter:
 * UTF-8 (and unknown) charsets through Buffer#toString, ISO-8859-1 as latin1, all-ASCII input in an
 * ASCII-transparent charset (us-ascii, windows-125x, iso-8859-x, koi8, gbk, ...) as is, and text in a
 * single-byte charset made only of bytes that charset maps to themselves (latin1 text declared
 * iso-8859-1, which decodes as windows-1252) as latin1.
 */
export function safeDecode(buf: Buffer, charset: string): string {
  if (typeof charset !== 'string') return slowSafeDecode(buf, charset);
  const kind = kindOf(charset);
  if (kind === 'utf8') return buf.toString('utf8');
  if (kind === 'latin1') return buf.toString('latin1');
  if (kind === 'ascii') {
    if (isAscii(buf)) return buf.toString('latin1');
    const table = identityBytes.get(charset);
    if (table && allIdentity(buf, table)) return buf.toString('latin1');
  }
  return slowSafeDecode(buf, charset);
}

/**
 * Parses a parameterized header value (RFC 2045 5.1 Content-Type, RFC 2183 Content-Disposition):
 * comments stripped, the value lowercased, parameter names lowercased, quoted strings unquoted,
 * RFC 2231 continuations/charsets decoded. RFC 2047 encoded words inside parameters are kept as written.
 */
export function parseParameterized(unfolded: string): ParameterizedValue {
  const { value, params } = splitParams(stripComments(unfolded));
  const { decoded, raw } = joinParams(params);
  const out: ParameterizedValue = { value: value.toLowerCase(), params: decoded };
  if (raw) out.rawParams = raw;
  return out;
}

/**
 * The message as the interpreter sees it: header fields in order (editable for RFC 5293 editheader), the
 * body, and the MIME index (built lazily for the body test). Header values given to tests are unfolded,
 * RFC 2047-decoded and trimmed (RFC 5228 2.7.2 / 5.7).
 */
import { decodeMimeWords, indexMessage, messageHeaderEnd, normalizeLineEndings, parseHeaderBlock, unfoldHeader } from '../mime/index.js';
import type { MessageIndex } from '../mime/index.js';
import { SieveRuntimeError } from './result.js';

/** Largest field addheader may add, name and folding included (Dovecot's sieve_editheader_max_header_size). */
export const MAX_ADDED_FIELD_SIZE = 2048;
/** Fields one run may add. */
export const MAX_ADDED_FIELDS = 1024;

export interface HeaderField {
  name: string;
  /** The raw value bytes after the colon (folding included, final CRLF excluded). */
  raw: Buffer;
}

export class MessageView {
  readonly original: Buffer;
  private readonly normalized: Buffer;
  readonly fields: HeaderField[];
  readonly body: Buffer;
  private modified = false;
  private index: MessageIndex | null = null;
  /** Per field name (lower case): its occurrences and their decoded and unfolded values, until an edit. */
  private cache = new Map<string, { fields: HeaderField[]; values?: string[]; rawValues?: string[] }>();

  constructor(raw: Buffer) {
    this.original = raw;
    this.normalized = normalizeLineEndings(raw);
    const end = messageHeaderEnd(this.normalized);
    this.fields = parseHeaderBlock(this.normalized.subarray(0, end)).map((f) => ({ name: f.name, raw: f.value }));
    this.body = this.normalized.subarray(end);
  }

  get size(): number {
    return this.original.length;
  }

  /** Occurrences of one field (case-insensitive name), in message order. */
  raw(name: string): HeaderField[] {
    return [...this.#entry(name).fields];
  }

  /** Unfolded, RFC 2047-decoded, trimmed values of one field (callers must not change the array). */
  values(name: string): readonly string[] {
    const e = this.#entry(name);
    return (e.values ??= e.fields.map((f) => decodedValue(f.raw)));
  }

  /** Unfolded but not decoded (addresses are parsed from this form; callers must not change the array). */
  rawValues(name: string): readonly string[] {
    const e = this.#entry(name);
    return (e.rawValues ??= e.fields.map((f) => unfoldHeader(f.raw)));
  }

  #entry(name: string): { fields: HeaderField[]; values?: string[]; rawValues?: string[] } {
    const n = name.toLowerCase();
    let e = this.cache.get(n);
    if (!e) this.cache.set(n, (e = { fields: this.fields.filter((f) => f.name.toLowerCase() === n) }));
    return e;
  }

  /** Fields added so far (addheader), against MAX_ADDED_FIELDS. */
  #added = 0;

  /**
   * RFC 5293 addheader: at the top, or after the last field with `last`. Throws SieveRuntimeError for a field
   * larger than MAX_ADDED_FIELD_SIZE or past MAX_ADDED_FIELDS added in the run (the message is then kept as
   * it came: a script run many times over through include could otherwise grow it by gigabytes).
   */
  add(name: string, value: string, last: boolean): void {
    const f = { name, raw: Buffer.from(' ' + encodeFieldValue(name, value)) };
    if (name.length + 1 + f.raw.length > MAX_ADDED_FIELD_SIZE) throw new SieveRuntimeError(`addheader action: the field is larger than ${MAX_ADDED_FIELD_SIZE} octets`);
    if (++this.#added > MAX_ADDED_FIELDS) throw new SieveRuntimeError(`addheader action: more than ${MAX_ADDED_FIELDS} fields added`);
    if (last) this.fields.push(f);
    else this.fields.unshift(f);
    this.modified = true;
    this.index = null;
    this.cache.clear();
  }

  remove(f: HeaderField): void {
    const i = this.fields.indexOf(f);
    if (i >= 0) {
      this.fields.splice(i, 1);
      this.modified = true;
      this.index = null;
      this.cache.clear();
    }
  }

  /** The full message as it stands (the input buffer when nothing was edited). */
  bytes(): Buffer {
    if (!this.modified) return this.original;
    const head = this.fields.map((f) => Buffer.concat([Buffer.from(f.name + ':'), f.raw, Buffer.from('\r\n')]));
    return Buffer.concat([...head, Buffer.from('\r\n'), this.body]);
  }

  mime(): { raw: Buffer; index: MessageIndex } {
    const raw = this.modified ? this.bytes() : this.normalized;
    if (!this.index) this.index = indexMessage(raw);
    return { raw, index: this.index };
  }
}

export function decodedValue(raw: Buffer): string {
  return decodeMimeWords(unfoldHeader(raw));
}

/** RFC 5293 section 5: non-ASCII values become RFC 2047 encoded words; long values are folded. */
function encodeFieldValue(name: string, value: string): string {
  const clean = value.replace(/\r?\n(?=[ \t])/g, '').replace(/[\r\n]/g, ' ');
  if (/[^\x00-\x7f]/.test(clean)) {
    const words: string[] = [];
    const bytes = Buffer.from(clean);
    let start = 0;
    // Encoded words of at most 75 characters: 45 bytes of input per word, cut on a UTF-8 boundary.
    while (start < bytes.length) {
      let end = Math.min(bytes.length, start + 45);
      while (end < bytes.length && (bytes[end]! & 0xc0) === 0x80) end--;
      words.push(`=?UTF-8?B?${bytes.subarray(start, end).toString('base64')}?=`);
      start = end;
    }
    return words.join('\r\n ');
  }
  return fold(clean, name.length + 2);
}

function fold(s: string, used: number): string {
  if (s.length + used <= 78) return s;
  const out: string[] = [];
  let line = '';
  let width = used;
  for (const word of s.split(/(?=[ \t])/)) {
    if (line !== '' && width + word.length > 78) {
      out.push(line);
      line = word;
      width = word.length;
    } else {
      line += word;
      width += word.length;
    }
  }
  out.push(line);
  return out.join('\r\n');
}

/**
 * Response/command encoder (RFC 9051 section 4): builds one wire message from text, strings, literals and
 * lists. Strings are sent quoted when that is lossless (no CR, LF or NUL, short, and 8-bit only when the
 * peer accepts UTF-8), otherwise as literals.
 */

/** Longest string sent quoted; longer ones go as literals (Dovecot switches at a similar size). */
export const MAX_QUOTED = 1024;

const ATOM_RE = /^[\x21\x23\x24\x26\x27\x2b-\x5b\x5e-\x7a\x7c-\x7e]+$/;

export function isAtom(s: string): boolean {
  return ATOM_RE.test(s) && s.toUpperCase() !== 'NIL';
}

/** True when `b` can be sent as a quoted string. */
export function canQuote(b: Buffer, utf8: boolean): boolean {
  if (b.length > MAX_QUOTED) return false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0 || c === 13 || c === 10) return false;
    if (c > 0x7f && !utf8) return false;
  }
  if (utf8 && !isValidUtf8(b)) return false;
  return true;
}

function isValidUtf8(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! > 0x7f) return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
  return true;
}

export class WireWriter {
  #chunks: Buffer[] = [];
  #text = '';
  /** Whether 8-bit UTF-8 may be sent in quoted strings (IMAP4rev2 / UTF8=ACCEPT). */
  readonly utf8: boolean;

  constructor(utf8 = false) {
    this.utf8 = utf8;
  }

  /** Appends protocol text verbatim (caller guarantees it is valid at this point of the grammar). */
  text(s: string): this {
    this.#text += s;
    return this;
  }

  sp(): this {
    this.#text += ' ';
    return this;
  }

  bytes(b: Buffer): this {
    this.#flushText();
    this.#chunks.push(b);
    return this;
  }

  /** A literal: "{n}\r\n" and the bytes; "~{n}" for literal8 (RFC 3516) when binary is set. */
  literal(b: Buffer, binary = false): this {
    this.#text += `${binary ? '~' : ''}{${b.length}}\r\n`;
    return this.bytes(b);
  }

  /** A string: quoted when lossless, else a literal. */
  string(v: string | Buffer): this {
    if (typeof v === 'string' && this.#quoteString(v)) return this;
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    if (canQuote(b, this.utf8)) {
      const s = b.toString(this.utf8 ? 'utf8' : 'latin1');
      this.#text += '"' + s.replace(/[\\"]/g, (m) => '\\' + m) + '"';
      return this;
    }
    return this.literal(b);
  }

  /**
   * Fast path of string() for JS strings (ENVELOPE fields, names): quotes without a Buffer round trip when
   * the text is short and has no CR, LF, NUL (nor 8-bit characters unless UTF-8 is accepted). Returns false
   * when the general path must decide.
   */
  #quoteString(v: string): boolean {
    if (v.length > MAX_QUOTED) return false;
    let escape = false;
    let wide = false;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c === 0 || c === 13 || c === 10) return false;
      if (c > 0x7f) {
        if (!this.utf8) return false;
        wide = true;
      } else if (c === 0x22 || c === 0x5c) escape = true;
    }
    if (wide && Buffer.byteLength(v, 'utf8') > MAX_QUOTED) return false;
    this.#text += '"' + (escape ? v.replace(/[\\"]/g, (m) => '\\' + m) : v) + '"';
    return true;
  }

  /** NIL for null, else a string. */
  nstring(v: string | Buffer | null | undefined): this {
    if (v === null || v === undefined) return this.text('NIL');
    return this.string(v);
  }

  /** An atom when the value is one, else a string. */
  astring(v: string): this {
    if (isAtom(v)) return this.text(v);
    return this.string(v);
  }

  /** A parenthesized list; `each` writes one element (spaces are added between elements). */
  list<T>(items: Iterable<T>, each: (w: this, item: T) => void): this {
    this.#text += '(';
    let first = true;
    for (const item of items) {
      if (!first) this.#text += ' ';
      first = false;
      each(this, item);
    }
    this.#text += ')';
    return this;
  }

  /** Cheap size estimate (UTF-16 units of pending text plus bytes of chunks), for batching decisions. */
  get approxLength(): number {
    let n = this.#text.length;
    for (const c of this.#chunks) n += c.length;
    return n;
  }

  get length(): number {
    let n = Buffer.byteLength(this.#text);
    for (const c of this.#chunks) n += c.length;
    return n;
  }

  /**
   * The output as written so far, without joining it: a big literal stays the caller's buffer instead of
   * being copied into one (a 5 MB BODY[] would otherwise be held twice while it is sent). Ends the writer.
   */
  toChunks(): Buffer[] {
    this.#flushText();
    const out = this.#chunks;
    this.#chunks = [];
    return out;
  }

  toBuffer(): Buffer {
    this.#flushText();
    const out = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks = [out];
    return out;
  }

  #flushText(): void {
    if (this.#text) {
      this.#chunks.push(Buffer.from(this.#text, 'utf8'));
      this.#text = '';
    }
  }
}

/** Formats a Date as an IMAP date-time: "17-Jul-1996 02:44:25 -0700" (always UTC here: "+0000"). */
export function formatDateTime(d: Date): string {
  const day = d.getUTCDate();
  return `${day < 10 ? ' ' : ''}${day}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** Compresses sorted unique numbers into an IMAP sequence set ("1:3,5"); "" for none. */
export function formatSequenceSet(nums: readonly number[]): string {
  const out: string[] = [];
  let i = 0;
  while (i < nums.length) {
    const lo = nums[i]!;
    let hi = lo;
    while (i + 1 < nums.length && nums[i + 1] === hi + 1) hi = nums[++i]!;
    out.push(lo === hi ? String(lo) : `${lo}:${hi}`);
    i++;
  }
  return out.join(',');
}

/**
 * Argument cursor over a command's tokens. Typed command parsers read their arguments through it; every
 * failure is a ParseError whose message is the reason sent back in the tagged BAD.
 */
import type { Token } from '../wire/tokenizer.js';

export class ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParseError';
  }
}

export class Args {
  readonly #tokens: readonly Token[];
  #i = 0;

  constructor(tokens: readonly Token[]) {
    this.#tokens = tokens;
  }

  get done(): boolean {
    return this.#i >= this.#tokens.length;
  }

  peek(): Token | undefined {
    return this.#tokens[this.#i];
  }

  /** Upper-cased atom at the cursor, without consuming; undefined when the next token is not an atom. */
  peekAtom(): string | undefined {
    const t = this.#tokens[this.#i];
    return t?.t === 'atom' ? t.v.toUpperCase() : undefined;
  }

  next(what: string): Token {
    const t = this.#tokens[this.#i];
    if (!t) throw new ParseError(`Missing ${what}`);
    this.#i++;
    return t;
  }

  atom(what: string): string {
    const t = this.next(what);
    if (t.t !== 'atom') throw new ParseError(`Expected ${what}`);
    return t.v;
  }

  /** An atom, quoted string or literal, as UTF-8 text. */
  astring(what: string): string {
    return astringOf(this.next(what), what);
  }

  /** A quoted string or literal (or atom, leniently), as bytes. */
  stringBytes(what: string): Buffer {
    const t = this.next(what);
    if (t.t === 'string') return t.v;
    if (t.t === 'atom') return Buffer.from(t.v, 'utf8');
    throw new ParseError(`Expected ${what}`);
  }

  list(what: string): Token[] {
    const t = this.next(what);
    if (t.t !== 'list') throw new ParseError(`Expected a parenthesized ${what}`);
    return t.v;
  }

  number(what: string, max = 0xffffffff): number {
    const s = this.atom(what);
    return parseNumber(s, what, max);
  }

  end(): void {
    if (!this.done) throw new ParseError('Unexpected extra arguments');
  }
}

/** ASTRING-CHAR (RFC 9051 section 9): ATOM-CHAR or "]"; no "%", "*", quoted-specials, "(", ")", "{". */
const ASTRING_ATOM = /^[\x21\x23\x24\x26\x27\x2b-\x5b\x5d-\x7a\x7c-\x7e]+$/;
/** list-char (RFC 9051 section 9): ASTRING-CHAR or a list wildcard ("%", "*"). */
const LIST_ATOM = /^[\x21\x23-\x27\x2a-\x5b\x5d-\x7a\x7c-\x7e]+$/;

/**
 * An astring as UTF-8 text: an atom of ASTRING-CHARs, a quoted string or a literal. A literal8 is no
 * astring (RFC 3516 allows it in APPEND data only), and neither is an atom with list wildcards or "\".
 */
export function astringOf(t: Token, what: string): string {
  return stringOf(t, what, ASTRING_ATOM);
}

/** list-mailbox (RFC 9051 section 9): like an astring, but its atoms may hold the wildcards "%" and "*". */
export function listMailboxOf(t: Token, what: string): string {
  return stringOf(t, what, LIST_ATOM);
}

function stringOf(t: Token, what: string, atomRe: RegExp): string {
  if (t.t === 'atom') {
    if (!atomRe.test(t.v)) throw new ParseError(`Invalid characters in ${what}`);
    return t.v;
  }
  if (t.t === 'string') {
    if (t.binary) throw new ParseError(`literal8 not allowed in ${what}`);
    return t.v.toString('utf8');
  }
  throw new ParseError(`Expected ${what}`);
}

/** Parses an unsigned decimal (nz-number / number / mod-sequence-value limits via max). */
export function parseNumber(s: string, what: string, max = 0xffffffff): number {
  if (!/^\d{1,20}$/.test(s)) throw new ParseError(`Invalid ${what}`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n > max) throw new ParseError(`Invalid ${what}`);
  return n;
}

/** Largest number64 (RFC 9051 section 9: 0 <= n <= 2^63 - 1). */
export const MAX_NUMBER64 = 9223372036854775807n;

/**
 * number64 (RFC 9051: LARGER/SMALLER sizes, partial offsets). Values beyond the safe-integer range are
 * clamped to it: no message or offset gets there, so comparisons keep their meaning.
 */
export function parseNumber64(s: string, what: string): number {
  if (!/^\d{1,19}$/.test(s) || BigInt(s) > MAX_NUMBER64) throw new ParseError(`Invalid ${what}`);
  return Math.min(Number(s), Number.MAX_SAFE_INTEGER);
}

/** Largest mod-sequence value the store produces (it counts in safe integers). */
export const MAX_MODSEQ = Number.MAX_SAFE_INTEGER;

/**
 * mod-sequence-value (RFC 7162: 1*DIGIT up to 2^63-1). Values beyond the safe-integer range are clamped:
 * the store's mod-sequences never get there, so comparisons keep their meaning.
 */
export function parseModseq(s: string): number {
  if (!/^\d{1,19}$/.test(s) || BigInt(s) > MAX_NUMBER64) throw new ParseError('Invalid mod-sequence');
  return Math.min(Number(s), MAX_MODSEQ);
}

/** A flag or keyword: "\Seen" or an atom. */
export function parseFlag(t: Token): string {
  if (t.t !== 'atom') throw new ParseError('Invalid flag');
  const v = t.v;
  if (v.startsWith('\\')) {
    if (!/^\\[A-Za-z0-9_.$-]+$/.test(v)) throw new ParseError(`Invalid flag ${v}`);
    return v;
  }
  if (!/^[\x21\x23\x24\x26\x27\x2b-\x5a\x5e-\x7a\x7c\x7e]+$/.test(v)) throw new ParseError(`Invalid keyword ${v}`);
  return v;
}

export function parseFlagList(t: Token): string[] {
  if (t.t === 'list') return t.v.map(parseFlag);
  return [parseFlag(t)];
}

const MONTH_INDEX: Record<string, number> = { JAN: 0, FEB: 1, MAR: 2, APR: 3, MAY: 4, JUN: 5, JUL: 6, AUG: 7, SEP: 8, OCT: 9, NOV: 10, DEC: 11 };

/**
 * Date.UTC for a four-digit year taken literally: Date.UTC maps years 0-99 to 1900-1999, so "0050" would
 * become 1950.
 */
export function utcTime(year: number, month: number, day: number, h = 0, mi = 0, s = 0): number {
  const d = new Date(Date.UTC(2000, month, day, h, mi, s));
  d.setUTCFullYear(year, month, day);
  return d.getTime();
}

/** date-time: "dd-Mon-yyyy hh:mm:ss +zzzz" (RFC 9051 section 9). */
export function parseDateTime(s: string): Date {
  const m = /^([ \d]?\d)-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(s);
  if (!m) throw new ParseError('Invalid date-time');
  const mon = MONTH_INDEX[m[2]!.toUpperCase()];
  if (mon === undefined) throw new ParseError('Invalid month');
  const day = Number(m[1]!.trim());
  const [h, mi, se] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (day < 1 || day > 31 || h > 23 || mi > 59 || se > 60) throw new ParseError('Invalid date-time');
  const off = (Number(m[8]) * 60 + Number(m[9])) * (m[7] === '-' ? -1 : 1);
  const t = utcTime(Number(m[3]), mon, day, h, mi, se) - off * 60_000;
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) throw new ParseError('Invalid date-time');
  return d;
}

/** date: "d-Mon-yyyy" (SEARCH); returns the UTC midnight of that day. */
export function parseDate(s: string): Date {
  const m = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(s);
  if (!m) throw new ParseError('Invalid date');
  const mon = MONTH_INDEX[m[2]!.toUpperCase()];
  if (mon === undefined) throw new ParseError('Invalid month');
  const day = Number(m[1]);
  if (day < 1 || day > 31) throw new ParseError('Invalid date');
  return new Date(utcTime(Number(m[3]), mon, day));
}

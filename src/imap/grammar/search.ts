/**
 * SEARCH / UID SEARCH arguments (RFC 9051 section 6.4.4, RFC 4731 ESEARCH RETURN options, RFC 5182
 * SEARCHRES, RFC 5267 UPDATE and CONTEXT, RFC 9394 PARTIAL, RFC 7162 MODSEQ, RFC 8474 EMAILID/THREADID,
 * RFC 5032 OLDER/YOUNGER, RFC 8514 SAVEDBEFORE/SAVEDON/SAVEDSINCE/SAVEDATESUPPORTED).
 * The RETURN options and the search keys are also SORT's and THREAD's (parseReturnOptions, parseSearchKeys).
 */
import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';
import type { Token } from '../wire/tokenizer.js';
import { Args, ParseError, astringOf, parseDate, parseFlag, parseModseq, parseNumber64 } from './args.js';
import { parseSequenceSet, looksLikeSequenceSet, type SequenceSet } from './sequence.js';

export type SearchKey =
  | { k: 'all' }
  | { k: 'and'; keys: SearchKey[] }
  | { k: 'or'; a: SearchKey; b: SearchKey }
  | { k: 'not'; key: SearchKey }
  | { k: 'flag'; flag: string; set: boolean }
  | { k: 'recent' }
  | { k: 'new' }
  | { k: 'old' }
  | { k: 'seq'; set: SequenceSet }
  | { k: 'uid'; set: SequenceSet }
  | { k: 'date'; field: 'internal' | 'sent' | 'saved'; op: 'before' | 'on' | 'since'; date: Date }
  | { k: 'age'; op: 'older' | 'younger'; seconds: number }
  | { k: 'savedatesupported' }
  | { k: 'size'; op: 'larger' | 'smaller'; n: number }
  | { k: 'header'; field: string; value: string }
  | { k: 'text'; scope: 'body' | 'text'; value: string }
  | { k: 'modseq'; modseq: number }
  | { k: 'emailid'; id: string }
  | { k: 'threadid'; id: string };

export type SearchReturn = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE' | 'UPDATE' | 'CONTEXT';

/**
 * RFC 9394 PARTIAL: 1-based positions lo..hi (lo <= hi) in the result, counted from the end when `last`
 * ("-1:-10" is the last ten).
 */
export interface PartialRange {
  lo: number;
  hi: number;
  last: boolean;
}

export interface SearchArgs {
  /** null: no RETURN given (plain SEARCH response for rev1). [] means RETURN () = ALL. */
  returns: SearchReturn[] | null;
  /** RETURN (PARTIAL range), else null. */
  partial: PartialRange | null;
  charset: string | null;
  key: SearchKey;
}

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  UNANSWERED: ['\\Answered', false],
  DELETED: ['\\Deleted', true],
  UNDELETED: ['\\Deleted', false],
  FLAGGED: ['\\Flagged', true],
  UNFLAGGED: ['\\Flagged', false],
  SEEN: ['\\Seen', true],
  UNSEEN: ['\\Seen', false],
  DRAFT: ['\\Draft', true],
  UNDRAFT: ['\\Draft', false],
};

const DATE_KEYS: Record<string, ['internal' | 'sent' | 'saved', 'before' | 'on' | 'since']> = {
  BEFORE: ['internal', 'before'],
  ON: ['internal', 'on'],
  SINCE: ['internal', 'since'],
  SENTBEFORE: ['sent', 'before'],
  SENTON: ['sent', 'on'],
  SENTSINCE: ['sent', 'since'],
  SAVEDBEFORE: ['saved', 'before'],
  SAVEDON: ['saved', 'on'],
  SAVEDSINCE: ['saved', 'since'],
};

const ADDRESS_KEYS = new Set(['FROM', 'TO', 'CC', 'BCC', 'SUBJECT']);

export function parseSearch(args: Args): SearchArgs {
  const { returns, partial } = parseReturnOptions(args);
  let charset: string | null = null;
  if (args.peekAtom() === 'CHARSET') {
    args.next('CHARSET');
    charset = args.astring('charset');
  }
  return { returns, partial, charset, key: parseSearchKeys(args, charset) };
}

const RETURN_OPTIONS: ReadonlySet<string> = new Set(['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE', 'UPDATE', 'CONTEXT']);

/** An optional "RETURN (option ...)" (RFC 4731, RFC 5267, RFC 9394); returns null when absent. */
export function parseReturnOptions(args: Args): { returns: SearchReturn[] | null; partial: PartialRange | null } {
  if (args.peekAtom() !== 'RETURN') return { returns: null, partial: null };
  args.next('RETURN');
  const opts = args.list('return options');
  const returns: SearchReturn[] = [];
  let partial: PartialRange | null = null;
  for (let i = 0; i < opts.length; i++) {
    const t = opts[i]!;
    if (t.t !== 'atom') throw new ParseError('Invalid search return option');
    const o = t.v.toUpperCase();
    if (o === 'PARTIAL') {
      const r = opts[++i];
      if (!r || r.t !== 'atom' || partial) throw new ParseError('Invalid PARTIAL range');
      partial = parsePartialRange(r.v);
      continue;
    }
    if (!RETURN_OPTIONS.has(o)) throw new ParseError(`Unknown search return option ${o.slice(0, 40)}`);
    if (!returns.includes(o as SearchReturn)) returns.push(o as SearchReturn);
  }
  // RFC 9394 section 3.1: PARTIAL and ALL are mutually exclusive.
  if (partial && returns.includes('ALL')) throw new ParseError('PARTIAL and ALL cannot be combined');
  return { returns, partial };
}

/** partial-range (RFC 9394 section 3): "lo:hi" or "-lo:-hi", nz-numbers, either order. */
export function parsePartialRange(s: string): PartialRange {
  const m = /^(-?)([1-9]\d{0,9}):(-?)([1-9]\d{0,9})$/.exec(s);
  if (!m || m[1] !== m[3]) throw new ParseError('Invalid PARTIAL range');
  const a = Number(m[2]);
  const b = Number(m[4]);
  if (a > 0xffffffff || b > 0xffffffff) throw new ParseError('Invalid PARTIAL range');
  return { lo: Math.min(a, b), hi: Math.max(a, b), last: m[1] === '-' };
}

/**
 * Most TEXT, BODY and HEADER keys in one search. Each one reads or scans every candidate message: 4000 of
 * them under NOT (each true, so none narrows the candidates) held a connection for minutes on a mailbox of
 * 1000 messages. Real clients send a few.
 */
export const MAX_CONTENT_KEYS = 100;

function contentKeys(key: SearchKey): number {
  switch (key.k) {
    case 'text':
    case 'header':
      return 1;
    case 'and':
      return key.keys.reduce((n, k) => n + contentKeys(k), 0);
    case 'or':
      return contentKeys(key.a) + contentKeys(key.b);
    case 'not':
      return contentKeys(key.key);
    default:
      return 0;
  }
}

/** Turns the bytes of a search string into text (in the charset the command named). */
type Decode = (bytes: Buffer) => string;

function decodeUtf8(bytes: Buffer): string {
  // Bytes that are no UTF-8 are BAD, as in Dovecot, rather than a search for replacement characters.
  if (!isUtf8(bytes)) throw new ParseError('Invalid search string: not UTF-8');
  return bytes.toString('utf8');
}

/**
 * The decoder of a SEARCH, SORT or THREAD charset: UTF-8 (and its subset US-ASCII) when none is named, else
 * any ASCII-compatible charset the platform's TextDecoder knows (ISO-8859-x, windows-125x, KOI8-R,
 * Shift_JIS ...; Dovecot takes what iconv knows). null for a charset it does not know, or UTF-16 (whose
 * atoms would not be ASCII): the command answers NO [BADCHARSET].
 */
export function searchCharsetDecoder(charset: string | null): Decode | null {
  if (charset === null) return decodeUtf8;
  const up = charset.toUpperCase();
  if (up === 'UTF-8' || up === 'UTF8' || up === 'US-ASCII') return decodeUtf8;
  if (!/^[A-Za-z0-9._:-]{1,40}$/.test(charset)) return null;
  let d: TextDecoder;
  try {
    d = new TextDecoder(charset, { fatal: true });
  } catch {
    return null;
  }
  if (d.encoding.startsWith('utf-16')) return null;
  return (bytes) => {
    try {
      return d.decode(bytes);
    } catch {
      throw new ParseError(`Invalid search string: not ${charset}`);
    }
  };
}

/** One or more search keys up to the end of the arguments (several are ANDed), strings in `charset`. */
export function parseSearchKeys(args: Args, charset: string | null = null): SearchKey {
  // An unknown charset still parses (its strings as Latin-1): the command then answers NO [BADCHARSET].
  const dec = searchCharsetDecoder(charset) ?? ((b: Buffer) => b.toString('latin1'));
  const keys: SearchKey[] = [];
  while (!args.done) keys.push(parseKey(args, 0, dec));
  if (!keys.length) throw new ParseError('Missing search criteria');
  const key: SearchKey = keys.length === 1 ? keys[0]! : { k: 'and', keys };
  if (contentKeys(key) > MAX_CONTENT_KEYS) throw new ParseError(`At most ${MAX_CONTENT_KEYS} TEXT, BODY and HEADER keys per search`);
  return key;
}

/**
 * Nesting bound for OR/NOT chains and parenthesised keys (each level is a recursion here and in the
 * evaluation). A chain of N ORs nests N deep: clients build one per term (100 refused a search of 101
 * message ids); Dovecot took 5000.
 */
const MAX_DEPTH = 1000;

function parseKey(args: Args, depth: number, dec: Decode): SearchKey {
  if (depth > MAX_DEPTH) throw new ParseError('Search criteria nested too deeply');
  const t = args.next('search key');
  if (t.t === 'list') {
    const sub = new Args(t.v);
    const keys: SearchKey[] = [];
    while (!sub.done) keys.push(parseKey(sub, depth + 1, dec));
    if (!keys.length) throw new ParseError('Empty search key list');
    return keys.length === 1 ? keys[0]! : { k: 'and', keys };
  }
  if (t.t !== 'atom') throw new ParseError('Invalid search key');
  const up = t.v.toUpperCase();
  const flag = FLAG_KEYS[up];
  if (flag) return { k: 'flag', flag: flag[0], set: flag[1] };
  const date = DATE_KEYS[up];
  if (date) return { k: 'date', field: date[0], op: date[1], date: parseDate(searchDate(args)) };
  if (ADDRESS_KEYS.has(up)) return { k: 'header', field: up === 'SUBJECT' ? 'Subject' : up.charAt(0) + up.slice(1).toLowerCase(), value: searchString(args, dec) };
  switch (up) {
    case 'ALL':
      return { k: 'all' };
    case 'RECENT':
      return { k: 'recent' };
    case 'NEW':
      return { k: 'new' };
    case 'OLD':
      return { k: 'old' };
    case 'KEYWORD':
    case 'UNKEYWORD': {
      // flag-keyword: an atom, so never a system flag ("\Seen" has its own key).
      const flag = parseFlag(args.next('keyword'));
      if (flag.startsWith('\\')) throw new ParseError(`Invalid keyword ${flag.slice(0, 40)}`);
      return { k: 'flag', flag, set: up === 'KEYWORD' };
    }
    case 'OLDER':
    case 'YOUNGER': {
      // RFC 5032 WITHIN: an interval in seconds (nz-number).
      const seconds = args.number('interval');
      if (seconds < 1) throw new ParseError('Interval must be at least 1 second');
      return { k: 'age', op: up === 'OLDER' ? 'older' : 'younger', seconds };
    }
    case 'SAVEDATESUPPORTED':
      return { k: 'savedatesupported' };
    case 'LARGER':
    case 'SMALLER':
      // number64 in IMAP4rev2 (RFC 9051); IMAP4rev1's 32-bit numbers are a subset.
      return { k: 'size', op: up === 'LARGER' ? 'larger' : 'smaller', n: parseNumber64(args.atom('size'), 'size') };
    case 'HEADER':
      // header-fld-name is any astring (RFC 9051 section 9); one that is no field name ("", "a b") matches
      // no message, as in Dovecot.
      return { k: 'header', field: args.astring('header field name'), value: searchString(args, dec) };
    case 'BODY':
      return { k: 'text', scope: 'body', value: searchString(args, dec) };
    case 'TEXT':
      return { k: 'text', scope: 'text', value: searchString(args, dec) };
    case 'NOT':
      return { k: 'not', key: parseKey(args, depth + 1, dec) };
    case 'OR': {
      const a = parseKey(args, depth + 1, dec);
      const b = parseKey(args, depth + 1, dec);
      return { k: 'or', a, b };
    }
    case 'UID':
      return { k: 'uid', set: parseSequenceSet(args.atom('UID set')) };
    case 'MODSEQ': {
      const next = args.peek();
      if (next && next.t === 'string') {
        args.next('entry name');
        const type = args.atom('entry type').toLowerCase();
        if (type !== 'priv' && type !== 'shared' && type !== 'all') throw new ParseError('Invalid MODSEQ entry type');
      }
      return { k: 'modseq', modseq: parseModseq(args.atom('mod-sequence')) };
    }
    case 'EMAILID':
      return { k: 'emailid', id: objectId(args.next('object id')) };
    case 'THREADID':
      return { k: 'threadid', id: objectId(args.next('object id')) };
    default:
      if (looksLikeSequenceSet(t.v)) return { k: 'seq', set: parseSequenceSet(t.v) };
      throw new ParseError(`Unknown search key ${t.v.slice(0, 40)}`);
  }
}

/** A search string: an astring, its bytes in the command's charset (an atom is ASCII in any of them). */
function searchString(args: Args, dec: Decode): string {
  const t = args.next('search string');
  if (t.t === 'string' && !t.binary) return dec(t.v);
  return astringOf(t, 'search string');
}

/** date = date-text / DQUOTE date-text DQUOTE (RFC 9051 section 9): an atom or a quoted string, no literal. */
function searchDate(args: Args): string {
  const t = args.next('date');
  if (t.t === 'string' && t.literal) throw new ParseError('Invalid date: a literal');
  return astringOf(t, 'date');
}

function objectId(t: Token): string {
  const s = astringOf(t, 'object id');
  if (!/^[A-Za-z0-9_-]{1,255}$/.test(s)) throw new ParseError('Invalid object id');
  return s;
}

/** True when the key tree mentions MODSEQ (the SEARCH response then carries "(MODSEQ n)", RFC 7162 3.1.5). */
export function usesModseq(key: SearchKey): boolean {
  switch (key.k) {
    case 'modseq':
      return true;
    case 'and':
      return key.keys.some(usesModseq);
    case 'or':
      return usesModseq(key.a) || usesModseq(key.b);
    case 'not':
      return usesModseq(key.key);
    default:
      return false;
  }
}

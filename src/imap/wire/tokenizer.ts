/**
 * IMAP tokenizer: turns one framed command (see framer.ts) into a token tree. It knows the lexical rules of
 * RFC 9051 section 9 (atoms, quoted strings, literals and literal8, parenthesized lists) and nothing about
 * commands; the per-command parsers in ../grammar give the tokens meaning.
 *
 * Atoms are read loosely: an atom runs to SP, "(", ")" or the end, and a "[" inside an atom opens a section
 * that runs to its matching "]" and may contain spaces and parentheses (so BODY[HEADER.FIELDS (A B)]<0.10> is
 * one atom); a "[" with no matching "]" in the rest of the command is an ordinary character (ASTRING-CHAR
 * allows "[" and "]", so SELECT a[b names a mailbox). Quoted strings may carry UTF-8 (RFC 9051, RFC 6855).
 */

export type Token =
  | { t: 'atom'; v: string }
  | { t: 'string'; v: Buffer; literal: boolean; binary: boolean }
  | { t: 'list'; v: Token[] };

export class TokenizeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenizeError';
  }
}

/** Deepest parenthesis nesting accepted (bounds recursion; SEARCH/FETCH never need more than a few levels). */
export const MAX_NESTING = 64;

/** Read position, plus the section matches found so far (see sectionClose). */
interface Cursor {
  pos: number;
  closes?: Map<number, number>;
  closesTo: number;
}

const SP = 0x20;
const LPAREN = 0x28;
const RPAREN = 0x29;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const TILDE = 0x7e;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

/**
 * Tokenizes `data` from `start`. Throws TokenizeError with a human-readable reason on malformed input
 * (unterminated string, bad literal header, unbalanced parentheses, control characters in atoms).
 */
export function tokenize(data: Buffer, start = 0): Token[] {
  const st: Cursor = { pos: start, closesTo: 0 };
  const root: Token[] = [];
  readSeq(data, st, root, 0);
  if (st.pos < data.length) throw new TokenizeError('Unexpected ")"');
  return root;
}

function readSeq(d: Buffer, st: Cursor, out: Token[], depth: number): void {
  let first = true;
  while (st.pos < d.length) {
    const c = d[st.pos]!;
    if (c === RPAREN) {
      if (depth === 0) throw new TokenizeError('Unexpected ")"');
      return;
    }
    if (!first) {
      if (c !== SP) throw new TokenizeError('Expected a space between arguments');
      while (d[st.pos] === SP) st.pos++;
      if (st.pos >= d.length) return; // trailing spaces are tolerated
      if (d[st.pos] === RPAREN) {
        if (depth === 0) throw new TokenizeError('Unexpected ")"');
        return;
      }
    }
    first = false;
    out.push(readToken(d, st, depth));
  }
  if (depth > 0) throw new TokenizeError('Missing ")"');
}

function readToken(d: Buffer, st: Cursor, depth: number): Token {
  const c = d[st.pos]!;
  if (c === LPAREN) {
    if (depth + 1 > MAX_NESTING) throw new TokenizeError('Too deeply nested');
    st.pos++;
    const items: Token[] = [];
    while (d[st.pos] === SP) st.pos++;
    readSeq(d, st, items, depth + 1);
    if (d[st.pos] !== RPAREN) throw new TokenizeError('Missing ")"');
    st.pos++;
    return { t: 'list', v: items };
  }
  if (c === DQUOTE) return readQuoted(d, st);
  if (c === LBRACE || (c === TILDE && d[st.pos + 1] === LBRACE)) return readLiteral(d, st);
  return readAtom(d, st);
}

function readQuoted(d: Buffer, st: Cursor): Token {
  st.pos++;
  let segStart = st.pos;
  const chunks: Buffer[] = [];
  while (st.pos < d.length) {
    const c = d[st.pos]!;
    if (c === DQUOTE) {
      chunks.push(d.subarray(segStart, st.pos));
      st.pos++;
      return { t: 'string', v: Buffer.concat(chunks), literal: false, binary: false };
    }
    if (c === BACKSLASH) {
      const n = d[st.pos + 1];
      if (n !== DQUOTE && n !== BACKSLASH) throw new TokenizeError('Invalid escape in quoted string');
      chunks.push(d.subarray(segStart, st.pos));
      chunks.push(Buffer.from([n]));
      st.pos += 2;
      segStart = st.pos;
      continue;
    }
    if (c === 0 || c === 13 || c === 10) throw new TokenizeError('Invalid character in quoted string');
    st.pos++;
  }
  throw new TokenizeError('Unterminated quoted string');
}

function readLiteral(d: Buffer, st: Cursor): Token {
  const binary = d[st.pos] === TILDE;
  if (binary) st.pos++;
  st.pos++; // {
  let n = 0;
  let digits = 0;
  while (st.pos < d.length && d[st.pos]! >= 0x30 && d[st.pos]! <= 0x39) {
    n = n * 10 + (d[st.pos]! - 0x30);
    digits++;
    st.pos++;
  }
  if (digits === 0 || digits > 19) throw new TokenizeError('Invalid literal size');
  if (d[st.pos] === 0x2b || d[st.pos] === 0x2d) st.pos++;
  if (d[st.pos] !== 0x7d || d[st.pos + 1] !== 13 || d[st.pos + 2] !== 10) throw new TokenizeError('Invalid literal header');
  st.pos += 3;
  if (st.pos + n > d.length) throw new TokenizeError('Truncated literal');
  const v = d.subarray(st.pos, st.pos + n);
  st.pos += n;
  if (!binary && v.includes(0)) throw new TokenizeError('NUL in literal (use a literal8)');
  return { t: 'string', v, literal: true, binary };
}

function readAtom(d: Buffer, st: Cursor): Token {
  const start = st.pos;
  while (st.pos < d.length) {
    const c = d[st.pos]!;
    if (c === SP || c === LPAREN || c === RPAREN) break;
    if (c === DQUOTE || c === LBRACE) throw new TokenizeError('Unexpected character in atom');
    if (c < 0x20 || c === 0x7f) throw new TokenizeError('Control character in argument');
    if (c === LBRACKET) {
      const close = sectionClose(d, st, st.pos);
      if (close >= 0) {
        st.pos = close + 1;
        continue;
      }
      // A "[" that never closes is an ordinary ASTRING-CHAR (RFC 9051 section 9), e.g. SELECT a[b.
    }
    st.pos++;
  }
  if (st.pos === start) throw new TokenizeError('Empty argument');
  return { t: 'atom', v: d.subarray(start, st.pos).toString('utf8') };
}

/**
 * Where the section opened by the "[" at `at` closes (its matching "]"), or -1. Sections never span a
 * control character (CR LF end a line); the matches of one such run are found in one pass and kept in the
 * cursor, so an argument full of unclosed "[" costs linear time.
 */
function sectionClose(d: Buffer, st: Cursor, at: number): number {
  if (st.closes === undefined || at >= st.closesTo) {
    const closes = new Map<number, number>();
    const open: number[] = [];
    let i = at;
    for (; i < d.length; i++) {
      const c = d[i]!;
      if (c < 0x20 || c === 0x7f) break;
      if (c === LBRACKET) open.push(i);
      else if (c === RBRACKET && open.length) closes.set(open.pop()!, i);
    }
    st.closes = closes;
    st.closesTo = i;
  }
  return st.closes.get(at) ?? -1;
}

/**
 * IMAP tokenizer: turns one framed command (see framer.ts) into a token tree. It knows the lexical rules of
 * RFC 9051 section 9 (atoms, quoted strings, literals and literal8, parenthesized lists) and nothing about
 * commands; the per-command parsers in ../grammar give the tokens meaning.
 *
 * Atoms run to SP, "(", ")" or the end and are 7-bit (8-bit text must be quoted or a literal, as Dovecot
 * also requires). A "[" inside an atom opens a section when a matching "]" follows before any SP, "(", ")",
 * quote, brace or control character, e.g. BODY[1.MIME]<0.10>; the one place where a section holds more is
 * HEADER.FIELDS[.NOT] with its header-list, whose names are astrings (RFC 9051 section 9: header-fld-name):
 * atoms, quoted strings or literals, so BODY[HEADER.FIELDS ({7}\r\nSubject)] is one atom. In the atom's
 * text that list is written back canonically (atoms as sent, strings quoted), so the FETCH grammar reads it
 * with this same tokenizer and an atom never holds CR or LF; a name holding CR, LF or NUL (no header field
 * can have one) is refused. Any other "[" is an ordinary
 * character (ASTRING-CHAR allows "[" and "]", so SELECT a[b names a mailbox). Quoted strings may carry
 * UTF-8 (RFC 9051, RFC 6855). Literal headers are "{n}" or "{n+}" (RFC 7888; LITERAL- uses the same "+").
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

/**
 * Deepest parenthesis nesting accepted: it bounds recursion. Generated SEARCH criteria nest deeply (a client
 * wrapping each OR term in parentheses); Dovecot took 5000 levels, 64 refused what such clients send.
 */
export const MAX_NESTING = 1000;

/** Read position. */
interface Cursor {
  pos: number;
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
  const st: Cursor = { pos: start };
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
  if (d[st.pos] === 0x2b) st.pos++;
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
  let parts: string[] | null = null;
  let segStart = start;
  while (st.pos < d.length) {
    const c = d[st.pos]!;
    if (c === SP || c === LPAREN || c === RPAREN) break;
    if (c === DQUOTE || c === LBRACE) throw new TokenizeError('Unexpected character in atom');
    if (c < 0x20 || c === 0x7f) throw new TokenizeError('Control character in argument');
    if (c > 0x7f) throw new TokenizeError('8bit data in atom');
    if (c === LBRACKET) {
      const sec = readSection(d, st.pos);
      if (sec) {
        if (sec.text !== null) {
          parts ??= [];
          parts.push(d.toString('latin1', segStart, st.pos), sec.text);
          segStart = sec.end;
        }
        st.pos = sec.end;
        continue;
      }
      // A "[" that opens no section is an ordinary ASTRING-CHAR (RFC 9051 section 9), e.g. SELECT a[b.
    }
    st.pos++;
  }
  if (st.pos === start) throw new TokenizeError('Empty argument');
  if (!parts) return { t: 'atom', v: d.toString('latin1', start, st.pos) };
  parts.push(d.toString('latin1', segStart, st.pos));
  return { t: 'atom', v: parts.join('') };
}

const HEADER_LIST_SECTION = /HEADER\.FIELDS(\.NOT)?$/i;

/**
 * The section opened by the "[" at `at`: where it ends (after its "]") and, when it holds a header-list,
 * its canonical text (else null: the bytes stand as they are). null when no section opens there.
 */
function readSection(d: Buffer, at: number): { end: number; text: string | null } | null {
  let i = at + 1;
  for (; i < d.length; i++) {
    const c = d[i]!;
    if (c === RBRACKET) return { end: i + 1, text: null };
    if (c === SP) break;
    if (c <= 0x20 || c >= 0x7f || c === LPAREN || c === RPAREN || c === DQUOTE || c === LBRACE || c === LBRACKET) return null;
  }
  if (i >= d.length || !HEADER_LIST_SECTION.test(d.toString('latin1', at + 1, i))) return null;
  const head = d.toString('latin1', at, i);
  while (d[i] === SP) i++;
  if (d[i] !== LPAREN) return null;
  const st: Cursor = { pos: i + 1 };
  const names: string[] = [];
  for (;;) {
    while (d[st.pos] === SP) st.pos++;
    const c = d[st.pos];
    if (c === RPAREN) break;
    if (c === undefined || c === LPAREN || c === RBRACKET || c < 0x20 || c === 0x7f) return null;
    names.push(headerName(d, st));
  }
  st.pos++;
  if (d[st.pos] !== RBRACKET) return null;
  return { end: st.pos + 1, text: `${head} (${names.join(' ')})]` };
}

/** One header-fld-name inside a section's header-list, in canonical form (see the top of this file). */
function headerName(d: Buffer, st: Cursor): string {
  const c = d[st.pos]!;
  if (c === DQUOTE || c === LBRACE || (c === TILDE && d[st.pos + 1] === LBRACE)) {
    const t = c === DQUOTE ? readQuoted(d, st) : readLiteral(d, st);
    if (t.t !== 'string') throw new TokenizeError('Invalid header field name');
    if (t.binary) throw new TokenizeError('literal8 not allowed here');
    return canonicalString(t.v.toString('utf8'));
  }
  const start = st.pos;
  while (st.pos < d.length) {
    const b = d[st.pos]!;
    if (b === SP || b === RPAREN) break;
    if (b === LPAREN || b === DQUOTE || b === LBRACE || b < 0x20 || b === 0x7f) throw new TokenizeError('Invalid character in header field name');
    if (b > 0x7f) throw new TokenizeError('8bit data in atom');
    st.pos++;
  }
  return d.toString('latin1', start, st.pos);
}

/** A string as a quoted string (one holding CR, LF or NUL is no header field name). */
function canonicalString(s: string): string {
  if (/[\r\n\0]/.test(s)) throw new TokenizeError('Invalid header field name');
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * RFC 5228 section 8.1 lexical tokens. Comments (hash and bracketed) and whitespace are skipped; strings are
 * returned decoded (quoted-string escapes removed, multi-line strings dot-unstuffed). Positions are 1-based
 * line and column of the token's first character.
 */
import type { SievePosition } from './types.js';

export type Token =
  | { t: 'identifier'; v: string; pos: SievePosition }
  | { t: 'tag'; v: string; pos: SievePosition }
  | { t: 'number'; v: number; pos: SievePosition }
  | { t: 'string'; v: string; multiline: boolean; pos: SievePosition }
  | { t: 'punct'; v: '[' | ']' | '(' | ')' | '{' | '}' | ',' | ';'; pos: SievePosition }
  | { t: 'eof'; pos: SievePosition };

export class SieveSyntaxError extends Error {
  constructor(message: string, readonly pos: SievePosition) {
    super(message);
  }
}

const QUANT: Record<string, number> = { k: 1024, m: 1024 * 1024, g: 1024 * 1024 * 1024 };
/** Numbers are unsigned 32-bit in practice (Pigeonhole sieve_number_t); larger values are refused. */
const MAX_NUMBER = 2 ** 53 - 1;

const isAlpha = (c: string): boolean => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
const isDigit = (c: string): boolean => c >= '0' && c <= '9';

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  const n = src.length;
  const pos = (at = i): SievePosition => ({ line, column: at - lineStart + 1 });
  const newline = (at: number): void => {
    line++;
    lineStart = at + 1;
  };
  while (i < n) {
    const c = src[i]!;
    if (c === '\n') {
      newline(i);
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const start = pos();
      i += 2;
      for (;;) {
        if (i >= n) throw new SieveSyntaxError(`end of file before end of bracket comment ('/* ... */') started at line ${start.line}`, pos());
        if (src[i] === '*' && src[i + 1] === '/') {
          i += 2;
          break;
        }
        if (src[i] === '\n') newline(i);
        i++;
      }
      continue;
    }
    if ('[](){},;'.includes(c)) {
      out.push({ t: 'punct', v: c as '[', pos: pos() });
      i++;
      continue;
    }
    if (c === '"') {
      const start = pos();
      i++;
      let v = '';
      for (;;) {
        if (i >= n) throw new SieveSyntaxError(`end of file before end of quoted string started at line ${start.line}`, pos());
        const d = src[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\' && i + 1 < n) {
          const e = src[i + 1]!;
          if (e === '\n') newline(i + 1);
          v += e;
          i += 2;
          continue;
        }
        if (d === '\n') newline(i);
        v += d;
        i++;
      }
      out.push({ t: 'string', v, multiline: false, pos: start });
      continue;
    }
    if (isDigit(c)) {
      const start = pos();
      let j = i;
      while (j < n && isDigit(src[j]!)) j++;
      let v = Number(src.slice(i, j));
      const q = src[j]?.toLowerCase();
      if (q !== undefined && QUANT[q] !== undefined) {
        v *= QUANT[q]!;
        j++;
      }
      if (v > MAX_NUMBER) throw new SieveSyntaxError('number is too large', start);
      out.push({ t: 'number', v, pos: start });
      i = j;
      continue;
    }
    if (c === ':') {
      const start = pos();
      let j = i + 1;
      if (j >= n || !isAlpha(src[j]!)) throw new SieveSyntaxError("unexpected character ':'", start);
      while (j < n && (isAlpha(src[j]!) || isDigit(src[j]!))) j++;
      out.push({ t: 'tag', v: src.slice(i + 1, j).toLowerCase(), pos: start });
      i = j;
      continue;
    }
    if (isAlpha(c)) {
      const start = pos();
      let j = i;
      while (j < n && (isAlpha(src[j]!) || isDigit(src[j]!))) j++;
      const word = src.slice(i, j);
      if (word.toLowerCase() === 'text' && src[j] === ':') {
        i = readMultiline(j + 1, start);
        continue;
      }
      out.push({ t: 'identifier', v: word.toLowerCase(), pos: start });
      i = j;
      continue;
    }
    const shown = c.charCodeAt(0) < 0x20 ? `0x${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c;
    throw new SieveSyntaxError(`unexpected character(s) starting with '${shown}'`, pos());
  }
  out.push({ t: 'eof', pos: pos() });
  return out;

  /** RFC 5228 multi-line: "text:" *(SP / HTAB) (hash-comment / CRLF) lines "." CRLF. Returns the new index. */
  function readMultiline(from: number, start: SievePosition): number {
    let j = from;
    while (j < n && (src[j] === ' ' || src[j] === '\t')) j++;
    if (src[j] === '#') while (j < n && src[j] !== '\n') j++;
    if (src[j] === '\r') j++;
    if (src[j] !== '\n') throw new SieveSyntaxError(`invalid character '${src[j] ?? ''}' after 'text:' in multiline string`, pos(j));
    newline(j);
    j++;
    const lines: string[] = [];
    for (;;) {
      if (j >= n) throw new SieveSyntaxError(`end of file before end of multi-line string started at line ${start.line}`, pos(j));
      let e = src.indexOf('\n', j);
      if (e < 0) e = n;
      let text = src.slice(j, e);
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (e < n) newline(e);
      j = e + 1;
      if (text === '.') break;
      lines.push(text.startsWith('.') ? text.slice(1) : text);
    }
    out.push({ t: 'string', v: lines.map((l) => l + '\r\n').join(''), multiline: true, pos: start });
    return j;
  }
}

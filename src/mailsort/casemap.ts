/**
 * The i;unicode-casemap collation of RFC 5051 section 2, as a key function: `casemap(s)` gives the string
 * that two inputs must share to compare equal, and whose code-point order is the collation's order.
 *
 * Contract:
 * - every code point is mapped to its simple titlecase (UnicodeData field 14; a code point without one
 *   stays as it is), then the whole string is put in Unicode Normalization Form KD;
 * - ASCII-only input takes a fast path (titlecase of ASCII is uppercase; NFKD leaves ASCII alone);
 * - never throws; lone surrogates pass through unchanged.
 * `compareCodePoints` orders two strings by code point (the octet order of their UTF-8 forms, which is what
 * RFC 5051 compares), unlike `<` on JS strings, which compares UTF-16 code units.
 */

/** Code points whose simple titlecase differs from what String.prototype.toUpperCase gives. */
const TITLE_EXCEPTIONS = new Map<number, number>([
  // Latin digraphs: the titlecase form is the mixed-case letter.
  [0x01c4, 0x01c5], [0x01c5, 0x01c5], [0x01c6, 0x01c5],
  [0x01c7, 0x01c8], [0x01c8, 0x01c8], [0x01c9, 0x01c8],
  [0x01ca, 0x01cb], [0x01cb, 0x01cb], [0x01cc, 0x01cb],
  [0x01f1, 0x01f2], [0x01f2, 0x01f2], [0x01f3, 0x01f2],
  // Greek with ypogegrammeni: simple titlecase is the prosgegrammeni letter (full uppercase is two letters).
  [0x1fb3, 0x1fbc], [0x1fc3, 0x1fcc], [0x1ff3, 0x1ffc],
]);

function simpleTitlecase(cp: number, ch: string): number {
  const ex = TITLE_EXCEPTIONS.get(cp);
  if (ex !== undefined) return ex;
  // Greek ypogegrammeni blocks U+1F80..U+1FAF: lowercase rows map to the titlecase rows 8 above.
  if (cp >= 0x1f80 && cp <= 0x1faf) return (cp & 0x0f) < 8 ? cp + 8 : cp;
  // Georgian Mkhedruli letters have an uppercase (Mtavruli) but are their own titlecase.
  if ((cp >= 0x10d0 && cp <= 0x10fa) || (cp >= 0x10fd && cp <= 0x10ff)) return cp;
  const up = ch.toUpperCase();
  const first = up.codePointAt(0);
  // A multi-letter full mapping (ß -> SS, ŉ -> ʼN, ...) means there is no simple mapping: keep the letter.
  if (first === undefined || up.length !== ch.length) return cp;
  return first;
}

/** The i;unicode-casemap key of `s` (simple titlecase of each code point, then NFKD). */
export function casemap(s: string): string {
  if (/^[\x00-\x7f]*$/.test(s)) return s.toUpperCase();
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) {
      out += cp >= 0x61 && cp <= 0x7a ? String.fromCharCode(cp - 32) : ch;
      continue;
    }
    const t = simpleTitlecase(cp, ch);
    out += t === cp ? ch : String.fromCodePoint(t);
  }
  return out.normalize('NFKD');
}

/** Orders by code point (UTF-8 octet order): negative, 0 or positive. */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Code units at or above U+D800 differ in order from code points only when one is a surrogate and the
    // other a BMP character at U+E000 or above: a surrogate starts a supplementary character, which is larger.
    if (x >= 0xd800 && y >= 0xd800) {
      const xs = x < 0xe000;
      const ys = y < 0xe000;
      if (xs !== ys) return xs ? 1 : -1;
    }
    return x - y;
  }
  return a.length - b.length;
}

/** True when native `<` on these strings might disagree with compareCodePoints (some code unit >= U+D800). */
export function needsCodePointCompare(s: string): boolean {
  return /[\ud800-\uffff]/.test(s);
}

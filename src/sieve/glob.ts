/**
 * The :matches wildcards of RFC 5228 2.7.1 ("*" any run of characters, "?" one character, "\" quotes the
 * next one), matched without a regular expression. A pattern such as "*money*now*" as a JavaScript regex
 * ("^(.*?)money(.*?)now(.*?)$") backtracks in O(n^k) for k stars: one sender's 40 KB Subject took a second
 * per rule and a megabyte one minutes. Here a mismatch only ever resumes at the last star, one character
 * further (the classic wildcard algorithm), so a match costs at most (subject length) x (pattern length)
 * steps, counted through `step` so the interpreter's step limit bounds it.
 *
 * The captures are those RFC 5229 3.2 asks for, the same a lazy regex gives: each "*" takes the fewest
 * characters that still let the rest match, leftmost first; each "?" its one character. Characters are
 * code points (a surrogate pair is one character), as with the regex's "u" flag.
 */

/** A pattern token: a UTF-16 code unit to match literally, or one of the wildcards. */
const STAR = -1;
const ANY = -2;

export interface Glob {
  tokens: Int32Array;
  /** For each token, the index of its capture among the wildcards (or -1 for a literal). */
  capture: Int32Array;
  wildcards: number;
}

const cache = new Map<string, Glob>();

/** Parses (and caches) a :matches key. */
export function parseGlob(pattern: string): Glob {
  const hit = cache.get(pattern);
  if (hit) return hit;
  const tokens: number[] = [];
  const capture: number[] = [];
  let wildcards = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    if (c === 0x5c && i + 1 < pattern.length) {
      tokens.push(pattern.charCodeAt(++i));
      capture.push(-1);
    } else if (c === 0x2a || c === 0x3f) {
      // Consecutive stars are one star with empty captures for the others (what "(.*?)(.*?)" gives).
      tokens.push(c === 0x2a ? STAR : ANY);
      capture.push(wildcards++);
    } else {
      tokens.push(c);
      capture.push(-1);
    }
  }
  const g = { tokens: Int32Array.from(tokens), capture: Int32Array.from(capture), wildcards };
  if (cache.size > 512) cache.clear();
  cache.set(pattern, g);
  return g;
}

/** Code units of the character at `j` of `s` (2 for a surrogate pair). */
function charLength(s: string, j: number): number {
  const c = s.charCodeAt(j);
  if (c >= 0xd800 && c <= 0xdbff && j + 1 < s.length) {
    const d = s.charCodeAt(j + 1);
    if (d >= 0xdc00 && d <= 0xdfff) return 2;
  }
  return 1;
}

/** Steps of matching work per call of `step`. */
const WORK_PER_STEP = 1024;

/**
 * Matches `s` against the whole pattern; returns each wildcard's [start, end) in `s` in pattern order, or
 * null. `step` is called once per WORK_PER_STEP comparisons and may throw to stop the match.
 */
export function globMatch(g: Glob, s: string, step: (n?: number) => void): Array<[number, number]> | null {
  const { tokens, capture } = g;
  const caps: Array<[number, number]> = new Array<[number, number]>(g.wildcards);
  let i = 0;
  let j = 0;
  /** The last star passed: its token index, where its capture starts, and where it now ends. */
  let star = -1;
  let starStart = 0;
  let starEnd = 0;
  let work = 0;
  for (;;) {
    if (++work === WORK_PER_STEP) {
      work = 0;
      step();
    }
    if (i < tokens.length) {
      const t = tokens[i]!;
      if (t === STAR) {
        star = i;
        starStart = starEnd = j;
        caps[capture[i]!] = [j, j];
        i++;
        continue;
      }
      if (j < s.length) {
        if (t === ANY) {
          const w = charLength(s, j);
          caps[capture[i]!] = [j, j + w];
          j += w;
          i++;
          continue;
        }
        if (s.charCodeAt(j) === t) {
          i++;
          j++;
          continue;
        }
      }
    } else if (j === s.length) return caps;
    // A mismatch: the last star takes one more character and the rest is tried from there.
    if (star < 0 || starEnd >= s.length) return null;
    starEnd += charLength(s, starEnd);
    caps[capture[star]!] = [starStart, starEnd];
    i = star + 1;
    j = starEnd;
  }
}

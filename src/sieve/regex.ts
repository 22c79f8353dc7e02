/**
 * The regex match type (draft-ietf-sieve-regex, as Dovecot offers it): POSIX extended regular expressions,
 * translated to JavaScript syntax. Bracket character classes ([:alpha:] ...) are mapped; the rest of ERE is
 * a subset of JavaScript's syntax. Compiled patterns are cached.
 */

import vm from 'node:vm';

/** Time one risky regex match may take before the run fails (the message is then kept). */
export const REGEX_TIME_LIMIT_MS = 250;

const guardContext = vm.createContext({ re: null as RegExp | null, s: '', m: null as RegExpExecArray | null });
const guardScript = new vm.Script('m = re.exec(s)');

/** RegExp.exec bounded in time (V8 interrupts the backtracking); throws Error on timeout. */
export function guardedExec(re: RegExp, s: string): RegExpExecArray | null {
  guardContext.re = re;
  guardContext.s = s;
  guardContext.m = null;
  try {
    guardScript.runInContext(guardContext, { timeout: REGEX_TIME_LIMIT_MS });
    return guardContext.m as RegExpExecArray | null;
  } finally {
    guardContext.re = null;
    guardContext.s = '';
    guardContext.m = null;
  }
}

const CLASSES: Record<string, string> = {
  alpha: 'A-Za-z', digit: '0-9', alnum: 'A-Za-z0-9', upper: 'A-Z', lower: 'a-z', space: ' \\t\\r\\n\\v\\f',
  blank: ' \\t', punct: '!-\\/:-@\\[-`{-~', xdigit: '0-9A-Fa-f', cntrl: '\\x00-\\x1f\\x7f', print: '\\x20-\\x7e',
  graph: '\\x21-\\x7e', word: 'A-Za-z0-9_',
};

export interface CompiledRegex {
  re: RegExp;
  /**
   * May backtrack exponentially or in high polynomial time, so it is run with guardedExec: a repeated group
   * ("(a+)+", "(a|aa)*"), a back-reference, or more than one unbounded repetition (".*.*.*x").
   */
  risky: boolean;
}

/** Subjects longer than this are matched with guardedExec whatever the pattern (".*x" is quadratic in them). */
export const GUARDED_SUBJECT_LENGTH = 4096;

const WORD = 'A-Za-z0-9_';
const SPACE = ' \\t\\r\\n\\v\\f';
const GNU_ESCAPES: Record<string, string> = {
  w: `[${WORD}]`, W: `[^${WORD}]`, s: `[${SPACE}]`, S: `[^${SPACE}]`, b: '\\b', B: '\\B',
  '<': `\\b(?=[${WORD}])`, '>': `\\b(?<=[${WORD}])`, '`': '^', "'": '$',
};

const cache = new Map<string, CompiledRegex>();
const CACHE_MAX = 256;
/** Longer patterns are compiled each time, not cached: 256 patterns of a megabyte would hold 256 MB. */
const CACHE_MAX_PATTERN = 4096;

/** Translate a POSIX ERE; `error` describes why it cannot compile. */
export function toJsRegex(posix: string, icase: boolean): { re?: CompiledRegex; error?: string } {
  const key = (icase ? 'i' : '-') + posix;
  const hit = cache.get(key);
  if (hit) return { re: hit };
  let out = '';
  let i = 0;
  let depth = 0;
  // Per open group: whether it contains a repetition. A repeated group holding a repetition ("(a+)+")
  // can backtrack exponentially in JavaScript's engine: such a pattern is marked risky and runs under a
  // time limit (guardedExec).
  const repeats: boolean[] = [false];
  let closedRepeating = false;
  let risky = false;
  let unbounded = 0;
  let wasGroup = false;
  while (i < posix.length) {
    const c = posix[i]!;
    const wasClosed = closedRepeating;
    closedRepeating = false;
    if ('*+{'.includes(c) || (c === '?' && wasClosed)) {
      if (wasClosed && c !== '?') risky = true;
      repeats[repeats.length - 1] = true;
    }
    if (c === '*' || c === '+' || (c === '{' && /^\{\d*,\}/.test(posix.slice(i, i + 16)))) {
      if (++unbounded > 1) risky = true;
    }
    // A group repeated at all: "(a|aa)*" backtracks exponentially without a repetition inside it.
    if (wasGroup && '*+{'.includes(c)) risky = true;
    wasGroup = c === ')';
    if (c === '\\') {
      if (i + 1 >= posix.length) return { error: 'trailing backslash (\\)' };
      const d = posix[i + 1]!;
      // GNU extensions glibc's regcomp (Pigeonhole's engine) offers; \1-\9 are back-references; any other
      // backslash-letter (\d, \q, ...) matches nothing there, and here too. Punctuation is quoted.
      out += GNU_ESCAPES[d] ?? (/[1-9]/.test(d) ? '\\' + d : /[A-Za-z0-9]/.test(d) ? '(?!)' : '\\' + d);
      if (/[1-9]/.test(d)) risky = true; // back-references make matching NP-hard
      wasGroup = false;
      i += 2;
      continue;
    }
    if (c === '[') {
      let j = i + 1;
      let body = '';
      if (posix[j] === '^') {
        body += '^';
        j++;
      }
      if (posix[j] === ']') {
        body += '\\]';
        j++;
      }
      for (;;) {
        if (j >= posix.length) return { error: 'unmatched [, [^, [:, [., or [=' };
        const d = posix[j]!;
        if (d === ']') break;
        if (d === '[' && posix[j + 1] === ':') {
          const e = posix.indexOf(':]', j + 2);
          if (e < 0) return { error: 'unmatched [, [^, [:, [., or [=' };
          const cls = CLASSES[posix.slice(j + 2, e)];
          if (!cls) return { error: 'invalid character class' };
          body += cls;
          j = e + 2;
          continue;
        }
        body += d === '\\' || d === '[' ? '\\' + d : d;
        j++;
      }
      out += `[${body}]`;
      wasGroup = false;
      i = j + 1;
      continue;
    }
    if (c === '(') {
      depth++;
      repeats.push(false);
    }
    if (c === ')') {
      if (depth === 0) return { error: 'unmatched ( or \\(' };
      depth--;
      const inner = repeats.pop() ?? false;
      closedRepeating = inner;
      if (inner) repeats[repeats.length - 1] = true;
    }
    out += c;
    i++;
  }
  if (depth > 0) return { error: 'unmatched ( or \\(' };
  try {
    const re = { re: new RegExp(out, icase ? 'is' : 's'), risky };
    if (posix.length <= CACHE_MAX_PATTERN) {
      if (cache.size >= CACHE_MAX) cache.clear();
      cache.set(key, re);
    }
    return { re };
  } catch (e) {
    const why = (e as Error).message.replace(/^Invalid regular expression: /, '');
    // The engine's message repeats the whole pattern ("/.../is: reason"): a long one is named by its reason.
    return { error: why.length > 200 ? (/\/[a-z]*: ([^/]*)$/.exec(why)?.[1] ?? why.slice(-200)) : why };
  }
}

/** A pattern as error messages name it: its first 80 characters (a script's pattern may be 100 KB). */
export function patternForMessage(k: string): string {
  return k.length > 80 ? `${k.slice(0, 80)}...` : k;
}

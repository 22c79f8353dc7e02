/**
 * The regex match type (draft-ietf-sieve-regex, as Dovecot offers it): POSIX extended regular expressions,
 * translated to JavaScript syntax. Bracket character classes ([:alpha:] ...) are mapped; the rest of ERE is
 * a subset of JavaScript's syntax. Compiled patterns are cached.
 */

const CLASSES: Record<string, string> = {
  alpha: 'A-Za-z', digit: '0-9', alnum: 'A-Za-z0-9', upper: 'A-Z', lower: 'a-z', space: ' \\t\\r\\n\\v\\f',
  blank: ' \\t', punct: '!-\\/:-@\\[-`{-~', xdigit: '0-9A-Fa-f', cntrl: '\\x00-\\x1f\\x7f', print: '\\x20-\\x7e',
  graph: '\\x21-\\x7e', word: 'A-Za-z0-9_',
};

const cache = new Map<string, RegExp>();
const CACHE_MAX = 256;

/** Translate a POSIX ERE; `error` describes why it cannot compile. */
export function toJsRegex(posix: string, icase: boolean): { re?: RegExp; error?: string } {
  const key = (icase ? 'i' : '-') + posix;
  const hit = cache.get(key);
  if (hit) return { re: hit };
  let out = '';
  let i = 0;
  let depth = 0;
  while (i < posix.length) {
    const c = posix[i]!;
    if (c === '\\') {
      if (i + 1 >= posix.length) return { error: 'trailing backslash (\\)' };
      const d = posix[i + 1]!;
      // ERE: a backslash quotes the next character; JS escapes like \d would change meaning.
      out += /[A-Za-z0-9]/.test(d) ? d : '\\' + d;
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
      i = j + 1;
      continue;
    }
    if (c === '(') depth++;
    if (c === ')') {
      if (depth === 0) return { error: 'unmatched ( or \\(' };
      depth--;
    }
    out += c;
    i++;
  }
  if (depth > 0) return { error: 'unmatched ( or \\(' };
  try {
    const re = new RegExp(out, icase ? 'is' : 's');
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(key, re);
    return { re };
  } catch (e) {
    return { error: (e as Error).message.replace(/^Invalid regular expression: /, '') };
  }
}

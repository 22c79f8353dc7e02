/**
 * String helpers shared by the validator and interpreter: RFC 5228 2.4.2.4 encoded characters, RFC 5229
 * variable names and expansion, wildcard/regex quoting and the i;ascii-casemap fold.
 */

const HEX_RE = /\$\{hex:([\t ]*(?:[0-9a-fA-F]{2}(?:[\t ]+|(?=[\t ]*\})))*)[\t ]*\}/gi;
const UNI_RE = /\$\{unicode:([\t ]*(?:[0-9a-fA-F]{1,6}(?:[\t ]+|(?=[\t ]*\})))*)[\t ]*\}/gi;

/** `${hex:..}` and `${unicode:..}` (case-insensitive); malformed sequences stay as written. */
export function decodeEncodedCharacters(s: string): string {
  if (!s.includes('${')) return s;
  return s
    .replace(HEX_RE, (_m, body: string) => {
      const bytes = body.trim().split(/[\t ]+/).filter(Boolean).map((h) => parseInt(h, 16));
      return Buffer.from(bytes).toString('utf8');
    })
    .replace(UNI_RE, (m, body: string) => {
      const cps = body.trim().split(/[\t ]+/).filter(Boolean).map((h) => parseInt(h, 16));
      // RFC 5228: code points above U+10FFFF or surrogates are errors; leave the text unchanged.
      if (cps.some((c) => c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))) return m;
      return String.fromCodePoint(...cps);
    });
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** RFC 5229 section 3: identifier (optionally namespace-prefixed with "global."). */
export function isValidVariableName(name: string, allowNamespace = false): boolean {
  const parts = name.split('.');
  if (parts.length === 1) return IDENT.test(name);
  return allowNamespace && parts.length === 2 && parts[0]!.toLowerCase() === 'global' && IDENT.test(parts[1]!);
}

export interface VariableScope {
  get(name: string): string | undefined;
  match(index: number): string | undefined;
}

const VAR_REF = /\$\{([A-Za-z0-9_.]+)\}/g;
const NAMESPACED = /^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$/;

/** RFC 5229 section 3: replaces `${name}` and `${N}`; unknown variables expand to ""; bad syntax stays. */
export function expandVariables(s: string, scope: VariableScope): string {
  if (!s.includes('${')) return s;
  return s.replace(VAR_REF, (m, ref: string) => {
    if (/^[0-9]+$/.test(ref)) {
      const n = Number(ref);
      return n <= 9 ? (scope.match(n) ?? '') : m;
    }
    if (isValidVariableName(ref, true)) return scope.get(ref.toLowerCase()) ?? '';
    // A well-formed reference into a namespace this implementation does not know expands to "" (Pigeonhole).
    return NAMESPACED.test(ref) ? '' : m;
  });
}

export { asciiLower, asciiUpper } from '../lib/ascii.js';

export function quoteWildcard(s: string): string {
  return s.replace(/[*?\\]/g, (c) => '\\' + c);
}

export function quoteRegex(s: string): string {
  return s.replace(/[\\^$.[\]|()?*+{}]/g, (c) => '\\' + c);
}

/** Length in characters (code points), as RFC 5229 :length counts. */
export function charLength(s: string): number {
  let n = 0;
  for (const _c of s) n++;
  return n;
}

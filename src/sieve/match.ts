/**
 * Comparators (RFC 4790: i;octet, i;ascii-casemap, i;ascii-numeric), match types (RFC 5228 :is :contains
 * :matches, RFC 5231 :count :value, regex draft :regex) and the match variables they capture (RFC 5229).
 */
import { GUARDED_SUBJECT_LENGTH, guardedExec, patternForMessage, toJsRegex } from './regex.js';
import { asciiLower } from './strings.js';
import { globMatch, parseGlob } from './glob.js';

export type MatchType = 'is' | 'contains' | 'matches' | 'regex' | 'count' | 'value';

export interface MatchSpec {
  comparator: string;
  type: MatchType;
  relation: string;
}

export class MatchError extends Error {}

/** i;ascii-numeric: the leading digit string without leading zeros; null = positive infinity. */
function numericValue(s: string): string | null {
  const m = /^[0-9]+/.exec(s);
  if (!m) return null;
  return m[0].replace(/^0+(?=.)/, '');
}

/** Ordering under the comparator: negative, zero, positive. */
export function compareValues(comparator: string, a: string, b: string): number {
  if (comparator === 'i;ascii-numeric') {
    const x = numericValue(a);
    const y = numericValue(b);
    if (x === null) return y === null ? 0 : 1;
    if (y === null) return -1;
    if (x.length !== y.length) return x.length - y.length;
    return x < y ? -1 : x > y ? 1 : 0;
  }
  const x = comparator === 'i;ascii-casemap' ? asciiLower(a) : a;
  const y = comparator === 'i;ascii-casemap' ? asciiLower(b) : b;
  const bx = Buffer.from(x);
  const by = Buffer.from(y);
  return Buffer.compare(bx, by);
}

function relate(rel: string, c: number): boolean {
  switch (rel) {
    case 'gt':
      return c > 0;
    case 'ge':
      return c >= 0;
    case 'lt':
      return c < 0;
    case 'le':
      return c <= 0;
    case 'ne':
      return c !== 0;
    default:
      return c === 0;
  }
}

export interface MatchOutcome {
  matched: boolean;
  /** Match variables of the successful :matches or :regex comparison (index 0 = whole). */
  captures?: string[];
}

/** Counts work done so callers can bound it. */
export type StepFn = (n?: number) => void;

/**
 * Does any value match any key? `values` are the test's source strings. For :count, the number of values is
 * compared with the keys. Throws MatchError for a key that is not a valid regex (variables produced it).
 */
export function matchAny(spec: MatchSpec, values: readonly string[], keys: readonly string[], step: StepFn): MatchOutcome {
  const cmp = spec.comparator;
  if (spec.type === 'count') {
    const n = String(values.length);
    return { matched: keys.some((k) => relate(spec.relation, compareValues(cmp, n, k))) };
  }
  const fold = cmp === 'i;ascii-casemap';
  for (const v of values) {
    for (const k of keys) {
      step();
      switch (spec.type) {
        case 'is':
          if (compareValues(cmp, v, k) === 0) return { matched: true };
          break;
        case 'value':
          if (relate(spec.relation, compareValues(cmp, v, k))) return { matched: true };
          break;
        case 'contains':
          if (cmp === 'i;ascii-numeric') throw new MatchError('the i;ascii-numeric comparator does not support substring matching');
          if ((fold ? asciiLower(v) : v).includes(fold ? asciiLower(k) : k)) return { matched: true };
          break;
        case 'matches': {
          if (cmp === 'i;ascii-numeric') throw new MatchError('the i;ascii-numeric comparator does not support :matches');
          // asciiLower keeps every offset, so the captures are sliced from the value as given.
          const spans = globMatch(parseGlob(fold ? asciiLower(k) : k), fold ? asciiLower(v) : v, step);
          if (spans) return { matched: true, captures: [v, ...spans.map(([a, b]) => v.slice(a, b))] };
          break;
        }
        case 'regex': {
          const { re, error } = toJsRegex(k, fold);
          if (!re) throw new MatchError(`invalid regular expression '${patternForMessage(k)}': ${error ?? ''}`);
          step(Math.ceil(v.length / 1024));
          let m: RegExpExecArray | null;
          try {
            m = re.risky || v.length > GUARDED_SUBJECT_LENGTH ? guardedExec(re.re, v) : re.re.exec(v);
          } catch {
            throw new MatchError(`regular expression '${patternForMessage(k)}' took too long`);
          }
          if (m) return { matched: true, captures: Array.from(m, (x) => x ?? '') };
          break;
        }
        default:
      }
    }
  }
  return { matched: false };
}

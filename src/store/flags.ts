/**
 * Flag rules shared by every store implementation (RFC 9051 section 2.3.2).
 *
 * System flags are matched case-insensitively and reported in their canonical spelling. Keywords are atoms,
 * matched case-insensitively; a store keeps the first-seen spelling. \Recent is session state, never stored:
 * it is silently dropped from input. Any other backslash flag is INVALID.
 */
import { StoreError, StoreLimitError } from './types.js';
import type { StoreFlagsOptions } from './types.js';

export const FLAG_SEEN = 1;
export const FLAG_ANSWERED = 2;
export const FLAG_FLAGGED = 4;
export const FLAG_DELETED = 8;
export const FLAG_DRAFT = 16;

/** Canonical system flags with their bit, in the order they are reported. */
export const SYSTEM_FLAGS: ReadonlyArray<readonly [string, number]> = [
  ['\\Seen', FLAG_SEEN],
  ['\\Answered', FLAG_ANSWERED],
  ['\\Flagged', FLAG_FLAGGED],
  ['\\Deleted', FLAG_DELETED],
  ['\\Draft', FLAG_DRAFT],
];

const SYSTEM_BY_LOWER = new Map<string, number>(SYSTEM_FLAGS.map(([name, bit]) => [name.toLowerCase(), bit]));

/** Longest keyword accepted (octets). */
export const MAX_KEYWORD_LENGTH = 128;
/** Most keywords on one message. */
export const MAX_KEYWORDS_PER_MESSAGE = 64;

const tooManyKeywords = (): StoreLimitError => new StoreLimitError(`More than ${MAX_KEYWORDS_PER_MESSAGE} keywords on one message`);

/** IMAP atom: printable ASCII without atom-specials ( ) { SP CTL % * " \ ] (RFC 9051 section 9). */
const KEYWORD_RE = /^[\x21\x23\x24\x26-\x27\x2b-\x5b\x5e-\x7a\x7c\x7e]+$/;

export interface ParsedFlags {
  /** Bitmask of system flags. */
  mask: number;
  /** Keywords, deduplicated case-insensitively, first spelling kept, input order. */
  keywords: string[];
}

/** Parses a flag list. Throws StoreError INVALID for unknown system flags and malformed keywords. */
export function parseFlags(flags: readonly string[]): ParsedFlags {
  let mask = 0;
  const keywords: string[] = [];
  const seen = new Set<string>();
  for (const f of flags) {
    if (typeof f !== 'string' || f.length === 0) throw new StoreError('INVALID', 'empty flag');
    const lower = f.toLowerCase();
    if (f.startsWith('\\')) {
      if (lower === '\\recent') continue;
      const bit = SYSTEM_BY_LOWER.get(lower);
      if (bit === undefined) throw new StoreError('INVALID', `unknown system flag ${f}`);
      mask |= bit;
      continue;
    }
    if (f.length > MAX_KEYWORD_LENGTH || !KEYWORD_RE.test(f)) throw new StoreError('INVALID', `invalid keyword ${JSON.stringify(f)}`);
    if (seen.has(lower)) continue;
    seen.add(lower);
    keywords.push(f);
  }
  if (keywords.length > MAX_KEYWORDS_PER_MESSAGE) throw tooManyKeywords();
  return { mask, keywords };
}

/**
 * Checks the options of a storeFlags call and returns its parsed flags. Throws StoreError INVALID for an
 * operation other than add/remove/set, for what parseFlags rejects, and for an UNCHANGEDSINCE (RFC 7162
 * section 3.2) that is not a non-negative safe integer.
 */
export function checkStoreFlags(opts: StoreFlagsOptions): ParsedFlags {
  if (opts.op !== 'add' && opts.op !== 'remove' && opts.op !== 'set') throw new StoreError('INVALID', 'invalid flag operation');
  const change = parseFlags(opts.flags);
  const since = opts.unchangedSince;
  if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new StoreError('INVALID', 'invalid UNCHANGEDSINCE');
  return change;
}

/** System flags (canonical spelling, fixed order) followed by keywords. */
export function flagList(mask: number, keywords: readonly string[]): string[] {
  const out: string[] = [];
  for (const [name, bit] of SYSTEM_FLAGS) if (mask & bit) out.push(name);
  for (const k of keywords) out.push(k);
  return out;
}

/**
 * Applies a flag operation to one message's flags. Keywords are compared case-insensitively; `add` keeps
 * the message's existing spelling. Returns the new state and whether anything changed.
 */
export function applyFlagOp(
  op: 'add' | 'remove' | 'set',
  current: ParsedFlags,
  change: ParsedFlags,
): { mask: number; keywords: string[]; changed: boolean } {
  let mask: number;
  let keywords: string[];
  if (op === 'set') {
    mask = change.mask;
    keywords = change.keywords.slice();
  } else if (op === 'add') {
    mask = current.mask | change.mask;
    keywords = current.keywords.slice();
    const have = new Set(keywords.map((k) => k.toLowerCase()));
    for (const k of change.keywords) if (!have.has(k.toLowerCase())) keywords.push(k);
  } else {
    mask = current.mask & ~change.mask;
    const drop = new Set(change.keywords.map((k) => k.toLowerCase()));
    keywords = current.keywords.filter((k) => !drop.has(k.toLowerCase()));
  }
  if (keywords.length > MAX_KEYWORDS_PER_MESSAGE) throw tooManyKeywords();
  const changed = mask !== current.mask || !sameKeywordSet(keywords, current.keywords);
  return { mask, keywords, changed };
}

function sameKeywordSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map((k) => k.toLowerCase()));
  return b.every((k) => s.has(k.toLowerCase()));
}

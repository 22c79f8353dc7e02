/**
 * LIST and LSUB mailbox patterns (RFC 9051 section 6.3.9): "*" matches any run of characters, "%" any run
 * without the hierarchy delimiter "/"; the letters INBOX at the start of a name (INBOX and its children)
 * match the pattern case-insensitively, whatever wildcards stand around them ("i*" and "*box" list INBOX),
 * as Dovecot matches them.
 * Also the bounds that keep LIST and CREATE cheap (Habit 9: every input bounded).
 *
 * Contract of patternMatcher(pattern): all work that depends on the pattern alone is done once; the returned
 * function never backtracks and allocates nothing (but for INBOX and its children, tried in the
 * other spellings of INBOX when the pattern holds a lower-case letter of it). The pattern is cut at its "*"s into blocks; each block
 * takes the earliest place it fits after the previous one (earliest end is always best, since the "*" before
 * the next block absorbs any gap). A block of literal characters is found by String indexOf, in time linear
 * in the name; a block that holds "%" runs a bit-parallel automaton (Shift-And) over the part of the name it
 * scans, O(name x block / 32) word operations at worst. Patterns and names are compared as UTF-16 code units,
 * which for well-formed strings is the same as comparing characters (a wildcard never stops inside a
 * surrogate pair, since no well-formed pattern has a low surrogate after a wildcard); a pattern with a lone
 * surrogate matches nothing. Throws ImapError BAD for a pattern longer than MAX_LIST_PATTERN_LENGTH.
 */
import { bad } from './errors.js';

/** Longest LIST pattern, reference included, in UTF-16 code units (stored names are at most 1024 octets). */
export const MAX_LIST_PATTERN_LENGTH = 1024;
/** Most patterns in one LIST-EXTENDED pattern list (RFC 5258 sets none; a client needs a handful). */
export const MAX_LIST_PATTERNS = 32;
/** Most mailboxes one user may have; CREATE beyond it answers NO [LIMIT] (RFC 5530). */
export const MAX_MAILBOXES_PER_USER = 10_000;
/** Most subscriptions one user may have (they outlive DELETE); SUBSCRIBE beyond it answers NO [LIMIT]. */
export const MAX_SUBSCRIPTIONS_PER_USER = 10_000;

const SLASH = 0x2f;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A block with "%": Shift-And over states 0..m (bit i: the first i units of the block matched). A literal
 * unit c moves state i to i+1 when block[i] is c; the state after a "%" loops on any unit but "/", and the
 * state before it reaches the state after it without input (no two "%"s are adjacent once runs collapse).
 */
class PercentBlock {
  readonly #words: number;
  readonly #accept: number;
  readonly #literal = new Map<number, Uint32Array>();
  readonly #loop: Uint32Array;
  readonly #skip: Uint32Array;
  readonly #cur: Uint32Array;
  readonly #next: Uint32Array;

  constructor(block: string) {
    const m = block.length;
    this.#words = (m >>> 5) + 1;
    this.#accept = m;
    this.#loop = new Uint32Array(this.#words);
    this.#skip = new Uint32Array(this.#words);
    this.#cur = new Uint32Array(this.#words);
    this.#next = new Uint32Array(this.#words);
    for (let i = 0; i < m; i++) {
      const c = block.charCodeAt(i);
      if (c === 0x25) {
        setBit(this.#skip, i);
        setBit(this.#loop, i + 1);
      } else {
        let mask = this.#literal.get(c);
        if (!mask) this.#literal.set(c, (mask = new Uint32Array(this.#words)));
        setBit(mask, i + 1);
      }
    }
  }

  /**
   * Scans name[from..]: with `anchored` the block must start at `from`, otherwise anywhere at or after it.
   * Returns the smallest end of a match, or with `toEnd` whether a match ends at name.length; -1 for none.
   */
  scan(name: string, from: number, anchored: boolean, toEnd: boolean): number {
    const w = this.#words;
    let cur = this.#cur;
    let next = this.#next;
    cur.fill(0);
    cur[0] = 1;
    this.#close(cur);
    for (let j = from; ; j++) {
      const accepted = hasBit(cur, this.#accept);
      if (accepted && !toEnd) return j;
      if (j === name.length) return accepted ? j : -1;
      const c = name.charCodeAt(j);
      const lit = this.#literal.get(c);
      const loop = c !== SLASH;
      let carry = 0;
      let any = 0;
      for (let k = 0; k < w; k++) {
        const d = cur[k]!;
        let v = lit ? ((d << 1) | carry) & lit[k]! : 0;
        if (loop) v |= d & this.#loop[k]!;
        carry = d >>> 31;
        next[k] = v;
        any |= v;
      }
      if (!anchored) {
        next[0] = next[0]! | 1;
        any = 1;
      }
      if (any === 0) return -1;
      this.#close(next);
      const t = cur;
      cur = next;
      next = t;
    }
  }

  /** Adds the states reachable without input: after a state that precedes a "%", the state following it. */
  #close(bits: Uint32Array): void {
    let carry = 0;
    for (let k = 0; k < this.#words; k++) {
      const s = bits[k]! & this.#skip[k]!;
      const d = bits[k]!;
      bits[k] = d | (s << 1) | carry;
      carry = s >>> 31;
    }
  }
}

function setBit(bits: Uint32Array, i: number): void {
  bits[i >>> 5] = bits[i >>> 5]! | (1 << (i & 31));
}

function hasBit(bits: Uint32Array, i: number): boolean {
  return (bits[i >>> 5]! & (1 << (i & 31))) !== 0;
}

type Block = string | PercentBlock;

/** The smallest end of `block` matched at `from` (anchored) or at or after it; -1 for none. */
function firstEnd(block: Block, name: string, from: number, anchored: boolean): number {
  if (typeof block !== 'string') return block.scan(name, from, anchored, false);
  if (anchored) return name.startsWith(block, from) ? from + block.length : -1;
  const at = name.indexOf(block, from);
  return at < 0 ? -1 : at + block.length;
}

/** Whether `block` matches a suffix of `name` that starts at or after `from` (at `from` when anchored). */
function endsWith(block: Block, name: string, from: number, anchored: boolean): boolean {
  if (typeof block !== 'string') return block.scan(name, from, anchored, true) === name.length;
  if (anchored) return name.length - from === block.length && name.startsWith(block, from);
  return name.length - block.length >= from && name.endsWith(block);
}

/** The 31 other spellings of INBOX (each letter upper or lower case). */
const INBOX_SPELLINGS = Array.from({ length: 31 }, (_, i) => [...'INBOX'].map((c, j) => ((i + 1) & (1 << j) ? c.toLowerCase() : c)).join(''));

/** Compiles a LIST pattern (reference already prefixed) into a name predicate; see the module contract. */
export function patternMatcher(pattern: string): (name: string) => boolean {
  const exact = caseSensitiveMatcher(pattern);
  // Only a pattern holding a lower-case i, n, b, o or x can match INBOX in another spelling.
  if (!/[inbox]/.test(pattern)) return exact;
  return (name) => {
    if (exact(name)) return true;
    if (!name.startsWith('INBOX') || (name.length > 5 && name.charCodeAt(5) !== SLASH)) return false;
    const rest = name.slice(5);
    return INBOX_SPELLINGS.some((s) => exact(s + rest));
  };
}

function caseSensitiveMatcher(pattern: string): (name: string) => boolean {
  let p = pattern;
  if (/^inbox(\/|$)/i.test(p)) p = 'INBOX' + p.slice(5);
  if (p.length > MAX_LIST_PATTERN_LENGTH) throw bad('Mailbox pattern too long');
  if (LONE_SURROGATE.test(p)) return () => false;
  // "**", "%*" and "*%" all mean "*"; "%%" means "%".
  const collapsed = p.replace(/[*%]{2,}/g, (run) => (run.includes('*') ? '*' : '%'));
  const blocks: Block[] = collapsed.split('*').map((b) => (b.includes('%') ? new PercentBlock(b) : b));
  const first = blocks[0]!;
  if (blocks.length === 1) return (name) => endsWith(first, name, 0, true);
  const last = blocks[blocks.length - 1]!;
  return (name) => {
    let pos = firstEnd(first, name, 0, true);
    for (let i = 1; pos >= 0 && i < blocks.length - 1; i++) pos = firstEnd(blocks[i]!, name, pos, false);
    return pos >= 0 && endsWith(last, name, pos, false);
  };
}

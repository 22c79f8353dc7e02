/**
 * Tokens as numbers: each token string is named by a 64-bit hash (two 32-bit halves, `TokenIds` holds the
 * pairs one after the other), so a message's tokens travel from a check-pool thread as one small typed array
 * and the filter looks them up in a user's clues (ClueTable) with a few array reads each, instead of as
 * hundreds of strings that must be copied, split and hashed again by a Map on the event loop.
 *
 * Two different tokens get the same id with a probability of about 2^-64 per pair, so a message of a few
 * thousand tokens against a vocabulary of 100,000 meets a false match about once in 10^10 messages; the
 * statistics in the store keep the token strings (the ids are never stored).
 *
 * The hash is keyed with a random key per process (TOKEN_ID_KEY), so that nobody can compute ahead tokens
 * whose ids equal those of a user's ham clues. Ids are compared only within one process: the check-pool
 * threads get the key of the thread that starts them (mailauth/pool.ts passes it in their workerData).
 */
import { randomBytes } from 'node:crypto';
import { isMainThread, workerData } from 'node:worker_threads';

/** The key of this process's token ids: two 32-bit words. */
export const TOKEN_ID_KEY: readonly [number, number] = inheritedKey() ?? [randomBytes(4).readUInt32LE(0), randomBytes(4).readUInt32LE(0)];

function inheritedKey(): [number, number] | null {
  if (isMainThread) return null;
  const k = (workerData as { tokenIdKey?: unknown } | null)?.tokenIdKey;
  return Array.isArray(k) && k.length === 2 && k.every((x) => Number.isInteger(x)) ? [k[0] as number, k[1] as number] : null;
}

const KEY_A = TOKEN_ID_KEY[0];
const KEY_B = TOKEN_ID_KEY[1];

/** Where the tokenizer puts the tokens it finds: a Set of the strings, or an IdSet of their ids. */
export type TokenOut = Set<string> | IdSet;

/** A token list as ids: token k is the pair [2k, 2k + 1]. */
export type TokenIdList = Uint32Array;

/** The ids of a TokenParts (tokenize.ts): the header's tokens and the body's, in the same order. */
export interface TokenIdParts {
  head: TokenIdList;
  body: TokenIdList;
  failed: 'head' | 'body' | null;
}

/** Writes the id of `t` into `out` at pair `k`. */
export function writeTokenId(t: string, out: Uint32Array, k: number): void {
  hashRange('', t, 0, t.length, false);
  out[2 * k] = idA;
  out[2 * k + 1] = idB;
}

/** The two halves of the id hashRange made last. */
let idA = 0;
let idB = 0;

/**
 * Sets idA and idB to the id of the token `prefix` + s.slice(start, end), with the ASCII capitals of the
 * slice made small when `lower`, without making that string.
 */
function hashRange(prefix: string, s: string, start: number, end: number, lower: boolean): void {
  // FNV-1a and a multiply-xorshift over the UTF-16 units, each finished with murmur3's avalanche.
  let a = 0x811c9dc5 ^ KEY_A;
  let b = 0x9747b28c ^ KEY_B ^ (prefix.length + end - start);
  for (let i = 0; i < prefix.length; i++) {
    const c = prefix.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  for (let i = start; i < end; i++) {
    let c = s.charCodeAt(i);
    if (lower && c >= 65 && c <= 90) c += 32;
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  idA = mix(a);
  idB = mix(b);
}

function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The ids of a token list, in order. */
export function tokenIdList(tokens: readonly string[]): TokenIdList {
  const out = new Uint32Array(2 * tokens.length);
  for (let k = 0; k < tokens.length; k++) writeTokenId(tokens[k]!, out, k);
  return out;
}

/** Tokens in a list of ids. */
export function idCount(ids: TokenIdList): number {
  return ids.length >>> 1;
}

/**
 * A set of token ids, each with a small number (a clue's index in a table of values): open addressing with
 * linear probing over one typed array, at most half full. A slot is four words (the id's two halves, the
 * value + 1 with 0 for empty, and one unused), so a look-up reads one cache line, not one in each of two
 * arrays: a message's look-ups land all over a vocabulary of tens of thousands of tokens.
 */
export class ClueTable {
  readonly #slots: Uint32Array;
  readonly #mask: number;
  #size = 0;

  constructor(capacity: number) {
    let slots = 16;
    while (slots < 2 * capacity) slots *= 2;
    this.#slots = new Uint32Array(4 * slots);
    this.#mask = slots - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** Sets the value (>= 0) of token `t`. */
  set(t: string, value: number): void {
    hashRange('', t, 0, t.length, false);
    const a = idA;
    const b = idB;
    const slots = this.#slots;
    for (let s = a & this.#mask; ; s = (s + 1) & this.#mask) {
      const at = 4 * s;
      if (slots[at + 2] === 0) {
        if (2 * (this.#size + 1) > slots.length >>> 2) throw new RangeError('clue table full');
        slots[at] = a;
        slots[at + 1] = b;
        slots[at + 2] = value + 1;
        this.#size++;
        return;
      }
      if (slots[at] === a && slots[at + 1] === b) {
        slots[at + 2] = value + 1;
        return;
      }
    }
  }

  /** The value of the token at pair `k` of `ids`, or -1 when it has none. */
  valueAt(ids: TokenIdList, k: number): number {
    const a = ids[2 * k]!;
    const b = ids[2 * k + 1]!;
    const slots = this.#slots;
    const mask = this.#mask;
    for (let s = a & mask; ; s = (s + 1) & mask) {
      const at = 4 * s;
      const v = slots[at + 2]!;
      if (v === 0) return -1;
      if (slots[at] === a && slots[at + 1] === b) return v - 1;
    }
  }

  /** The value of token `t`, or -1. */
  get(t: string): number {
    const id = new Uint32Array(2);
    writeTokenId(t, id, 0);
    return this.valueAt(id, 0);
  }
}

/**
 * A set of tokens kept as their ids, in the order first added: what the tokenizer fills when only ids are
 * wanted (tokenize.ts tokenIdPartsOf), so no token needs a string Set's hashing and a second pass to
 * hash it again, and words are hashed straight from the text they are in (addRange) without a string
 * made for each. The ids are those writeTokenId gives the token strings, so the list equals
 * tokenIdList([...set of the strings]) (two tokens with the same id count as one: see the header).
 */
export class IdSet {
  /** The ids in order: pair k at [2k, 2k + 1]. */
  #list = new Uint32Array(128);
  #size = 0;
  /** Open addressing with linear probing: slot s holds the index + 1 of its pair in #list (0: empty). */
  #slots = new Int32Array(256);
  #mask = 255;

  get size(): number {
    return this.#size;
  }

  /** Empties the set (keeping its room: a set used for message after message allocates nothing). */
  clear(): void {
    if (this.#size > 0) this.#slots.fill(0);
    this.#size = 0;
  }

  /** Adds token `t`. */
  add(t: string): this {
    hashRange('', t, 0, t.length, false);
    this.#put(idA, idB);
    return this;
  }

  /**
   * Adds the token `prefix` + s.slice(start, end), with the ASCII capitals of the slice made small when
   * `lower` (what toLowerCase() gives for an ASCII slice), without making the string.
   */
  addRange(prefix: string, s: string, start: number, end: number, lower: boolean): void {
    hashRange(prefix, s, start, end, lower);
    this.#put(idA, idB);
  }

  /** Whether the token with the id at pair `k` of `ids` is in the set. */
  hasAt(ids: TokenIdList, k: number): boolean {
    return this.#find(ids[2 * k]!, ids[2 * k + 1]!) >= 0;
  }

  /** The ids in the order added (a copy). */
  list(): TokenIdList {
    return this.#list.slice(0, 2 * this.#size);
  }

  /** The ids in the order added, without those in `other`. */
  listWithout(other: IdSet): TokenIdList {
    const out = new Uint32Array(2 * this.#size);
    let n = 0;
    for (let k = 0; k < this.#size; k++) {
      const a = this.#list[2 * k]!;
      const b = this.#list[2 * k + 1]!;
      if (other.#find(a, b) >= 0) continue;
      out[2 * n] = a;
      out[2 * n + 1] = b;
      n++;
    }
    return n === this.#size ? out : out.slice(0, 2 * n);
  }

  #find(a: number, b: number): number {
    const list = this.#list;
    for (let s = a & this.#mask; ; s = (s + 1) & this.#mask) {
      const v = this.#slots[s]!;
      if (v === 0) return -1;
      if (list[2 * (v - 1)] === a && list[2 * (v - 1) + 1] === b) return v - 1;
    }
  }

  #put(a: number, b: number): void {
    const list = this.#list;
    let s = a & this.#mask;
    for (; ; s = (s + 1) & this.#mask) {
      const v = this.#slots[s]!;
      if (v === 0) break;
      if (list[2 * (v - 1)] === a && list[2 * (v - 1) + 1] === b) return;
    }
    if (2 * this.#size + 2 > list.length) {
      const grown = new Uint32Array(2 * list.length);
      grown.set(list);
      this.#list = grown;
    }
    this.#list[2 * this.#size] = a;
    this.#list[2 * this.#size + 1] = b;
    this.#slots[s] = ++this.#size;
    if (2 * this.#size > this.#slots.length) this.#grow();
  }

  #grow(): void {
    const slots = new Int32Array(2 * this.#slots.length);
    const mask = slots.length - 1;
    for (let k = 0; k < this.#size; k++) {
      let s = this.#list[2 * k]! & mask;
      while (slots[s] !== 0) s = (s + 1) & mask;
      slots[s] = k + 1;
    }
    this.#slots = slots;
    this.#mask = mask;
  }
}

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
  // FNV-1a and a multiply-xorshift over the UTF-16 units, each finished with murmur3's avalanche.
  let a = 0x811c9dc5 ^ KEY_A;
  let b = 0x9747b28c ^ KEY_B ^ t.length;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  out[2 * k] = mix(a);
  out[2 * k + 1] = mix(b);
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
 * linear probing over typed arrays, at most half full.
 */
export class ClueTable {
  readonly #keys: Uint32Array;
  /** Value + 1 per slot; 0: empty. */
  readonly #values: Int32Array;
  readonly #mask: number;
  #size = 0;

  constructor(capacity: number) {
    let slots = 16;
    while (slots < 2 * capacity) slots *= 2;
    this.#keys = new Uint32Array(2 * slots);
    this.#values = new Int32Array(slots);
    this.#mask = slots - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** Sets the value (>= 0) of token `t`. */
  set(t: string, value: number): void {
    const id = new Uint32Array(2);
    writeTokenId(t, id, 0);
    this.#setId(id[0]!, id[1]!, value);
  }

  #setId(a: number, b: number, value: number): void {
    const keys = this.#keys;
    for (let s = a & this.#mask; ; s = (s + 1) & this.#mask) {
      if (this.#values[s] === 0) {
        if (2 * (this.#size + 1) > this.#values.length) throw new RangeError('clue table full');
        keys[2 * s] = a;
        keys[2 * s + 1] = b;
        this.#values[s] = value + 1;
        this.#size++;
        return;
      }
      if (keys[2 * s] === a && keys[2 * s + 1] === b) {
        this.#values[s] = value + 1;
        return;
      }
    }
  }

  /** The value of the token at pair `k` of `ids`, or -1 when it has none. */
  valueAt(ids: TokenIdList, k: number): number {
    const a = ids[2 * k]!;
    const b = ids[2 * k + 1]!;
    const keys = this.#keys;
    const values = this.#values;
    const mask = this.#mask;
    for (let s = a & mask; ; s = (s + 1) & mask) {
      const v = values[s]!;
      if (v === 0) return -1;
      if (keys[2 * s] === a && keys[2 * s + 1] === b) return v - 1;
    }
  }

  /** The value of token `t`, or -1. */
  get(t: string): number {
    const id = new Uint32Array(2);
    writeTokenId(t, id, 0);
    return this.valueAt(id, 0);
  }
}

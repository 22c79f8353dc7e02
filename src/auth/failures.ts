/**
 * Failed-login counts for the Authenticator's throttling (authenticator.ts says what it does with them).
 *
 * Keys name what a failure is counted against (failureKeys): the remote address, the pair (address, user)
 * and the user. Each count runs from its first failure: once that is older than the window the count is
 * over (it starts again from 1 at the next failure).
 *
 * FailureCounts is where the counts live. FailureTable keeps them in this process (one server); under
 * `serve --workers N` the primary process holds the one table of the cluster and each worker reads a copy
 * kept current by the primary (server/cluster-auth.ts), so reading a count never waits for another process
 * and a guesser spread over the workers is counted as one.
 */

/** One count: its key, the failures, and when the first of them was (ms since the epoch). */
export type FailureEntry = [key: string, count: number, first: number];

export interface FailureCounts {
  /** Failures under `key` within the last windowMs (0 when none). Answers from this process. */
  get(key: string, windowMs: number): number;
  /** Counts one failure under each key; answers the largest of the resulting counts. */
  add(keys: readonly string[], windowMs: number): number | Promise<number>;
  /** Forgets a count (a success clears its address and user pair). */
  clear(key: string): void;
}

/** The keys one failure counts against: the address, and with a user also the pair and the user. */
export function failureKeys(ip: string, user: string): string[] {
  return user === '' ? [addressKey(ip)] : [addressKey(ip), pairKey(ip, user), userKey(user)];
}

export function addressKey(ip: string): string {
  return `a\0${ip}`;
}

export function pairKey(ip: string, user: string): string {
  return `p\0${ip}\0${user}`;
}

function userKey(user: string): string {
  return `u\0${user}`;
}

/**
 * Most counts kept at once: a spray of user names from many addresses must not grow memory without bound.
 * Past it the oldest half is dropped (those are the ones closest to the end of their window).
 */
const MAX_ENTRIES = 300_000;

/** Counts in memory, bounded to MAX_ENTRIES. */
export class FailureTable implements FailureCounts {
  readonly #counts = new Map<string, { count: number; first: number }>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  get(key: string, windowMs: number): number {
    const c = this.#counts.get(key);
    if (!c) return 0;
    if (this.#now() - c.first > windowMs) {
      this.#counts.delete(key);
      return 0;
    }
    return c.count;
  }

  add(keys: readonly string[], windowMs: number): number {
    let n = 0;
    for (const key of keys) {
      const count = this.get(key, windowMs) + 1;
      this.#counts.set(key, { count, first: count === 1 ? this.#now() : this.#counts.get(key)!.first });
      n = Math.max(n, count);
    }
    if (this.#counts.size > MAX_ENTRIES) {
      let drop = this.#counts.size - MAX_ENTRIES / 2;
      for (const k of this.#counts.keys()) {
        if (drop-- <= 0) break;
        this.#counts.delete(k);
      }
    }
    return n;
  }

  clear(key: string): void {
    this.#counts.delete(key);
  }

  /** The counts under these keys as they are now (a count of 0 for a key without one). */
  entries(keys: readonly string[]): FailureEntry[] {
    return keys.map((k) => {
      const c = this.#counts.get(k);
      return c ? [k, c.count, c.first] : [k, 0, 0];
    });
  }

  /** Every count kept (for a process that starts and needs a copy). */
  all(): FailureEntry[] {
    return [...this.#counts].map(([k, c]) => [k, c.count, c.first]);
  }

  /** Takes counts as another process holds them (a count of 0 removes the key). */
  set(entries: readonly FailureEntry[]): void {
    for (const [k, count, first] of entries) {
      if (count <= 0) this.#counts.delete(k);
      else this.#counts.set(k, { count, first });
    }
  }
}

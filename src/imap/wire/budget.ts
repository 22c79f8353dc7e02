/**
 * A count of bytes shared by many holders, with a ceiling: literal bytes an IMAP service holds in memory
 * across all its connections (see Framer's `budget` option). take() either reserves all it is asked for or
 * nothing; give() returns what was taken.
 */
export class ByteBudget {
  readonly limit: number;
  #used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** Reserves `n` bytes; false (and nothing reserved) when that would pass the limit. */
  take(n: number): boolean {
    if (n > this.limit - this.#used) return false;
    this.#used += n;
    return true;
  }

  give(n: number): void {
    this.#used = Math.max(0, this.#used - n);
  }

  /** Bytes reserved now. */
  get used(): number {
    return this.#used;
  }
}

/**
 * A count of bytes held in memory with a limit, shared by many holders; waiters are served in order. DATA
 * being received by the SMTP/LMTP services waits for room (delivery/spool.ts); IMAP literals take it only
 * if it is there now (imap/wire/framer.ts).
 */
export class MemoryBudget {
  readonly limit: number;
  #used = 0;
  #peak = 0;
  #waiters: Array<{ n: number; grant: () => void }> = [];
  constructor(limit: number) {
    this.limit = limit;
  }
  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }
  /** Most bytes held at once since the budget was made. */
  get peak(): number {
    return this.#peak;
  }
  /** Takes `n` bytes if they fit now (and nobody is waiting); false otherwise. */
  tryTake(n: number): boolean {
    if (this.#waiters.length || this.#used + n > this.limit) return false;
    this.#add(n);
    return true;
  }
  /** Takes `n` bytes once they fit, or at once when nothing is held (a message bigger than the limit). */
  take(n: number): Promise<void> {
    if (!this.#waiters.length && (this.#used === 0 || this.#used + n <= this.limit)) {
      this.#add(n);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push({ n, grant: resolve }));
  }
  give(n: number): void {
    this.#used -= n;
    while (this.#waiters.length) {
      const w = this.#waiters[0]!;
      if (this.#used !== 0 && this.#used + w.n > this.limit) break;
      this.#waiters.shift();
      this.#add(w.n);
      w.grant();
    }
  }
  #add(n: number): void {
    this.#used += n;
    if (this.#used > this.#peak) this.#peak = this.#used;
  }
}

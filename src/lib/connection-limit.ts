/**
 * Connection limits: concurrent connections per remote address (each listener: IMAP, POP3, ManageSieve,
 * SMTP, LMTP, submission) and concurrent sessions per user (IMAP).
 *
 * A ConnectionCounter holds the counts. LocalCounter counts in this process (one server, `--workers 1`);
 * under `serve --workers N` each worker is given a counter backed by the primary process
 * (server/cluster-leases.ts), so a limit holds for the whole cluster. The counter's admit() answers at once
 * (a boolean) whenever it can, and a promise only when another process must be asked.
 *
 * AddressCounter applies the per-address rule: loopback addresses (127.0.0.0/8, ::1, ::ffff:127.x, see
 * isLoopback) are always admitted and never counted, so they never cost a question to another process
 * either, unless the counter is built with countLoopback (tests use it to reach the refusal replies over
 * 127.0.0.x). Never throws.
 */
import { isLoopback } from './service.js';

/** Where connections are counted against their limit. */
export interface ConnectionCounter {
  /**
   * Counts a new connection under `key` and answers true while the key holds fewer than `max`; answers false
   * (counting nothing) at the limit. A promise only when the answer is not known in this process.
   */
  admit(key: string, max: number): boolean | Promise<boolean>;
  /** A connection admitted under `key` has ended. */
  release(key: string): void;
}

/** Counts in this process only. */
export class LocalCounter implements ConnectionCounter {
  readonly #counts = new Map<string, number>();

  admit(key: string, max: number): boolean {
    const n = this.#counts.get(key) ?? 0;
    if (n >= max) return false;
    this.#counts.set(key, n + 1);
    return true;
  }

  release(key: string): void {
    const left = (this.#counts.get(key) ?? 1) - 1;
    if (left <= 0) this.#counts.delete(key);
    else this.#counts.set(key, left);
  }

  /** Connections counted under `key` now. */
  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }
}

/** The per-address limit of one listener service. */
export class AddressCounter {
  readonly #max: number;
  readonly #countLoopback: boolean;
  readonly #counter: ConnectionCounter;
  /** Keeps each service's addresses apart in a counter shared by several services. */
  readonly #scope: string;

  /**
   * `counter` defaults to a LocalCounter of this service alone; `scope` names the service in a shared one
   * ('imap', 'pop3' ...).
   */
  constructor(max: number, countLoopback = false, counter: ConnectionCounter = new LocalCounter(), scope = '') {
    this.#max = max;
    this.#countLoopback = countLoopback;
    this.#counter = counter;
    this.#scope = scope;
  }

  #exempt(address: string): boolean {
    return !this.#countLoopback && isLoopback(address);
  }

  /** Counts a new connection from `address`; false when the address is at its limit (nothing counted). */
  admit(address: string): boolean | Promise<boolean> {
    if (this.#exempt(address)) return true;
    return this.#counter.admit(`${this.#scope}/${address}`, this.#max);
  }

  /** A connection admitted from `address` has ended. */
  release(address: string): void {
    if (!this.#exempt(address)) this.#counter.release(`${this.#scope}/${address}`);
  }

  /** Connections counted for `address` now (known only when the counter is this process's own). */
  count(address: string): number {
    return this.#counter instanceof LocalCounter ? this.#counter.count(`${this.#scope}/${address}`) : 0;
  }
}

/**
 * Runs `then(admitted)` with admit()'s answer: at once when it is a boolean (no extra turn of the event loop
 * on the single-process path), else when the promise settles (a rejection counts as not admitted).
 */
export function whenAdmitted(answer: boolean | Promise<boolean>, then: (admitted: boolean) => void): void {
  if (typeof answer === 'boolean') then(answer);
  else answer.then(then, () => then(false));
}

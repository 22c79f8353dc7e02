/**
 * Concurrent connections per remote address, shared by every listener (IMAP, POP3, SMTP, LMTP, submission).
 * Promises: admit() counts the connection and returns true while the address holds fewer than `max`, and
 * returns false (counting nothing) once it holds `max`; release() undoes one admit(). Loopback addresses
 * (127.0.0.0/8, ::1, ::ffff:127.x, see isLoopback) are always admitted and never counted, unless the counter
 * is built with countLoopback (tests use it to reach the refusal replies over 127.0.0.1). Never throws.
 */
import { isLoopback } from './service.js';

export class AddressCounter {
  readonly #perAddress = new Map<string, number>();
  readonly #max: number;
  readonly #countLoopback: boolean;

  constructor(max: number, countLoopback = false) {
    this.#max = max;
    this.#countLoopback = countLoopback;
  }

  #exempt(address: string): boolean {
    return !this.#countLoopback && isLoopback(address);
  }

  /** Counts a new connection from `address`; false when the address is at its limit (nothing counted). */
  admit(address: string): boolean {
    if (this.#exempt(address)) return true;
    const n = this.#perAddress.get(address) ?? 0;
    if (n >= this.#max) return false;
    this.#perAddress.set(address, n + 1);
    return true;
  }

  /** A connection admitted from `address` has ended. */
  release(address: string): void {
    if (this.#exempt(address)) return;
    const left = (this.#perAddress.get(address) ?? 1) - 1;
    if (left <= 0) this.#perAddress.delete(address);
    else this.#perAddress.set(address, left);
  }

  /** Connections counted for `address` now. */
  count(address: string): number {
    return this.#perAddress.get(address) ?? 0;
  }
}

/**
 * Space-separated decimal numbers written straight into one Buffer (the "* SORT n n ..." and
 * "* SEARCH n n ..." lists of a large mailbox: 100,000 numbers without a string per number).
 *
 * Contract of `numberList(head, nums, tail)`: the ASCII bytes of `head`, then " n" for each number in order
 * (each a non-negative integer below 2^53, written in decimal without leading zeros), then `tail`; `head`
 * and `tail` must be ASCII. `AsciiWriter` appends ASCII text and such numbers to a growing buffer (the
 * nested lists of "* THREAD"). Never throws for such input.
 */

/** Decimal digits of the largest safe integer. */
const MAX_DIGITS = 16;

export function numberList(head: string, nums: ArrayLike<number>, tail: string): Buffer {
  const n = nums.length;
  let max = 0;
  for (let i = 0; i < n; i++) if ((nums[i] as number) > max) max = nums[i] as number;
  const width = Math.min(MAX_DIGITS, String(max).length) + 1;
  const buf = Buffer.allocUnsafe(head.length + n * width + tail.length);
  let at = buf.write(head, 0, 'latin1');
  for (let i = 0; i < n; i++) {
    buf[at++] = 0x20;
    at = writeDecimal(buf, at, nums[i] as number);
  }
  at += buf.write(tail, at, 'latin1');
  return buf.subarray(0, at);
}

/** Writes `v` in decimal at `at` (room must be there); returns the offset after it. */
function writeDecimal(buf: Buffer, at: number, v: number): number {
  if (v < 10) {
    buf[at] = 0x30 + v;
    return at + 1;
  }
  let digits = 1;
  for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
  for (let d = at + digits - 1; d >= at; d--) {
    const q = Math.floor(v / 10);
    buf[d] = 0x30 + (v - q * 10);
    v = q;
  }
  return at + digits;
}

/** ASCII text and decimal numbers appended to one growing buffer. */
export class AsciiWriter {
  #buf: Buffer;
  #at = 0;

  constructor(capacity = 256) {
    this.#buf = Buffer.allocUnsafe(Math.max(64, capacity));
  }

  /** One ASCII character code. */
  byte(c: number): this {
    this.#room(1);
    this.#buf[this.#at++] = c;
    return this;
  }

  /** ASCII text. */
  text(s: string): this {
    this.#room(s.length);
    this.#at += this.#buf.write(s, this.#at, 'latin1');
    return this;
  }

  /** A non-negative integer below 2^53, in decimal. */
  number(v: number): this {
    this.#room(MAX_DIGITS);
    this.#at = writeDecimal(this.#buf, this.#at, v);
    return this;
  }

  /** What was written (a view of the buffer: write nothing more after taking it). */
  bytes(): Buffer {
    return this.#buf.subarray(0, this.#at);
  }

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#at + n));
    this.#buf.copy(next, 0, 0, this.#at);
    this.#buf = next;
  }
}

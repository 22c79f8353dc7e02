/**
 * Space-separated decimal numbers written straight into one Buffer (the "* SORT n n ..." and
 * "* SEARCH n n ..." lists of a large mailbox: 100,000 numbers without a string per number).
 *
 * Contract of `numberList(head, nums, tail)`: the ASCII bytes of `head`, then " n" for each number in order
 * (each a non-negative integer below 2^53, written in decimal without leading zeros), then `tail`; `head`
 * and `tail` must be ASCII. Never throws for such input.
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
    let v = nums[i] as number;
    buf[at++] = 0x20;
    if (v < 10) {
      buf[at++] = 0x30 + v;
      continue;
    }
    // Digits backwards into place: count them first.
    let digits = 1;
    for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
    for (let d = at + digits - 1; d >= at; d--) {
      const q = Math.floor(v / 10);
      buf[d] = 0x30 + (v - q * 10);
      v = q;
    }
    at += digits;
  }
  at += buf.write(tail, at, 'latin1');
  return buf.subarray(0, at);
}

/**
 * Bounded line framer for POP3 input. Lines end with LF (CRLF or a bare LF); one trailing CR is removed.
 * A line longer than maxLine octets (terminator included) is never buffered in full: its bytes are dropped
 * up to the next LF and a single 'too-long' item is produced in its place as soon as the line passes the
 * limit (a client that never ends the line still gets its answer), so the session can answer -ERR and go on
 * (RFC 2449 section 4).
 */

export type FramedLine = { kind: 'line'; line: Buffer } | { kind: 'too-long' };

const LF = 0x0a;
const CR = 0x0d;

export class LineFramer {
  readonly #maxLine: number;
  #parts: Buffer[] = [];
  #length = 0;
  #discarding = false;

  /** maxLine: the largest accepted line in octets, counting a CRLF terminator. */
  constructor(maxLine: number) {
    if (!Number.isInteger(maxLine) || maxLine < 3) throw new RangeError('maxLine must be an integer >= 3');
    this.#maxLine = maxLine;
  }

  /** Feeds bytes; returns the items completed by them, in order. */
  push(chunk: Buffer): FramedLine[] {
    const out: FramedLine[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      const wasDiscarding = this.#discarding;
      this.#append(chunk.subarray(pos, lf === -1 ? chunk.length : lf));
      if (this.#discarding && !wasDiscarding) out.push({ kind: 'too-long' });
      if (lf === -1) break;
      const item = this.#finish();
      if (item) out.push(item);
      pos = lf + 1;
    }
    return out;
  }

  /** Octets held for an unfinished line. */
  get buffered(): number {
    return this.#length;
  }

  /** Drops any partial line (used when the byte stream changes hands, e.g. at STLS). */
  reset(): void {
    this.#parts = [];
    this.#length = 0;
    this.#discarding = false;
  }

  #append(bytes: Buffer): void {
    if (bytes.length === 0 || this.#discarding) return;
    // Content may use maxLine - 2 octets (room for CRLF); allow one more for a CR that precedes the LF.
    if (this.#length + bytes.length > this.#maxLine - 1) {
      this.#discarding = true;
      this.#parts = [];
      this.#length = 0;
      return;
    }
    this.#parts.push(bytes);
    this.#length += bytes.length;
  }

  /** The line ended by an LF, or null when it was already reported as 'too-long'. */
  #finish(): FramedLine | null {
    if (this.#discarding) {
      this.#discarding = false;
      return null;
    }
    let line = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#length);
    this.#parts = [];
    this.#length = 0;
    if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
    if (line.length > this.#maxLine - 2) return { kind: 'too-long' };
    return { kind: 'line', line };
  }
}

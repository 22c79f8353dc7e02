/**
 * Bounded IMAP command framer (RFC 9051 section 2.2 and 4.3, RFC 7888 literals).
 *
 * Bytes go in; complete commands come out as one Buffer each (without the final CRLF), with their literals
 * inline exactly as sent ("{5}\r\nhello"), ready for the tokenizer. The framer never buffers more than
 * maxLineLength bytes of any line and never accepts a literal larger than maxLiteralSize:
 *  - a line longer than the cap is discarded up to its CRLF and reported as 'too-long' as soon as it passes the
 *    cap (the connection goes on);
 *  - a synchronizing literal over the cap is refused before the client sends it ('literal-too-big'); the
 *    command is dropped and the next line starts a new command (RFC 7888 section 4);
 *  - a non-synchronizing literal over the cap cannot be skipped safely: 'fatal', the connection must close;
 *  - under LITERAL- (RFC 7888 section 4, set with setNonSyncLimit) a non-synchronizing literal over 4096
 *    octets but within the cap is refused ('non-sync-too-big'): the command is dropped, the octets the
 *    client sends anyway are skipped, and so is the rest of the command (its further non-synchronizing
 *    literals too; it ends at a line without one), so the next command frames normally.
 * A synchronizing literal within the cap yields 'continue': the server must answer "+" before the client
 * sends the literal bytes.
 *
 * With a `budget` (shared by all connections of a service), every literal also reserves its size there
 * before its bytes are buffered, and a command hands what it reserved to its consumer ('command'.held,
 * given back once the command is done). A literal the budget cannot hold is refused like one over the cap
 * ('literal-busy': a synchronizing one is never sent; the octets of a non-synchronizing one are skipped,
 * with the rest of its command), so many connections sending large literals at once cannot exhaust memory.
 */
import type { MemoryBudget } from '../../lib/memory-budget.js';

export type FrameEvent =
  | { kind: 'command'; data: Buffer; held: number }
  | { kind: 'continue'; size: number }
  | { kind: 'too-long'; tag: string | null }
  | { kind: 'literal-too-big'; tag: string | null; size: number }
  | { kind: 'non-sync-too-big'; tag: string | null; size: number }
  | { kind: 'literal-busy'; tag: string | null; size: number }
  | { kind: 'fatal'; reason: string };

export interface FramerOptions {
  /** Longest line (without literals) accepted, in octets. */
  maxLineLength: number;
  /** Largest single literal accepted, in octets. */
  maxLiteralSize: number;
  /** Largest whole command (all lines and literals), in octets; defaults to maxLiteralSize + 4 * maxLineLength. */
  maxCommandSize?: number;
  /** Largest non-synchronizing literal accepted: LITERAL_MINUS_MAX under LITERAL-; default Infinity (LITERAL+). */
  nonSyncLimit?: number;
  /** Literal bytes all connections may hold at once (see above); none: no shared limit. */
  budget?: MemoryBudget | null;
}

/** RFC 7888: LITERAL- allows non-synchronizing literals only up to 4096 octets. */
export const LITERAL_MINUS_MAX = 4096;

const LITERAL_TAIL = /~?\{(\d{1,19})(\+?)\}$/;

export class Framer {
  readonly #opts: Required<Omit<FramerOptions, 'budget'>>;
  readonly #budget: MemoryBudget | null;
  /** Bytes the current command's literals reserved in the budget. */
  #held = 0;
  #parts: Buffer[] = [];
  #size = 0;
  #line: Buffer[] = [];
  #lineLen = 0;
  #literalLeft = 0;
  #discarding = false;
  #dead = false;
  /** Skipping the rest of a refused command (see 'non-sync-too-big'): its literal bytes and lines. */
  #skipping = false;

  constructor(opts: FramerOptions) {
    const { budget, ...rest } = opts;
    this.#opts = { maxCommandSize: opts.maxLiteralSize + 4 * opts.maxLineLength, nonSyncLimit: Infinity, ...rest };
    this.#budget = budget ?? null;
  }

  /** LITERAL- (LITERAL_MINUS_MAX) or LITERAL+ (Infinity) for commands framed from now on. */
  setNonSyncLimit(n: number): void {
    this.#opts.nonSyncLimit = n;
  }

  /** The current literal cap (it may change with the session state, e.g. after login). */
  get maxLiteralSize(): number {
    return this.#opts.maxLiteralSize;
  }

  /** Changes the literal cap (and the whole-command cap with it) for commands framed from now on. */
  setMaxLiteralSize(n: number): void {
    this.#opts.maxLiteralSize = n;
    this.#opts.maxCommandSize = n + 4 * this.#opts.maxLineLength;
  }

  /** True while literal bytes of the current command are still expected. */
  get inLiteral(): boolean {
    return this.#literalLeft > 0;
  }

  /** Drops any partial command (used after STARTTLS and COMPRESS: pipelined plaintext must not survive). */
  reset(): void {
    this.#release();
    this.#parts = [];
    this.#size = 0;
    this.#line = [];
    this.#lineLen = 0;
    this.#literalLeft = 0;
    this.#discarding = false;
    this.#skipping = false;
  }

  push(chunk: Buffer): FrameEvent[] {
    const out: FrameEvent[] = [];
    let i = 0;
    while (i < chunk.length && !this.#dead) {
      if (this.#literalLeft > 0) {
        const n = Math.min(this.#literalLeft, chunk.length - i);
        if (!this.#skipping) this.#parts.push(chunk.subarray(i, i + n));
        this.#size += n;
        this.#literalLeft -= n;
        i += n;
        continue;
      }
      const lf = chunk.indexOf(10, i);
      if (this.#discarding) {
        if (lf < 0) return out;
        i = lf + 1;
        this.reset();
        continue;
      }
      if (lf < 0) {
        const rest = chunk.subarray(i);
        this.#line.push(rest);
        this.#lineLen += rest.length;
        if (this.#lineLen > this.#opts.maxLineLength) {
          // Reported at once, not at the CRLF: a client that never ends the line still gets its answer.
          const tag = this.#currentTag();
          if (!this.#skipping) out.push({ kind: 'too-long', tag });
          this.#startDiscard();
        }
        return out;
      }
      const piece = chunk.subarray(i, lf + 1);
      i = lf + 1;
      this.#lineLen += piece.length;
      if (this.#lineLen > this.#opts.maxLineLength + 2) {
        this.#line.push(piece);
        const tag = this.#currentTag();
        const skipping = this.#skipping;
        this.reset();
        if (!skipping) out.push({ kind: 'too-long', tag });
        continue;
      }
      const line = this.#line.length ? Buffer.concat([...this.#line, piece]) : piece;
      this.#line = [];
      this.#lineLen = 0;
      let end = line.length - 1; // at LF
      if (end > 0 && line[end - 1] === 13) end--;
      const body = line.subarray(0, end);
      const tail = body.subarray(Math.max(0, body.length - 24)).toString('latin1');
      const m = LITERAL_TAIL.exec(tail);
      if (this.#skipping && !(m && m[2] !== '')) {
        // The refused command ends with this line (a synchronizing literal is never sent: no "+" comes).
        this.reset();
        continue;
      }
      if (m) {
        const size = Number(m[1]);
        const nonSync = m[2] !== '';
        if (!this.#skipping) this.#parts.push(body, CRLF);
        this.#size += body.length + 2;
        const tooBig = size > this.#opts.maxLiteralSize || this.#size + size > this.#opts.maxCommandSize;
        if (tooBig) {
          if (nonSync) {
            this.#dead = true;
            out.push({ kind: 'fatal', reason: `literal of ${size} octets exceeds the limit` });
            return out;
          }
          const tag = this.#currentTag();
          this.reset();
          out.push({ kind: 'literal-too-big', tag, size });
          continue;
        }
        if (nonSync && size > this.#opts.nonSyncLimit && !this.#skipping) {
          out.push({ kind: 'non-sync-too-big', tag: this.#currentTag(), size });
          this.#parts = [];
          this.#skipping = true;
          this.#release();
        }
        if (!this.#skipping && this.#budget) {
          if (this.#budget.tryTake(size)) this.#held += size;
          else {
            const tag = this.#currentTag();
            if (!nonSync) {
              this.reset();
              out.push({ kind: 'literal-busy', tag, size });
              continue;
            }
            out.push({ kind: 'literal-busy', tag, size });
            this.#parts = [];
            this.#skipping = true;
            this.#release();
          }
        }
        this.#literalLeft = size;
        if (!nonSync) out.push({ kind: 'continue', size });
        continue;
      }
      this.#parts.push(body);
      const data = this.#parts.length === 1 ? Buffer.from(body) : Buffer.concat(this.#parts);
      const held = this.#held;
      this.#held = 0; // the consumer gives it back once the command is done
      this.reset();
      out.push({ kind: 'command', data, held });
    }
    return out;
  }

  /** Gives back what the partial command reserved in the budget. */
  #release(): void {
    if (this.#held > 0) this.#budget?.give(this.#held);
    this.#held = 0;
  }

  #startDiscard(): void {
    this.#release();
    this.#discarding = true;
    this.#parts = [];
    this.#line = [];
    this.#lineLen = 0;
  }

  /** The tag of the command being framed, if its first line has one that looks valid. */
  #currentTag(): string | null {
    const first = this.#parts[0] ?? this.#line[0];
    if (!first) return null;
    const head = first.subarray(0, 128).toString('latin1');
    const m = /^([\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c-\x7e]+) /.exec(head);
    return m ? m[1]! : null;
  }
}

const CRLF = Buffer.from('\r\n');

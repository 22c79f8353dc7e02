/**
 * ManageSieve command framing (RFC 5804 section 4): a command is atoms and strings separated by spaces and
 * ended by CRLF; a string is quoted ("..." with \" and \\ escapes, no CR/LF, at most 1024 octets) or a
 * literal ({n+} CRLF and n octets from the client; {n} is accepted the same way, as Dovecot does, with no
 * continuation response). The framer is fed bytes and yields complete commands, or a "bad" item for input
 * that cannot be a command (after which it resynchronises at the next line end), so one bad line never
 * ends the connection.
 *
 * Bounds: the command line outside literals is at most `maxLine` octets; a literal that takes the
 * command's literals together past `maxLiteral` is answered as too big as soon as its size is read (as Dovecot answers QUOTA/MAXSIZE before
 * skipping the script), then read and thrown away (never held in memory) with the rest of its line.
 */
import { asciiUpper } from '../lib/ascii.js';

export type Token = { kind: 'atom'; value: string } | { kind: 'string'; value: Buffer; literal: boolean };

export type Framed =
  | { kind: 'command'; tokens: Token[] }
  | { kind: 'bad'; message: string }
  /** A command whose literal exceeded maxLiteral (its bytes were discarded). `atom` is its first word. */
  | { kind: 'too-big'; atom: string; size: number };

/** RFC 5804 4: quoted = DQUOTE *1024QUOTED-CHAR DQUOTE. */
export const MAX_QUOTED = 1024;
const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const DQ = 0x22;
const BS = 0x5c;

type Step =
  | { done: true; consumed: number; item: Framed }
  | { done: false; need: number }
  | { done: 'discard'; start: number; size: number; atom: string }
  | { done: 'bad'; message: string };

export class CommandFramer {
  #buf: Buffer = Buffer.alloc(0);
  /** Do not parse again before the buffer holds this many octets (a literal is still arriving). */
  #need = 0;
  /** Octets of an oversized literal still to throw away, then the rest of its line. */
  #discard = 0;
  /** Skipping to the next LF after a bad line. */
  #skipLine = false;
  /** Chunks received since #buf was last joined, while fewer than #need octets are there. */
  #held: Buffer[] = [];
  #heldOctets = 0;

  constructor(
    readonly maxLine: number,
    readonly maxLiteral: number,
  ) {}

  /** Forgets buffered input (STARTTLS: nothing sent before the handshake may be used after it). */
  reset(): void {
    this.#buf = Buffer.alloc(0);
    this.#need = 0;
    this.#discard = 0;
    this.#skipLine = false;
    this.#held = [];
    this.#heldOctets = 0;
  }

  push(chunk: Buffer): Framed[] {
    const out: Framed[] = [];
    if (this.#discard > 0) {
      const n = Math.min(this.#discard, chunk.length);
      this.#discard -= n;
      chunk = chunk.subarray(n);
      if (this.#discard > 0) return out;
      this.#skipLine = true;
    }
    // While a literal is still arriving the chunks are only collected: joining each one to all that came
    // before would copy the buffered octets once per chunk.
    if (!this.#skipLine && this.#need > 0 && this.#buf.length + this.#heldOctets + chunk.length < this.#need) {
      this.#held.push(chunk);
      this.#heldOctets += chunk.length;
      return out;
    }
    const parts = this.#buf.length ? [this.#buf, ...this.#held, chunk] : [...this.#held, chunk];
    this.#buf = parts.length === 1 ? chunk : Buffer.concat(parts);
    this.#held = [];
    this.#heldOctets = 0;
    for (;;) {
      if (this.#skipLine) {
        const lf = this.#buf.indexOf(LF);
        if (lf === -1) {
          this.#buf = Buffer.alloc(0);
          return out;
        }
        this.#buf = this.#buf.subarray(lf + 1);
        this.#skipLine = false;
      }
      if (this.#buf.length === 0 || this.#buf.length < this.#need) return out;
      const step = parse(this.#buf, this.maxLine, this.maxLiteral);
      if (step.done === true) {
        this.#buf = this.#buf.subarray(step.consumed);
        this.#need = 0;
        out.push(step.item);
      } else if (step.done === false) {
        this.#need = step.need;
        return out;
      } else if (step.done === 'bad') {
        out.push({ kind: 'bad', message: step.message });
        this.#need = 0;
        this.#skipLine = true;
      } else {
        // Throw the literal away as it arrives, then the rest of its command line.
        const have = this.#buf.length - step.start;
        this.#need = 0;
        out.push({ kind: 'too-big', atom: step.atom, size: step.size });
        if (have >= step.size) {
          this.#buf = this.#buf.subarray(step.start + step.size);
          this.#skipLine = true;
        } else {
          this.#discard = step.size - have;
          this.#buf = Buffer.alloc(0);
          return out;
        }
      }
    }
  }
}

function isAtomChar(c: number): boolean {
  return c > SP && c < 0x7f && c !== DQ && c !== 0x7b && c !== 0x28 && c !== 0x29;
}

/** Parses one command from the start of `buf`. */
function parse(buf: Buffer, maxLine: number, maxLiteral: number): Step {
  const tokens: Token[] = [];
  let i = 0;
  /** Octets of the command line outside literals. */
  let lineOctets = 0;
  /** Octets of the literals of this command so far: together at most maxLiteral. */
  let literalOctets = 0;
  const incomplete = (need: number): Step => (lineOctets + (buf.length - i) > maxLine ? { done: 'bad', message: `Line too long (the limit is ${maxLine} octets)` } : { done: false, need });
  for (;;) {
    if (i >= buf.length) return incomplete(buf.length + 1);
    const c = buf[i]!;
    if (c === SP) {
      i++;
      lineOctets++;
      continue;
    }
    if (c === CR || c === LF) {
      if (c === CR) {
        if (i + 1 >= buf.length) return incomplete(i + 2);
        if (buf[i + 1] !== LF) return { done: 'bad', message: 'Bare CR in command' };
        i++;
      }
      if (tokens.length === 0) return { done: 'bad', message: 'Empty command' };
      if (lineOctets > maxLine) return { done: 'bad', message: `Line too long (the limit is ${maxLine} octets)` };
      // Literals were sliced out of the buffer while parsing (a command is parsed again as each literal
      // arrives); the command keeps copies, not views that would hold the buffer.
      for (const t of tokens) if (t.kind === 'string' && t.literal) t.value = Buffer.from(t.value);
      return { done: true, consumed: i + 1, item: { kind: 'command', tokens } };
    }
    if (c === DQ) {
      const parts: number[] = [];
      let j = i + 1;
      for (;;) {
        if (j >= buf.length) return incomplete(buf.length + 1);
        const d = buf[j]!;
        if (d === DQ) break;
        if (d === CR || d === LF || d === 0) return { done: 'bad', message: 'Bad character in quoted string' };
        if (d === BS) {
          if (j + 1 >= buf.length) return incomplete(j + 2);
          const e = buf[j + 1]!;
          if (e !== DQ && e !== BS) return { done: 'bad', message: 'Bad escape in quoted string' };
          parts.push(e);
          j += 2;
        } else {
          parts.push(d);
          j++;
        }
        if (parts.length > MAX_QUOTED) return { done: 'bad', message: `Quoted string longer than ${MAX_QUOTED} octets; use a literal` };
      }
      tokens.push({ kind: 'string', value: Buffer.from(parts), literal: false });
      lineOctets += j + 1 - i;
      i = j + 1;
      continue;
    }
    if (c === 0x7b) {
      const close = buf.indexOf(0x7d, i);
      if (close === -1) return buf.length - i > 24 ? { done: 'bad', message: 'Bad literal' } : incomplete(buf.length + 1);
      const m = /^\{(\d{1,12})(\+?)\}$/.exec(buf.subarray(i, close + 1).toString('latin1'));
      if (!m) return { done: 'bad', message: 'Bad literal' };
      if (close + 1 >= buf.length || (buf[close + 1] === CR && close + 2 >= buf.length)) return incomplete(close + 3);
      let start: number;
      if (buf[close + 1] === CR && buf[close + 2] === LF) start = close + 3;
      else if (buf[close + 1] === LF) start = close + 2;
      else return { done: 'bad', message: 'Literal size must be followed by CRLF' };
      const size = Number(m[1]);
      lineOctets += start - i;
      literalOctets += size;
      if (literalOctets > maxLiteral) {
        const first = tokens[0];
        return { done: 'discard', start, size, atom: first?.kind === 'atom' ? asciiUpper(first.value) : '' };
      }
      if (buf.length < start + size) return { done: false, need: start + size + 1 };
      tokens.push({ kind: 'string', value: buf.subarray(start, start + size), literal: true });
      i = start + size;
      continue;
    }
    if (!isAtomChar(c)) return { done: 'bad', message: 'Bad character in command' };
    let j = i;
    while (j < buf.length && isAtomChar(buf[j]!)) j++;
    if (j >= buf.length) return incomplete(buf.length + 1);
    tokens.push({ kind: 'atom', value: buf.subarray(i, j).toString('latin1') });
    lineOctets += j - i;
    i = j;
  }
}

/**
 * A minimal POP3 driver (RFC 1939, RFC 2449 CAPA/PIPELINING) over a raw socket for load generation.
 * Replies are matched in order; multi-line replies end at CRLF "." CRLF and are dot-unstuffed (the first "."
 * of every line goes; a line starts after every CRLF, the status line's included). Several commands may be
 * in flight at once when the server advertises PIPELINING.
 *
 * Built to cost the load generator little, so that a benchmark measures the server: the socket reads into
 * one reused buffer (no Buffer per read), bodies are scanned once for line-start dots where they arrive
 * (a memchr for "." and a look at the two bytes before it), and a command given a BodySink hands it views of
 * the unstuffed body as they arrive, without copying or keeping them (a sink compares them with the expected
 * bytes). Without a sink the body is copied out and returned whole (CAPA, UIDL, LIST).
 */
import { connect, type Socket } from 'node:net';

export interface Pop3Reply {
  ok: boolean;
  /** First line without the status indicator. */
  text: string;
  /** Multi-line body (dot-unstuffed, without the terminating line) when no sink took it; else null. */
  body: Buffer | null;
  /** Octets of the unstuffed multi-line body (0 for single-line replies). */
  size: number;
}

/**
 * Receives a multi-line body as it arrives, in order: views of the receive buffer, valid only during the
 * call (copy what must be kept). Not called for -ERR replies.
 */
export interface BodySink {
  data(part: Buffer): void;
}

interface Waiter {
  multi: boolean;
  sink: BodySink | null;
  resolve: (r: Pop3Reply) => void;
  reject: (e: Error) => void;
}

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;
const CR_BUF = Buffer.from('\r');
/** Bytes per socket read: one read per 256 KB instead of one per 64 KB. */
const READ_BUFFER = 256 * 1024;

/** Collects a body when the command gave no sink (copies: the receive buffer is reused). */
class Collect implements BodySink {
  parts: Buffer[] = [];
  data(part: Buffer): void {
    this.parts.push(Buffer.from(part));
  }
}

/**
 * The reply side of a POP3 connection: matches received bytes to the replies expected, in order (see the
 * file comment). Fed straight from the socket's reads; the bytes fed are not kept past the call.
 */
export class ReplyReader {
  #waiters: Waiter[] = [];
  #closed = false;
  #error: Error | null = null;
  /** Bytes of a status line not yet complete (copied out of the receive buffer). */
  #line: Buffer | null = null;
  /** Received bytes that no command was waiting for yet (copied), fed once one is. */
  #stash: Buffer[] = [];
  /** Inside a multi-line body: its reply's first line and where its bytes go. */
  #body: { text: string; sink: BodySink; size: number } | null = null;
  /** The last two raw bytes of the body before the current chunk (the status line's CRLF at first). */
  #p1 = LF;
  #p2 = CR;
  /** A line-start "." at the end of a chunk: 1 = just the dot seen, 2 = the dot and a CR seen. */
  #dot: 0 | 1 | 2 = 0;

  /** No reply is expected any more: those still awaited stay pending (the connection was let go on purpose). */
  stop(): void {
    this.#closed = true;
  }

  /** Fails every reply still expected, and every later one. */
  fail(e: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = e;
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }

  /** The next reply not yet expected; `multi` for a multi-line success reply, its body to `sink` if given. */
  expect(multi: boolean, sink: BodySink | null): Promise<Pop3Reply> {
    if (this.#closed) return Promise.reject(this.#error ?? new Error('connection closed'));
    return new Promise((resolve, reject) => {
      this.#waiters.push({ multi, sink, resolve, reject });
      if (this.#waiters.length === 1 && this.#stash.length > 0) {
        const stash = Buffer.concat(this.#stash.splice(0));
        this.feed(stash);
      }
    });
  }

  /** Consumes received bytes: status lines, then bodies; copies what no command waits for yet. */
  feed(buf: Buffer): void {
    const to = buf.length;
    let i = 0;
    while (i < to) {
      if (this.#body) {
        i = this.#scanBody(buf, i, to);
        continue;
      }
      if (this.#waiters.length === 0) {
        this.#stash.push(Buffer.from(buf.subarray(i, to)));
        return;
      }
      const lf = buf.indexOf(LF, i);
      if (lf < 0 || lf >= to) {
        const part = buf.subarray(i, to);
        this.#line = this.#line ? Buffer.concat([this.#line, part]) : Buffer.from(part);
        return;
      }
      const line = this.#line ? Buffer.concat([this.#line, buf.subarray(i, lf + 1)]) : buf.subarray(i, lf + 1);
      this.#line = null;
      i = lf + 1;
      // A status line ends with CRLF; a bare LF is part of it (kept in the text, as a server's bug to see).
      if (line.length < 2 || line[line.length - 2] !== CR) {
        this.#line = Buffer.from(line);
        continue;
      }
      this.#status(line.toString('utf8', 0, line.length - 2));
    }
  }

  #status(first: string): void {
    const w = this.#waiters[0]!;
    const ok = first.startsWith('+OK');
    const text = first.replace(/^(\+OK|-ERR) ?/, '');
    if (w.multi && ok) {
      this.#body = { text, sink: w.sink ?? new Collect(), size: 0 };
      this.#p1 = LF;
      this.#p2 = CR;
      this.#dot = 0;
      return;
    }
    this.#waiters.shift();
    w.resolve({ ok, text, body: null, size: 0 });
  }

  /** Scans body bytes buf[i, to) up to the terminating line; returns where the body stopped (to, or after it). */
  #scanBody(buf: Buffer, i: number, to: number): number {
    const body = this.#body!;
    // A line-start dot at the end of the previous chunk: the terminator, or a stuffed dot that goes.
    if (this.#dot === 1) {
      if (buf[i] !== CR) {
        this.#dot = 0;
        this.#p2 = LF;
        this.#p1 = DOT;
      } else {
        this.#dot = 2;
        if (++i === to) return to;
      }
    }
    if (this.#dot === 2) {
      this.#dot = 0;
      if (buf[i] === LF) return this.#endBody(i + 1);
      body.sink.data(CR_BUF);
      body.size += 1;
      this.#p2 = DOT;
      this.#p1 = CR;
    }
    let seg = i;
    let at = buf.indexOf(DOT, i);
    while (at !== -1 && at < to) {
      const b1 = at - 1 >= i ? buf[at - 1] : this.#p1;
      const b2 = at - 2 >= i ? buf[at - 2] : at - 2 === i - 1 ? this.#p1 : this.#p2;
      if (b1 === LF && b2 === CR) {
        if (at > seg) {
          body.sink.data(buf.subarray(seg, at));
          body.size += at - seg;
        }
        if (at + 1 === to) {
          this.#dot = 1;
          return to;
        }
        if (buf[at + 1] === CR) {
          if (at + 2 === to) {
            this.#dot = 2;
            return to;
          }
          if (buf[at + 2] === LF) return this.#endBody(at + 3);
        }
        // A stuffed dot: the line goes on from the byte after it.
        seg = at + 1;
      }
      at = buf.indexOf(DOT, at + 1);
    }
    if (to > seg) {
      body.sink.data(buf.subarray(seg, to));
      body.size += to - seg;
    }
    if (to - i >= 2) {
      this.#p2 = buf[to - 2]!;
      this.#p1 = buf[to - 1]!;
    } else {
      this.#p2 = this.#p1;
      this.#p1 = buf[to - 1]!;
    }
    return to;
  }

  #endBody(next: number): number {
    const body = this.#body!;
    this.#body = null;
    const w = this.#waiters.shift()!;
    const collected = body.sink instanceof Collect ? Buffer.concat(body.sink.parts) : null;
    w.resolve({ ok: true, text: body.text, body: collected, size: body.size });
    return next;
  }

}

export class Pop3Conn {
  readonly socket: Socket;
  readonly #replies = new ReplyReader();
  capabilities: Set<string> = new Set();

  private constructor(opts: { host: string; port: number; localAddress?: string }) {
    this.socket = connect({
      host: opts.host,
      port: opts.port,
      ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER),
        callback: (n: number, buf: Uint8Array): boolean => {
          // A view of the bytes read: searches must not run on into the stale rest of the buffer.
          this.#replies.feed((buf as Buffer).subarray(0, n));
          return true;
        },
      },
    });
    this.socket.setNoDelay(true);
    this.socket.on('error', (e) => this.#replies.fail(e));
    this.socket.on('close', () => this.#replies.fail(new Error('connection closed')));
  }

  static async connect(opts: { host: string; port: number; localAddress?: string }): Promise<Pop3Conn> {
    const c = new Pop3Conn(opts);
    const g = await c.#replies.expect(false, null);
    if (!g.ok) throw new Error(`POP3 greeting: -ERR ${g.text}`);
    return c;
  }

  /**
   * Sends a command and waits for its reply; `multi` for commands with a multi-line success reply, whose
   * body goes to `sink` when given (the reply's body is then null).
   */
  command(line: string, multi = false, sink?: BodySink): Promise<Pop3Reply> {
    const p = this.#replies.expect(multi, sink ?? null);
    this.socket.write(line + '\r\n');
    return p;
  }

  async ok(line: string, multi = false): Promise<Pop3Reply> {
    const r = await this.command(line, multi);
    if (!r.ok) throw new Error(`POP3 ${line.split(' ')[0]} failed: -ERR ${r.text}`);
    return r;
  }

  async capa(): Promise<void> {
    const r = await this.command('CAPA', true);
    if (r.ok && r.body) this.capabilities = new Set(r.body.toString('utf8').split('\r\n').map((l) => l.split(' ')[0]!.toUpperCase()).filter(Boolean));
  }

  async login(user: string, password: string): Promise<void> {
    await this.ok(`USER ${user}`);
    await this.ok(`PASS ${password}`);
  }

  destroy(): void {
    this.#replies.stop();
    this.socket.destroy();
  }
}

/** A BodySink that compares a body with the bytes expected, as they arrive (no copy, no hash). */
export class ExpectBytes implements BodySink {
  #pos = 0;
  #same = true;
  constructor(readonly expected: Buffer) {}
  data(part: Buffer): void {
    const end = this.#pos + part.length;
    if (this.#same) this.#same = end <= this.expected.length && part.compare(this.expected, this.#pos, end) === 0;
    this.#pos = end;
  }
  /** True when every byte received is the expected one and none is missing. */
  get matches(): boolean {
    return this.#same && this.#pos === this.expected.length;
  }
}

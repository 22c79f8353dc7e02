/**
 * A minimal POP3 driver (RFC 1939, RFC 2449 CAPA/PIPELINING) over a raw socket for load generation.
 * Replies are matched in order; multi-line replies end at CRLF "." CRLF and are returned dot-unstuffed.
 * Several commands may be in flight at once when the server advertises PIPELINING.
 */
import { connect, type Socket } from 'node:net';
import { unstuff } from '../../src/lib/dotstuff.js';

export interface Pop3Reply {
  ok: boolean;
  /** First line without the status indicator. */
  text: string;
  /** Multi-line body (dot-unstuffed, without the terminating line); null for single-line replies. */
  body: Buffer | null;
}

interface Waiter {
  multi: boolean;
  resolve: (r: Pop3Reply) => void;
  reject: (e: Error) => void;
}

const TERM = Buffer.from('\r\n.\r\n');

export class Pop3Conn {
  readonly socket: Socket;
  /** Received bytes live in #buf[#start, #end); the buffer grows by doubling so a 5 MB reply costs O(n). */
  #buf: Buffer = Buffer.allocUnsafe(64 * 1024);
  #start = 0;
  #end = 0;
  #waiters: Waiter[] = [];
  #closed = false;
  #error: Error | null = null;
  /** Bytes of the current reply already searched for its end. */
  #scanned = 0;
  capabilities: Set<string> = new Set();

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.#append(d);
      this.#drain();
    });
    socket.on('error', (e) => this.#fail(e));
    socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  static async connect(opts: { host: string; port: number; localAddress?: string }): Promise<Pop3Conn> {
    const socket = connect({ host: opts.host, port: opts.port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    const c = new Pop3Conn(socket);
    const g = await c.#expect(false);
    if (!g.ok) throw new Error(`POP3 greeting: -ERR ${g.text}`);
    return c;
  }

  #append(d: Buffer): void {
    if (this.#end + d.length > this.#buf.length) {
      const live = this.#end - this.#start;
      const cap = Math.max(this.#buf.length, (live + d.length) * 2);
      const next = cap === this.#buf.length ? this.#buf : Buffer.allocUnsafe(cap);
      this.#buf.copy(next, 0, this.#start, this.#end);
      this.#buf = next;
      this.#scanned -= this.#start;
      this.#start = 0;
      this.#end = live;
    }
    d.copy(this.#buf, this.#end);
    this.#end += d.length;
  }

  #fail(e: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = e;
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }

  #expect(multi: boolean): Promise<Pop3Reply> {
    if (this.#closed) return Promise.reject(this.#error ?? new Error('connection closed'));
    return new Promise((resolve, reject) => {
      this.#waiters.push({ multi, resolve, reject });
      this.#drain();
    });
  }

  #drain(): void {
    while (this.#waiters.length > 0 && this.#end > this.#start) {
      const w = this.#waiters[0]!;
      const buf = this.#buf.subarray(this.#start, this.#end);
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      const first = buf.toString('utf8', 0, eol);
      const ok = first.startsWith('+OK');
      const text = first.replace(/^(\+OK|-ERR) ?/, '');
      let consumed: number;
      let body: Buffer | null = null;
      if (w.multi && ok) {
        // The body starts after the first line; an empty body is just ".\r\n".
        const start = eol + 2;
        let end: number;
        if (buf.length >= start + 3 && buf[start] === 0x2e && buf[start + 1] === 0x0d && buf[start + 2] === 0x0a) {
          end = start;
          consumed = start + 3;
        } else {
          const from = Math.max(start - 2, this.#scanned - this.#start - 4);
          const at = buf.indexOf(TERM, from);
          if (at < 0) {
            this.#scanned = this.#end;
            return;
          }
          end = at + 2;
          consumed = at + 5;
        }
        // Copy out: the receive buffer is reused (unstuff copies only when it removed a dot).
        const view = buf.subarray(start, end);
        const unstuffed = unstuff(view);
        body = unstuffed === view ? Buffer.from(view) : unstuffed;
      } else {
        consumed = eol + 2;
      }
      this.#scanned = 0;
      this.#start += consumed;
      if (this.#start === this.#end) this.#start = this.#end = 0;
      this.#waiters.shift();
      w.resolve({ ok, text, body });
    }
  }

  /** Sends a command and waits for its reply; `multi` for commands with a multi-line success reply. */
  command(line: string, multi = false): Promise<Pop3Reply> {
    const p = this.#expect(multi);
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
    this.#closed = true;
    this.socket.destroy();
  }
}

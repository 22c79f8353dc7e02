/**
 * A minimal LMTP sender (RFC 2033) over a raw socket for load generation: LHLO once, then per message
 * MAIL FROM, RCPT TO (one or more), DATA with the dot-stuffed message; after the final "." LMTP answers
 * once per accepted recipient. When the server offers PIPELINING (RFC 2920; RFC 2033 section 5 makes it
 * mandatory for LMTP), MAIL, the RCPTs and DATA leave in one write, as Postfix's LMTP client sends them;
 * otherwise they go in lock-step (one reply awaited at a time).
 */
import { connect, type Socket } from 'node:net';
import { dotStuffAll } from '../../src/lib/dotstuff.js';

export interface SmtpReply {
  code: number;
  lines: string[];
}

export class LmtpConn {
  readonly socket: Socket;
  #buf = '';
  #waiters: Array<{ resolve: (r: SmtpReply) => void; reject: (e: Error) => void }> = [];
  #lines: string[] = [];
  #closed = false;
  #error: Error | null = null;
  /** The LHLO reply listed PIPELINING. */
  pipelining = false;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('error', (e) => this.#fail(e));
    socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  /** `ehlo: true` greets with EHLO instead of LHLO: the same driver then speaks SMTP (one reply after DATA per message with one recipient). */
  static async connect(opts: { host: string; port: number; localAddress?: string; lhlo?: string; ehlo?: boolean }): Promise<LmtpConn> {
    const socket = connect({ host: opts.host, port: opts.port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    const c = new LmtpConn(socket);
    const g = await c.#reply();
    if (g.code !== 220) throw new Error(`LMTP greeting: ${g.lines.join(' | ')}`);
    const h = await c.command(`${opts.ehlo ? 'EHLO' : 'LHLO'} ${opts.lhlo ?? 'bench.localhost'}`);
    if (h.code !== 250) throw new Error(`LHLO: ${h.lines.join(' | ')}`);
    c.pipelining = h.lines.some((l) => /^250[- ]PIPELINING\b/i.test(l));
    return c;
  }

  #fail(e: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#error = e;
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }

  #onData(d: Buffer): void {
    this.#buf += d.toString('utf8');
    for (;;) {
      const eol = this.#buf.indexOf('\r\n');
      if (eol < 0) break;
      const line = this.#buf.slice(0, eol);
      this.#buf = this.#buf.slice(eol + 2);
      this.#lines.push(line);
      if (line.length < 4 || line[3] !== '-') {
        const lines = this.#lines;
        this.#lines = [];
        const w = this.#waiters.shift();
        w?.resolve({ code: Number(line.slice(0, 3)), lines });
      }
    }
  }

  #reply(): Promise<SmtpReply> {
    if (this.#closed) return Promise.reject(this.#error ?? new Error('connection closed'));
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  command(line: string): Promise<SmtpReply> {
    const p = this.#reply();
    this.socket.write(line + '\r\n');
    return p;
  }

  /**
   * Delivers one message; resolves with the per-recipient replies after DATA (LMTP) — one per recipient
   * accepted at RCPT. Throws when MAIL or every RCPT is refused.
   */
  async deliver(from: string, to: string[], raw: Buffer): Promise<SmtpReply[]> {
    if (this.pipelining) return this.#deliverPipelined(from, to, raw);
    const m = await this.command(`MAIL FROM:<${from}>`);
    if (m.code !== 250) throw new Error(`MAIL FROM: ${m.lines.join(' | ')}`);
    let accepted = 0;
    for (const r of to) {
      const rr = await this.command(`RCPT TO:<${r}>`);
      if (rr.code === 250) accepted++;
    }
    if (accepted === 0) {
      await this.command('RSET');
      throw new Error(`no recipient accepted among ${to.join(', ')}`);
    }
    const d = await this.command('DATA');
    if (d.code !== 354) throw new Error(`DATA: ${d.lines.join(' | ')}`);
    const replies: Array<Promise<SmtpReply>> = [];
    for (let i = 0; i < accepted; i++) replies.push(this.#reply());
    this.socket.write(dotStuffAll([raw]));
    return Promise.all(replies);
  }

  async #deliverPipelined(from: string, to: string[], raw: Buffer): Promise<SmtpReply[]> {
    const pending = [this.#reply(), ...to.map(() => this.#reply()), this.#reply()];
    this.socket.write([`MAIL FROM:<${from}>`, ...to.map((r) => `RCPT TO:<${r}>`), 'DATA', ''].join('\r\n'));
    const got = await Promise.all(pending);
    const m = got[0]!;
    const d = got[got.length - 1]!;
    const accepted = got.slice(1, -1).filter((r) => r.code === 250).length;
    if (m.code !== 250 || accepted === 0) {
      // A server that still said 354 gets an empty message, refused or not, so the session stays in step.
      if (d.code === 354) await this.command('.');
      await this.command('RSET');
      throw new Error(m.code !== 250 ? `MAIL FROM: ${m.lines.join(' | ')}` : `no recipient accepted among ${to.join(', ')}`);
    }
    if (d.code !== 354) throw new Error(`DATA: ${d.lines.join(' | ')}`);
    const replies: Array<Promise<SmtpReply>> = [];
    for (let i = 0; i < accepted; i++) replies.push(this.#reply());
    this.socket.write(dotStuffAll([raw]));
    return Promise.all(replies);
  }

  async quit(): Promise<void> {
    if (this.#closed) return;
    try {
      await Promise.race([this.command('QUIT'), new Promise((r) => setTimeout(r, 2000).unref())]);
    } catch {
      // closed by the server
    }
    this.destroy();
  }

  destroy(): void {
    this.#closed = true;
    this.socket.destroy();
  }
}

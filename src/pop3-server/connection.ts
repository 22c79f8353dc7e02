/**
 * One POP3 connection: greeting, line framing, pipelined commands run strictly in order one at a time
 * (RFC 2449 PIPELINING), replies written with socket backpressure, STLS upgrade, AUTH continuations,
 * autologout, and cleanup. A dropped connection commits nothing (RFC 1939 section 6): the maildrop
 * lock is released and the DELE marks are forgotten.
 *
 * The connection works on any Duplex stream (a TCP socket, a TLS socket, or an in-memory pair in tests).
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from '../lib/logger.js';
import { POP3_MAX_COMMAND_LINE } from '../lib/limits.js';
import { dispatch, withinLineLimit } from './dispatch.js';
import { DotStuffer } from '../lib/dotstuff.js';
import { LineFramer, type FramedLine } from './framer.js';
import type { Pop3Shared } from './options.js';
import { bad, formatLines, formatStatus, type Reply, type ReplyBody } from './reply.js';
import type { MessageReader } from '../store/maildrop.js';
import type { ChallengeAnswer, CommandContext, SessionState } from './session.js';
import { ConnectionGone, ReplyWriter } from './writer.js';
import { CLOSE_GRACE_MS, MAX_AUTH_FAILURES, MAX_BAD_COMMANDS, MAX_QUEUED_LINES, POP3_MAX_AUTH_LINE } from './connection-limits.js';

/** The read buffer passed to a MessageReader that holds its bytes in memory (it never writes into it). */
const NO_SCRATCH = Buffer.alloc(0);

/** The end of a multi-line body as text ("." CRLF, or CRLF "." CRLF after a last line without one): see ReplyWriter. */
function terminator(stuffer: DotStuffer): string {
  return stuffer.terminator().length === 3 ? '.\r\n' : '\r\n.\r\n';
}

type Next = FramedLine | { kind: 'eof' } | { kind: 'timeout' } | { kind: 'shutdown' } | { kind: 'login-timeout' };

export interface ConnectionInfo {
  remoteAddress: string;
  /** True for implicit-TLS listeners. */
  secure: boolean;
}

export class Pop3Connection {
  readonly id = randomBytes(6).toString('hex');
  readonly #shared: Pop3Shared;
  readonly #log: Logger;
  readonly #remoteAddress: string;
  #stream: Duplex;
  /** Replies go out through it (see ReplyWriter); its stream follows #stream. */
  readonly #out: ReplyWriter;
  #secure: boolean;
  #apopTimestamp: string | null = null;
  #state: SessionState = { kind: 'authorization', pendingUser: null };
  readonly #framer = new LineFramer(POP3_MAX_AUTH_LINE);
  /** Lines received and not yet taken: #queue[#queueHead] is the next (no shift() per line). */
  readonly #queue: FramedLine[] = [];
  #queueHead = 0;
  #waiter: ((n: Next) => void) | null = null;
  #eof = false;
  #gone = false;
  #paused = false;
  #shuttingDown = false;
  #idleTimer: NodeJS.Timeout | null = null;
  #shutdownTimer: NodeJS.Timeout | null = null;
  /** Runs from the greeting until a login (loginTimeoutMs); #loginExpired once it fired before one. */
  #loginTimer: NodeJS.Timeout | null = null;
  #loginExpired = false;
  /** When the login deadline falls (performance.now()); an STLS handshake must be done by then too. */
  #loginDeadline = Infinity;
  /** When the current wait for a client line began (performance.now()); see #armIdle. */
  #waitingSince = 0;
  #badCommands = 0;
  #authFailures = 0;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(stream: Duplex, info: ConnectionInfo, shared: Pop3Shared) {
    this.#stream = stream;
    this.#secure = info.secure;
    this.#remoteAddress = info.remoteAddress;
    this.#shared = shared;
    this.#log = shared.logger.child({ conn: this.id, remote: info.remoteAddress });
    this.#out = new ReplyWriter(stream, shared.readBuffers, shared.idleTimeoutMs, this.#log);
    this.closed = new Promise((r) => (this.#resolveClosed = r));
    this.#attach(stream);
  }

  /** Sends the greeting and runs the session until QUIT, EOF, timeout, shutdown or an I/O error. */
  async run(): Promise<void> {
    this.#log.debug({ secure: this.#secure }, 'pop3 connect');
    try {
      if (await this.#shared.apopAvailable()) {
        this.#apopTimestamp = `<${process.pid}.${randomBytes(8).toString('hex')}.${Date.now()}@${this.#shared.hostname}>`;
      }
      const greeting = `${this.#shared.hostname} POP3 server (mailroom) ready` + (this.#apopTimestamp ? ` ${this.#apopTimestamp}` : '');
      await this.#out.write(formatStatus({ ok: true, text: greeting }));
      this.#loginDeadline = performance.now() + this.#shared.loginTimeoutMs;
      this.#loginTimer = setTimeout(() => {
        this.#loginTimer = null;
        if (this.#state.kind !== 'authorization') return;
        this.#loginExpired = true;
        this.#wake({ kind: 'login-timeout' });
      }, this.#shared.loginTimeoutMs).unref();
      await this.#loop();
    } catch (e) {
      if (!(e instanceof ConnectionGone)) this.#log.error({ err: e }, 'pop3 connection failed');
    } finally {
      await this.#finish();
    }
  }

  /**
   * Ends the session politely: at once when idle, after the running command otherwise; nothing is committed.
   * After the shutdown grace the connection is cut (a client that stopped reading, or stalls its TLS handshake,
   * would hold the service's close for the idle timeout).
   */
  shutdown(): void {
    this.#shuttingDown = true;
    this.#wake({ kind: 'shutdown' });
    this.#shutdownTimer ??= setTimeout(() => {
      this.#log.info({}, 'pop3 session still busy after the shutdown grace; closing');
      this.#stream.destroy();
    }, this.#shared.shutdownGraceMs).unref();
  }

  async #loop(): Promise<void> {
    const ctx = this.#context();
    for (;;) {
      // Lines already received are taken without waiting, and a command whose handler answered at once is
      // written without waiting either: a pipelined run of them goes by in one turn of the event loop, its
      // replies corked together (see #put).
      const next = this.#takeQueued() ?? (await this.#next());
      if (next.kind === 'eof') return;
      if (next.kind === 'timeout') {
        this.#log.info({}, 'pop3 autologout');
        await this.#out.write('-ERR Autologout; idle for too long\r\n');
        return;
      }
      if (next.kind === 'shutdown') {
        await this.#out.write('-ERR [SYS/TEMP] Server shutting down\r\n');
        return;
      }
      if (this.#loginExpired && this.#state.kind === 'authorization') {
        // However busy the client keeps itself (CAPA every minute), the login has a deadline.
        this.#log.info({}, 'pop3 login timeout');
        await this.#out.write('-ERR Disconnected: no login within the time allowed\r\n');
        return;
      }
      if (next.kind === 'login-timeout') continue;
      let answer: Reply | Promise<Reply>;
      if (next.kind === 'too-long' || !withinLineLimit(next.line)) {
        answer = bad(`Line too long (the limit is ${POP3_MAX_COMMAND_LINE} octets)`);
      } else {
        answer = dispatch(ctx, next.line.toString('utf8'));
      }
      const reply = this.#applyLimits(answer instanceof Promise ? await answer : answer);
      if (reply.after === 'starttls') {
        await this.#startTls(reply);
        continue;
      }
      const sending = this.#send(reply);
      if (sending) await sending;
      if (reply.after === 'close') return;
      if (this.#shuttingDown) {
        await this.#out.write('-ERR [SYS/TEMP] Server shutting down\r\n');
        return;
      }
    }
  }

  #applyLimits(reply: Reply): Reply {
    if (reply.ok || !reply.counts) return reply;
    if (reply.counts === 'bad-command' && ++this.#badCommands >= MAX_BAD_COMMANDS) {
      this.#log.info({}, 'pop3 too many invalid commands');
      return { ...reply, text: `${reply.text}; too many invalid commands, closing`, after: 'close' };
    }
    if (reply.counts === 'auth-failure' && ++this.#authFailures >= MAX_AUTH_FAILURES) {
      this.#log.info({}, 'pop3 too many authentication failures');
      return { ...reply, text: `${reply.text}; too many failures, closing`, after: 'close' };
    }
    return reply;
  }

  #context(): CommandContext {
    // The context reads live connection fields (secure changes at STLS; state changes with each login/QUIT).
    const conn = this;
    return {
      shared: this.#shared,
      log: this.#log,
      remoteAddress: this.#remoteAddress,
      get secure() {
        return conn.#secure;
      },
      get apopTimestamp() {
        return conn.#apopTimestamp;
      },
      get state() {
        return conn.#state;
      },
      set state(s: SessionState) {
        conn.#state = s;
      },
      challenge: (base64) => this.#challenge(base64),
    };
  }

  async #challenge(base64: string): Promise<ChallengeAnswer> {
    await this.#out.write(`+ ${base64}\r\n`);
    const next = await this.#next();
    if (next.kind === 'line') return { kind: 'line', text: next.line.toString('utf8') };
    if (next.kind === 'too-long') return { kind: 'too-long' };
    return { kind: 'closed', why: next.kind === 'login-timeout' ? 'timeout' : next.kind };
  }

  /**
   * Writes one reply: the status line, then any multi-line body, dot-stuffed and terminated. Returns a
   * Promise only when the caller must wait (for the socket to drain, or for a streamed body).
   */
  #send(reply: Reply): Promise<void> | undefined {
    const status = formatStatus(reply);
    const body = reply.ok ? reply.body : undefined;
    if (!body) return this.#queue1(status);
    if (body.kind === 'lines') return this.#queue1(status + formatLines(body.lines));
    if (body.kind === 'message') return this.#sendMessage(status, body);
    const stuffer = new DotStuffer();
    if (Array.isArray(body.chunks)) {
      // Read already (most messages are one chunk): nothing but the connection can fail from here on, and the
      // whole reply is queued at once.
      let wait = this.#out.put(status);
      for (const chunk of body.chunks as Buffer[]) wait = this.#putStuffed(stuffer, chunk) || wait;
      if (this.#out.put(terminator(stuffer)) || wait) return this.#out.drained();
      return undefined;
    }
    return this.#sendStream(status, body.chunks as AsyncIterable<Buffer>, stuffer);
  }

  /** Queues bytes; a Promise when the writer must wait for the socket (see #put). */
  #queue1(data: string | Buffer): Promise<void> | undefined {
    return this.#out.put(data) ? this.#out.drained() : undefined;
  }

  /**
   * Queues the stuffed views of one chunk (the dots between them cost no copy); a pool chunk goes back with
   * its last view, as the socket takes the views in order. True when the writer should wait (see #put).
   */
  #putStuffed(stuffer: DotStuffer, chunk: Buffer): boolean {
    const parts = stuffer.stuffed(chunk);
    const pooled = this.#shared.readBuffers.owns(chunk);
    if (parts === null) return this.#out.put(chunk, pooled);
    let wait = false;
    for (let i = 0; i < parts.length; i++) wait = this.#out.put(parts[i]!, pooled && i === parts.length - 1) || wait;
    return wait;
  }

  /**
   * A message opened by the store: read into pool buffers (an inline message is one view, no copy), stuffed
   * and queued chunk by chunk; the writer waits only when the socket is behind. The first chunk is read
   * before the status line, so a failed read can still be answered -ERR; a failure after that drops the
   * connection (the +OK and part of the body are out). The reader is closed whatever happens, and a read
   * buffer is taken only for a read that is still needed (buffers beyond the pool's idle ones are garbage).
   */
  #sendMessage(status: string, body: Extract<ReplyBody, { kind: 'message' }>): Promise<void> | undefined {
    const { reader, end } = body;
    const pool = this.#shared.readBuffers;
    // A reader that holds the bytes (a message kept in the database) hands out views of them: no read buffer.
    const out = { stuffer: new DotStuffer(), left: Math.min(end, reader.size), buf: reader.inMemory ? null : pool.take() };
    let chunk: Buffer;
    try {
      chunk = reader.next(out.buf ?? NO_SCRATCH, end);
    } catch (e) {
      reader.close();
      if (out.buf) pool.give(out.buf);
      this.#log.warn({ err: e }, 'pop3 message read failed');
      return this.#queue1('-ERR [SYS/TEMP] Could not read the message; try again later\r\n');
    }
    let handedOn = false;
    let wait: boolean;
    try {
      wait = this.#out.put(status);
      if (chunk.length > 0) wait = this.#putChunk(out, chunk) || wait;
      // A message larger than one read buffer goes on in later turns of the event loop.
      if (chunk.length > 0 && out.left > 0) {
        handedOn = true;
        return this.#finishMessage(reader, end, out, body.sent);
      }
    } finally {
      if (!handedOn) {
        reader.close();
        if (out.buf) pool.give(out.buf);
      }
    }
    body.sent();
    return this.#out.put(terminator(out.stuffer)) || wait ? this.#out.drained() : undefined;
  }

  /** Queues a chunk of a message; a chunk read into the spare buffer takes it along to the socket. */
  #putChunk(out: { stuffer: DotStuffer; left: number; buf: Buffer | null }, chunk: Buffer): boolean {
    if (out.buf && chunk.buffer === out.buf.buffer) out.buf = null;
    out.left -= chunk.length;
    return this.#putStuffed(out.stuffer, chunk);
  }

  /**
   * The rest of a message larger than one read buffer: one chunk per turn of the event loop, after the socket
   * has drained when it is behind. The turn lets the socket hand back the buffers it has written (their
   * write callbacks run then), so a large message needs two or three of them rather than one per chunk.
   */
  async #finishMessage(reader: MessageReader, end: number, out: { stuffer: DotStuffer; left: number; buf: Buffer | null }, sent: () => void): Promise<void> {
    const pool = this.#shared.readBuffers;
    try {
      while (out.left > 0) {
        if (this.#out.behind) await this.#out.drained();
        else await nextTurn();
        let chunk: Buffer;
        try {
          chunk = reader.next(reader.inMemory ? NO_SCRATCH : (out.buf ??= pool.take()), end);
        } catch (e) {
          throw this.#bodyFailed(e);
        }
        if (chunk.length === 0) break;
        this.#putChunk(out, chunk);
      }
    } finally {
      reader.close();
      if (out.buf) pool.give(out.buf);
    }
    sent();
    await this.#out.write(terminator(out.stuffer));
  }

  /** A body read failed after the +OK went out: the only honest move left is to drop the connection. */
  #bodyFailed(e: unknown): ConnectionGone {
    if (e instanceof ConnectionGone) return e;
    this.#log.error({ err: e }, 'pop3 message stream failed; closing');
    this.#stream.destroy();
    return new ConnectionGone();
  }

  /**
   * A streamed body (bytes through MailStore.readBytes): one chunk is held back so that a failed first read
   * can still be answered with -ERR; the status line, small bodies and the terminator leave in one writev.
   */
  async #sendStream(status: string, chunks: AsyncIterable<Buffer>, stuffer: DotStuffer): Promise<void> {
    let head: string | null = status;
    let held: Buffer | null = null;
    try {
      for await (const chunk of chunks) {
        if (held) {
          if (head) this.#out.put(head);
          head = null;
          if (this.#putStuffed(stuffer, held)) await this.#out.drained();
        }
        held = chunk;
      }
    } catch (e) {
      if (e instanceof ConnectionGone) throw e;
      if (head) {
        // Nothing has been written yet: the client can still get a plain -ERR.
        this.#log.warn({ err: e }, 'pop3 message read failed');
        return this.#out.write('-ERR [SYS/TEMP] Could not read the message; try again later\r\n');
      }
      throw this.#bodyFailed(e);
    }
    if (head) this.#out.put(head);
    if (held) this.#putStuffed(stuffer, held);
    await this.#out.write(terminator(stuffer));
  }

  /**
   * STLS: stop reading plaintext before the +OK goes out, discard anything pipelined after STLS
   * (RFC 2595 section 4 / RFC 3207 injection rule), then hand the raw stream to TLS.
   */
  async #startTls(reply: Reply): Promise<void> {
    const ctxOpts = this.#shared.secureContext;
    if (!ctxOpts) throw new Error('STLS without a TLS context');
    const raw = this.#stream;
    this.#detach(raw);
    raw.pause();
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#framer.reset();
    await this.#out.write(formatStatus(reply));
    this.#out.flush();
    const tlsSocket = new TLSSocket(raw, { isServer: true, secureContext: ctxOpts });
    // Every 'error' must have a listener, whatever the handshake does (a second error must not crash us).
    tlsSocket.on('error', this.#onError);
    // STLS is a command of the AUTHORIZATION state: the handshake must be over by the login deadline (as
    // Dovecot's login processes), not merely within the idle timeout.
    const left = Math.min(this.#shared.idleTimeoutMs, Math.max(0, Math.ceil(this.#loginDeadline - performance.now())));
    const timer = setTimeout(() => tlsSocket.destroy(new Error('TLS handshake timeout')), left);
    timer.unref();
    try {
      await new Promise<void>((resolve, reject) => {
        tlsSocket.once('secure', resolve);
        tlsSocket.once('error', reject);
        tlsSocket.once('close', () => reject(new Error('closed during TLS handshake')));
        tlsSocket.once('end', () => reject(new Error('client closed during TLS handshake')));
      });
    } catch (e) {
      this.#log.info({ err: e instanceof Error ? e.message : String(e) }, 'pop3 STLS handshake failed');
      tlsSocket.destroy();
      raw.destroy();
      throw new ConnectionGone();
    } finally {
      clearTimeout(timer);
    }
    this.#stream = tlsSocket;
    this.#out.stream = tlsSocket;
    this.#secure = true;
    this.#paused = false;
    this.#attach(tlsSocket);
    this.#log.debug({}, 'pop3 STLS done');
  }

  // ---- input ----

  readonly #onData = (chunk: Buffer): void => {
    for (const item of this.#framer.push(chunk)) {
      if (this.#waiter) this.#wake(item);
      else this.#queue.push(item);
    }
    if (this.#queue.length - this.#queueHead >= MAX_QUEUED_LINES && !this.#paused) {
      this.#paused = true;
      this.#stream.pause();
    }
  };
  readonly #onEnd = (): void => {
    this.#eof = true;
    this.#wake({ kind: 'eof' });
  };
  readonly #onClose = (): void => {
    this.#gone = true;
    this.#out.gone = true;
    this.#eof = true;
    this.#wake({ kind: 'eof' });
  };
  readonly #onError = (e: Error): void => {
    this.#log.debug({ err: e.message }, 'pop3 socket error');
  };

  #attach(s: Duplex): void {
    s.on('data', this.#onData);
    s.on('end', this.#onEnd);
    s.on('close', this.#onClose);
    if (!s.listeners('error').includes(this.#onError)) s.on('error', this.#onError);
  }

  #detach(s: Duplex): void {
    s.off('data', this.#onData);
    s.off('end', this.#onEnd);
    // 'close' and 'error' stay: the TLS socket closes with the raw one, and errors must not go unhandled.
  }

  /** The next line already received, or null when none is (then #next() waits for one). */
  #takeQueued(): FramedLine | null {
    const q = this.#queue;
    if (this.#queueHead === q.length) return null;
    const queued = q[this.#queueHead]!;
    if (++this.#queueHead === q.length) {
      q.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead >= MAX_QUEUED_LINES) {
      // Never empty while the client keeps pipelining: drop the lines taken so far.
      q.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
    if (this.#paused && q.length - this.#queueHead < MAX_QUEUED_LINES / 2) {
      this.#paused = false;
      this.#stream.resume();
    }
    return queued;
  }

  /** The next client line (or why there is none), arming the autologout timer while waiting. */
  #next(): Promise<Next> {
    const queued = this.#takeQueued();
    if (queued) return Promise.resolve(queued);
    if (this.#eof) return Promise.resolve({ kind: 'eof' });
    if (this.#shuttingDown) return Promise.resolve({ kind: 'shutdown' });
    if (this.#paused) {
      this.#paused = false;
      this.#stream.resume();
    }
    return new Promise((resolve) => {
      this.#waiter = resolve;
      this.#waitingSince = performance.now();
      if (!this.#idleTimer) this.#armIdle(this.#shared.idleTimeoutMs);
    });
  }

  /**
   * The autologout timer. A pipelining client makes a wait per few commands: re-arming a timer for each
   * (refresh() moves it in the timer list) cost more than the commands' own work, so a wait only notes when
   * it began, and the timer, when it fires, either ends a wait that has lasted the whole timeout or goes
   * off again when the current wait would reach it. Firing while a command runs (no waiter) disarms it; the
   * next wait arms it again.
   */
  #armIdle(ms: number): void {
    this.#idleTimer = setTimeout(this.#onIdleTimer, ms);
    this.#idleTimer.unref();
  }

  readonly #onIdleTimer = (): void => {
    this.#idleTimer = null;
    if (!this.#waiter) return;
    const left = this.#shared.idleTimeoutMs - (performance.now() - this.#waitingSince);
    if (left > 0) this.#armIdle(Math.ceil(left));
    else this.#wake({ kind: 'timeout' });
  };

  /** Delivers to a waiting #next(); lines are queued by #onData, other events are dropped when nobody waits. */
  #wake(n: Next): void {
    const w = this.#waiter;
    if (!w) return;
    this.#waiter = null;
    w(n);
  }

  /** Releases the maildrop lock (without committing) and closes the stream. */
  async #finish(): Promise<void> {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
    if (this.#shutdownTimer) clearTimeout(this.#shutdownTimer);
    if (this.#loginTimer) clearTimeout(this.#loginTimer);
    const s = this.#state;
    this.#state = { kind: 'closed' };
    if (s.kind === 'transaction') {
      this.#log.info({ user: s.user.address }, 'pop3 session ended without QUIT; nothing committed');
      await s.release().catch((e: unknown) => this.#log.warn({ err: e }, 'pop3 maildrop unlock failed'));
    }
    const stream = this.#stream;
    if (!stream.destroyed) {
      if (!stream.writableEnded) {
        this.#out.flush();
        stream.end();
      }
      const t = setTimeout(() => stream.destroy(), CLOSE_GRACE_MS);
      t.unref();
      if (!this.#gone) await new Promise<void>((r) => stream.once('close', () => r()));
      clearTimeout(t);
    }
    this.#log.debug({}, 'pop3 disconnect');
    this.#resolveClosed();
  }
}


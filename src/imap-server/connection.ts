/**
 * One IMAP connection: socket I/O (plain, STARTTLS, implicit TLS, COMPRESS=DEFLATE), the framer, a
 * pipelined command queue processed strictly in order, backpressure both ways and the autologout timer.
 * Commands themselves go through dispatch.ts; this file never interprets a command.
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import * as zlib from 'node:zlib';
import type { Writable } from 'node:stream';
import { Framer, LITERAL_MINUS_MAX, type FrameEvent } from '../imap/wire/framer.js';
import { decodeMailboxUtf7, encodeMailboxUtf7, Utf7Error } from '../imap/wire/utf7.js';
import type { Logger } from '../lib/logger.js';
import { isLoopback } from '../lib/service.js';
import { no } from './errors.js';
import { ConnectionClosedError, userKey, type ServiceContext, type Session, type SessionState } from './session.js';
import { capabilityList } from './capabilities.js';
import { dispatchCommand } from './dispatch.js';
import { endNotify } from './commands/notify.js';
import { badLine, byeLine, continuationLine, greetingLine } from './responses.js';

/** Pipelined commands buffered before the socket is paused (bounds memory per connection). */
const MAX_QUEUED = 64;
/** Bytes of pipelined commands buffered before the socket is paused (literals make commands large). */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/**
 * Longest run of pipelined commands handled without letting the event loop turn: commands that complete
 * without I/O (NOOP, FETCH FLAGS) resolve as microtasks, and a client pipelining megabytes of them held
 * every other connection for seconds.
 */
const PUMP_SLICE_MS = 10;
/** ... or this many commands, whichever comes first. */
const PUMP_SLICE_COMMANDS = 256;
/**
 * Output not yet taken by the client before the next command is started: a client that pipelines
 * commands without reading their responses stalls itself instead of growing server memory.
 */
const MAX_PENDING_OUTPUT = 1024 * 1024;
/**
 * Output sendAsync leaves corked without waiting for the socket (see sendAsync): a response of a few hundred
 * KB goes out with its tagged reply in one write, and a command streaming more waits as it goes.
 */
const HELD_OUTPUT = 256 * 1024;
/**
 * Literal cap before login: LOGIN and AUTHENTICATE never need more, and an anonymous client must not make
 * the server buffer APPENDLIMIT-sized literals (Dovecot also keeps pre-login input small).
 */
const PREAUTH_MAX_LITERAL = 8 * 1024;

export class ImapConnection implements Session {
  readonly id = randomBytes(6).toString('base64url');
  readonly remoteAddress: string;
  readonly logger: Logger;
  readonly #svc: ServiceContext;
  #socket: Socket;
  #secure: boolean;
  #deflate: zlib.DeflateRaw | null = null;
  #flushScheduled = false;
  /** The socket corked by #write until the next setImmediate, or null. */
  #autoCorked: Socket | null = null;
  readonly #autoUncork = (): void => this.#releaseAutoCork();
  #framer: Framer;
  #queue: FrameEvent[] = [];
  #queuedBytes = 0;
  #pumping = false;
  #lineWaiter: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | null = null;
  #closed = false;
  #paused = false;
  #timer: NodeJS.Timeout | null = null;
  /** Destroys the socket if the peer does not close within 5 s of end(); cleared at close, so a closed session is not kept alive by it. */
  #endTimer: NodeJS.Timeout | null = null;
  #state: SessionState = { kind: 'not-authenticated' };
  /** Runs while the session is not authenticated (limits.loginTimeoutMs). */
  #loginTimer: NodeJS.Timeout | null = null;
  readonly #enabled = new Set<string>();
  readonly #onData = (chunk: Buffer): void => this.#receive(chunk);
  #inflate: zlib.InflateRaw | null = null;
  /** Resolves when the connection has closed. */
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  /** Called once when the connection closes (the service's bookkeeping). */
  onClose: (() => void) | null = null;

  constructor(svc: ServiceContext, socket: Socket, secure: boolean) {
    this.#svc = svc;
    this.#socket = socket;
    this.#secure = secure;
    this.remoteAddress = socket.remoteAddress ?? '';
    this.logger = svc.logger.child({ conn: this.id, ip: this.remoteAddress });
    this.#framer = new Framer({
      maxLineLength: svc.limits.maxLineLength,
      maxLiteralSize: Math.min(PREAUTH_MAX_LITERAL, svc.limits.appendLimit),
      nonSyncLimit: LITERAL_MINUS_MAX,
      budget: svc.literalBudget ?? null,
    });
    this.closed = new Promise((r) => (this.#resolveClosed = r));
    this.#attach(socket);
    socket.on('close', () => this.#handleClose());
    this.#touch();
    this.#startLoginTimer();
  }

  /** A connection that has not logged in within limits.loginTimeoutMs gets BYE, whatever it sent meanwhile. */
  #startLoginTimer(): void {
    if (this.#loginTimer || this.#closed) return;
    this.#loginTimer = setTimeout(() => {
      this.#loginTimer = null;
      if (this.#state.kind !== 'not-authenticated') return;
      this.#svc.logger.info({ remoteAddress: this.remoteAddress }, 'imap login timeout');
      this.send(Buffer.from(byeLine('Disconnected: no login within the time allowed')));
      this.end();
    }, this.#svc.limits.loginTimeoutMs);
    this.#loginTimer.unref();
  }

  greet(): void {
    this.send(Buffer.from(greetingLine(this.capabilities(), this.#svc.hostname)));
  }

  // ---- Session ----
  get secure(): boolean {
    return this.#secure;
  }
  get compressed(): boolean {
    return this.#deflate !== null;
  }
  get state(): SessionState {
    return this.#state;
  }
  get enabled(): ReadonlySet<string> {
    return this.#enabled;
  }
  get utf8(): boolean {
    return this.#enabled.has('IMAP4REV2') || this.#enabled.has('UTF8=ACCEPT');
  }
  get condstore(): boolean {
    return this.#enabled.has('CONDSTORE');
  }
  get qresync(): boolean {
    return this.#enabled.has('QRESYNC');
  }
  get rev2(): boolean {
    return this.#enabled.has('IMAP4REV2');
  }

  enable(cap: string): void {
    this.#enabled.add(cap);
  }

  setState(state: SessionState): void {
    const prev = this.#state;
    if (prev.kind === 'selected' && (state.kind !== 'selected' || state.view !== prev.view)) prev.view.close();
    const prevUser = prev.kind === 'authenticated' || prev.kind === 'selected' ? prev.user.id : null;
    const nextUser = state.kind === 'authenticated' || state.kind === 'selected' ? state.user.id : null;
    // The new user's session was counted by LOGIN/AUTHENTICATE (commands/login.ts); leaving a user ends it.
    if (prevUser !== nextUser && prevUser !== null) this.#svc.userSessions.release(userKey(prevUser, this.remoteAddress));
    this.#state = state;
    const authenticated = state.kind === 'authenticated' || state.kind === 'selected';
    this.#framer.setMaxLiteralSize(authenticated ? this.#svc.limits.appendLimit : Math.min(PREAUTH_MAX_LITERAL, this.#svc.limits.appendLimit));
    // LITERAL- before login (non-synchronizing literals up to 4096 octets), LITERAL+ after (see capabilities.ts).
    this.#framer.setNonSyncLimit(authenticated ? Infinity : LITERAL_MINUS_MAX);
    // Back to not authenticated (UNAUTHENTICATE, RFC 8437 3): nothing the user enabled stays on.
    if (state.kind === 'not-authenticated') {
      this.#enabled.clear();
      this.#startLoginTimer();
    } else if (this.#loginTimer) {
      clearTimeout(this.#loginTimer);
      this.#loginTimer = null;
    }
  }

  capabilities(): string[] {
    return capabilityList(this.#svc, {
      authenticated: this.#state.kind === 'authenticated' || this.#state.kind === 'selected',
      secure: this.#secure,
      loopback: isLoopback(this.remoteAddress),
      compressed: this.#deflate !== null,
    });
  }

  decodeMailbox(raw: string): string {
    // The name nearly every SELECT and APPEND gives, the same in modified UTF-7 and UTF-8.
    if (raw === 'INBOX') return raw;
    let name = raw;
    if (!this.utf8) {
      try {
        name = decodeMailboxUtf7(raw);
      } catch (e) {
        if (e instanceof Utf7Error) throw no(`Mailbox name is not valid modified UTF-7: ${e.message}`);
        throw e;
      }
    }
    // Control characters never belong in a mailbox name (Dovecot refuses them too). Both refusals are NO, as
    // from Dovecot: the command is well-formed, the name just names no mailbox there can be.
    if (/[\x00-\x1f\x7f]/.test(name)) throw no('Mailbox name contains control characters');
    if (/^inbox$/i.test(name)) return 'INBOX';
    if (/^inbox\//i.test(name)) return 'INBOX' + name.slice(5);
    return name;
  }

  encodeMailbox(name: string): string {
    return this.utf8 ? name : encodeMailboxUtf7(name);
  }

  send(buf: Buffer): void {
    if (this.#closed) return;
    this.#write(buf);
  }

  async sendAsync(buf: Buffer): Promise<void> {
    // A command streaming output to a client that went away stops here (the dispatcher drops it silently),
    // instead of rendering the rest with nothing to wait on, which would starve every other connection.
    if (this.#closed) throw new ConnectionClosedError();
    // Up to HELD_OUTPUT stays corked with the rest of the turn's output (a FETCH BODY[] of a 40 KB message
    // and its tagged reply go out in one writev); past it, the writer waits for the socket.
    if (this.#write(buf) || (this.#deflate ?? this.#socket).writableLength < HELD_OUTPUT) return;
    await this.#drained();
    if (this.#closed) throw new ConnectionClosedError();
  }

  /** Resolves when the output stream has drained (or the connection closed). */
  async #drained(): Promise<void> {
    // A corked socket never drains: release the cork before waiting (writes after the wait cork again).
    while (this.#socket.writableCorked) this.#socket.uncork();
    this.#autoCorked = null;
    const stream: Writable = this.#deflate ?? this.#socket;
    if (!stream.writableNeedDrain) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        stream.off('drain', done);
        this.#socket.off('close', done);
        resolve();
      };
      stream.once('drain', done);
      this.#socket.once('close', done);
    });
  }

  cork(): void {
    if (!this.#deflate) this.#socket.cork();
  }

  uncork(): void {
    if (!this.#deflate) this.#socket.uncork();
  }

  #write(buf: Buffer): boolean {
    if (this.#deflate) {
      const r = this.#deflate.write(buf);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => {
          this.#flushScheduled = false;
          this.#deflate?.flush(zlib.constants.Z_SYNC_FLUSH);
        });
      }
      return r;
    }
    // Responses written in the same turn of the event loop (untagged data and the tagged reply) go out in
    // one writev instead of one write syscall each.
    if (!this.#autoCorked) {
      this.#autoCorked = this.#socket;
      this.#socket.cork();
      setImmediate(this.#autoUncork);
    }
    return this.#socket.write(buf);
  }

  /** Sends what #write corked (before the socket changes hands: STARTTLS, COMPRESS). */
  #releaseAutoCork(): void {
    const s = this.#autoCorked;
    this.#autoCorked = null;
    if (s && s.writableCorked) s.uncork();
  }

  /** A framed command is done with (run, or dropped): what its literals reserved goes back to the budget. */
  #done(ev: FrameEvent): void {
    if (ev.kind === 'command' && ev.held > 0) this.#svc.literalBudget?.give(ev.held);
  }

  /** Drops the queued commands (unrun) and any partial one. */
  #dropQueued(): void {
    for (const ev of this.#queue) this.#done(ev);
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#framer.reset();
  }

  #take(): FrameEvent | undefined {
    const ev = this.#queue.shift();
    if (ev?.kind === 'command') this.#queuedBytes -= ev.data.length;
    return ev;
  }

  readLine(): Promise<Buffer> {
    const ev = this.#take();
    if (ev) return this.#lineFromEvent(ev);
    if (this.#closed) return Promise.reject(new ConnectionClosedError());
    return new Promise((resolve, reject) => {
      this.#lineWaiter = { resolve, reject };
    });
  }

  #lineFromEvent(ev: FrameEvent): Promise<Buffer> {
    this.#done(ev);
    if (ev.kind === 'command') return Promise.resolve(ev.data);
    return Promise.resolve(Buffer.alloc(0));
  }

  async startTls(): Promise<void> {
    const ctx = this.#svc.secureContext;
    if (!ctx) throw new Error('TLS not configured');
    const raw = this.#socket;
    this.#releaseAutoCork();
    raw.off('data', this.#onData);
    // Anything pipelined after STARTTLS was sent in the clear and must not be executed (RFC 9051 6.2.1).
    this.#dropQueued();
    const tls = new TLSSocket(raw, { isServer: true, secureContext: ctx });
    tls.on('error', (e) => {
      this.logger.debug({ err: e.message }, 'TLS error');
      raw.destroy();
    });
    this.#socket = tls;
    this.#secure = true;
    this.#attach(tls);
  }

  startCompress(): void {
    const sock = this.#socket;
    this.#releaseAutoCork();
    sock.off('data', this.#onData);
    const inflate = zlib.createInflateRaw();
    const deflate = zlib.createDeflateRaw({ level: 6 });
    inflate.on('data', this.#onData);
    inflate.on('error', () => sock.destroy());
    deflate.on('data', (c: Buffer) => {
      if (!sock.write(c)) deflate.pause();
    });
    sock.on('drain', () => deflate.resume());
    deflate.on('error', () => sock.destroy());
    sock.on('data', (c: Buffer) => inflate.write(c));
    this.#inflate = inflate;
    this.#deflate = deflate;
    this.#framer.reset();
  }

  end(): void {
    if (this.#closed) return;
    if (this.#deflate) {
      // The last compressed bytes (e.g. BYE) come out of the readable side after end(): close after them.
      const d = this.#deflate;
      d.once('end', () => this.#socket.end());
      d.end();
    } else this.#socket.end();
    this.#endTimer ??= setTimeout(() => this.#socket.destroy(), 5000);
    this.#endTimer.unref();
  }

  /** Polite shutdown: BYE and close (service.close()). */
  shutdown(text: string): void {
    this.send(Buffer.from(byeLine(text)));
    this.end();
  }

  // ---- input ----
  #attach(sock: Socket): void {
    sock.on('data', this.#onData);
    sock.on('error', (e) => this.logger.debug({ err: e.message }, 'socket error'));
  }

  #receive(chunk: Buffer): void {
    if (this.#closed) return;
    this.#touch();
    const events = this.#framer.push(chunk);
    for (const ev of events) {
      if (ev.kind === 'continue') {
        this.send(Buffer.from(continuationLine('Ready for literal data')));
        continue;
      }
      if (ev.kind === 'fatal') {
        this.send(Buffer.from(byeLine(ev.reason)));
        this.#dropQueued();
        this.end();
        this.#socket.pause();
        return;
      }
      this.#queue.push(ev);
      if (ev.kind === 'command') this.#queuedBytes += ev.data.length;
    }
    if (this.#lineWaiter && this.#queue.length) {
      const w = this.#lineWaiter;
      this.#lineWaiter = null;
      void this.#lineFromEvent(this.#take()!).then(w.resolve, w.reject);
    }
    if ((this.#queue.length > MAX_QUEUED || this.#queuedBytes > MAX_QUEUED_BYTES) && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    let sliceStart = performance.now();
    let sliceCommands = 0;
    try {
      while (!this.#closed && this.#queue.length && this.#state.kind !== 'logout') {
        if (this.#lineWaiter) break;
        if (++sliceCommands > PUMP_SLICE_COMMANDS || performance.now() - sliceStart > PUMP_SLICE_MS) {
          await nextTurn();
          sliceStart = performance.now();
          sliceCommands = 0;
          continue;
        }
        if (this.#socket.writableLength > MAX_PENDING_OUTPUT) await this.#drained();
        if (this.#closed) break;
        const ev = this.#take();
        if (!ev) break;
        if (this.#paused && this.#queue.length < MAX_QUEUED / 4 && this.#queuedBytes < MAX_QUEUED_BYTES / 4) {
          this.#paused = false;
          this.#socket.resume();
        }
        try {
          await this.#handleEvent(ev);
        } catch (e) {
          // The dispatcher maps every failure itself; this is the last line of defence for the process.
          this.logger.error({ err: e instanceof Error ? e.stack : String(e) }, 'unhandled error in command processing');
          this.send(Buffer.from(badLine('Internal error')));
        } finally {
          this.#done(ev);
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  async #handleEvent(ev: FrameEvent): Promise<void> {
    switch (ev.kind) {
      case 'command':
        await dispatchCommand(this.#svc, this, ev.data);
        return;
      case 'too-long':
        this.send(Buffer.from(`${ev.tag ?? '*'} BAD Command line too long\r\n`));
        return;
      case 'literal-too-big':
        this.send(Buffer.from(`${ev.tag ?? '*'} NO [TOOBIG] Literal of ${ev.size} octets exceeds the limit of ${this.#framer.maxLiteralSize}\r\n`));
        return;
      case 'literal-busy':
        // The literal was refused before it was buffered (a synchronizing one was never sent); try later.
        this.send(Buffer.from(`${ev.tag ?? '*'} NO [UNAVAILABLE] Too much literal data in flight on this server; try again later\r\n`));
        return;
      case 'non-sync-too-big':
        // RFC 7888 section 4: the framer skipped the octets and the rest of the command; the connection goes on.
        this.send(Buffer.from(`${ev.tag ?? '*'} BAD [TOOBIG] Non-synchronizing literal of ${ev.size} octets: LITERAL- allows ${LITERAL_MINUS_MAX} at most\r\n`));
        return;
      default:
        return;
    }
  }

  #touch(): void {
    if (this.#timer) this.#timer.refresh();
    else {
      this.#timer = setTimeout(() => {
        this.send(Buffer.from(byeLine('Autologout; idle for too long')));
        this.end();
      }, this.#svc.limits.idleTimeoutMs);
      this.#timer.unref();
    }
  }

  #handleClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#endTimer) clearTimeout(this.#endTimer);
    if (this.#loginTimer) clearTimeout(this.#loginTimer);
    if (this.#lineWaiter) {
      this.#lineWaiter.reject(new ConnectionClosedError());
      this.#lineWaiter = null;
    }
    this.#dropQueued();
    this.#inflate?.destroy();
    this.#deflate?.destroy();
    this.setState({ kind: 'logout' });
    endNotify(this);
    this.onClose?.();
    this.#resolveClosed();
  }
}


/**
 * One ManageSieve connection (RFC 5804): the greeting (capabilities, then OK), commands run one at a time in
 * order, STARTTLS (the server re-sends its capabilities after the handshake, 2.2), SASL continuations,
 * autologout, a login deadline (loginTimeoutMs, however busy the client keeps itself; it runs again after
 * UNAUTHENTICATE), a STARTTLS handshake deadline, and limits: bad commands and failed logins per connection,
 * after which the server says BYE.
 * Works on any Duplex stream (TCP, TLS, or an in-memory pair in tests).
 */
import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from '../lib/logger.js';
import { drainWithin } from '../lib/drain.js';
import { CommandFramer, type Framed, type Token } from './framer.js';
import { capability, dispatch, type CommandContext, type Reply, type SessionState } from './commands.js';
import { msResponse, msString } from './response.js';
import type { ManageSieveShared } from './options.js';

/** Bad or unknown commands tolerated per connection (Dovecot closes after 20 as well). */
export const MAX_BAD_COMMANDS = 20;
/** Failed logins per connection before BYE (the Authenticator throttles across connections). */
export const MAX_AUTH_FAILURES = 5;
/** Commands framed but not yet run; beyond this the socket is not read until the queue drains. */
const MAX_QUEUED = 32;
/** Pipelined commands run before the event loop is let turn (or this many milliseconds, whichever first). */
const PIPELINE_SLICE_COMMANDS = 256;
const PIPELINE_SLICE_MS = 10;
/**
 * Past the login deadline, a connection whose session is not waiting for input (a write the client does not
 * read, a hanging TLS handshake, a slow command) is cut after this long if it has not ended by itself.
 */
const LOGIN_DEADLINE_GRACE_MS = 10_000;
const LOGIN_TIMEOUT_TEXT = 'Disconnected: no login within the time allowed.';

type Next = Framed | { kind: 'eof' } | { kind: 'timeout' } | { kind: 'shutdown' } | { kind: 'login-timeout' };

export interface ConnectionInfo {
  remoteAddress: string;
  secure: boolean;
}

class Gone extends Error {}

export class ManageSieveConnection {
  readonly id = randomBytes(6).toString('hex');
  readonly #shared: ManageSieveShared;
  readonly #log: Logger;
  readonly #remote: string;
  #stream: Duplex;
  #secure: boolean;
  #state: SessionState = { kind: 'anonymous' };
  readonly #framer: CommandFramer;
  readonly #queue: Next[] = [];
  #waiter: ((n: Next) => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #eof = false;
  #paused = false;
  #shuttingDown = false;
  #bad = 0;
  #authFailures = 0;
  /** Runs while the session is anonymous (loginTimeoutMs); #loginExpired once it fired before a login. */
  #loginTimer: NodeJS.Timeout | null = null;
  #loginGrace: NodeJS.Timeout | null = null;
  #loginExpired = false;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;

  constructor(stream: Duplex, info: ConnectionInfo, shared: ManageSieveShared) {
    this.#stream = stream;
    this.#secure = info.secure;
    this.#remote = info.remoteAddress;
    this.#shared = shared;
    this.#framer = new CommandFramer(shared.maxLine, shared.maxLiteral);
    this.#log = shared.logger.child({ conn: this.id, remote: info.remoteAddress, svc: 'managesieve' });
    this.closed = new Promise((r) => (this.#resolveClosed = r));
    this.#attach(stream);
  }

  async run(): Promise<void> {
    try {
      const ctx = this.#context();
      this.#armLoginTimer();
      await this.#write(Buffer.concat([capability(ctx), msResponse('OK', null, 'mailroom ManageSieve ready.')]));
      await this.#loop(ctx);
    } catch (e) {
      if (!(e instanceof Gone)) this.#log.error({ err: e instanceof Error ? e.message : String(e) }, 'managesieve connection failed');
    } finally {
      if (this.#timer) clearTimeout(this.#timer);
      if (this.#loginTimer) clearTimeout(this.#loginTimer);
      if (this.#loginGrace) clearTimeout(this.#loginGrace);
      this.#stream.end();
      setTimeout(() => this.#stream.destroy(), 2000).unref();
      this.#resolveClosed();
    }
  }

  /** Ends the session: at once when idle, after the running command otherwise. */
  shutdown(): void {
    this.#shuttingDown = true;
    this.#wake({ kind: 'shutdown' });
  }

  /** Starts the login deadline (at the greeting and again after UNAUTHENTICATE). */
  #armLoginTimer(): void {
    if (this.#loginTimer) clearTimeout(this.#loginTimer);
    this.#loginExpired = false;
    this.#loginTimer = setTimeout(() => {
      this.#loginTimer = null;
      if (this.#state.kind !== 'anonymous') return;
      this.#loginExpired = true;
      this.#log.info({}, 'managesieve login timeout');
      if (this.#waiter) this.#wake({ kind: 'login-timeout' });
      else {
        // Busy (a blocked write, a TLS handshake): the loop says BYE when it next turns; if it does not, cut.
        this.#loginGrace = setTimeout(() => this.#stream.destroy(), LOGIN_DEADLINE_GRACE_MS);
        this.#loginGrace.unref();
      }
    }, this.#shared.loginTimeoutMs);
    this.#loginTimer.unref();
  }

  /** True when the login deadline passed and the session is still anonymous. */
  get #loginOverdue(): boolean {
    return this.#loginExpired && this.#state.kind === 'anonymous';
  }

  async #loop(ctx: CommandContext): Promise<void> {
    let sliceStart = performance.now();
    let sliceCommands = 0;
    for (;;) {
      // Pipelined commands that need no I/O complete as microtasks: let the event loop turn between slices
      // of them, or one client's flood of NOOPs holds every other connection.
      if (++sliceCommands > PIPELINE_SLICE_COMMANDS || performance.now() - sliceStart > PIPELINE_SLICE_MS) {
        await nextTurn();
        sliceStart = performance.now();
        sliceCommands = 0;
      }
      const next = await this.#next();
      if (next.kind === 'eof') return;
      // However busy the client keeps itself (NOOP, CAPABILITY, a SASL exchange), the login has a deadline.
      if (this.#loginOverdue) return this.#write(msResponse('BYE', null, LOGIN_TIMEOUT_TEXT));
      if (next.kind === 'timeout') return this.#write(msResponse('BYE', null, 'Disconnected for inactivity.'));
      if (next.kind === 'shutdown') return this.#write(msResponse('BYE', 'TRYLATER', 'Server shutting down.'));
      let reply: Reply;
      if (next.kind === 'bad') reply = { out: msResponse('NO', null, next.message), counts: 'bad-command' };
      else if (next.kind === 'too-big') {
        reply = next.atom === 'PUTSCRIPT' || next.atom === 'CHECKSCRIPT' ? { out: msResponse('NO', 'QUOTA/MAXSIZE', 'Script is too large') } : { out: msResponse('NO', null, 'Literal too large'), counts: 'bad-command' };
      } else if (next.kind === 'login-timeout') continue;
      else {
        const before = this.#state.kind;
        reply = await dispatch(ctx, next.tokens);
        if (before === 'authenticated' && (this.#state as SessionState).kind === 'anonymous') this.#armLoginTimer();
      }
      if (this.#loginOverdue) return this.#write(Buffer.concat([reply.out, msResponse('BYE', null, LOGIN_TIMEOUT_TEXT)]));
      reply = this.#limits(reply);
      if (reply.after === 'starttls') {
        await this.#startTls(reply, ctx);
        continue;
      }
      await this.#write(reply.out);
      if (reply.after === 'close') return;
      if (this.#shuttingDown) return this.#write(msResponse('BYE', 'TRYLATER', 'Server shutting down.'));
    }
  }

  #limits(reply: Reply): Reply {
    if (reply.counts === 'bad-command' && ++this.#bad >= MAX_BAD_COMMANDS) {
      return { out: Buffer.concat([reply.out, msResponse('BYE', null, 'Too many invalid commands.')]), after: 'close' };
    }
    if (reply.counts === 'auth-failure' && ++this.#authFailures >= MAX_AUTH_FAILURES) {
      return { out: Buffer.concat([reply.out, msResponse('BYE', null, 'Too many authentication failures.')]), after: 'close' };
    }
    return reply;
  }

  #context(): CommandContext {
    const conn = this;
    return {
      shared: this.#shared,
      log: this.#log,
      remoteAddress: this.#remote,
      get secure() {
        return conn.#secure;
      },
      get state() {
        return conn.#state;
      },
      set state(s: SessionState) {
        conn.#state = s;
      },
      challenge: async (data: string): Promise<Token[] | null> => {
        await this.#write(Buffer.concat([msString(Buffer.from(data, 'utf8').toString('base64')), Buffer.from('\r\n')]));
        const n = await this.#next();
        if (n.kind === 'command') return n.tokens;
        if (n.kind === 'bad' || n.kind === 'too-big') return [];
        return null;
      },
    };
  }

  /** RFC 5804 2.2: nothing pipelined after STARTTLS is used; after the handshake the capabilities again. */
  async #startTls(reply: Reply, ctx: CommandContext): Promise<void> {
    const context = this.#shared.secureContext;
    if (!context) throw new Error('STARTTLS without a TLS context');
    const raw = this.#stream;
    this.#detach(raw);
    raw.pause();
    this.#queue.length = 0;
    this.#framer.reset();
    await this.#write(reply.out);
    const tls = new TLSSocket(raw, { isServer: true, secureContext: context });
    tls.on('error', this.#onError);
    const timer = setTimeout(() => tls.destroy(new Error('TLS handshake timeout')), this.#shared.tlsHandshakeTimeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        tls.once('secure', resolve);
        tls.once('error', reject);
        tls.once('close', () => reject(new Error('closed during TLS handshake')));
      });
    } catch (e) {
      this.#log.info({ err: e instanceof Error ? e.message : String(e) }, 'managesieve STARTTLS handshake failed');
      tls.destroy();
      raw.destroy();
      throw new Gone();
    } finally {
      clearTimeout(timer);
    }
    this.#stream = tls;
    this.#secure = true;
    this.#paused = false;
    this.#eof = false;
    this.#attach(tls);
    await this.#write(Buffer.concat([capability(ctx), msResponse('OK', null, 'TLS negotiation successful.')]));
  }

  readonly #onData = (chunk: Buffer): void => {
    for (const item of this.#framer.push(chunk)) {
      if (this.#waiter) this.#wake(item);
      else this.#queue.push(item);
    }
    if (this.#queue.length >= MAX_QUEUED && !this.#paused) {
      this.#paused = true;
      this.#stream.pause();
    }
  };
  readonly #onEnd = (): void => {
    this.#eof = true;
    this.#wake({ kind: 'eof' });
  };
  readonly #onError = (e: Error): void => {
    this.#log.debug({ err: e.message }, 'managesieve socket error');
  };

  #attach(s: Duplex): void {
    s.on('data', this.#onData);
    s.on('end', this.#onEnd);
    s.on('close', this.#onEnd);
    if (!s.listeners('error').includes(this.#onError)) s.on('error', this.#onError);
  }

  #detach(s: Duplex): void {
    s.off('data', this.#onData);
    s.off('end', this.#onEnd);
    s.off('close', this.#onEnd);
  }

  #next(): Promise<Next> {
    const queued = this.#queue.shift();
    if (queued) {
      if (this.#paused && this.#queue.length < MAX_QUEUED / 2) {
        this.#paused = false;
        this.#stream.resume();
      }
      return Promise.resolve(queued);
    }
    if (this.#eof) return Promise.resolve({ kind: 'eof' });
    if (this.#shuttingDown) return Promise.resolve({ kind: 'shutdown' });
    return new Promise((resolve) => {
      this.#waiter = resolve;
      this.#timer = setTimeout(() => this.#wake({ kind: 'timeout' }), this.#shared.idleTimeoutMs);
      this.#timer.unref();
    });
  }

  #wake(n: Next): void {
    const w = this.#waiter;
    if (!w) return;
    this.#waiter = null;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    w(n);
  }

  /** Writes with backpressure; a client that stops reading for the idle timeout is dropped. */
  async #write(data: Buffer): Promise<void> {
    const s = this.#stream;
    if (s.destroyed || s.writableEnded) throw new Gone();
    if (data.length === 0 || s.write(data)) return;
    await drainWithin(s, this.#shared.idleTimeoutMs, () => new Gone());
  }
}

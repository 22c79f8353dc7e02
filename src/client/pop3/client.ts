/**
 * A small POP3 client: RFC 1939 (commands, multi-line responses with dot-stuffing), RFC 2449 (CAPA,
 * response codes), RFC 2595 (STLS), RFC 5034 (AUTH PLAIN with initial response). Bytes are Buffers
 * throughout, so 8-bit message content passes through unchanged.
 *
 * One command at a time; every method rejects with a ClientError: AUTH for a refused login, PROTOCOL for
 * any other -ERR, NETWORK when the connection drops, UNREACHABLE/TLS from connect().
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { createHash } from 'node:crypto';
import { ClientError, classifyError } from '../errors.js';
import { unstuff } from '../../lib/dotstuff.js';
import { DEFAULT_STALL, StallWatch, stallText, type StallRule } from '../stall.js';

export type Security = 'tls' | 'starttls' | 'plain';

export interface Pop3ConnectOptions {
  host: string;
  port: number;
  security: Security;
  /** Extra trusted CA certificates (PEM). */
  ca?: string | Buffer;
  /** Inactivity timeout per command, default 60 s. */
  timeoutMs?: number;
  /** Largest single response line accepted (RFC 2449 allows 512 octets; we are generous). */
  maxLineBytes?: number;
  /** The account, named in errors. */
  account?: string;
  /** The progress rule while a response is awaited (stall.ts; its default when absent). */
  stall?: StallRule;
}

const CRLF = Buffer.from('\r\n');
/** Received but unread bytes above which the socket is paused (bounded memory whatever the server sends). */
const RECEIVE_HIGH_WATER = 1024 * 1024;
const TERMINATOR = Buffer.from('\r\n.\r\n');
/**
 * The most a multi-line response held in memory may take (CAPA, LIST, UIDL of a million messages fit): a
 * server that never sends the final "." is refused past it instead of filling memory.
 */
export const MAX_MULTILINE_BYTES = 32 * 1024 * 1024;

/**
 * How far a message may run past its LIST size before the server is judged broken (RFC 1939 says LIST gives
 * the exact size; a little slack for servers that count bare LFs): twice the size plus 1 MB.
 */
export function retrLimit(listedSize: number): number {
  return 2 * Math.max(0, listedSize) + 1024 * 1024;
}

export interface Pop3ListEntry {
  msgno: number;
  size: number;
}
export interface Pop3UidlEntry {
  msgno: number;
  uidl: string;
}

export class Pop3Client {
  private socket: Socket | TLSSocket;
  /** Received bytes not consumed yet: `buf`, then the chunks queued after it (joined only when needed). */
  private buf: Buffer = Buffer.alloc(0);
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  private waiter: (() => void) | null = null;
  private failure: ClientError | null = null;
  private readonly where: string;
  private readonly timeoutMs: number;
  private readonly maxLine: number;
  private readonly watch: StallWatch;
  /** Responses read whole so far, and whether one is being read (what the progress rule judges). */
  private answered = 0;
  private reading = false;
  /** The greeting's APOP timestamp ("<...@...>") if any. */
  apopTimestamp: string | null = null;
  capabilities: Map<string, string[]> = new Map();
  secure: boolean;

  private constructor(socket: Socket | TLSSocket, where: string, secure: boolean, opts: Pop3ConnectOptions) {
    this.socket = socket;
    this.where = where;
    this.secure = secure;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.maxLine = opts.maxLineBytes ?? 64 * 1024;
    const rule = opts.stall ?? DEFAULT_STALL;
    const label = opts.account ? `account ${opts.account}: ${where}` : where;
    this.watch = new StallWatch(
      rule,
      () => (this.reading ? this.answered : null),
      (s) => {
        this.fail(new ClientError('NETWORK', `${label} ${stallText(s, rule)}: connection closed (messages already downloaded are kept)`));
        this.socket.destroy();
      },
    );
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.queued.push(chunk);
      this.queuedBytes += chunk.length;
      this.watch.data(chunk.length);
      // Backpressure: a fast server filling our buffer waits until we consumed it (pipelined RETRs).
      if (this.queuedBytes >= RECEIVE_HIGH_WATER) socket.pause();
      this.wake();
    });
    socket.on('error', (err) => {
      this.fail(classifyError(err, this.where));
    });
    socket.on('close', () => {
      this.fail(new ClientError('NETWORK', `connection to ${this.where} was closed by the server`));
    });
    socket.setTimeout(this.timeoutMs, () => {
      this.fail(new ClientError('NETWORK', `no answer from ${this.where} within ${Math.round(this.timeoutMs / 1000)} s`));
      socket.destroy();
    });
  }

  private fail(err: ClientError): void {
    this.watch.stop();
    if (!this.failure) this.failure = err;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Appends the bytes received since the last call to `buf`, waiting for some when there are none. */
  private async more(): Promise<void> {
    if (!this.queued.length) {
      if (this.failure) throw this.failure;
      this.socket.resume();
      this.reading = true;
      try {
        await new Promise<void>((resolve) => {
          this.waiter = resolve;
        });
      } finally {
        this.reading = false;
      }
      if (!this.queued.length && this.failure) throw this.failure;
    }
    this.buf = Buffer.concat([this.buf, ...this.queued]);
    this.queued = [];
    this.queuedBytes = 0;
    this.socket.resume();
  }

  /** Opens the connection, reads the greeting, asks CAPA and upgrades with STLS when security is 'starttls'. */
  static async connect(opts: Pop3ConnectOptions): Promise<Pop3Client> {
    const where = `${opts.host}:${opts.port}`;
    const socket = await openSocket(opts, where);
    const client = new Pop3Client(socket, where, opts.security === 'tls', opts);
    try {
      const greeting = await client.readStatus();
      const m = /<[^<>\s]+@[^<>\s]+>/.exec(greeting);
      client.apopTimestamp = m ? m[0] : null;
      await client.capa();
      if (opts.security === 'starttls') {
        if (!client.capabilities.has('STLS')) {
          throw new ClientError('CAPABILITY', `${where} does not offer STLS (RFC 2595): use --tls, or --insecure-plain on a trusted network`);
        }
        await client.command('STLS');
        await client.upgrade(opts);
        await client.capa();
      }
      return client;
    } catch (e) {
      client.close();
      throw e;
    }
  }

  private async upgrade(opts: Pop3ConnectOptions): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    plain.setTimeout(0);
    const secure = await new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ socket: plain, servername: isIp(opts.host) ? undefined : opts.host, ca: opts.ca ? [opts.ca] : undefined }, () => resolve(s));
      s.once('error', (e) => reject(classifyError(e, this.where)));
    });
    this.socket = secure;
    this.secure = true;
    this.buf = Buffer.alloc(0);
    this.queued = [];
    this.queuedBytes = 0;
    this.attach(secure);
  }

  /** Reads one CRLF-terminated line without the CRLF. */
  private async readLine(): Promise<Buffer> {
    for (;;) {
      const i = this.buf.indexOf(CRLF);
      if (i >= 0) {
        const line = this.buf.subarray(0, i);
        this.buf = this.buf.subarray(i + 2);
        return line;
      }
      if (this.buf.length > this.maxLine) throw new ClientError('PROTOCOL', `${this.where} sent a response line longer than ${this.maxLine} bytes`);
      await this.more();
    }
  }

  /** Reads a status line; resolves with the text after "+OK", rejects on "-ERR". */
  private async readStatus(): Promise<string> {
    const line = (await this.readLine()).toString('utf8');
    this.answered++;
    if (line.startsWith('+OK')) return line.slice(3).trim();
    if (line.startsWith('-ERR')) {
      const text = line.slice(4).trim();
      const code = responseCode(text);
      if (code === 'AUTH' || code.startsWith('AUTH')) throw new ClientError('AUTH', `login to ${this.where} failed: wrong user name or password (${text})`);
      if (TEMPORARY_CODES.has(code)) throw new ClientError('TEMPORARY', `${this.where} cannot serve the account right now, try again later (${text})`);
      throw new ClientError('PROTOCOL', `${this.where}: ${text || '-ERR'}`);
    }
    throw new ClientError('PROTOCOL', `${this.where} sent an unexpected line: ${line.slice(0, 80)}`);
  }

  /**
   * Reads a multi-line body up to the ".CRLF" terminator and removes dot-stuffing (RFC 1939 section 3).
   * The result keeps every line's CRLF; bytes are passed through untouched.
   */
  private async readMultiline(limit = MAX_MULTILINE_BYTES): Promise<Buffer> {
    let scanFrom = 0;
    for (;;) {
      // An empty body is just ".\r\n".
      if (this.buf.length >= 3 && this.buf[0] === 0x2e && this.buf[1] === 0x0d && this.buf[2] === 0x0a) {
        this.buf = this.buf.subarray(3);
        this.answered++;
        return Buffer.alloc(0);
      }
      const i = this.buf.indexOf(TERMINATOR, scanFrom);
      if (i >= 0) {
        const raw = this.buf.subarray(0, i + 2);
        this.buf = this.buf.subarray(i + 5);
        this.answered++;
        return unstuff(raw);
      }
      scanFrom = Math.max(0, this.buf.length - TERMINATOR.length + 1);
      if (this.buf.length > limit) this.tooLong(limit);
      await this.more();
    }
  }

  /** A response past its bound: the connection is closed (the rest of it is never read). */
  private tooLong(limit: number): never {
    const err = new ClientError('PROTOCOL', `${this.where} sent a multi-line response over ${limit} bytes without its final "." (broken or hostile server)`);
    this.fail(err);
    this.socket.destroy();
    throw err;
  }

  private write(line: string): void {
    if (this.failure) throw this.failure;
    this.socket.write(line + '\r\n');
  }

  /** Sends a command and returns its +OK text. */
  async command(line: string): Promise<string> {
    this.write(line);
    return this.readStatus();
  }

  /** CAPA (RFC 2449). An -ERR means the server has none of the extensions; the map stays empty. */
  async capa(): Promise<Map<string, string[]>> {
    this.write('CAPA');
    const caps = new Map<string, string[]>();
    try {
      await this.readStatus();
    } catch (e) {
      if (e instanceof ClientError && e.code === 'PROTOCOL') {
        this.capabilities = caps;
        return caps;
      }
      throw e;
    }
    const body = await this.readMultiline();
    for (const line of body.toString('utf8').split('\r\n')) {
      const parts = line.trim().split(/\s+/).filter(Boolean);
      const name = parts.shift();
      if (name) caps.set(name.toUpperCase(), parts);
    }
    this.capabilities = caps;
    return caps;
  }

  /**
   * Logs in: APOP when the greeting offered it and the connection is not encrypted (the password never
   * crosses the wire), otherwise SASL PLAIN when CAPA lists it (RFC 5034, initial response), else USER/PASS.
   * A server offers APOP to everyone but can check it only for users whose secret it keeps in clear, so an
   * APOP refusal that is not temporary ([SYS/...], [IN-USE], [LOGIN-DELAY]) moves on to the next mechanism.
   */
  async login(user: string, password: string): Promise<'APOP' | 'PLAIN' | 'USER'> {
    if (this.apopTimestamp && !this.secure) {
      const digest = createHash('md5').update(this.apopTimestamp + password, 'utf8').digest('hex');
      try {
        await this.command(`APOP ${user} ${digest}`);
        return 'APOP';
      } catch (e) {
        const refused = e instanceof ClientError && (e.code === 'AUTH' || (e.code === 'PROTOCOL' && !/\[SYS\//i.test(e.message)));
        if (!refused) throw asAuth(e, this.where);
      }
    }
    const sasl = this.capabilities.get('SASL')?.map((m) => m.toUpperCase()) ?? [];
    if (sasl.includes('PLAIN')) {
      const token = Buffer.from(`\u0000${user}\u0000${password}`, 'utf8').toString('base64');
      await this.command(`AUTH PLAIN ${token}`).catch((e: unknown) => {
        throw asAuth(e, this.where);
      });
      return 'PLAIN';
    }
    if (this.capabilities.size > 0 && !this.capabilities.has('USER') && sasl.length > 0) {
      throw new ClientError('CAPABILITY', `${this.where} offers neither USER/PASS nor SASL PLAIN (only ${sasl.join(', ')})`);
    }
    await this.command(`USER ${user}`).catch((e: unknown) => {
      throw asAuth(e, this.where);
    });
    await this.command(`PASS ${password}`).catch((e: unknown) => {
      throw asAuth(e, this.where);
    });
    return 'USER';
  }

  async stat(): Promise<{ count: number; size: number }> {
    const t = await this.command('STAT');
    const [c, s] = t.split(/\s+/);
    return { count: Number(c ?? 0), size: Number(s ?? 0) };
  }

  async list(): Promise<Pop3ListEntry[]> {
    await this.command('LIST');
    const body = await this.readMultiline();
    const out: Pop3ListEntry[] = [];
    for (const line of body.toString('latin1').split('\r\n')) {
      const m = /^(\d+)\s+(\d+)/.exec(line);
      if (m) out.push({ msgno: Number(m[1]), size: Number(m[2]) });
    }
    return out;
  }

  /** UIDL for every message, or null when the server does not support UIDL. */
  async uidl(): Promise<Pop3UidlEntry[] | null> {
    try {
      await this.command('UIDL');
    } catch (e) {
      if (e instanceof ClientError && e.code === 'PROTOCOL') return null;
      throw e;
    }
    const body = await this.readMultiline();
    const out: Pop3UidlEntry[] = [];
    for (const line of body.toString('latin1').split('\r\n')) {
      const m = /^(\d+)\s+([\x21-\x7e]+)\s*$/.exec(line);
      if (m && m[2]) out.push({ msgno: Number(m[1]), uidl: uidlKey(m[2]) });
    }
    return out;
  }

  /** True when the server announced PIPELINING (RFC 2449 section 6.6). */
  get pipelining(): boolean {
    return this.capabilities.has('PIPELINING');
  }

  /**
   * RETR of several messages; with PIPELINING all commands are sent at once and the responses read in
   * order (responses are buffered as they arrive, so the server never blocks on a full socket). Yields each
   * message as soon as it is complete.
   */
  async *retrMany(msgnos: number[], limitOf: (msgno: number) => number = () => MAX_MULTILINE_BYTES): AsyncGenerator<{ msgno: number; raw: Buffer }> {
    if (!this.pipelining) {
      for (const n of msgnos) yield { msgno: n, raw: await this.retr(n, limitOf(n)) };
      return;
    }
    if (this.failure) throw this.failure;
    this.socket.write(msgnos.map((n) => `RETR ${n}\r\n`).join(''));
    for (const n of msgnos) {
      await this.readStatus();
      yield { msgno: n, raw: await this.readMultiline(limitOf(n)) };
    }
  }

  /** DELE of several messages (pipelined when the server allows it). */
  async deleMany(msgnos: number[]): Promise<void> {
    if (!this.pipelining) {
      for (const n of msgnos) await this.dele(n);
      return;
    }
    if (this.failure) throw this.failure;
    this.socket.write(msgnos.map((n) => `DELE ${n}\r\n`).join(''));
    let firstError: unknown = null;
    for (let i = 0; i < msgnos.length; i++) {
      try {
        await this.readStatus();
      } catch (e) {
        if (!(e instanceof ClientError) || e.code !== 'PROTOCOL') throw e;
        firstError ??= e;
      }
    }
    if (firstError) throw firstError;
  }

  /** RETR held in memory; more than `limit` bytes without the final "." is a PROTOCOL error. */
  async retr(msgno: number, limit = MAX_MULTILINE_BYTES): Promise<Buffer> {
    await this.command(`RETR ${msgno}`);
    return this.readMultiline(limit);
  }

  /**
   * RETR of one message handed to `write` piece by piece as it arrives, dot-stuffing removed (RFC 1939
   * section 3), so a message of any size passes through a bounded amount of memory. `write` is awaited
   * before more is read. Rejects as the other commands do; a `write` failure rejects with that error (the
   * connection is then unusable: the rest of the response was not read).
   */
  async retrStream(msgno: number, write: (chunk: Buffer) => Promise<void>, limit = Infinity): Promise<void> {
    await this.command(`RETR ${msgno}`);
    let atLineStart = true;
    let total = 0;
    for (;;) {
      const b = this.buf;
      const parts: Buffer[] = [];
      let pos = 0;
      let done = false;
      while (pos < b.length) {
        if (atLineStart) {
          if (b[pos] === 0x2e) {
            if (b.length - pos < 3) break; // "." then CRLF ends the response: wait for the next bytes
            if (b[pos + 1] === 0x0d && b[pos + 2] === 0x0a) {
              pos += 3;
              done = true;
              break;
            }
            pos++; // a stuffed dot
          }
          atLineStart = false;
        }
        const i = b.indexOf(CRLF, pos);
        if (i >= 0) {
          parts.push(b.subarray(pos, i + 2));
          pos = i + 2;
          atLineStart = true;
          continue;
        }
        // The rest of a line: pass it on but for a trailing CR (it may begin the CRLF that ends the line).
        const end = b[b.length - 1] === 0x0d ? b.length - 1 : b.length;
        if (end > pos) parts.push(b.subarray(pos, end));
        pos = end;
        break;
      }
      this.buf = b.subarray(pos);
      total += pos;
      if (total > limit) this.tooLong(limit);
      if (parts.length) await write(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts));
      if (done) {
        this.answered++;
        return;
      }
      await this.more();
    }
  }

  /** TOP msg n (the header and the first n body lines); optional in RFC 1939. */
  async top(msgno: number, lines: number, limit = MAX_MULTILINE_BYTES): Promise<Buffer> {
    await this.command(`TOP ${msgno} ${lines}`);
    return this.readMultiline(limit);
  }

  async dele(msgno: number): Promise<void> {
    await this.command(`DELE ${msgno}`);
  }

  /** QUIT: the server commits deletions (UPDATE state) before its +OK. */
  async quit(): Promise<void> {
    try {
      await this.command('QUIT');
    } finally {
      this.close();
    }
  }

  close(): void {
    this.watch.stop();
    this.socket.removeAllListeners('close');
    this.socket.on('error', () => {});
    this.socket.destroy();
    this.failure ??= new ClientError('NETWORK', `connection to ${this.where} is closed`);
  }
}

/**
 * Response codes (RFC 2449 section 8, RFC 3206) saying the refusal is temporary: the mailbox is locked by
 * another session, logins come too often, or the server has a passing trouble. The password was not judged.
 */
const TEMPORARY_CODES = new Set(['IN-USE', 'LOGIN-DELAY', 'SYS/TEMP']);

/** The response code of an -ERR text ("[IN-USE] locked" -> "IN-USE"), upper case; '' when none. */
function responseCode(text: string): string {
  return /^\[([^\]]+)\]/.exec(text)?.[1]?.toUpperCase() ?? '';
}

/**
 * A refused USER/PASS/AUTH is a wrong user or password unless the server gave a response code that says
 * otherwise (a temporary one is already TEMPORARY; [SYS/PERM] is the server's own failure, RFC 3206).
 */
function asAuth(e: unknown, where: string): unknown {
  if (e instanceof ClientError && e.code === 'PROTOCOL' && !responseCode(e.message.replace(`${where}: `, '')).startsWith('SYS/')) {
    return new ClientError('AUTH', `login to ${where} failed: wrong user name or password (${e.message.replace(`${where}: `, '')})`);
  }
  return e;
}

/**
 * A UIDL as we keep it: as sent when it has the 1 to 70 characters RFC 1939 section 7 allows; a longer one
 * (never cut: two long ids sharing a prefix would merge) becomes "~" and the SHA-256 of it, in hex.
 */
export function uidlKey(uidl: string): string {
  return uidl.length <= 70 ? uidl : `~${createHash('sha256').update(uidl, 'latin1').digest('hex')}`;
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}

function openSocket(opts: Pop3ConnectOptions, where: string): Promise<Socket | TLSSocket> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      s.destroy();
      reject(new ClientError('UNREACHABLE', `cannot reach ${where}: connection timed out`));
    }, opts.timeoutMs ?? 30_000);
    timer.unref();
    const done = (err: Error | null): void => {
      clearTimeout(timer);
      if (err) reject(classifyError(err, where));
      else resolve(s);
    };
    const s: Socket | TLSSocket =
      opts.security === 'tls'
        ? tlsConnect({ host: opts.host, port: opts.port, servername: isIp(opts.host) ? undefined : opts.host, ca: opts.ca ? [opts.ca] : undefined }, () =>
            done(null),
          )
        : netConnect({ host: opts.host, port: opts.port }, () => done(null));
    s.once('error', (e) => done(e));
  });
}

/**
 * Shared by the POP3 end-to-end tests: a service over a fresh SQLite store on 127.0.0.1 port 0, and a raw
 * socket client that reads status lines and dot-terminated bodies as bytes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { Duplex, PassThrough } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import type { MailStore, Mailbox, User } from '../src/store/types.js';
import { Authenticator, hashPassword, type AuthenticatorOptions } from '../src/auth/index.js';
import { Pop3Service } from '../src/pop3-server/service.js';
import type { Pop3ServiceOptions } from '../src/pop3-server/options.js';
import { silentLogger } from '../src/lib/logger.js';

export const USER = 'alice@example.org';
export const PASSWORD = 'correct horse';

export interface Pop3Fixture {
  dataDir: string;
  store: MailStore;
  auth: Authenticator;
  svc: Pop3Service;
  port: number;
  user: User;
  inbox: Mailbox;
  append(raw: string | Buffer, flags?: string[]): Promise<{ uid: number; emailId: string }>;
  close(): Promise<void>;
}

type ExtraOptions = Partial<Omit<Pop3ServiceOptions, 'store' | 'auth'>> & { implicitTls?: boolean; passwordHash?: string; authOptions?: AuthenticatorOptions; wrapStore?: (s: MailStore) => MailStore };

export async function startPop3(extra: ExtraOptions = {}): Promise<Pop3Fixture> {
  const dataDir = await mkdtemp(join(tmpdir(), 'pop3-test-'));
  const store = await openSqliteStore({ dataDir });
  const { implicitTls, passwordHash, authOptions, wrapStore, ...opts } = extra;
  const auth = new Authenticator(store, { failureDelayMs: 0, ...authOptions });
  const svc = new Pop3Service({ store: wrapStore ? wrapStore(store) : store, auth, logger: silentLogger, hostname: 'pop.test', ...opts });
  const addr = await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: implicitTls ?? false });
  const user = await store.createUser(USER, passwordHash ?? (await hashPassword(PASSWORD)));
  const inbox = await store.getMailbox(user.id, 'INBOX');
  if (!inbox) throw new Error('no INBOX');
  return {
    dataDir,
    store,
    auth,
    svc,
    port: addr.port,
    user,
    inbox,
    async append(raw, flags) {
      const r = await store.append(inbox.id, Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8'), flags ? { flags } : {});
      return { uid: r.uid, emailId: r.emailId };
    },
    async close() {
      await svc.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A test message with a recognisable subject. */
export function message(subject: string, body = 'Hello.\r\n'): string {
  return `From: Bob <bob@example.net>\r\nTo: ${USER}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.net>\r\n\r\n${body}`;
}

const CRLF_DOT_CRLF = Buffer.from('\r\n.\r\n');
const DOT_CRLF = Buffer.from('.\r\n');

/** A raw POP3 client over a socket: status lines as strings, bodies as bytes. */
export class RawPop3 {
  readonly socket: Duplex;
  #buf = Buffer.alloc(0);
  #ended = false;
  #wake: (() => void) | null = null;

  constructor(socket: Duplex) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#notify();
    });
    socket.on('end', () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on('close', () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, opts: { tls?: boolean } = {}): Promise<RawPop3> {
    const socket = opts.tls ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }) : netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawPop3(socket);
  }

  /** Connects and reads the greeting. */
  static async open(port: number, opts: { tls?: boolean } = {}): Promise<{ c: RawPop3; greeting: string }> {
    const c = await RawPop3.connect(port, opts);
    return { c, greeting: await c.line() };
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  async #waitMore(): Promise<void> {
    if (this.#ended) throw new Error(`connection closed; unread: ${JSON.stringify(this.#buf.toString('latin1'))}`);
    await new Promise<void>((r) => (this.#wake = r));
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next CRLF-terminated line, without the CRLF. */
  async line(): Promise<string> {
    for (;;) {
      const i = this.#buf.indexOf('\r\n');
      if (i !== -1) {
        const l = this.#buf.subarray(0, i).toString('utf8');
        this.#buf = this.#buf.subarray(i + 2);
        return l;
      }
      await this.#waitMore();
    }
  }

  /** Reads a dot-terminated body; returns the bytes as sent (still stuffed) up to and including the CRLF before ".". */
  async body(): Promise<Buffer> {
    for (;;) {
      if (this.#buf.subarray(0, 3).equals(DOT_CRLF)) {
        this.#buf = this.#buf.subarray(3);
        return Buffer.alloc(0);
      }
      const i = this.#buf.indexOf(CRLF_DOT_CRLF);
      if (i !== -1) {
        const b = this.#buf.subarray(0, i + 2);
        this.#buf = this.#buf.subarray(i + 5);
        return b;
      }
      await this.#waitMore();
    }
  }

  async cmd(line: string): Promise<string> {
    this.send(line + '\r\n');
    return this.line();
  }

  /** Sends a multi-line command; the body is read only after a +OK. */
  async multi(line: string): Promise<{ status: string; body: Buffer | null }> {
    const status = await this.cmd(line);
    return { status, body: status.startsWith('+OK') ? await this.body() : null };
  }

  /** Lines of a multi-line reply (LIST, UIDL, CAPA). */
  async lines(line: string): Promise<{ status: string; lines: string[] }> {
    const { status, body } = await this.multi(line);
    const text = body ? body.toString('utf8') : '';
    return { status, lines: text === '' ? [] : text.slice(0, -2).split('\r\n') };
  }

  async login(user = USER, password = PASSWORD): Promise<string> {
    const u = await this.cmd(`USER ${user}`);
    if (!u.startsWith('+OK')) return u;
    return this.cmd(`PASS ${password}`);
  }

  /** Resolves when the server has closed the connection (any unread bytes are returned). */
  async closed(): Promise<string> {
    while (!this.#ended) await new Promise<void>((r) => (this.#wake = r));
    return this.#buf.toString('utf8');
  }

  /** Like closed(), as bytes. */
  async closedBytes(): Promise<Buffer> {
    while (!this.#ended) await new Promise<void>((r) => (this.#wake = r));
    return this.#buf;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Undoes POP3 dot-stuffing of a body returned by RawPop3.body(). */
export { unstuff } from '../src/lib/dotstuff.js';

/**
 * Runs a session of the service on an in-memory stream pair with a chosen remote address (to test
 * non-loopback rules without leaving loopback). Returns the client end and the session's completion.
 */
export function memoryConnection(f: Pop3Fixture, remoteAddress: string): { c: RawPop3; done: Promise<void> } {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const done = f.svc.handle(Duplex.from({ readable: toServer, writable: toClient }), { remoteAddress, secure: false });
  return { c: new RawPop3(Duplex.from({ readable: toClient, writable: toServer })), done };
}

/** Overrides for some store methods (fault injection); everything else goes to the real store. */
export type StoreFaults = { [K in keyof MailStore]?: MailStore[K] };

export function faultyStore(store: MailStore, faults: StoreFaults): MailStore {
  return new Proxy(store, {
    get(target, prop) {
      const fault = faults[prop as keyof MailStore];
      if (fault) return fault;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

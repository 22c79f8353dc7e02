/**
 * Shared by the POP3 end-to-end tests: a service over a fresh SQLite store on 127.0.0.1 port 0, and a raw
 * socket client that reads status lines and dot-terminated bodies as bytes (both built on
 * test/helpers/server-fixture.ts, shared with the IMAP helpers).
 */
import { Duplex, PassThrough } from 'node:stream';
import type { Store } from '../src/store/handle.js';
import type { MailStore } from '../src/store/mail.js';
import type { Maildrop } from '../src/store/maildrop.js';
import type { AuthenticatorOptions } from '../src/auth/index.js';
import { Pop3Service } from '../src/pop3-server/service.js';
import type { Pop3ServiceOptions } from '../src/pop3-server/options.js';
import { silentLogger } from '../src/lib/logger.js';
import { overrideMethods, withParts } from './helpers/store.js';
import { connectLoopback, PASSWORD, SocketReader, startServerFixture, USER, type ServerFixture } from './helpers/server-fixture.js';

export { USER, PASSWORD };

export type Pop3Fixture = ServerFixture<Pop3Service>;

type ExtraOptions = Partial<Omit<Pop3ServiceOptions, 'store' | 'auth'>> & { implicitTls?: boolean; passwordHash?: string; authOptions?: AuthenticatorOptions; wrapStore?: (s: Store) => Store };

export async function startPop3(extra: ExtraOptions = {}): Promise<Pop3Fixture> {
  const { implicitTls, passwordHash, authOptions, wrapStore, ...opts } = extra;
  return startServerFixture({ prefix: 'pop3-test-', authOptions, passwordHash, implicitTls }, (store, auth) =>
    new Pop3Service({ store: wrapStore ? wrapStore(store) : store, auth, logger: silentLogger, hostname: 'pop.test', ...opts }),
  );
}

/** A test message with a recognisable subject. */
export function message(subject: string, body = 'Hello.\r\n'): string {
  return `From: Bob <bob@example.net>\r\nTo: ${USER}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.net>\r\n\r\n${body}`;
}

const CRLF_DOT_CRLF = Buffer.from('\r\n.\r\n');
const DOT_CRLF = Buffer.from('.\r\n');

/** A raw POP3 client over a socket: status lines as strings, bodies as bytes. */
export class RawPop3 extends SocketReader {
  static async connect(port: number, opts: { tls?: boolean } = {}): Promise<RawPop3> {
    return new RawPop3(await connectLoopback(port, opts));
  }

  /** Connects and reads the greeting. */
  static async open(port: number, opts: { tls?: boolean } = {}): Promise<{ c: RawPop3; greeting: string }> {
    const c = await RawPop3.connect(port, opts);
    return { c, greeting: await c.line() };
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Reads a dot-terminated body; returns the bytes as sent (still stuffed) up to and including the CRLF before ".". */
  async body(): Promise<Buffer> {
    for (;;) {
      if (this.buf.subarray(0, 3).equals(DOT_CRLF)) {
        this.buf = this.buf.subarray(3);
        return Buffer.alloc(0);
      }
      const i = this.buf.indexOf(CRLF_DOT_CRLF);
      if (i !== -1) {
        const b = this.buf.subarray(0, i + 2);
        this.buf = this.buf.subarray(i + 5);
        return b;
      }
      await this.needMore();
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
    await this.untilEnded();
    return this.buf.toString('utf8');
  }

  /** Like closed(), as bytes. */
  async closedBytes(): Promise<Buffer> {
    await this.untilEnded();
    return this.buf;
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

/**
 * Overrides for some mail store and maildrop methods (fault injection; their names do not overlap);
 * everything else goes to the real store. Read at each call, so tests may switch faults on and off.
 */
export type StoreFaults = Partial<MailStore> & Partial<Maildrop>;

export function faultyStore(store: Store, faults: StoreFaults): Store {
  return withParts(store, { mail: overrideMethods<MailStore>(store.mail, faults), maildrop: overrideMethods<Maildrop>(store.maildrop, faults) });
}

/**
 * The store as POP3 sees a backend without Maildrop.openMessage (PostgreSQL): RETR then reads through
 * MailStore.readBytes, where faults can be injected.
 */
export function withoutOpenMessage(store: Store): Store {
  const maildrop = new Proxy(store.maildrop, {
    get(target, prop) {
      if (prop === 'openMessage') return undefined;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return withParts(store, { maildrop });
}

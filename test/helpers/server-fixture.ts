/**
 * What the IMAP and POP3 end-to-end helpers (test/imap-helpers.ts, test/pop3-helpers.ts) share:
 * - startServerFixture(): a fresh SQLite store in a temp directory with one user (USER / PASSWORD) and its
 *   INBOX, and the service under test listening on 127.0.0.1 port 0; close() stops the service, closes
 *   the store and removes the directory.
 * - SocketReader: the receiving end of a raw test client, bytes buffered as they arrive, with waiting for
 *   more (optionally bounded by a timeout) and CRLF lines; connectLoopback() opens the socket (plain or TLS,
 *   any certificate accepted).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { openServerStore } from '../../src/server/store.js';
import type { Mailbox, User } from '../../src/store/types.js';
import { Authenticator, hashPassword, type AuthenticatorOptions } from '../../src/auth/index.js';

export const USER = 'alice@example.org';
export const PASSWORD = 'correct horse';

export type FixtureStore = Awaited<ReturnType<typeof openServerStore>>;

/** A service under test: it listens on a loopback port and closes. */
export interface ListeningService {
  listen(opts: { host: string; port: number; implicitTls: boolean }): Promise<{ port: number }>;
  close(): Promise<void>;
}

export interface FixtureOptions {
  /** Prefix of the temp directory's name. */
  prefix: string;
  /** The store's fsync (its own default when absent). */
  fsync?: boolean;
  /** Authenticator options; failureDelayMs is 0 unless given. */
  authOptions?: AuthenticatorOptions;
  /** Stored password hash of USER (default: the hash of PASSWORD). */
  passwordHash?: string;
  implicitTls?: boolean;
}

export interface ServerFixture<S> {
  dataDir: string;
  store: FixtureStore;
  auth: Authenticator;
  svc: S;
  port: number;
  user: User;
  inbox: Mailbox;
  /** Appends to INBOX, or to the user's mailbox of that name. */
  append(raw: string | Buffer, flags?: string[], mailbox?: string): Promise<{ uid: number; emailId: string }>;
  close(): Promise<void>;
}

let hashCache: Promise<string> | null = null;

export async function startServerFixture<S extends ListeningService>(
  opts: FixtureOptions,
  makeService: (store: FixtureStore, auth: Authenticator) => S,
): Promise<ServerFixture<S>> {
  const dataDir = await mkdtemp(join(tmpdir(), opts.prefix));
  const store = await openServerStore(opts.fsync === undefined ? { dataDir } : { dataDir, fsync: opts.fsync });
  const auth = new Authenticator(store.directory, { failureDelayMs: 0, ...opts.authOptions });
  const svc = makeService(store, auth);
  const addr = await svc.listen({ host: '127.0.0.1', port: 0, implicitTls: opts.implicitTls ?? false });
  hashCache ??= hashPassword(PASSWORD);
  const user = await store.directory.createUser(USER, opts.passwordHash ?? (await hashCache));
  const inbox = await store.mail.getMailbox(user.id, 'INBOX');
  if (!inbox) throw new Error('no INBOX');
  return {
    dataDir,
    store,
    auth,
    svc,
    port: addr.port,
    user,
    inbox,
    async append(raw, flags, mailbox) {
      const mb = mailbox ? await store.mail.getMailbox(user.id, mailbox) : inbox;
      if (!mb) throw new Error('no mailbox ' + mailbox);
      const r = await store.mail.append(mb.id, Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8'), flags ? { flags } : {});
      return { uid: r.uid, emailId: r.emailId };
    },
    async close() {
      await svc.close();
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * Connects to 127.0.0.1:port, over TLS when asked (any certificate accepted), from localAddress when given
 * (another loopback address such as 127.0.0.2); resolves once connected.
 */
export async function connectLoopback(port: number, opts: { tls?: boolean; localAddress?: string } = {}): Promise<Socket> {
  const at = { host: '127.0.0.1', port, localAddress: opts.localAddress };
  const socket = opts.tls ? tlsConnect({ ...at, rejectUnauthorized: false }) : netConnect(at);
  await new Promise<void>((resolve, reject) => {
    socket.once(opts.tls ? 'secureConnect' : 'connect', () => resolve());
    socket.once('error', reject);
  });
  return socket;
}

/** Buffers what a socket receives; subclasses read from `buf` and consume what they parsed. */
export class SocketReader {
  readonly socket: Duplex;
  protected buf = Buffer.alloc(0);
  #ended = false;
  #waiters: Array<() => void> = [];

  constructor(socket: Duplex) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.#wake();
    });
    const end = (): void => {
      this.#ended = true;
      this.#wake();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', () => undefined);
  }

  /** True once the peer ended or the connection closed (no more bytes will come). */
  get ended(): boolean {
    return this.#ended;
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves when bytes arrive or the connection ends, or after timeoutMs when given. */
  protected waitMore(timeoutMs?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = timeoutMs === undefined ? undefined : setTimeout(resolve, timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Waits for more bytes; throws (with what is unread) when the connection has ended. */
  protected async needMore(): Promise<void> {
    if (this.#ended) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf.toString('latin1'))}`);
    await this.waitMore();
  }

  /** Resolves once the connection has ended. */
  protected async untilEnded(): Promise<void> {
    while (!this.#ended) await this.waitMore();
  }

  /** The next CRLF-terminated line (UTF-8), without the CRLF. */
  async line(): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i !== -1) {
        const l = this.buf.subarray(0, i).toString('utf8');
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
      await this.needMore();
    }
  }
}

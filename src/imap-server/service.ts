/**
 * The IMAP NetService: listeners (plain with STARTTLS, or implicit TLS), per-IP connection cap (loopback
 * exempt), and
 * orderly shutdown (BYE to every session, then wait for sockets to close).
 */
import * as net from 'node:net';
import * as tls from 'node:tls';
import { hostname as osHostname, totalmem } from 'node:os';
import type { AddressInfo } from 'node:net';
import type { ServiceOptions } from '../auth/service.js';
import type { Store } from '../store/handle.js';
import { silentLogger } from '../lib/logger.js';
import { listenOn, withTlsProfile, type ListenSpec, type NetService, type TlsMaterial } from '../lib/service.js';
import { IMAP_IDLE_TIMEOUT_MS, IMAP_MAX_LINE, LOGIN_TIMEOUT_MS, MAX_CONNECTIONS_PER_IP, MAX_CONNECTIONS_PER_USER, MAX_MESSAGE_SIZE, maxBufferedLiterals } from '../lib/limits.js';
import { MemoryBudget } from '../lib/memory-budget.js';
import { AddressCounter, LocalCounter, whenAdmitted } from '../lib/connection-limit.js';
import { metrics } from '../lib/metrics.js';
import { ImapConnection } from './connection.js';
import type { ServiceContext } from './session.js';
import { byeLine } from './responses.js';

/** What IMAP uses of the store: the mail store (mailboxes, messages, change log); users come through auth, and from the directory for URLAUTH URLs of other users. */
export type ImapStore = Pick<Store, 'mail'> & Partial<Pick<Store, 'directory' | 'acl' | 'quota'>>;

export interface ImapServiceOptions extends ServiceOptions {
  store: ImapStore;
  /** Largest APPEND / literal (RFC 7889 APPENDLIMIT). Default MAX_MESSAGE_SIZE. */
  appendLimit?: number;
  /** Literal bytes held in memory across all connections at once. Default maxBufferedLiterals(). */
  maxBufferedLiterals?: number;
  /** Longest command line without literals. Default IMAP_MAX_LINE. */
  maxLineLength?: number;
  /** Autologout after this long without client input. Default 30 minutes (RFC 9051 5.4). */
  idleTimeoutMs?: number;
  /** Time a connection has to log in, however busy it keeps itself; then BYE. Default LOGIN_TIMEOUT_MS (3 minutes). */
  loginTimeoutMs?: number;
  /** Concurrent connections from one address; loopback is not counted (lib/connection-limit.ts). */
  maxConnectionsPerIp?: number;
  /** Count loopback connections against maxConnectionsPerIp too (default false). */
  countLoopback?: boolean;
  maxConnectionsPerUser?: number;
  /** Allow LOGIN/AUTHENTICATE without TLS from non-loopback addresses (off by default). */
  allowPlaintextAuthOffLoopback?: boolean;
}

class ImapService implements NetService {
  readonly #ctx: ServiceContext;
  readonly #servers = new Set<net.Server>();
  readonly #conns = new Set<ImapConnection>();
  readonly #perIp: AddressCounter;
  #closing = false;
  #tls: TlsMaterial | undefined;
  readonly #tlsServers = new Set<tls.Server>();

  constructor(opts: ImapServiceOptions) {
    this.#tls = opts.tls ? withTlsProfile(opts.tls) : undefined;
    this.#ctx = {
      store: opts.store.mail,
      directory: opts.store.directory ?? null,
      quota: opts.store.quota ?? null,
      acl: opts.store.acl ?? null,
      auth: opts.auth,
      logger: opts.logger ?? silentLogger,
      hostname: opts.hostname ?? osHostname(),
      secureContext: this.#tls ? tls.createSecureContext(this.#tls) : null,
      limits: {
        appendLimit: opts.appendLimit ?? MAX_MESSAGE_SIZE,
        maxLineLength: opts.maxLineLength ?? IMAP_MAX_LINE,
        idleTimeoutMs: opts.idleTimeoutMs ?? IMAP_IDLE_TIMEOUT_MS,
        loginTimeoutMs: opts.loginTimeoutMs ?? LOGIN_TIMEOUT_MS,
        maxConnectionsPerIp: opts.maxConnectionsPerIp ?? MAX_CONNECTIONS_PER_IP,
        maxConnectionsPerUser: opts.maxConnectionsPerUser ?? MAX_CONNECTIONS_PER_USER,
        allowPlaintextAuthOffLoopback: opts.allowPlaintextAuthOffLoopback ?? false,
      },
      userSessions: opts.connections ?? new LocalCounter(),
      literalBudget: new MemoryBudget(opts.maxBufferedLiterals ?? maxBufferedLiterals(totalmem(), opts.appendLimit ?? MAX_MESSAGE_SIZE)),
    };
    this.#perIp = new AddressCounter(this.#ctx.limits.maxConnectionsPerIp, opts.countLoopback ?? false, this.#ctx.userSessions, 'imap');
  }

  async listen(spec: ListenSpec): Promise<AddressInfo> {
    if (spec.implicitTls && !this.#ctx.secureContext) throw new Error('implicit TLS listener needs opts.tls');
    let server: net.Server;
    if (spec.implicitTls) {
      // The handshake has the login timeout (Node's default is 2 minutes); the login deadline then runs from
      // the greeting. A handshake timeout is only reported: the socket is closed here.
      const tlsServer = tls.createServer({ ...this.#tls!, handshakeTimeout: this.#ctx.limits.loginTimeoutMs }, (s) => this.#accept(s, true));
      tlsServer.on('tlsClientError', (e: Error, s: tls.TLSSocket) => {
        this.#ctx.logger.debug({ err: e.message }, 'TLS handshake failed');
        s.destroy();
      });
      this.#tlsServers.add(tlsServer);
      server = tlsServer;
    } else {
      server = net.createServer((s) => this.#accept(s, false));
    }
    server.on('error', (e) => this.#ctx.logger.error({ err: e.message }, 'IMAP listener error'));
    const addr = await listenOn(server, spec);
    this.#servers.add(server);
    this.#ctx.logger.info({ host: addr.address, port: addr.port, tls: spec.implicitTls }, 'IMAP listening');
    return addr;
  }

  /**
   * New certificate and key (a renewal): new implicit-TLS connections and STARTTLS use them from now on;
   * open sessions keep theirs. Only a service started with TLS can switch.
   */
  setTls(material: TlsMaterial): void {
    const next = withTlsProfile(material);
    this.#tls = next;
    this.#ctx.secureContext = tls.createSecureContext(next);
    for (const s of this.#tlsServers) s.setSecureContext(next);
  }

  #accept(socket: net.Socket, secure: boolean): void {
    socket.on('error', () => {});
    if (this.#closing) {
      socket.end(byeLine('Server shutting down'));
      return;
    }
    const ip = socket.remoteAddress ?? '';
    whenAdmitted(this.#perIp.admit(ip), (admitted) => {
      if (admitted && (this.#closing || socket.destroyed)) {
        // Closed (or the service closing) while another process was asked.
        this.#perIp.release(ip);
        socket.destroy();
      } else if (!admitted) {
        socket.end(byeLine('Too many connections from your IP address'));
        this.#ctx.logger.info({ remote: ip }, 'imap connection refused: too many connections from the address');
      } else this.#start(socket, secure, ip);
    });
  }

  #start(socket: net.Socket, secure: boolean, ip: string): void {
    metrics.connections.inc({ protocol: 'imap' });
    metrics.openConnections.inc({ protocol: 'imap' });
    socket.setNoDelay(true);
    const conn = new ImapConnection(this.#ctx, socket, secure);
    this.#conns.add(conn);
    conn.onClose = () => {
      this.#conns.delete(conn);
      this.#perIp.release(ip);
      metrics.openConnections.dec({ protocol: 'imap' });
    };
    conn.greet();
  }

  async close(): Promise<void> {
    this.#closing = true;
    const closing = [...this.#servers].map((s) => new Promise<void>((r) => s.close(() => r())));
    const conns = [...this.#conns];
    for (const c of conns) c.shutdown('Server shutting down');
    await Promise.all([...closing, ...conns.map((c) => c.closed)]);
    this.#servers.clear();
  }
}

export function createImapService(opts: ImapServiceOptions): NetService {
  return new ImapService(opts);
}

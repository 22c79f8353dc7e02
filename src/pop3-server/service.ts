/**
 * The POP3 NetService: listeners (plain with STLS, or implicit TLS), per-IP connection limits, and
 * graceful close (idle sessions get -ERR at once, busy ones after their command; nothing uncommitted is
 * committed).
 */
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, createSecureContext, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { AddressCounter, whenAdmitted } from '../lib/connection-limit.js';
import { metrics } from '../lib/metrics.js';
import { listenOn, withTlsProfile, type ListenSpec, type NetService, type TlsMaterial } from '../lib/service.js';
import { Pop3Connection, type ConnectionInfo } from './connection.js';
import { Pop3Shared, type Pop3ServiceOptions } from './options.js';

export class Pop3Service implements NetService {
  readonly shared: Pop3Shared;
  readonly #servers = new Set<Server>();
  readonly #tlsServers = new Set<TlsServer>();
  /** Raw sockets of the implicit-TLS listeners, so close() can end those still in their handshake. */
  readonly #tlsRaw = new Set<Socket>();
  readonly #connections = new Set<Pop3Connection>();
  readonly #perIp: AddressCounter;
  #closing = false;

  constructor(opts: Pop3ServiceOptions) {
    this.shared = new Pop3Shared(opts);
    this.#perIp = new AddressCounter(this.shared.maxConnectionsPerIp, this.shared.countLoopback, opts.connections, 'pop3');
  }

  async listen(spec: ListenSpec): Promise<AddressInfo> {
    if (this.#closing) throw new Error('POP3 service is closed');
    let server: Server;
    if (spec.implicitTls) {
      const material = this.shared.tls;
      if (!material) throw new Error('implicit TLS listener needs TLS material (opts.tls)');
      // The handshake has the login timeout (Node's default is 2 minutes); the login deadline then runs from
      // the greeting.
      const tlsServer = createTlsServer({ ...material, allowHalfOpen: true, handshakeTimeout: this.shared.loginTimeoutMs }, (s: TLSSocket) => this.#accept(s, true));
      tlsServer.on('tlsClientError', (e, s) => {
        this.shared.logger.debug({ err: e.message }, 'pop3 TLS handshake failed');
        // A handshake timeout only reports: the socket would stay open.
        s.destroy();
      });
      this.#tlsServers.add(tlsServer);
      tlsServer.on('connection', (raw: Socket) => {
        this.#tlsRaw.add(raw);
        raw.once('close', () => this.#tlsRaw.delete(raw));
      });
      server = tlsServer;
    } else {
      server = createNetServer({ allowHalfOpen: true }, (s: Socket) => this.#accept(s, false));
    }
    server.on('error', (e) => this.shared.logger.error({ err: e }, 'pop3 listener error'));
    const addr = await listenOn(server, spec);
    this.#servers.add(server);
    this.shared.logger.info({ host: addr.address, port: addr.port, implicitTls: spec.implicitTls }, 'pop3 listening');
    return addr;
  }

  /** New certificate and key for connections accepted from now on (implicit TLS and STLS); sessions keep theirs. */
  setTls(tls: TlsMaterial): void {
    const material = withTlsProfile(tls);
    const context = createSecureContext(material);
    this.shared.tls = material;
    this.shared.secureContext = context;
    for (const s of this.#tlsServers) s.setSecureContext(material);
  }

  /**
   * Runs a session on any duplex stream (the listeners' sockets; tests may pass in-memory streams).
   * Resolves when the session has ended.
   */
  handle(stream: Duplex, info: ConnectionInfo): Promise<void> {
    const conn = new Pop3Connection(stream, info, this.shared);
    this.#connections.add(conn);
    if (this.#closing) conn.shutdown();
    return conn.run().finally(() => this.#connections.delete(conn));
  }

  #accept(socket: Socket, secure: boolean): void {
    socket.setNoDelay(true);
    const ip = socket.remoteAddress ?? '';
    if (this.#closing) return this.#refuse(socket, ip, 'Server shutting down');
    whenAdmitted(this.#perIp.admit(ip), (admitted) => {
      if (!admitted) return this.#refuse(socket, ip, 'Too many connections from your address');
      if (!this.#closing && !socket.destroyed) return this.#start(socket, secure, ip);
      // Closed (or the service closing) while another process was asked.
      this.#perIp.release(ip);
      socket.destroy();
    });
  }

  #refuse(socket: Socket, ip: string, why: string): void {
    socket.on('error', () => undefined);
    socket.end(`-ERR [SYS/TEMP] ${why}\r\n`);
    setTimeout(() => socket.destroy(), 2000).unref();
    this.shared.logger.info({ remote: ip }, `pop3 connection refused: ${why}`);
  }

  #start(socket: Socket, secure: boolean, ip: string): void {
    metrics.connections.inc({ protocol: 'pop3' });
    metrics.openConnections.inc({ protocol: 'pop3' });
    void this.handle(socket, { remoteAddress: ip, secure }).finally(() => {
      this.#perIp.release(ip);
      metrics.openConnections.dec({ protocol: 'pop3' });
    });
  }

  async close(): Promise<void> {
    this.#closing = true;
    const stopped = [...this.#servers].map((s) => new Promise<void>((r) => s.close(() => r())));
    this.#servers.clear();
    this.#tlsServers.clear();
    const sessions = [...this.#connections];
    for (const c of sessions) c.shutdown();
    await Promise.all(sessions.map((c) => c.closed));
    // What is left never became a session: a client that went away (half-open) during the TLS handshake
    // would otherwise hold the listener open until the handshake timeout.
    for (const raw of this.#tlsRaw) raw.destroy();
    await Promise.all(stopped);
  }
}

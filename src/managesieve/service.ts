/**
 * The ManageSieve NetService (RFC 5804, port 4190): plain listeners with STARTTLS (implicit TLS works too),
 * per-address connection limits, and graceful close (idle sessions get BYE at once, busy ones after their
 * command).
 */
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, createSecureContext, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { AddressCounter, whenAdmitted } from '../lib/connection-limit.js';
import { listenOn, withTlsProfile, type ListenSpec, type NetService, type TlsMaterial } from '../lib/service.js';
import { ManageSieveConnection, type ConnectionInfo } from './connection.js';
import { ManageSieveShared, type ManageSieveServiceOptions } from './options.js';
import { msResponse } from './response.js';
import { record } from '../lib/metrics.js';

export class ManageSieveService implements NetService {
  readonly shared: ManageSieveShared;
  readonly #servers = new Set<Server>();
  readonly #tlsServers = new Set<TlsServer>();
  readonly #connections = new Set<ManageSieveConnection>();
  readonly #perIp: AddressCounter;
  #closing = false;

  constructor(opts: ManageSieveServiceOptions) {
    this.shared = new ManageSieveShared(opts);
    this.#perIp = new AddressCounter(this.shared.maxConnectionsPerIp, this.shared.countLoopback, opts.connections, 'managesieve');
  }

  async listen(spec: ListenSpec): Promise<AddressInfo> {
    if (this.#closing) throw new Error('ManageSieve service is closed');
    let server: Server;
    if (spec.implicitTls) {
      if (!this.shared.tls) throw new Error('implicit TLS listener needs TLS material (opts.tls)');
      // The handshake has the STARTTLS handshake's deadline (Node's default is 2 minutes); a handshake timeout
      // is only reported, so the socket is closed here.
      const tlsServer = createTlsServer({ ...this.shared.tls, handshakeTimeout: this.shared.tlsHandshakeTimeoutMs }, (s: TLSSocket) => this.#accept(s, true));
      tlsServer.on('tlsClientError', (e, s) => {
        this.shared.logger.debug({ err: e.message }, 'managesieve TLS handshake failed');
        s.destroy();
      });
      this.#tlsServers.add(tlsServer);
      server = tlsServer;
    } else {
      server = createNetServer((s: Socket) => this.#accept(s, false));
    }
    server.on('error', (e) => this.shared.logger.error({ err: e }, 'managesieve listener error'));
    const addr = await listenOn(server, spec);
    this.#servers.add(server);
    this.shared.logger.info({ host: addr.address, port: addr.port }, 'managesieve listening');
    return addr;
  }

  setTls(tls: TlsMaterial): void {
    const material = withTlsProfile(tls);
    this.shared.tls = material;
    this.shared.secureContext = createSecureContext(material);
    for (const s of this.#tlsServers) s.setSecureContext(material);
  }

  /** Runs a session on any duplex stream; resolves when it ends. */
  handle(stream: Duplex, info: ConnectionInfo): Promise<void> {
    const conn = new ManageSieveConnection(stream, info, this.shared);
    this.#connections.add(conn);
    const closed = record.connection('managesieve');
    if (this.#closing) conn.shutdown();
    return conn.run().finally(() => {
      closed();
      this.#connections.delete(conn);
    });
  }

  #accept(socket: Socket, secure: boolean): void {
    socket.setNoDelay(true);
    const ip = socket.remoteAddress ?? '';
    if (this.#closing) return refuse(socket, 'Server shutting down.');
    whenAdmitted(this.#perIp.admit(ip), (admitted) => {
      if (!admitted) refuse(socket, 'Too many connections from your address.');
      else if (this.#closing || socket.destroyed) {
        // Closed (or the service closing) while another process was asked.
        this.#perIp.release(ip);
        socket.destroy();
      } else void this.handle(socket, { remoteAddress: ip, secure }).finally(() => this.#perIp.release(ip));
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
    await Promise.all(stopped);
  }
}

export function createManageSieveService(opts: ManageSieveServiceOptions): ManageSieveService {
  return new ManageSieveService(opts);
}

/** BYE (TRYLATER) to a connection not served; destroyed if the client does not close first. */
function refuse(socket: Socket, why: string): void {
  socket.on('error', () => undefined);
  socket.end(msResponse('BYE', 'TRYLATER', why));
  setTimeout(() => socket.destroy(), 2000).unref();
}

import type { AddressInfo, Server } from 'node:net';
import type { SecureContextOptions } from 'node:tls';

/** Where and how one listener of a protocol server accepts connections. */
export interface ListenSpec {
  host: string;
  /** 0 picks a free port; the bound port is in the returned AddressInfo. */
  port: number;
  /** true: TLS from the first byte (993/995/465 style); false: plain with STARTTLS/STLS when tls is configured. */
  implicitTls: boolean;
}

/**
 * What every protocol server (IMAP, POP3, LMTP/SMTP/submission) exposes to the wiring in server/.
 * One instance may listen on several specs (e.g. 143 and 993); close() stops accepting, ends sessions
 * politely (IMAP BYE, POP3 -ERR, SMTP 421) after in-flight commits finish, and resolves when all sockets are closed.
 */
export interface NetService {
  listen(spec: ListenSpec): Promise<AddressInfo>;
  close(): Promise<void>;
}

/** Key and certificate (PEM) used for implicit TLS and STARTTLS. */
export type TlsMaterial = Pick<SecureContextOptions, 'key' | 'cert' | 'ca'> & { key: string | Buffer; cert: string | Buffer };

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback: where cleartext passwords are allowed without TLS. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.');
}

/** Binds `server` to spec.host:spec.port; rejects with the bind error (EADDRINUSE, EACCES) instead of emitting it. */
export function listenOn(server: Server, spec: ListenSpec): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(spec.port, spec.host, () => {
      server.off('error', reject);
      const addr = server.address();
      if (addr === null || typeof addr === 'string') reject(new Error('listener has no TCP address'));
      else resolve(addr);
    });
  });
}

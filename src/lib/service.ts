import type { AddressInfo, Server } from 'node:net';
import type { SecureContextOptions } from 'node:tls';

/** Where and how one listener of a protocol server accepts connections. */
export interface ListenSpec {
  host: string;
  /** 0 picks a free port; the bound port is in the returned AddressInfo. */
  port: number;
  /** true: TLS from the first byte (993/995/465 style); false: plain with STARTTLS/STLS when tls is configured. */
  implicitTls: boolean;
  /**
   * The server's listener name (imap, pop3s, lmtp, ...). In a worker of `serve --workers N` a named listener
   * is bound by the primary, which passes the worker its connections (server/cluster-accept.ts).
   */
  name?: string;
}

/**
 * What every protocol server (IMAP, POP3, LMTP/SMTP/submission) exposes to the wiring in server/.
 * One instance may listen on several specs (e.g. 143 and 993); close() stops accepting, ends sessions
 * politely (IMAP BYE, POP3 -ERR, SMTP 421) after in-flight commits finish, and resolves when all sockets are closed.
 */
export interface NetService {
  listen(spec: ListenSpec): Promise<AddressInfo>;
  close(): Promise<void>;
  /**
   * Replaces the certificate and key (renewal): connections accepted from now on, implicit TLS and
   * STARTTLS/STLS alike, get the new ones; open sessions keep theirs. Absent on services without TLS.
   */
  setTls?(tls: TlsMaterial): void;
}

/**
 * Key and certificate (PEM) used for implicit TLS and STARTTLS, optionally with the protocol settings of
 * TLS_PROFILE (withTlsProfile adds them, so services that spread the material into node:tls get them).
 */
export type TlsMaterial = Pick<SecureContextOptions, 'key' | 'cert' | 'ca' | 'ciphers' | 'minVersion' | 'honorCipherOrder'> & {
  key: string | Buffer;
  cert: string | Buffer;
};

/**
 * Mozilla's "intermediate" server profile (version 5.7): TLS 1.2 with ECDHE/DHE key exchange and AEAD
 * ciphers only, plus TLS 1.3 (node's default TLS 1.3 suites); the client's cipher order is honoured, as the
 * profile says. Static-RSA and CBC suites (AES128-SHA and the like) are refused.
 */
export const TLS_PROFILE = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
    'DHE-RSA-AES128-GCM-SHA256',
    'DHE-RSA-AES256-GCM-SHA384',
    'DHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: false,
} as const satisfies SecureContextOptions;

/** The material with TLS_PROFILE's settings: what every listener's secure context is built from. */
export function withTlsProfile(tls: TlsMaterial): TlsMaterial {
  return { key: tls.key, cert: tls.cert, ...(tls.ca ? { ca: tls.ca } : {}), ...TLS_PROFILE };
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback: where cleartext passwords are allowed without TLS. */
export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.');
}

/** How a named listener is bound in place of server.listen (set in the workers of `serve --workers N`). */
export type ListenHook = (server: Server, spec: ListenSpec & { name: string }) => Promise<AddressInfo>;
let listenHook: ListenHook | null = null;

/** Installs (or with null removes) the process's ListenHook. */
export function setListenHook(hook: ListenHook | null): void {
  listenHook = hook;
}

/** Binds `server` to spec.host:spec.port; rejects with the bind error (EADDRINUSE, EACCES) instead of emitting it. */
export function listenOn(server: Server, spec: ListenSpec): Promise<AddressInfo> {
  if (listenHook && spec.name !== undefined) return listenHook(server, { ...spec, name: spec.name });
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

/**
 * ManageSieve service options and the resolved settings every connection of one service shares.
 */
import { hostname as osHostname } from 'node:os';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { ServiceOptions } from '../auth/service.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { Store } from '../store/handle.js';
import { DEFAULT_SIEVE_QUOTA, type SieveQuota } from '../store/sieve.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import { isLoopback, withTlsProfile, type TlsMaterial } from '../lib/service.js';
import { LOGIN_TIMEOUT_MS, MAX_CONNECTIONS_PER_IP } from '../lib/limits.js';
import { SIEVE_EXTENSIONS, SIEVE_LIMITS } from '../sieve/index.js';

export interface ManageSieveServiceOptions extends ServiceOptions {
  store: Pick<Store, 'sieve'>;
  /** Per-user script limits; unset keys keep DEFAULT_SIEVE_QUOTA's. */
  quota?: Partial<SieveQuota>;
  /** Autologout of an idle client (default 30 minutes, as IMAP's). */
  idleTimeoutMs?: number;
  /** Time a connection has to log in, however busy it keeps itself; then BYE. Default LOGIN_TIMEOUT_MS (3 minutes). */
  loginTimeoutMs?: number;
  /** Time a STARTTLS handshake may take once OK was sent (default 30 s). */
  tlsHandshakeTimeoutMs?: number;
  /** Longest command line outside literals (default 8192 octets). */
  maxLine?: number;
  /** Concurrent connections from one IP address (loopback not counted). */
  maxConnectionsPerIp?: number;
  /** Count loopback connections against maxConnectionsPerIp too (default false). */
  countLoopback?: boolean;
  /** Allow AUTHENTICATE PLAIN without TLS from non-loopback addresses. Default false. */
  allowPlaintextAuthOffLoopback?: boolean;
}

/** Dovecot's managesieve default for command lines; scripts travel as literals, outside this bound. */
export const MANAGESIEVE_MAX_LINE = 8192;
export const MANAGESIEVE_IDLE_TIMEOUT_MS = 30 * 60 * 1000;
/** A client that asked for STARTTLS and does not complete the handshake in this time is disconnected. */
export const MANAGESIEVE_TLS_HANDSHAKE_TIMEOUT_MS = 30 * 1000;

export class ManageSieveShared {
  readonly store: Pick<Store, 'sieve'>;
  readonly auth: Authenticator;
  readonly logger: Logger;
  readonly hostname: string;
  tls: TlsMaterial | null;
  secureContext: SecureContext | null;
  readonly quota: SieveQuota;
  readonly extensions: readonly string[] = SIEVE_EXTENSIONS;
  readonly maxRedirects = SIEVE_LIMITS.maxRedirects;
  readonly idleTimeoutMs: number;
  readonly loginTimeoutMs: number;
  readonly tlsHandshakeTimeoutMs: number;
  readonly maxLine: number;
  /** Largest literal kept: a script at the size limit, with room for a long name. */
  readonly maxLiteral: number;
  readonly maxConnectionsPerIp: number;
  readonly countLoopback: boolean;
  readonly allowPlaintextAuthOffLoopback: boolean;

  constructor(opts: ManageSieveServiceOptions) {
    this.store = opts.store;
    this.auth = opts.auth;
    this.logger = opts.logger ?? silentLogger;
    this.hostname = opts.hostname ?? osHostname();
    this.tls = opts.tls ? withTlsProfile(opts.tls) : null;
    this.secureContext = this.tls ? createSecureContext(this.tls) : null;
    this.quota = { ...DEFAULT_SIEVE_QUOTA, ...opts.quota };
    this.idleTimeoutMs = opts.idleTimeoutMs ?? MANAGESIEVE_IDLE_TIMEOUT_MS;
    this.loginTimeoutMs = opts.loginTimeoutMs ?? LOGIN_TIMEOUT_MS;
    this.tlsHandshakeTimeoutMs = opts.tlsHandshakeTimeoutMs ?? MANAGESIEVE_TLS_HANDSHAKE_TIMEOUT_MS;
    this.maxLine = opts.maxLine ?? MANAGESIEVE_MAX_LINE;
    this.maxLiteral = this.quota.maxScriptSize + 4096;
    this.maxConnectionsPerIp = opts.maxConnectionsPerIp ?? MAX_CONNECTIONS_PER_IP;
    this.countLoopback = opts.countLoopback ?? false;
    this.allowPlaintextAuthOffLoopback = opts.allowPlaintextAuthOffLoopback ?? false;
  }

  /** Cleartext passwords only over TLS or loopback (as IMAP's LOGINDISABLED). */
  cleartextAllowed(secure: boolean, remoteAddress: string): boolean {
    return secure || this.allowPlaintextAuthOffLoopback || isLoopback(remoteAddress);
  }
}

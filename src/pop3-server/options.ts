/**
 * POP3 service options and the resolved settings every connection of one service shares.
 */
import { hostname as osHostname } from 'node:os';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { ServiceOptions } from '../auth/service.js';
import type { Authenticator } from '../auth/authenticator.js';
import { plaintextSecret } from '../auth/hash.js';
import type { Store } from '../store/handle.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import { withTlsProfile, type TlsMaterial } from '../lib/service.js';
import { MAX_CONNECTIONS_PER_IP, LOGIN_TIMEOUT_MS, POP3_IDLE_TIMEOUT_MS } from '../lib/limits.js';
import { BufferPool } from '../lib/buffer-pool.js';
import { READ_CHUNK } from './message-stream.js';

/**
 * What POP3 uses of the store: the maildrop (lock, QUIT commit, retention), the mail store (INBOX listing and
 * bytes) and the directory (the APOP check). A Store handle will do.
 */
export type Pop3Store = Pick<Store, 'directory' | 'mail' | 'maildrop'>;

export interface Pop3ServiceOptions extends ServiceOptions {
  store: Pop3Store;
  /** Retrieved (RETR) messages get \Seen in the QUIT commit (Dovecot's default). Default true. */
  markSeenOnRetrieve?: boolean;
  /**
   * RFC 2449 EXPIRE: messages retrieved more than this many days ago are purged at login and at QUIT
   * (0 = retrieved messages are removed at the QUIT of the session that retrieved them).
   * null or absent = keep forever (EXPIRE NEVER). Retrieval dates are recorded only while a policy is set, so
   * a policy set later counts from the next retrieval of a message.
   */
  retentionDays?: number | null;
  /** RFC 2449 LOGIN-DELAY: minimum seconds between logins of one user; null or absent = none. */
  loginDelaySeconds?: number | null;
  /** Autologout for an idle client; RFC 1939 section 3 requires at least 10 minutes (the default). */
  idleTimeoutMs?: number;
  /** Time a connection has to log in, however busy it keeps itself; then -ERR and close. Default LOGIN_TIMEOUT_MS (3 minutes). */
  loginTimeoutMs?: number;
  /**
   * At service close, how long a session may take to end by itself (finish its command, read its last reply,
   * complete a TLS handshake) before its connection is cut. Default 5 s.
   */
  shutdownGraceMs?: number;
  /** Allow USER/PASS and AUTH PLAIN/LOGIN without TLS from non-loopback addresses. Default false. */
  allowPlaintextAuthOffLoopback?: boolean;
  /** Concurrent connections from one IP address (loopback not counted). Default MAX_CONNECTIONS_PER_IP. */
  maxConnectionsPerIp?: number;
  /** Count loopback connections against maxConnectionsPerIp too (default false). */
  countLoopback?: boolean;
  /**
   * APOP (RFC 1939 section 7) needs the user's cleartext secret ({PLAIN} hashes only). The greeting carries
   * the APOP timestamp only when APOP can succeed:
   *  - 'auto' (default): when at least one user has a cleartext secret (checked at most once a minute);
   *  - true: always; false: never (APOP is then refused).
   */
  apop?: boolean | 'auto';
}

/** Default of Pop3ServiceOptions.shutdownGraceMs. */
const SHUTDOWN_GRACE_MS = 5000;
/** Idle RETR/TOP read buffers kept for reuse (4 MiB). */
const READ_BUFFERS_KEPT = 16;
/** How often the 'auto' APOP check re-reads the user list. */
const APOP_CHECK_INTERVAL_MS = 60_000;

/** The settings of one POP3 service, resolved once and shared by its connections. */
export class Pop3Shared {
  readonly store: Pop3Store;
  readonly auth: Authenticator;
  readonly logger: Logger;
  readonly hostname: string;
  /** Replaced by setTls (certificate renewal); read when a connection starts TLS. */
  secureContext: SecureContext | null;
  tls: TlsMaterial | null;
  readonly markSeenOnRetrieve: boolean;
  readonly retentionDays: number | null;
  readonly loginDelaySeconds: number | null;
  readonly idleTimeoutMs: number;
  readonly loginTimeoutMs: number;
  readonly shutdownGraceMs: number;
  readonly allowPlaintextAuthOffLoopback: boolean;
  readonly maxConnectionsPerIp: number;
  readonly countLoopback: boolean;
  readonly apop: boolean | 'auto';
  /** Last successful login per user id (ms since epoch), for LOGIN-DELAY. */
  readonly lastLogin = new Map<number, number>();
  /** Read buffers for RETR and TOP, shared by all connections (see BufferPool). */
  readonly readBuffers = new BufferPool(READ_CHUNK, READ_BUFFERS_KEPT);
  #apopChecked = 0;
  #apopCached = false;

  constructor(opts: Pop3ServiceOptions) {
    this.store = opts.store;
    this.auth = opts.auth;
    this.logger = opts.logger ?? silentLogger;
    this.hostname = opts.hostname ?? osHostname();
    this.tls = opts.tls ? withTlsProfile(opts.tls) : null;
    this.secureContext = this.tls ? createSecureContext(this.tls) : null;
    this.markSeenOnRetrieve = opts.markSeenOnRetrieve ?? true;
    this.retentionDays = opts.retentionDays ?? null;
    this.loginDelaySeconds = opts.loginDelaySeconds ?? null;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? POP3_IDLE_TIMEOUT_MS;
    this.loginTimeoutMs = opts.loginTimeoutMs ?? LOGIN_TIMEOUT_MS;
    this.shutdownGraceMs = opts.shutdownGraceMs ?? SHUTDOWN_GRACE_MS;
    this.allowPlaintextAuthOffLoopback = opts.allowPlaintextAuthOffLoopback ?? false;
    this.maxConnectionsPerIp = opts.maxConnectionsPerIp ?? MAX_CONNECTIONS_PER_IP;
    this.countLoopback = opts.countLoopback ?? false;
    this.apop = opts.apop ?? 'auto';
  }

  /** Whether APOP can succeed for anyone, so the greeting should carry a timestamp. Never throws. */
  async apopAvailable(): Promise<boolean> {
    if (this.apop !== 'auto') return this.apop;
    const now = Date.now();
    if (now - this.#apopChecked < APOP_CHECK_INTERVAL_MS) return this.#apopCached;
    this.#apopChecked = now;
    try {
      const users = await this.store.directory.listUsers();
      this.#apopCached = users.some((u) => plaintextSecret(u.passwordHash) !== null);
    } catch (e) {
      this.logger.warn({ err: e }, 'pop3: user list for APOP check failed');
      this.#apopCached = false;
    }
    return this.#apopCached;
  }
}

import type { Logger } from '../lib/logger.js';
import type { TlsMaterial } from '../lib/service.js';
import type { ConnectionCounter } from '../lib/connection-limit.js';
import type { Authenticator } from './authenticator.js';

/**
 * What every protocol server is constructed with; protocol-specific options extend this and add `store`:
 * the parts of the Store handle (store/handle.ts) that protocol uses.
 */
export interface ServiceOptions {
  auth: Authenticator;
  /** Defaults to silentLogger. */
  logger?: Logger;
  /** When set: STARTTLS/STLS offered on plain listeners and implicit-TLS listeners allowed. */
  tls?: TlsMaterial;
  /** Name used in greetings and trace headers; defaults to os.hostname(). */
  hostname?: string;
  /**
   * Where connections per address (and IMAP sessions per user) are counted against their limits; default a
   * counter of this service alone. A worker of `serve --workers N` passes one held by the primary process.
   */
  connections?: ConnectionCounter;
}

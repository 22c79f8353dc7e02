/**
 * The contract between the HTTP listener (src/http/server.ts) and what it serves: JMAP (src/jmap/), the web
 * interface and admin API (src/web/), autoconfiguration and metrics. Each is a plugin: a function that adds
 * its routes to the one Fastify instance, given what the server knows.
 */
import type { FastifyInstance } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import type { Logger } from '../lib/logger.js';
import type { Store } from '../store/handle.js';
import type { OutboundQueue } from '../delivery/outbound.js';
import type { SieveQuota } from '../store/sieve.js';

/** A listener of the running server, as clients should be told about it (autoconfig, settings pages). */
export interface PublicListener {
  name: string;
  port: number;
  tls: 'implicit' | 'starttls' | 'none';
}

export interface HttpContext {
  store: Store;
  auth: Authenticator;
  logger: Logger;
  /** The server's host name (greetings, autoconfig, Authentication-Results). */
  hostname: string;
  /** The data directory (SQLite store, keys, caches); '' when the store is PostgreSQL-only. */
  dataDir: string;
  /** The outbound queue (JMAP EmailSubmission, webmail send, admin queue view); null when not running. */
  queue: OutboundQueue | null;
  /** The listeners the server runs (filled in once they listen; read it at request time). */
  listeners: () => readonly PublicListener[];
  /** Origins allowed by CORS (config `cors-origins`); empty: no cross-origin access. */
  corsOrigins: readonly string[];
  /** JMAP: seconds every EmailSubmission is held in the outbound queue before it leaves, so it can be canceled (config jmap-send-delay; default 0). */
  sendDelaySec?: number;
  /** Sieve script limits (config sieve-max-*; JMAP SieveScript uses ManageSieve's); default DEFAULT_SIEVE_QUOTA. */
  sieveQuota?: Partial<SieveQuota>;
}

/** Adds routes to the app. Plugins are registered in order; each owns its URL prefix. */
export type HttpPlugin = (app: FastifyInstance, ctx: HttpContext) => Promise<void>;

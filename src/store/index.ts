/**
 * Store entry point: openStore(spec) opens a backend and returns its Store handle (handle.ts), which gives
 * out the directory, the mail store, the POP3 maildrop and the outbound queue.
 * - a postgres:// or postgresql:// URL (or `{ url }`) opens the PostgreSQL store;
 * - any other string (a directory path, or `sqlite:PATH`) or `{ dataDir }` opens the embedded SQLite store
 *   (metadata and small messages in SQLite, larger message bodies as files under the directory).
 * Throws StoreError INVALID for an unsupported URL scheme.
 */
import type { Logger } from '../lib/logger.js';
import type { Store, StoreOptions } from './handle.js';
import { StoreError } from './types.js';
import { openSqliteStore } from './sqlite/index.js';

export * from './types.js';
export type { Directory } from './directory.js';
export type { MailStore, Wanted, MessageParts } from './mail.js';
export type { Maildrop } from './maildrop.js';
export type { OutboundQueue, OutboundPatch } from './queue.js';
export type { Store, StoreOptions } from './handle.js';

/**
 * Where the store lives: a path or URL string (see the header), the SQLite data directory, or a PostgreSQL
 * URL with the options that do not ride in the URL. `fsync: false` is for tests and benchmarks only.
 */
export type StoreSpec =
  | string
  | { dataDir: string; fsync?: boolean; inlineMax?: number }
  | { url: string; logger?: Logger; fsync?: boolean; poolSize?: number; schema?: string; blobDir?: string };

interface PostgresModule {
  openPostgresStore(
    opts: { url: string; logger?: Logger; fsync?: boolean; poolSize?: number; schema?: string; blobDir?: string } & StoreOptions,
  ): Promise<Store>;
}

/** Opens a store and returns its handle. Throws StoreError INVALID for an unsupported URL scheme. */
export async function openStore(spec: StoreSpec, opts: StoreOptions = {}): Promise<Store> {
  const s = typeof spec === 'string' ? parseSpec(spec) : spec;
  if ('dataDir' in s) {
    return openSqliteStore({ ...s, ...opts });
  }
  if (/^postgres(ql)?:\/\//i.test(s.url)) {
    // A variable specifier keeps the typecheck independent of the PostgreSQL module.
    const specifier = './postgres/index.js';
    const mod = (await import(specifier)) as PostgresModule;
    return mod.openPostgresStore({ ...s, ...opts });
  }
  throw new StoreError('INVALID', `unsupported store URL scheme: ${s.url.split(':')[0] ?? ''}`);
}

function parseSpec(spec: string): { dataDir: string } | { url: string } {
  if (/^sqlite:/i.test(spec)) return { dataDir: spec.slice('sqlite:'.length) };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) return { url: spec };
  return { dataDir: spec };
}

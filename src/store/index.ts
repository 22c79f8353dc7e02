/**
 * Store entry point: opens the configured MailStore implementation.
 * - `{ dataDir }` opens the embedded SQLite store (metadata in SQLite, message blobs as files under dataDir).
 * - `{ url }` with a postgres:// or postgresql:// URL opens the PostgreSQL store.
 */
import type { MailStore } from './types.js';
import type { Logger } from '../lib/logger.js';
import { StoreError } from './types.js';
import { openSqliteStore } from './sqlite/index.js';

export * from './types.js';
export { openSqliteStore } from './sqlite/index.js';

export type StoreSpec = { dataDir: string; fsync?: boolean } | { url: string; logger?: Logger };

interface PostgresModule {
  openPostgresStore(opts: { url: string; logger?: Logger }): Promise<MailStore>;
}

/** Opens a store. Throws StoreError INVALID for an unsupported URL scheme. */
export async function openStore(spec: StoreSpec): Promise<MailStore> {
  if ('dataDir' in spec) {
    return openSqliteStore(spec.fsync === undefined ? { dataDir: spec.dataDir } : { dataDir: spec.dataDir, fsync: spec.fsync });
  }
  const url = spec.url;
  if (/^postgres(ql)?:\/\//i.test(url)) {
    // A variable specifier keeps the typecheck independent of the PostgreSQL module.
    const specifier = './postgres/index.js';
    const mod = (await import(specifier)) as PostgresModule;
    return mod.openPostgresStore(spec.logger ? { url, logger: spec.logger } : { url });
  }
  throw new StoreError('INVALID', `unsupported store URL scheme: ${url.split(':')[0] ?? ''}`);
}

/**
 * The PostgreSQL MailStore: several stateless mailroom nodes share one database (metadata, change log,
 * outbound queue, and message blobs in bytea or in a directory on shared storage); LISTEN/NOTIFY carries
 * change wake-ups between nodes. See store.ts for the concurrency and durability notes.
 */
import type { MailStore } from '../types.js';
import { PostgresMailStore, type PostgresStoreOptions } from './store.js';

export { PostgresMailStore } from './store.js';
export type { PostgresStoreOptions } from './store.js';
export { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

/**
 * Opens the store on `url` (postgres://...), applying pending schema migrations first (idempotent; safe
 * when several nodes start at once). `blobDir` puts message bytes in files on storage shared by every node
 * instead of the database; `schema` selects the PostgreSQL schema (default "public").
 * Throws StoreError TEMPORARY when PostgreSQL is unreachable, INVALID for a bad schema name.
 */
export async function openPostgresStore(
  opts: { url: string; blobDir?: string; schema?: string } & Partial<PostgresStoreOptions>,
): Promise<MailStore & { migrate(): Promise<void> } & PostgresMailStore> {
  return PostgresMailStore.open(opts);
}

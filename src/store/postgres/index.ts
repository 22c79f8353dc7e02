/**
 * The PostgreSQL MailStore: several stateless mailroom nodes share one database (metadata, change log,
 * outbound queue, and message blobs in bytea or in a directory on shared storage); LISTEN/NOTIFY carries
 * change wake-ups between nodes. See store.ts for the concurrency and durability notes.
 */
import type { MailStore } from '../types.js';
import { StoreError } from '../types.js';
import { PostgresMailStore, type PostgresStoreOptions } from './store.js';

export { PostgresMailStore } from './store.js';
export type { PostgresStoreOptions } from './store.js';
export { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

/**
 * Store settings that may ride in the URL's query string, so a plain store URL (`--store`, MAILROOM_STORE)
 * can carry them: `postgres://host/db?schema=mail&blobDir=/shared/blobs`. They are removed before the URL
 * reaches the PostgreSQL driver. Explicit options win over the URL.
 */
export function splitStoreUrl(url: string): { url: string; schema?: string; blobDir?: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new StoreError('INVALID', 'invalid PostgreSQL URL');
  }
  const out: { url: string; schema?: string; blobDir?: string } = { url };
  const schema = u.searchParams.get('schema');
  const blobDir = u.searchParams.get('blobDir');
  if (schema === null && blobDir === null) return out;
  u.searchParams.delete('schema');
  u.searchParams.delete('blobDir');
  out.url = u.toString();
  if (schema !== null) out.schema = schema;
  if (blobDir !== null) out.blobDir = blobDir;
  return out;
}

/**
 * Opens the store on `url` (postgres://...), applying pending schema migrations first (idempotent; safe
 * when several nodes start at once). `blobDir` puts message bytes in files on storage shared by every node
 * instead of the database; `schema` selects the PostgreSQL schema (default "public"); both may also be
 * given in the URL (see splitStoreUrl).
 * Throws StoreError TEMPORARY when PostgreSQL is unreachable, INVALID for a bad URL or schema name.
 */
export async function openPostgresStore(
  opts: { url: string; blobDir?: string; schema?: string } & Partial<PostgresStoreOptions>,
): Promise<MailStore & { migrate(): Promise<void> } & PostgresMailStore> {
  const fromUrl = splitStoreUrl(opts.url);
  return PostgresMailStore.open({ ...fromUrl, ...withoutUndefined(opts), url: fromUrl.url });
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * The PostgreSQL store: several stateless mailroom nodes share one database (metadata, change log,
 * outbound queue, and message blobs in bytea or in a directory on shared storage); LISTEN/NOTIFY carries
 * change wake-ups between nodes. openPostgresStore returns the Store handle (../handle.ts) whose four parts
 * (directory.ts, mail.ts, maildrop.ts, queue.ts) share one core (core.ts: pool, transactions, change bus,
 * blobs; its header holds the concurrency and durability notes), plus the PostgreSQL-only extras below.
 */
import type { Store } from '../handle.js';
import { StoreError } from '../types.js';
import { PgCore, type PostgresStoreOptions } from './core.js';
import { PgAcl } from './acl.js';
import { PgDirectory } from './directory.js';
import { PgDkimKeys } from './dkim.js';
import { PgMailStore } from './mail.js';
import { PgMaildrop } from './maildrop.js';
import { PgOutboundQueue } from './queue.js';
import { PgQuota } from './quota.js';
import { PgSpam } from './spam.js';
import { PgSieve } from './sieve.js';
import { PgTokens } from './tokens.js';
import { PgJmap } from './jmap.js';

export type { PostgresStoreOptions } from './core.js';
export { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

/** An open PostgreSQL store: the Store handle plus maintenance and diagnostics. */
export interface PostgresStore extends Store {
  readonly kind: 'postgres';
  /** Applies pending schema migrations (idempotent; safe when several nodes run it at once). */
  migrate(): Promise<void>;
  /** Removes blob files no row references, older than `graceMs` (default one hour). Returns how many. */
  sweepOrphanBlobs(graceMs?: number): Promise<number>;
  /** Where message bytes go: 'bytea' (in the database) or 'dir' (files under blobDir). */
  readonly blobMode: 'bytea' | 'dir';
  /** Backend pid of the LISTEN connection, null while it is reconnecting. */
  readonly listenerPid: number | null;
  /** How many times the LISTEN connection was restored after a loss. */
  readonly listenerReconnects: number;
  /** Resolves once the LISTEN connection is up again (immediately when it is). */
  listenerSettled(): Promise<void>;
}

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
 * given in the URL (see splitStoreUrl). `envelopeText` (StoreOptions) is applied to each appended
 * message's envelope and its result kept for readMessages.
 * Throws StoreError TEMPORARY when PostgreSQL is unreachable, INVALID for a bad URL, schema or node name.
 */
export async function openPostgresStore(opts: PostgresStoreOptions): Promise<PostgresStore> {
  const fromUrl = splitStoreUrl(opts.url);
  const core = await PgCore.open({ ...fromUrl, ...withoutUndefined(opts), url: fromUrl.url });
  const directory = new PgDirectory(core);
  const mail = new PgMailStore(core);
  const maildrop = new PgMaildrop(core);
  const queue = new PgOutboundQueue(core);
  return {
    kind: 'postgres',
    directory,
    mail,
    maildrop,
    queue,
    quota: new PgQuota(core),
    spam: new PgSpam(core),
    acl: new PgAcl(core),
    tokens: new PgTokens(core),
    sieve: new PgSieve(core),
    dkim: new PgDkimKeys(core),
    jmap: new PgJmap(core),
    close: () => core.close(),
    migrate: () => core.migrate(),
    sweepOrphanBlobs: (graceMs?: number) => core.sweepOrphanBlobs(graceMs),
    blobMode: core.blobs.mode,
    get listenerPid() {
      return core.listenerPid;
    },
    get listenerReconnects() {
      return core.listenerReconnects;
    },
    listenerSettled: () => core.listenerSettled(),
  };
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

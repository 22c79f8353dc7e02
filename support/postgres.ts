/**
 * Support for tests and benchmarks of the PostgreSQL store: a throwaway database per run, created through
 * the maintenance database and dropped at the end, so concurrent runs never collide. Used by the store's
 * own tests, by multi-node server tests and by the store benchmarks.
 *
 * The maintenance URL defaults to postgres://postgres@127.0.0.1:5432/postgres and can be overridden with
 * MAILROOM_TEST_PG_URL. When PostgreSQL is not reachable, createTestDatabase() throws an error saying that
 * PostgreSQL is required: the tests fail loudly instead of being skipped.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { DATA_TABLES } from '../src/store/postgres/schema.js';

export const DEFAULT_MAINTENANCE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function maintenanceUrl(): string {
  return process.env['MAILROOM_TEST_PG_URL'] || DEFAULT_MAINTENANCE_URL;
}

export interface TestDatabase {
  /** Database name, mailroom_test_<random>. */
  name: string;
  /** Connection URL of the new database. */
  url: string;
  /** A connection URL of the maintenance database (for pg_terminate_backend and the like). */
  adminUrl: string;
  /** Drops the database, terminating any connection still open on it. Idempotent. */
  drop(): Promise<void>;
}

async function adminClient(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000, application_name: 'mailroom-test-admin' });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (e) {
    await client.end().catch(() => undefined);
    const why = e instanceof Error ? e.message || e.name : String(e);
    throw new Error(
      `PostgreSQL is required for the PostgreSQL store tests, but ${url.replace(/:[^:@/]*@/, ':***@')} is not reachable (${why}). ` +
        'Start PostgreSQL (user postgres, trust auth on 127.0.0.1:5432) or point MAILROOM_TEST_PG_URL at a maintenance database.',
      { cause: e },
    );
  }
  return client;
}

/** Creates mailroom_test_<random> and returns its URL. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = maintenanceUrl();
  const name = `mailroom_test_${randomBytes(6).toString('hex')}`;
  const admin = await adminClient(adminUrl);
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end().catch(() => undefined);
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  let dropped = false;
  return {
    name,
    url: u.toString(),
    adminUrl,
    async drop() {
      if (dropped) return;
      dropped = true;
      const c = await adminClient(adminUrl);
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end().catch(() => undefined);
      }
    },
  };
}

/** Runs one statement on a short-lived connection to `url` (test plumbing: terminate backends, inspect). */
export async function adminQuery<R extends pg.QueryResultRow>(url: string, text: string, values?: unknown[]): Promise<R[]> {
  const c = await adminClient(url);
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * Empties every data table of a migrated schema (much faster than migrating a fresh schema per test).
 * The caller must have closed every store using the schema. Blob files of a blobDir are not touched.
 */
export async function emptySchema(url: string, schema: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,47}$/.test(schema)) throw new Error(`bad schema name ${schema}`);
  const c = await adminClient(url);
  try {
    await c.query('BEGIN');
    for (const t of DATA_TABLES) await c.query(`DELETE FROM ${schema}.${t}`);
    await c.query('COMMIT');
  } finally {
    await c.end().catch(() => undefined);
  }
}

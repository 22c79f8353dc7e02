/**
 * The PostgreSQL store for the contract suites (bytea blobs, the default mode; the blob-directory mode has
 * its own tests in test/store/postgres-blobdir.test.ts, cross-node behaviour in
 * test/postgres-multinode.test.ts): one throwaway database per test file (see support/postgres.ts), dropped
 * after it; every store starts on an empty schema, so tests never see each other's data. Fails (never
 * skips) when PostgreSQL is unreachable. The suites are spread over two files that run side by side.
 */
import { after } from 'node:test';
import { openStore } from '../../src/store/index.js';
import { createTestDatabase, emptySchema, type TestDatabase } from '../../support/postgres.js';
import type { StoreFactory } from './harness.js';

const SCHEMA = 'contract';

/** A factory on this file's own database (call once per test file, at its top level). */
export function postgresFactory(): StoreFactory {
  let dbPromise: Promise<TestDatabase> | null = null;
  let migrated = false;
  after(async () => {
    if (dbPromise) await (await dbPromise).drop();
  });
  return async (opts) => {
    dbPromise ??= createTestDatabase();
    const db = await dbPromise;
    // Migrated by the first store, emptied before each later one (much faster than a schema per test; the
    // suites run their tests one after another, each closing its store in cleanup).
    if (migrated) await emptySchema(db.url, SCHEMA);
    migrated = true;
    const store = await openStore({ url: db.url, schema: SCHEMA, fsync: false, poolSize: 5 }, opts);
    return {
      store,
      async cleanup() {
        await store.close();
      },
    };
  };
}

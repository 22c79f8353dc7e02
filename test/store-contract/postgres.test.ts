/**
 * The store contract suites against the PostgreSQL store (bytea blobs, the default mode; the blob-directory
 * mode has its own tests in test/store/postgres-blobdir.test.ts, cross-node behaviour in
 * test/postgres-multinode.test.ts). One throwaway database per run (see support/postgres.ts);
 * every store starts on an empty schema, so tests never see each other's data. Fails (never skips) when
 * PostgreSQL is unreachable.
 */
import { after } from 'node:test';
import { openStore } from '../../src/store/index.js';
import { createTestDatabase, emptySchema, type TestDatabase } from '../../support/postgres.js';
import { runStoreContracts } from './index.js';
import { runSieveContract } from './sieve.js';
import { runTokensContract } from './tokens.js';
import { runSpamContract } from './spam.js';
import { runJmapContract } from './jmap.js';
import type { StoreFactory } from './harness.js';

const SCHEMA = 'contract';
let dbPromise: Promise<TestDatabase> | null = null;
let migrated = false;

after(async () => {
  if (dbPromise) await (await dbPromise).drop();
});

const factory: StoreFactory = async (opts) => {
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

runStoreContracts('postgres', factory);
runSieveContract('postgres', factory);
runTokensContract('postgres', factory);
runSpamContract('postgres', factory);
runJmapContract('postgres', factory);

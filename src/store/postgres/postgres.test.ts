/**
 * The shared MailStore contract suite against the PostgreSQL store (bytea blobs, the default mode; the
 * blob-directory mode has its own tests in blobdir.test.ts, cross-node behaviour in
 * test/postgres-multinode.test.ts). One throwaway database per run (see testing.ts); every store starts on
 * an empty schema, so tests never see each other's data. Fails (never skips) when PostgreSQL is unreachable.
 */
import { after } from 'node:test';
import { runStoreContract } from '../contract.js';
import { openPostgresStore } from './index.js';
import { createTestDatabase, emptySchema, type TestDatabase } from './testing.js';

const SCHEMA = 'contract';
let dbPromise: Promise<TestDatabase> | null = null;
let migrated = false;

after(async () => {
  if (dbPromise) await (await dbPromise).drop();
});

runStoreContract('postgres', async () => {
  dbPromise ??= createTestDatabase();
  const db = await dbPromise;
  // Migrated by the first store, emptied before each later one (much faster than a schema per test; the
  // contract runs its tests one after another, each closing its store in cleanup).
  if (migrated) await emptySchema(db.url, SCHEMA);
  migrated = true;
  const store = await openPostgresStore({ url: db.url, schema: SCHEMA, fsync: false, poolSize: 5 });
  return {
    store,
    async cleanup() {
      await store.close();
    },
  };
});

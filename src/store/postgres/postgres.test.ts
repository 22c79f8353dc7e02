/**
 * The shared MailStore contract suite against the PostgreSQL store, in both blob modes (bytea and blobDir).
 * One throwaway database per run (see testing.ts); every store starts on an empty schema, so tests never
 * see each other's data. Fails (never skips) when PostgreSQL is unreachable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { runStoreContract } from '../contract.js';
import { openPostgresStore } from './index.js';
import { createTestDatabase, emptySchema, type TestDatabase } from './testing.js';

let dbPromise: Promise<TestDatabase> | null = null;
const migrated = new Set<string>();

function database(): Promise<TestDatabase> {
  dbPromise ??= createTestDatabase();
  return dbPromise;
}

after(async () => {
  if (dbPromise) await (await dbPromise).drop();
});

for (const mode of ['bytea', 'blobDir'] as const) {
  runStoreContract(`postgres (${mode})`, async () => {
    const db = await database();
    // One schema per mode, migrated by the first store and emptied before each later one (the contract
    // runs its tests one after another, each closing its store in cleanup).
    const schema = `contract_${mode.toLowerCase()}`;
    if (migrated.has(schema)) await emptySchema(db.url, schema);
    migrated.add(schema);
    const dir = mode === 'blobDir' ? mkdtempSync(join(tmpdir(), 'mailroom-pg-blobs-')) : undefined;
    const store = await openPostgresStore({ url: db.url, schema, fsync: false, poolSize: 5, ...(dir ? { blobDir: dir } : {}) });
    return {
      store,
      async cleanup() {
        await store.close();
        if (dir) rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

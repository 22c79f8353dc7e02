/**
 * The store contract suites against the embedded SQLite store: each store on a fresh data directory, removed
 * afterwards. fsync off keeps the suites fast; the crash test and the bench exercise the durable path.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.js';
import { runStoreContracts } from './index.js';
import { runSieveContract } from './sieve.js';
import { runTokensContract } from './tokens.js';
import { runSpamContract } from './spam.js';
import { runJmapContract } from './jmap.js';
import type { StoreFactory } from './harness.js';

const factory: StoreFactory = async (opts) => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-store-'));
  const store = await openStore({ dataDir: dir, fsync: false }, opts);
  return {
    store,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
};

runStoreContracts('sqlite', factory);
runSieveContract('sqlite', factory);
runTokensContract('sqlite', factory);
runSpamContract('sqlite', factory);
runJmapContract('sqlite', factory);

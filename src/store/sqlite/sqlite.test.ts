import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStoreContract } from '../contract.js';
import { openSqliteStore } from './index.js';

runStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-store-'));
  // fsync off keeps the suite fast; the crash test and the bench exercise the durable path.
  const store = await openSqliteStore({ dataDir: dir, fsync: false });
  return {
    store,
    async cleanup() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

/**
 * Quota usage stays exact across crashes: a child process runs appends, copies, moves between users,
 * expunges and mailbox deletions concurrently with fsync on and is SIGKILLed at random moments (several
 * rounds on the same store); after each round the counters equal what a scan of every mailbox finds, on
 * SQLite and on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openServerStore } from '../src/server/store.js';
import type { Store } from '../src/store/handle.js';
import { runAndKill } from './helpers/crash.js';
import { createTestDatabase, type TestDatabase } from '../support/postgres.js';

const CHILD = new URL('./quota-crash-child.ts', import.meta.url).pathname;

async function assertExact(store: Store, round: number): Promise<void> {
  for (const address of ['a@example.org', 'b@example.org']) {
    const u = await store.directory.getUser(address);
    assert.ok(u);
    let storage = 0;
    let messages = 0;
    for (const mb of await store.mail.listMailboxes(u.id)) {
      const st = await store.mail.status(mb.id);
      storage += st.size;
      messages += st.messages;
    }
    assert.deepEqual(await store.quota.usage(u.id), { storage, messages }, `${address} after round ${round}`);
  }
}

test('SQLite: usage equals a scan after SIGKILLs in the middle of writes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-quota-crash-'));
  try {
    for (let round = 0; round < 3; round++) {
      await runAndKill(CHILD, [dir], 20 + round * 10);
      const store = await openServerStore({ dataDir: dir });
      try {
        await assertExact(store, round);
      } finally {
        await store.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

let db: TestDatabase | null = null;
after(async () => {
  await db?.drop();
});

test('PostgreSQL: usage equals a scan after SIGKILLs of the client in the middle of writes', async () => {
  db = await createTestDatabase();
  for (let round = 0; round < 2; round++) {
    await runAndKill(CHILD, [db.url, 'quota_crash'], 20 + round * 10);
    const store = await openServerStore({ url: db.url, schema: 'quota_crash' });
    try {
      await assertExact(store, round);
    } finally {
      await store.close();
    }
  }
});

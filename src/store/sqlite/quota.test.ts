/**
 * SQLite quota counters (quota.ts): the first open of a database without them counts every user's messages
 * once, and the counters are then kept by the triggers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openSqliteStore } from './index.js';
import { sampleMessage } from '../../../test/helpers/store.js';
import { seedTwoUsers } from '../../../test/store-contract/quota.js';

test('a database from before quotas is counted once at open, then kept by the triggers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-quota-'));
  try {
    let s = await openSqliteStore({ dataDir: dir, fsync: false });
    const { alice, bob, aliceInbox, aliceSize, bobSize } = await seedTwoUsers(s);
    await s.quota.setLimits(alice, { storage: 1 });
    await s.close();
    // What a build from before quotas leaves: no table, no triggers.
    const db = new Database(join(dir, 'mail.db'));
    db.exec('DROP TRIGGER quota_messages_insert; DROP TRIGGER quota_messages_delete; DROP TRIGGER quota_users_delete; DROP TABLE quota');
    db.close();
    s = await openSqliteStore({ dataDir: dir, fsync: false });
    assert.deepEqual(await s.quota.usage(alice), { storage: aliceSize, messages: 4 });
    assert.deepEqual(await s.quota.usage(bob), { storage: bobSize, messages: 1 });
    assert.deepEqual(await s.quota.settings(alice), { storage: null, messages: null });
    await s.mail.append(aliceInbox, sampleMessage(5));
    assert.equal((await s.quota.usage(alice)).messages, 5);
    await s.close();
    // A later open does not count again (the counters are trusted): a row changed behind the store's back stays.
    const db2 = new Database(join(dir, 'mail.db'));
    db2.prepare('UPDATE quota SET messages_used = 42 WHERE user_id = ?').run(alice);
    db2.close();
    s = await openSqliteStore({ dataDir: dir, fsync: false });
    assert.equal((await s.quota.usage(alice)).messages, 42);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * PostgreSQL quota counters (quota.ts, migration 7): the migration counts every user's messages once on a
 * database from before quotas, and the triggers keep the counters exact from then on.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { seedTwoUsers } from '../../../test/store-contract/quota.js';
import { openPostgresStore } from './index.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../../../support/postgres.js';

let db: TestDatabase;

before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

test('migration 7 counts the messages of a database from before quotas', async () => {
  let s = await openPostgresStore({ url: db.url, schema: 'quota_old', fsync: false, poolSize: 2 });
  const { alice, bob, aliceInbox, bobInbox, aliceSize, bobSize } = await seedTwoUsers(s);
  await s.mail.copy(bobInbox, [1], aliceInbox);
  await s.close();
  // What a database at version 6 looks like: no quota table, functions or triggers.
  await adminQuery(
    db.url,
    `DROP TABLE quota_old.quota; DROP FUNCTION quota_old.quota_messages_added() CASCADE;
     DROP FUNCTION quota_old.quota_messages_removed() CASCADE; DELETE FROM quota_old.schema_migrations WHERE version = 7`,
  );
  s = await openPostgresStore({ url: db.url, schema: 'quota_old', fsync: false, poolSize: 2 });
  try {
    assert.deepEqual(await s.quota.usage(alice), { storage: aliceSize + bobSize, messages: 5 });
    assert.deepEqual(await s.quota.usage(bob), { storage: bobSize, messages: 1 });
    await s.mail.storeFlags(aliceInbox, [1, 2], { op: 'add', flags: ['\\Deleted'] });
    await s.mail.expunge(aliceInbox);
    assert.equal((await s.quota.usage(alice)).messages, 3);
  } finally {
    await s.close();
  }
});

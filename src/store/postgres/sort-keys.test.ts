/**
 * Persisted sort keys of the PostgreSQL store (sort-keys.ts, migration 15): an append writes its blob's row;
 * a new store (another node, or after a restart) reads the keys from those rows; a database from before the
 * migration (no rows) gets them back-filled on first use, and a row of an older layout version is replaced.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openPostgresStore } from './index.js';
import { adminQuery, createTestDatabase, type TestDatabase } from '../../../support/postgres.js';

let db: TestDatabase;

before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

const MESSAGES = [
  'From: "Zed" <zed@example.org>\r\nSubject: Re: plans\r\nDate: Tue, 02 Feb 2021 10:00:00 +0100\r\nMessage-ID: <a@x>\r\n\r\nbody\r\n',
  'From: amy@example.org\r\nSubject: plans\r\nDate: nonsense\r\nMessage-ID: <b@x>\r\nReferences: <a@x>\r\n <z@x>\r\n\r\nbody\r\n',
  'Subject: caf\u00e9 \0 nul\r\nIn-Reply-To: <b@x>\r\n\r\nbody\r\n',
];

async function rows(where = ''): Promise<number> {
  const r = await adminQuery<{ n: number }>(db.url, `SELECT count(*)::int AS n FROM sk.blob_sort_keys ${where}`);
  return Number(r[0]!.n);
}

test('sort keys are written at append, read by another store, back-filled when missing or stale', async () => {
  const open = () => openPostgresStore({ url: db.url, schema: 'sk', fsync: false, poolSize: 2 });
  const s = await open();
  const user = await s.directory.createUser('alice@example.org', '$test$hash');
  const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
  for (const [i, m] of MESSAGES.entries()) await s.mail.append(inbox.id, Buffer.from(m, 'latin1'), { internalDate: new Date(Date.UTC(2020, 0, i + 1)) });
  const want = (await s.mail.sortKeys(inbox.id)).map((k) => ({ ...k }));
  await s.close();
  assert.equal(await rows(), 3);
  assert.equal(want[1]!.sent, Date.UTC(2020, 0, 2), 'an unparseable Date sorts by the internal date');
  assert.deepEqual(want[1]!.parents, ['a@x', 'z@x']);

  const again = async () => {
    const t = await open();
    try {
      assert.deepEqual((await t.mail.sortKeys(inbox.id)).map((k) => ({ ...k })), want);
    } finally {
      await t.close();
    }
  };
  await again();
  await adminQuery(db.url, 'DELETE FROM sk.blob_sort_keys');
  await again();
  assert.equal(await rows(), 3, 'back-filled');
  await adminQuery(db.url, "UPDATE sk.blob_sort_keys SET version = 0, subject = 'wrong'");
  await again();
  assert.equal(await rows('WHERE version = 0'), 0, 'a stale version is replaced');

});

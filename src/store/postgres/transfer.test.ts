/**
 * Migrating between the embedded SQLite store and PostgreSQL with transferStore: everything arrives, EMAILIDs
 * (POP3 UIDLs) survive in PostgreSQL, and a repeated merge does not duplicate mail.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sampleMessage } from '../../../test/helpers/store.js';
import { openSqliteStore } from '../sqlite/index.js';
import { transferStore } from '../../transfer/index.js';
import { isStoreError } from '../types.js';
import { openPostgresStore } from './index.js';
import { createTestDatabase, type TestDatabase } from '../../../support/postgres.js';

let db: TestDatabase;
const dirs: string[] = [];

before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('SQLite -> PostgreSQL: users, mailboxes, messages with EMAILIDs; merge re-run skips what is there', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-pg-transfer-'));
  dirs.push(dir);
  const lite = await openSqliteStore({ dataDir: dir, fsync: false });
  const pg = await openPostgresStore({ url: db.url, schema: 'transfer', fsync: false, poolSize: 3 });
  try {
    const u = await lite.directory.createUser('pat@example.org', 'hash');
    const inbox = (await lite.mail.getMailbox(u.id, 'INBOX'))!;
    const sent = (await lite.mail.getMailbox(u.id, 'Sent'))!;
    const ids: string[] = [];
    for (let i = 1; i <= 5; i++) ids.push((await lite.mail.append(inbox.id, sampleMessage(i), { flags: i % 2 ? ['\\Seen'] : [] })).emailId);
    await lite.mail.append(sent.id, sampleMessage(9));

    const r = await transferStore(lite, pg);
    assert.equal(r.messages, 6);
    const u2 = (await pg.directory.getUser('pat@example.org'))!;
    const inbox2 = (await pg.mail.getMailbox(u2.id, 'INBOX'))!;
    const list = await pg.mail.listMessages(inbox2.id);
    assert.deepEqual(
      list.map((m) => m.emailId),
      ids,
      'EMAILIDs (POP3 UIDLs) kept',
    );
    assert.deepEqual(
      list.map((m) => m.flags),
      [['\\Seen'], [], ['\\Seen'], [], ['\\Seen']],
    );
    for (const [i, m] of list.entries()) {
      assert.deepEqual(await pg.mail.readBytes(inbox2.id, m.uid), await lite.mail.readBytes(inbox.id, i + 1));
    }
    assert.equal((await pg.mail.getMailbox(u2.id, 'Sent'))!.specialUse, '\\Sent');

    // Merging again adds nothing: every EMAILID is already present.
    const again = await transferStore(lite, pg, { existing: 'merge', includeGlobal: false });
    assert.equal(again.messages, 0);
    assert.equal(again.skipped.length, 6);
    assert.ok(again.skipped.every((s) => /already present/.test(s.reason)));
    assert.equal((await pg.mail.listMessages(inbox2.id)).length, 5);

    // The store itself guards EMAILIDs: a duplicate is EXISTS, a malformed one INVALID.
    await assert.rejects(pg.mail.append(inbox2.id, sampleMessage(1), { emailId: ids[0]! }), (e: unknown) => isStoreError(e, 'EXISTS'));
    await assert.rejects(pg.mail.append(inbox2.id, sampleMessage(1), { emailId: 'bad id!' }), (e: unknown) => isStoreError(e, 'INVALID'));
  } finally {
    await Promise.all([lite.close(), pg.close()]);
  }
});

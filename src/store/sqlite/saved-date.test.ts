/**
 * SQLite save dates (schema.ts messages.saved_date): a database written before the column existed gets it
 * at the next open; its old rows read without a save date (callers report the internal date), new rows
 * have one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { sampleMessage } from '../../../test/helpers/store.js';
import { openSqliteStore } from './index.js';

test('a database without messages.saved_date gains it at open; old rows have none, new rows do', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'saved-date-'));
  try {
    let s = await openSqliteStore({ dataDir: dir, fsync: false });
    const user = await s.directory.createUser('alice@example.org', '$test$hash');
    const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
    await s.mail.append(inbox.id, sampleMessage(1));
    await s.close();
    // What a database written before save dates looks like.
    const db = new Database(join(dir, 'mail.db'));
    db.exec('ALTER TABLE messages DROP COLUMN saved_date');
    db.close();

    s = await openSqliteStore({ dataDir: dir, fsync: false });
    const [old] = await s.mail.listMessages(inbox.id);
    assert.equal(old!.savedDate, undefined);
    await s.mail.append(inbox.id, sampleMessage(2));
    const [, fresh] = await s.mail.listMessages(inbox.id);
    assert.ok(fresh!.savedDate instanceof Date);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

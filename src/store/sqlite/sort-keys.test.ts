/**
 * Persisted sort keys of the SQLite store (sort-keys.ts): an append writes its blob's row; after a reopen
 * the keys come from those rows and equal what the envelope gives; a database without rows (written before
 * the table existed) gets them back-filled on the first use; rows of a stale version are replaced; rows of
 * dropped blobs are swept.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { sortKeysFor, type SortKeys } from '../../mailsort/index.js';
import { referencesIn } from '../message-prep.js';
import { openSqliteStore } from './index.js';

const MESSAGES = [
  'From: "Zed" <zed@example.org>\r\nSubject: Re: plans\r\nDate: Tue, 02 Feb 2021 10:00:00 +0100\r\nMessage-ID: <a@x>\r\n\r\nbody\r\n',
  'From: amy@example.org\r\nSubject: plans\r\nDate: nonsense\r\nMessage-ID: <b@x>\r\nReferences: <a@x>\r\n <z@x>\r\n\r\nbody\r\n',
  'Subject: \u00e9t\u00e9\r\nIn-Reply-To: <b@x>\r\n\r\nbody\r\n',
];

function rowCount(dir: string, where = ''): number {
  const db = new Database(join(dir, 'mail.db'));
  try {
    return db.prepare(`SELECT count(*) FROM blob_sort_keys ${where}`).pluck().get() as number;
  } finally {
    db.close();
  }
}

function edit(dir: string, sql: string): void {
  const db = new Database(join(dir, 'mail.db'));
  db.exec(sql);
  db.close();
}

test('sort keys are written at append, read back after a reopen, back-filled when missing or stale', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sort-keys-'));
  try {
    let s = await openSqliteStore({ dataDir: dir, fsync: false });
    const user = await s.directory.createUser('alice@example.org', '$test$hash');
    const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
    for (const [i, m] of MESSAGES.entries()) await s.mail.append(inbox.id, Buffer.from(m, 'latin1'), { internalDate: new Date(Date.UTC(2020, 0, i + 1)) });
    // What the envelope gives, computed the slow way.
    const want: SortKeys[] = [];
    for await (const r of s.mail.readMessages(inbox.id, [1, 2, 3], { meta: true, envelope: true, header: true })) {
      want.push(sortKeysFor({ ...r.envelope, uid: r.uid, internalDate: r.meta.internalDate, size: r.meta.size, references: referencesIn(r.header) }));
    }
    await s.close();
    assert.equal(rowCount(dir), 3);

    const reopen = async () => {
      s = await openSqliteStore({ dataDir: dir, fsync: false });
      const got = await s.mail.sortKeys(inbox.id);
      assert.deepEqual(
        got.map((k) => ({ ...k })),
        want,
      );
      assert.equal(got.at(1).sent, Date.UTC(2020, 0, 2), 'an unparseable Date sorts by the internal date');
      assert.deepEqual(got.at(1).parents, ['a@x', 'z@x']);
      await s.close();
    };
    await reopen();

    // A database written before the table existed: no rows; the first use computes and saves them.
    edit(dir, 'DELETE FROM blob_sort_keys');
    await reopen();
    assert.equal(rowCount(dir), 3);

    // A row of another layout version is recomputed and replaced.
    edit(dir, "UPDATE blob_sort_keys SET version = 0, subject = 'wrong'");
    await reopen();
    assert.equal(rowCount(dir, 'WHERE version = 0'), 0);

    // Rows whose blob is gone are swept.
    edit(dir, "INSERT INTO blob_sort_keys SELECT 'gone', version, sent, subject, from_key, to_key, cc_key, display_from, display_to, reply_fwd, message_id, parents FROM blob_sort_keys LIMIT 1");
    assert.equal(rowCount(dir), 4);
    await reopen();
    assert.equal(rowCount(dir), 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

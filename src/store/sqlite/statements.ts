/**
 * The prepared statements of the SQLite store, made once per connection (see core.ts). Statements of the
 * readMessages paths are built per set of wanted parts in mail-read.ts; rarely used ones through
 * SqliteCore.sql.
 */
import type Database from 'better-sqlite3';
import { FLAG_DELETED, FLAG_SEEN } from '../flags.js';
import { IN_LIST, MSG_COLS } from './rows.js';

export function prepareStatements(db: Database.Database) {
  return {
    userByAddress: db.prepare('SELECT * FROM users WHERE address = ?'),
    userById: db.prepare('SELECT * FROM users WHERE id = ?'),
    insertUser: db.prepare('INSERT INTO users (address, password_hash, created_at) VALUES (?, ?, ?)'),
    mailbox: db.prepare('SELECT * FROM mailboxes WHERE id = ?'),
    mailboxByName: db.prepare('SELECT * FROM mailboxes WHERE user_id = ? AND name = ?'),
    isSubscribed: db.prepare('SELECT 1 FROM subscriptions WHERE user_id = ? AND name = ?'),
    insertMailbox: db.prepare(
      'INSERT INTO mailboxes (user_id, name, uid_validity, uid_next, highest_modseq, first_recent, special_use, object_id) VALUES (?, ?, ?, 1, 1, 1, ?, ?)',
    ),
    bumpMailbox: db.prepare('UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE id = ?'),
    claimRecent: db.prepare('UPDATE mailboxes SET first_recent = ? WHERE id = ?'),
    recentState: db.prepare('SELECT first_recent, uid_next FROM mailboxes WHERE id = ?').raw(true),
    setModseq: db.prepare('UPDATE mailboxes SET highest_modseq = ? WHERE id = ?'),
    getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
    setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    keyword: db.prepare('SELECT spelling FROM mailbox_keywords WHERE mailbox_id = ? AND lower = ?'),
    insertKeyword: db.prepare('INSERT INTO mailbox_keywords (mailbox_id, lower, spelling) VALUES (?, ?, ?)'),
    insertBlob: db.prepare('INSERT INTO blobs (id, size, refs) VALUES (?, ?, 1)'),
    refBlob: db.prepare('UPDATE blobs SET refs = refs + 1 WHERE id = ?'),
    // No RETURNING: inside a savepoint (every group-commit item) with temp_store=MEMORY, each UPDATE ...
    // RETURNING took ~0.2 ms (an expunge of 10,000 messages: 1.7 s); UPDATE then SELECT takes ~8 us.
    unrefBlob: db.prepare('UPDATE blobs SET refs = refs - 1 WHERE id = ?'),
    blobRefs: db.prepare('SELECT refs FROM blobs WHERE id = ?').pluck(),
    deleteBlob: db.prepare('DELETE FROM blobs WHERE id = ?'),
    deleteBlobData: db.prepare('DELETE FROM blob_data WHERE blob_id = ?'),
    insertBlobData: db.prepare('INSERT INTO blob_data (blob_id, mime, text_headers, text_body) VALUES (?, ?, ?, ?)'),
    insertMessage: db.prepare(
      'INSERT INTO messages (mailbox_id, uid, email_id, thread_id, flags, keywords, internal_date, size, modseq, blob_id, retrieved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    deleteMessage: db.prepare('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?'),
    insertTombstone: db.prepare('INSERT OR REPLACE INTO tombstones (mailbox_id, uid, modseq) VALUES (?, ?, ?)'),
    updateFlags: db.prepare('UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?'),
    setRetrieved: db.prepare('UPDATE messages SET retrieved_at = ? WHERE mailbox_id = ? AND uid = ?'),
    listMessagesRaw: db.prepare(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = ? ORDER BY uid`).raw(true),
    messageOne: db.prepare(`SELECT ${MSG_COLS}, blob_id, retrieved_at FROM messages WHERE mailbox_id = ? AND uid = ?`),
    blobOf: db.prepare('SELECT blob_id, size FROM messages WHERE mailbox_id = ? AND uid = ?'),
    messagesIn: db.prepare(`SELECT ${MSG_COLS}, blob_id, retrieved_at FROM messages WHERE mailbox_id = ? AND uid IN (${IN_LIST}) ORDER BY uid`),
    insertBlobHeader: db.prepare('INSERT INTO blob_headers (blob_id, header) VALUES (?, ?)'),
    deleteBlobHeader: db.prepare('DELETE FROM blob_headers WHERE blob_id = ?'),
    insertBlobInline: db.prepare('INSERT INTO blob_inline (blob_id, raw) VALUES (?, ?)'),
    blobInline: db.prepare('SELECT raw FROM blob_inline WHERE blob_id = ?').pluck(),
    blobInlineRange: db.prepare('SELECT substr(raw, ?, ?) FROM blob_inline WHERE blob_id = ?').pluck(),
    garbageOne: db.prepare('INSERT OR IGNORE INTO blob_garbage (blob_id) SELECT blob_id FROM blob_inline WHERE blob_id = ?'),
    listGarbageJson: db.prepare('INSERT OR IGNORE INTO blob_garbage (blob_id) SELECT value FROM json_each(?)'),
    inlineIn: db.prepare('SELECT blob_id FROM blob_inline WHERE blob_id IN (SELECT value FROM json_each(?))').pluck(),
    garbageBatch: db.prepare('SELECT blob_id FROM blob_garbage LIMIT ?').pluck(),
    deleteBlobInlineJson: db.prepare('DELETE FROM blob_inline WHERE blob_id IN (SELECT value FROM json_each(?))'),
    deleteGarbageJson: db.prepare('DELETE FROM blob_garbage WHERE blob_id IN (SELECT value FROM json_each(?))'),
    // Set-based forms of the row deletions, the list passed as one JSON array (see deleteRows).
    deleteMessagesJson: db.prepare('DELETE FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))'),
    deleteEnvelopesJson: db.prepare('DELETE FROM message_envelopes WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))'),
    insertTombstonesJson: db.prepare('INSERT OR REPLACE INTO tombstones (mailbox_id, uid, modseq) SELECT ?, value, ? FROM json_each(?)'),
    unrefBlobsJson: db.prepare('UPDATE blobs SET refs = refs - 1 WHERE id IN (SELECT value FROM json_each(?))'),
    unrefBlobBy: db.prepare('UPDATE blobs SET refs = refs - ? WHERE id = ?'),
    deadBlobsJson: db.prepare('SELECT id FROM blobs WHERE id IN (SELECT value FROM json_each(?)) AND refs <= 0').pluck(),
    deleteBlobsJson: db.prepare('DELETE FROM blobs WHERE id IN (SELECT value FROM json_each(?))'),
    deleteBlobDataJson: db.prepare('DELETE FROM blob_data WHERE blob_id IN (SELECT value FROM json_each(?))'),
    deleteBlobHeadersJson: db.prepare('DELETE FROM blob_headers WHERE blob_id IN (SELECT value FROM json_each(?))'),
    insertEnvelope: db.prepare('INSERT OR REPLACE INTO message_envelopes (mailbox_id, uid, envelope) VALUES (?, ?, ?)'),
    copyEnvelope: db.prepare(
      'INSERT OR REPLACE INTO message_envelopes (mailbox_id, uid, envelope) SELECT ?, ?, envelope FROM message_envelopes WHERE mailbox_id = ? AND uid = ?',
    ),
    deleteEnvelope: db.prepare('DELETE FROM message_envelopes WHERE mailbox_id = ? AND uid = ?'),
    allFull: db.prepare(`SELECT ${MSG_COLS}, blob_id, retrieved_at FROM messages WHERE mailbox_id = ? ORDER BY uid`),
    deletedUids: db.prepare(`SELECT uid FROM messages WHERE mailbox_id = ? AND (flags & ${FLAG_DELETED}) != 0 ORDER BY uid`),
    deletedUidsIn: db.prepare(
      `SELECT uid FROM messages WHERE mailbox_id = ? AND (flags & ${FLAG_DELETED}) != 0 AND uid IN (${IN_LIST}) ORDER BY uid`,
    ),
    changedSinceRaw: db.prepare(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`).raw(true),
    tombstonesSince: db.prepare('SELECT uid FROM tombstones WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').pluck(),
    highestModseq: db.prepare('SELECT highest_modseq FROM mailboxes WHERE id = ?').pluck(),
    status: db.prepare(
      `SELECT count(*) AS messages,
              coalesce(sum((flags & ${FLAG_SEEN}) = 0), 0) AS unseen,
              coalesce(sum((flags & ${FLAG_DELETED}) != 0), 0) AS deleted,
              coalesce(sum(size), 0) AS size,
              coalesce(sum(uid >= ?), 0) AS recent
       FROM messages WHERE mailbox_id = ?`,
    ),
    searchIn: {
      header: db.prepare(
        `SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid IN (${IN_LIST}) AND instr(d.text_headers, ?) > 0`,
      ),
      body: db.prepare(
        `SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid IN (${IN_LIST}) AND instr(d.text_body, ?) > 0`,
      ),
      text: db.prepare(
        `SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid IN (${IN_LIST}) AND (instr(d.text_headers, ?) > 0 OR instr(d.text_body, ?) > 0)`,
      ),
    },
    searchRange: {
      header: db.prepare(
        'SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? AND instr(d.text_headers, ?) > 0',
      ),
      body: db.prepare(
        'SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? AND instr(d.text_body, ?) > 0',
      ),
      text: db.prepare(
        'SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? AND (instr(d.text_headers, ?) > 0 OR instr(d.text_body, ?) > 0)',
      ),
    },
    threadRef: db.prepare('SELECT thread_id FROM thread_refs WHERE user_id = ? AND message_id = ?'),
    insertThreadRef: db.prepare('INSERT OR IGNORE INTO thread_refs (user_id, message_id, thread_id) VALUES (?, ?, ?)'),
    retrievedBefore: db.prepare('SELECT uid FROM messages WHERE mailbox_id = ? AND retrieved_at IS NOT NULL AND retrieved_at <= ? ORDER BY uid'),
    outbound: db.prepare('SELECT * FROM outbound WHERE id = ?'),
    emailIdExists: db.prepare('SELECT 1 FROM messages WHERE email_id = ?'),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

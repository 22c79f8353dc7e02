/**
 * The prepared statements of the SQLite store, made once per connection (see core.ts). Statements of the
 * readMessages paths are built per set of wanted parts in mail.ts; rarely used ones through
 * SqliteCore.sql.
 */
import type Database from 'better-sqlite3';
import { FLAG_DELETED, FLAG_SEEN } from '../flags.js';
import { IN_LIST, READ_COLS } from './rows.js';

/**
 * The methods the store uses of a better-sqlite3 prepared statement. Named here because the package's own
 * Statement type cannot be named in emitted declarations.
 */
export interface Statement {
  run(...params: unknown[]): Database.RunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
  pluck(toggle?: boolean): this;
  raw(toggle?: boolean): this;
  readonly reader: boolean;
}

export function prepareStatements(db: Database.Database) {
  const prep = (sql: string): Statement => db.prepare(sql);
  return {
    userByAddress: prep('SELECT * FROM users WHERE address = ?'),
    userById: prep('SELECT * FROM users WHERE id = ?'),
    insertUser: prep('INSERT INTO users (address, password_hash, created_at) VALUES (?, ?, ?)'),
    mailbox: prep('SELECT * FROM mailboxes WHERE id = ?'),
    mailboxByName: prep('SELECT * FROM mailboxes WHERE user_id = ? AND name = ?'),
    isSubscribed: prep('SELECT 1 FROM subscriptions WHERE user_id = ? AND name = ?'),
    // A mailbox row with its subscription in one statement (getMailbox, getMailboxById: SELECT and APPEND).
    mailboxByNameSub: prep(
      `SELECT m.*, (s.name IS NOT NULL) AS subscribed FROM mailboxes m
       LEFT JOIN subscriptions s ON s.user_id = m.user_id AND s.name = m.name WHERE m.user_id = ? AND m.name = ?`,
    ),
    mailboxSub: prep(
      `SELECT m.*, (s.name IS NOT NULL) AS subscribed FROM mailboxes m
       LEFT JOIN subscriptions s ON s.user_id = m.user_id AND s.name = m.name WHERE m.id = ?`,
    ),
    insertMailbox: prep(
      'INSERT INTO mailboxes (user_id, name, uid_validity, uid_next, highest_modseq, first_recent, special_use, object_id) VALUES (?, ?, ?, 1, 1, 1, ?, ?)',
    ),
    bumpMailbox: prep('UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE id = ?'),
    claimRecent: prep('UPDATE mailboxes SET first_recent = ? WHERE id = ?'),
    recentState: prep('SELECT first_recent, uid_next FROM mailboxes WHERE id = ?').raw(true),
    setModseq: prep('UPDATE mailboxes SET highest_modseq = ? WHERE id = ?'),
    getMeta: prep('SELECT value FROM meta WHERE key = ?'),
    setMeta: prep('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    keyword: prep('SELECT spelling FROM mailbox_keywords WHERE mailbox_id = ? AND lower = ?'),
    insertKeyword: prep('INSERT INTO mailbox_keywords (mailbox_id, lower, spelling) VALUES (?, ?, ?)'),
    insertBlob: prep('INSERT INTO blobs (id, size, refs) VALUES (?, ?, 1)'),
    refBlob: prep('UPDATE blobs SET refs = refs + 1 WHERE id = ?'),
    // No RETURNING: inside a savepoint (every group-commit item) with temp_store=MEMORY, each UPDATE ...
    // RETURNING took ~0.2 ms (an expunge of 10,000 messages: 1.7 s); UPDATE then SELECT takes ~8 us.
    unrefBlob: prep('UPDATE blobs SET refs = refs - 1 WHERE id = ?'),
    blobRefs: prep('SELECT refs FROM blobs WHERE id = ?').pluck(),
    deleteBlob: prep('DELETE FROM blobs WHERE id = ?'),
    deleteBlobData: prep('DELETE FROM blob_data WHERE blob_id = ?'),
    insertBlobData: prep('INSERT INTO blob_data (blob_id, mime, text_headers, text_body) VALUES (?, ?, ?, ?)'),
    insertMessage: prep(
      'INSERT INTO messages (mailbox_id, uid, email_id, thread_id, flags, keywords, internal_date, size, modseq, blob_id, retrieved_at, saved_date) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    deleteMessage: prep('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?'),
    insertTombstone: prep('INSERT OR REPLACE INTO tombstones (mailbox_id, uid, modseq) VALUES (?, ?, ?)'),
    updateFlags: prep('UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?'),
    setRetrieved: prep('UPDATE messages SET retrieved_at = ? WHERE mailbox_id = ? AND uid = ?'),
    listMessagesRaw: prep(`SELECT ${READ_COLS} FROM messages WHERE mailbox_id = ? ORDER BY uid`).raw(true),
    messageOne: prep(`SELECT ${READ_COLS}, blob_id, retrieved_at FROM messages WHERE mailbox_id = ? AND uid = ?`),
    // A message's blob id, size and, when kept in the database, its bytes (null for a blob file).
    blobRead: prep('SELECT m.blob_id, m.size, i.raw FROM messages m LEFT JOIN blob_inline i ON i.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid = ?').raw(true),
    messagesIn: prep(`SELECT ${READ_COLS}, blob_id, retrieved_at FROM messages WHERE mailbox_id = ? AND uid IN (${IN_LIST}) ORDER BY uid`),
    insertBlobHeader: prep('INSERT INTO blob_headers (blob_id, header) VALUES (?, ?)'),
    deleteBlobHeader: prep('DELETE FROM blob_headers WHERE blob_id = ?'),
    insertBlobInline: prep('INSERT INTO blob_inline (blob_id, raw) VALUES (?, ?)'),
    deleteBlobInline: prep('DELETE FROM blob_inline WHERE blob_id = ?'),
    blobInline: prep('SELECT raw FROM blob_inline WHERE blob_id = ?').pluck(),
    blobInlineRange: prep('SELECT substr(raw, ?, ?) FROM blob_inline WHERE blob_id = ?').pluck(),
    garbageOne: prep('INSERT OR IGNORE INTO blob_garbage (blob_id) SELECT blob_id FROM blob_inline WHERE blob_id = ?'),
    listGarbageJson: prep('INSERT OR IGNORE INTO blob_garbage (blob_id) SELECT value FROM json_each(?)'),
    inlineIn: prep('SELECT blob_id FROM blob_inline WHERE blob_id IN (SELECT value FROM json_each(?))').pluck(),
    garbageBatch: prep('SELECT blob_id FROM blob_garbage LIMIT ?').pluck(),
    deleteBlobInlineJson: prep('DELETE FROM blob_inline WHERE blob_id IN (SELECT value FROM json_each(?))'),
    deleteGarbageJson: prep('DELETE FROM blob_garbage WHERE blob_id IN (SELECT value FROM json_each(?))'),
    // Set-based forms of the row deletions, the list passed as one JSON array (see deleteRows).
    deleteMessagesJson: prep('DELETE FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))'),
    deleteEnvelopesJson: prep('DELETE FROM message_envelopes WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))'),
    insertTombstonesJson: prep('INSERT OR REPLACE INTO tombstones (mailbox_id, uid, modseq) SELECT ?, value, ? FROM json_each(?)'),
    unrefBlobsJson: prep('UPDATE blobs SET refs = refs - 1 WHERE id IN (SELECT value FROM json_each(?))'),
    unrefBlobBy: prep('UPDATE blobs SET refs = refs - ? WHERE id = ?'),
    deadBlobsJson: prep('SELECT id FROM blobs WHERE id IN (SELECT value FROM json_each(?)) AND refs <= 0').pluck(),
    deleteBlobsJson: prep('DELETE FROM blobs WHERE id IN (SELECT value FROM json_each(?))'),
    deleteBlobDataJson: prep('DELETE FROM blob_data WHERE blob_id IN (SELECT value FROM json_each(?))'),
    deleteBlobHeadersJson: prep('DELETE FROM blob_headers WHERE blob_id IN (SELECT value FROM json_each(?))'),
    insertEnvelope: prep('INSERT OR REPLACE INTO message_envelopes (mailbox_id, uid, envelope) VALUES (?, ?, ?)'),
    copyEnvelope: prep(
      'INSERT OR REPLACE INTO message_envelopes (mailbox_id, uid, envelope) SELECT ?, ?, envelope FROM message_envelopes WHERE mailbox_id = ? AND uid = ?',
    ),
    deleteEnvelope: prep('DELETE FROM message_envelopes WHERE mailbox_id = ? AND uid = ?'),
    allFull: prep(`SELECT ${READ_COLS}, blob_id, retrieved_at FROM messages WHERE mailbox_id = ? ORDER BY uid`),
    /** The uid and blob of each \Deleted message of a mailbox (EXPUNGE), by uid. */
    deletedRows: prep(`SELECT uid, blob_id FROM messages WHERE mailbox_id = ? AND (flags & ${FLAG_DELETED}) != 0 ORDER BY uid`),
    deletedUidsIn: prep(
      `SELECT uid FROM messages WHERE mailbox_id = ? AND (flags & ${FLAG_DELETED}) != 0 AND uid IN (${IN_LIST}) ORDER BY uid`,
    ),
    changedSinceRaw: prep(`SELECT ${READ_COLS} FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`).raw(true),
    tombstonesSince: prep('SELECT uid FROM tombstones WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').pluck(),
    highestModseq: prep('SELECT highest_modseq FROM mailboxes WHERE id = ?').pluck(),
    status: prep(
      `SELECT count(*) AS messages,
              coalesce(sum((flags & ${FLAG_SEEN}) = 0), 0) AS unseen,
              coalesce(sum((flags & ${FLAG_DELETED}) != 0), 0) AS deleted,
              coalesce(sum(size), 0) AS size,
              coalesce(sum(uid >= ?), 0) AS recent
       FROM messages WHERE mailbox_id = ?`,
    ),
    searchIn: {
      header: prep(
        `SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid IN (${IN_LIST}) AND instr(d.text_headers, ?) > 0`,
      ),
      body: prep(
        `SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid IN (${IN_LIST}) AND instr(d.text_body, ?) > 0`,
      ),
      text: prep(
        `SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid IN (${IN_LIST}) AND (instr(d.text_headers, ?) > 0 OR instr(d.text_body, ?) > 0)`,
      ),
    },
    searchRange: {
      header: prep(
        'SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? AND instr(d.text_headers, ?) > 0',
      ),
      body: prep(
        'SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? AND instr(d.text_body, ?) > 0',
      ),
      text: prep(
        'SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? AND (instr(d.text_headers, ?) > 0 OR instr(d.text_body, ?) > 0)',
      ),
    },
    threadRef: prep('SELECT thread_id FROM thread_refs WHERE user_id = ? AND message_id = ?'),
    insertThreadRef: prep('INSERT OR IGNORE INTO thread_refs (user_id, message_id, thread_id) VALUES (?, ?, ?)'),
    retrievedBefore: prep('SELECT uid FROM messages WHERE mailbox_id = ? AND retrieved_at IS NOT NULL AND retrieved_at <= ? ORDER BY uid'),
    outbound: prep('SELECT * FROM outbound WHERE id = ?'),
    emailIdExists: prep('SELECT 1 FROM messages WHERE email_id = ?'),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

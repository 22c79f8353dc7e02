/**
 * SQLite schema of the embedded store (version 1).
 *
 * Layout notes:
 * - `messages` is a WITHOUT ROWID table clustered on (mailbox_id, uid): listMessages and uid-range reads are
 *   one range scan over small rows (~150 bytes). The MIME index and the searchable text live in `blob_data`,
 *   keyed by the blob, so scanning metadata never touches them and copies share them.
 * - System flags are a bitmask (`flags`), keywords a space-separated list in the mailbox's canonical spelling
 *   (`mailbox_keywords` records the first-seen spelling per mailbox).
 * - `message_envelopes` holds each message's ENVELOPE: the protocol layer's text for it when the store was
 *   given one (StoreOptions.envelopeText, opaque here; the IMAP rendering starts with "("), else its JSON
 *   (starts with "{", which kept text never does; see message-prep.ts). Clustered like
 *   `messages`, so a header overview of a big mailbox is two parallel range scans of small rows instead of
 *   one lookup into `blob_data` per message plus a parse of the whole index. Added after version 1 without
 *   a version bump: created and filled from `blob_data` at the first open that lacks it. Readers treat a
 *   missing row as "take the envelope from blob_data.mime" and rows whose message is gone as garbage (uids
 *   are never reused), so a database written meanwhile by a build that does not know the table stays correct.
 * - `blob_headers` keeps a copy of each blob's header block (when at most 16 KiB) so message lists
 *   (FETCH BODY.PEEK[HEADER.FIELDS ...]) read rows, not files. Added after version 1 without a version bump
 *   like message_envelopes, but not back-filled: a blob without a row has its header read from the file.
 * - `blob_inline` holds the bytes of small blobs (up to the store's inlineMax, 64 KiB by default) in the
 *   database instead of a file: they become durable with the commit's WAL sync instead of a file fsync and a
 *   directory fsync each. Larger blobs are files. A blob is in exactly one of the two places; readers look
 *   here first. Added after version 1 without a version bump: a database without the table simply has every
 *   blob in a file. The transaction that deletes the last message row of a blob lists it in
 *   `blob_garbage`; its blob_inline, blob_data and blob_headers rows are deleted in the background afterwards
 *   (freeing the pages of thousands of messages is what a POP3 QUIT would otherwise wait for), and whatever
 *   is still listed at the next open. Nothing reads those rows except through a message row.
 * - `messages.saved_date` (RFC 8514 SAVEDATE, ms since the epoch) is when the row was written: append, copy
 *   or move. Added after version 1 without a version bump (ALTER TABLE at the first open that lacks it);
 *   rows written before have NULL, which readers report as the internal date.
 * - `urlauth_keys` holds each mailbox's URLAUTH access key (RFC 4467), created at the first GENURLAUTH and
 *   deleted by RESETKEY. Added after version 1 without a version bump (CREATE IF NOT EXISTS at open); rows
 *   of deleted mailboxes are harmless (mailbox ids are never reused).
 * - `expunged_held` keeps expunged messages readable for sessions that still show them (RFC 2180 4.1.1;
 *   see held.ts): the message row's columns plus the expunge's modseq and time; each row holds one blob
 *   reference. Added after version 1 without a version bump (an older build leaves the table alone: its
 *   rows then merely keep their blobs until a newer build sweeps them).
 * - `acl` holds mailbox access control entries (RFC 4314; acl.ts) and `acl_seen` the private \Seen of users
 *   reading another owner's mailbox. Added after version 1 without a version bump (CREATE IF NOT EXISTS).
 * - `dkim_keys` holds the DKIM signing keys of the local domains (dkim.ts; private keys in PKCS#8 PEM, the
 *   database file being private to the server's user). Added after version 1 without a version bump.
 * - `metadata` holds annotations (RFC 5464; metadata.ts): per user, mailbox (0: the server's entries) and
 *   lower-cased entry name. Added after version 1 without a version bump (older builds ignore it).
 * - `sieve_scripts`, `sieve_vacation`, `sieve_vacation_sent`, `sieve_duplicates` hold Sieve scripts (the row id,
 *   AUTOINCREMENT, is the script's revision: a put replaces the row), the vacation setting and the reply and
 *   duplicate tracking (sieve.ts). Added after version 1 without a version bump.
 * - `mailbox_list_log` records each change of a user's mailbox list or subscriptions (create, delete, rename,
 *   subscribe, unsubscribe: mailbox-list.ts) in the transaction that makes it, so a process sharing the
 *   directory learns what changed (a former name included) from its data_version poll. Only the newest
 *   LIST_LOG_KEEP rows are kept. Added after version 1 without a version bump (CREATE IF NOT EXISTS at
 *   open): an older build writes no rows, and its changes are then not reported to other processes.
 * - users and mailboxes use AUTOINCREMENT so an id is never reused (a session holding the id of a deleted
 *   mailbox must never see another mailbox under it).
 * - `blobs.refs` counts the message, held and outbound rows pointing at a blob; a blob whose count drops to zero is
 *   deleted in the same transaction (with its blob_inline row) and its file, if it has one, unlinked after
 *   commit (a crash in between leaves an orphan file, swept at the next open).
 */
import { SORT_KEYS_SQL } from './sort-keys.js';

export const SCHEMA_VERSION = 1;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  address TEXT NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS domains (
  domain TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS aliases (
  source TEXT PRIMARY KEY,
  target TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS mailboxes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  uid_validity INTEGER NOT NULL,
  uid_next INTEGER NOT NULL,
  highest_modseq INTEGER NOT NULL,
  first_recent INTEGER NOT NULL DEFAULT 1,
  special_use TEXT,
  object_id TEXT NOT NULL UNIQUE,
  UNIQUE (user_id, name)
);

CREATE TABLE IF NOT EXISTS subscriptions (
  user_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  PRIMARY KEY (user_id, name)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS mailbox_list_log (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  old_name TEXT,
  origin TEXT
);

CREATE TABLE IF NOT EXISTS mailbox_keywords (
  mailbox_id INTEGER NOT NULL,
  lower TEXT NOT NULL,
  spelling TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, lower)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS blobs (
  id TEXT PRIMARY KEY,
  size INTEGER NOT NULL,
  refs INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS blob_data (
  blob_id TEXT PRIMARY KEY,
  mime TEXT NOT NULL,
  text_headers TEXT NOT NULL,
  text_body TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS blob_headers (
  blob_id TEXT PRIMARY KEY,
  header BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS blob_inline (
  blob_id TEXT PRIMARY KEY,
  raw BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS blob_garbage (
  blob_id TEXT PRIMARY KEY
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS messages (
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  email_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  flags INTEGER NOT NULL,
  keywords TEXT NOT NULL,
  internal_date INTEGER NOT NULL,
  size INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  blob_id TEXT NOT NULL,
  retrieved_at INTEGER,
  saved_date INTEGER,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS messages_email_id ON messages (email_id);
CREATE INDEX IF NOT EXISTS messages_modseq ON messages (mailbox_id, modseq);

CREATE TABLE IF NOT EXISTS message_envelopes (
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  envelope TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS tombstones (
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tombstones_modseq ON tombstones (mailbox_id, modseq);

CREATE TABLE IF NOT EXISTS expunged_held (
  mailbox_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  email_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  flags INTEGER NOT NULL,
  keywords TEXT NOT NULL,
  internal_date INTEGER NOT NULL,
  size INTEGER NOT NULL,
  modseq INTEGER NOT NULL,
  blob_id TEXT NOT NULL,
  expunged_modseq INTEGER NOT NULL,
  expunged_at INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS metadata (
  user_id INTEGER NOT NULL,
  mailbox_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (user_id, mailbox_id, name)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS thread_refs (
  user_id INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  PRIMARY KEY (user_id, message_id)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS urlauth_keys (
  mailbox_id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL,
  key BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS urlauth_keys_user ON urlauth_keys (user_id);

CREATE TABLE IF NOT EXISTS acl (
  mailbox_id INTEGER NOT NULL,
  identifier TEXT NOT NULL,
  rights TEXT NOT NULL,
  PRIMARY KEY (mailbox_id, identifier)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS acl_identifier ON acl (identifier);

CREATE TABLE IF NOT EXISTS acl_seen (
  mailbox_id INTEGER NOT NULL,
  user_id INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, user_id, uid)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS dkim_keys (
  domain TEXT NOT NULL,
  selector TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  private_key TEXT NOT NULL,
  public_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (domain, selector)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS outbound (
  id TEXT PRIMARY KEY,
  sender TEXT NOT NULL,
  recipients TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  size INTEGER NOT NULL,
  blob_id TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS outbound_due ON outbound (next_attempt_at, created_at);

CREATE TABLE IF NOT EXISTS sieve_scripts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL,
  name TEXT NOT NULL,
  content TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL,
  UNIQUE (user_id, name)
);

CREATE TABLE IF NOT EXISTS sieve_vacation (
  user_id INTEGER PRIMARY KEY,
  enabled INTEGER NOT NULL,
  subject TEXT NOT NULL,
  text_body TEXT NOT NULL,
  html_body TEXT,
  from_date INTEGER,
  to_date INTEGER
);

CREATE TABLE IF NOT EXISTS sieve_vacation_sent (
  user_id INTEGER NOT NULL,
  sender TEXT NOT NULL,
  handle TEXT NOT NULL,
  sent_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, sender, handle)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS sieve_duplicates (
  user_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, key)
) WITHOUT ROWID;
` + SORT_KEYS_SQL;

/**
 * Versioned schema migrations of the PostgreSQL store.
 *
 * migrate() is idempotent and safe when several nodes start at once: everything runs in one transaction that
 * first takes a transaction-level advisory lock derived from the schema name, so a second node waits, then
 * finds the versions already recorded in schema_migrations and applies nothing. DDL is transactional in
 * PostgreSQL, so a failing migration leaves no half-applied schema behind.
 *
 * Migrations are append-only: never edit a released one, add a new version instead.
 *
 * Layout notes:
 * - The mailbox row is the per-mailbox lock: every write to a mailbox's messages first locks that row, then
 *   allocates UIDs (uid_next) and one MODSEQ (highest_modseq + 1) for the whole transaction.
 * - System flags are a bitmask, keywords a text[] in the mailbox's first-seen spelling (mailbox_keywords).
 * - blobs.refs counts message and outbound rows pointing at a blob. The bytes live in blobs.data (bytea) or,
 *   when data is NULL, in a file under the configured blob directory. A blob whose count drops to zero is
 *   deleted in the same transaction; its file is unlinked after commit (a crash in between leaves an orphan
 *   file, removed by sweepOrphanBlobs).
 * - The MIME index (jsonb) and the lowercased searchable text are stored once per blob in blob_meta, so
 *   copies share them and metadata scans never read them.
 * - Version 2: blob_meta.envelope_text keeps the ENVELOPE in IMAP syntax when every string in it can be sent
 *   quoted to any client (mime/envelope-text.ts), so a header overview copies text instead of extracting
 *   and rendering the envelope of each jsonb index; NULL for 8-bit envelopes and for blobs written before
 *   version 2 or by a node still running older code (readers then take the envelope from the index).
 *   blob_headers keeps a copy of a blob's header block (RFC822.HEADER) when it is at most 16 KiB, so message
 *   lists (FETCH of header fields) read rows instead of blobs; a blob without a row (larger header, written
 *   before version 2 or by older code) has its header read from the blob. Both are per blob like blob_meta: copies and moves share them, and they go with the blob
 *   (ON DELETE CASCADE). Neither is back-filled: the migration stays pure SQL and fast on big databases.
 * - Version 4: expunged_held keeps expunged messages readable for readers that still show them (RFC 2180
 *   4.1.1; held.ts): the message row's columns plus the expunge's modseq and time, one blob reference each
 *   (blobs.refs counts them too).
 * - Version 5: metadata holds annotations (RFC 5464; metadata.ts): per user, mailbox (0: the server's
 *   entries; deleted with the mailbox by dropMailbox) and lower-cased entry name in byte order.
 */
import type { Logger } from '../../lib/logger.js';
import type { Db, Queryable } from './db.js';
import { num } from './db.js';
import { QUOTA_MIGRATION_SQL } from './quota.js';
import { JMAP_MIGRATION_SQL } from './jmap.js';
import { SORT_KEYS_MIGRATION_SQL } from './sort-keys.js';
import { LIST_LOG_MIGRATION_SQL } from './list-log.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
CREATE TABLE users (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  address text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE domains (
  domain text PRIMARY KEY
);

CREATE TABLE aliases (
  source text PRIMARY KEY,
  target text NOT NULL
);

-- UIDVALIDITY values: strictly increasing across the database, starting at the epoch second of creation so a
-- recreated database never repeats old values.
CREATE SEQUENCE uid_validity_seq MAXVALUE 4294967295;
SELECT setval('uid_validity_seq', GREATEST(1, extract(epoch FROM now())::bigint), false);

CREATE TABLE mailboxes (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name text NOT NULL,
  uid_validity bigint NOT NULL,
  uid_next bigint NOT NULL DEFAULT 1,
  highest_modseq bigint NOT NULL DEFAULT 1,
  first_recent bigint NOT NULL DEFAULT 1,
  special_use text,
  object_id text NOT NULL UNIQUE,
  UNIQUE (user_id, name)
);

CREATE TABLE subscriptions (
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name text NOT NULL,
  PRIMARY KEY (user_id, name)
);

CREATE TABLE mailbox_keywords (
  mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  lower text NOT NULL,
  spelling text NOT NULL,
  PRIMARY KEY (mailbox_id, lower)
);

CREATE TABLE blobs (
  id text PRIMARY KEY,
  size bigint NOT NULL,
  refs integer NOT NULL CHECK (refs >= 0),
  data bytea,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE blob_meta (
  blob_id text PRIMARY KEY REFERENCES blobs(id) ON DELETE CASCADE,
  -- The MIME index; mime_text holds it as JSON text only when jsonb cannot (strings containing U+0000).
  mime jsonb,
  mime_text text,
  text_headers text NOT NULL,
  text_body text NOT NULL,
  CHECK (mime IS NOT NULL OR mime_text IS NOT NULL)
);

CREATE TABLE messages (
  mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid bigint NOT NULL,
  email_id text NOT NULL UNIQUE,
  thread_id text NOT NULL,
  flags integer NOT NULL,
  keywords text[] NOT NULL,
  internal_date timestamptz NOT NULL,
  size bigint NOT NULL,
  modseq bigint NOT NULL,
  blob_id text NOT NULL REFERENCES blobs(id),
  retrieved_at timestamptz,
  PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
CREATE INDEX messages_blob ON messages (blob_id);

CREATE TABLE tombstones (
  mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid bigint NOT NULL,
  modseq bigint NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX tombstones_modseq ON tombstones (mailbox_id, modseq);

CREATE TABLE thread_refs (
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  message_id text NOT NULL,
  thread_id text NOT NULL,
  PRIMARY KEY (user_id, message_id)
);

CREATE TABLE outbound (
  id text PRIMARY KEY,
  sender text NOT NULL,
  recipients text[] NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL,
  next_attempt_at timestamptz NOT NULL,
  last_error text,
  size bigint NOT NULL,
  blob_id text NOT NULL REFERENCES blobs(id),
  -- Claim lease: dueOutbound hands a message to one node (lease_owner) until lease_until, or until
  -- updateOutbound/deleteOutbound; other nodes skip it meanwhile.
  lease_owner text,
  lease_until timestamptz,
  seq bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX outbound_due ON outbound (next_attempt_at, created_at);
`,
  },
  {
    version: 2,
    name: 'envelope text and header blocks',
    sql: `
ALTER TABLE blob_meta ADD COLUMN envelope_text text;

CREATE TABLE blob_headers (
  blob_id text PRIMARY KEY REFERENCES blobs(id) ON DELETE CASCADE,
  header bytea NOT NULL
);
`,
  },
  {
    version: 3,
    name: 'URLAUTH access keys',
    sql: `
CREATE TABLE urlauth_keys (
  mailbox_id bigint PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
  key bytea NOT NULL
);
`,
  },
  {
    version: 4,
    name: 'held expunged messages',
    sql: `
CREATE TABLE expunged_held (
  mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  uid bigint NOT NULL,
  email_id text NOT NULL,
  thread_id text NOT NULL,
  flags integer NOT NULL,
  keywords text[] NOT NULL,
  internal_date timestamptz NOT NULL,
  size bigint NOT NULL,
  modseq bigint NOT NULL,
  blob_id text NOT NULL REFERENCES blobs(id),
  expunged_modseq bigint NOT NULL,
  expunged_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (mailbox_id, uid)
);
`,
  },
  {
    version: 5,
    name: 'annotations (METADATA)',
    sql: `
CREATE TABLE metadata (
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  mailbox_id bigint NOT NULL,
  name text COLLATE "C" NOT NULL,
  value bytea NOT NULL,
  PRIMARY KEY (user_id, mailbox_id, name)
);
`,
  },  {
    version: 6,
    name: 'save dates',
    // RFC 8514 SAVEDATE: rows written from now on get the time of their INSERT (append, copy, move); rows
    // from before stay NULL, which readers report as the internal date. No table rewrite (no volatile
    // default on ADD COLUMN).
    sql: `
ALTER TABLE messages ADD COLUMN saved_date timestamptz;
ALTER TABLE messages ALTER COLUMN saved_date SET DEFAULT now();
`,
  },
  {
    version: 7,
    name: 'quotas',
    // Per-user usage counters kept by triggers on messages, and per-user limits (quota.ts).
    sql: QUOTA_MIGRATION_SQL,
  },
  {
    version: 8,
    name: 'mailbox access control lists and private seen flags',
    // acl.ts: entries per (mailbox, identifier) with canonical rights; acl_seen holds the \Seen of users
    // reading another owner's mailbox. Both go with their mailbox.
    sql: `
CREATE TABLE acl (
  mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  identifier text COLLATE "C" NOT NULL,
  rights text NOT NULL,
  PRIMARY KEY (mailbox_id, identifier)
);
CREATE INDEX acl_identifier ON acl (identifier);
CREATE TABLE acl_seen (
  mailbox_id bigint NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  uid bigint NOT NULL,
  PRIMARY KEY (mailbox_id, user_id, uid)
);
`,
  },
  {
    version: 9,
    name: 'mail authentication: DKIM signing keys',
    // dkim.ts: every key of a domain signs; the private key is PKCS#8 PEM (never logged).
    sql: `
CREATE TABLE dkim_keys (
  domain text COLLATE "C" NOT NULL,
  selector text COLLATE "C" NOT NULL,
  algorithm text NOT NULL,
  private_key text NOT NULL,
  public_key text NOT NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (domain, selector)
);
`,
  },
  {
    version: 10,
    name: 'spam filter statistics',
    // spam.ts: per-user token counts, trained-message totals, and each trained message's class.
    sql: `
CREATE TABLE spam_tokens (
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token text COLLATE "C" NOT NULL,
  spam integer NOT NULL,
  ham integer NOT NULL,
  PRIMARY KEY (user_id, token)
);
CREATE TABLE spam_totals (
  user_id integer PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  spam integer NOT NULL,
  ham integer NOT NULL,
  generation bigint NOT NULL DEFAULT 0
);
CREATE TABLE spam_trained (
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  digest text COLLATE "C" NOT NULL,
  class text NOT NULL,
  trained_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, digest)
);
`,
  },
  {
    version: 11,
    name: 'sieve scripts, vacation setting, reply and duplicate tracking',
    // sieve.ts: a put gives the script a new revision from sieve_revisions (never reused).
    sql: `
CREATE SEQUENCE sieve_revisions;
CREATE TABLE sieve_scripts (
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name text COLLATE "C" NOT NULL,
  content text NOT NULL,
  active boolean NOT NULL DEFAULT false,
  revision bigint NOT NULL DEFAULT nextval('sieve_revisions'),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, name)
);
CREATE UNIQUE INDEX sieve_scripts_one_active ON sieve_scripts (user_id) WHERE active;
CREATE TABLE sieve_vacation (
  user_id integer PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  enabled boolean NOT NULL,
  subject text NOT NULL,
  text_body text NOT NULL,
  html_body text,
  from_date timestamptz,
  to_date timestamptz
);
CREATE TABLE sieve_vacation_sent (
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  sender text NOT NULL,
  handle text NOT NULL,
  sent_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, sender, handle)
);
CREATE TABLE sieve_duplicates (
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  key text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (user_id, key)
);
`,
  },
  {
    version: 12,
    name: 'jmap: API tokens and push subscriptions',
    sql: `
CREATE TABLE api_tokens (
  id text PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name text NOT NULL,
  kind text NOT NULL,
  secret_hash bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  last_used_at timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens(user_id);
CREATE TABLE push_subscriptions (
  id text PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  device_client_id text NOT NULL,
  url text NOT NULL,
  keys jsonb,
  verification_code text NOT NULL,
  verified boolean NOT NULL,
  expires timestamptz,
  types jsonb
);
CREATE INDEX push_subscriptions_user ON push_subscriptions(user_id);
`,
  },
  {
    version: 13,
    name: 'web: administrator role',
    sql: `
ALTER TABLE users ADD COLUMN admin boolean NOT NULL DEFAULT false;
`,
  },
  {
    version: 14,
    name: 'JMAP: uploads, typed objects with their change log, snapshots',
    sql: JMAP_MIGRATION_SQL,
  },
  {
    version: 15,
    name: 'IMAP: persisted sort and thread keys per blob',
    sql: SORT_KEYS_MIGRATION_SQL,
  },
  {
    version: 16,
    name: 'Mailbox list change log (replayed after a LISTEN reconnect)',
    sql: LIST_LOG_MIGRATION_SQL,
  },
];

/**
 * Every data table, in an order that DELETE can follow without violating foreign keys (referencing tables
 * first). Tests empty a migrated schema with it instead of migrating a new one; keep it in step with
 * MIGRATIONS.
 */
export const DATA_TABLES: readonly string[] = [
  'jmap_uploads',
  'mailbox_list_log',
  'jmap_objects',
  'jmap_states',
  'jmap_snapshots',
  'dkim_keys',
  'spam_tokens',
  'spam_totals',
  'spam_trained',
  'acl_seen',
  'acl',
  'sieve_scripts',
  'sieve_vacation',
  'sieve_vacation_sent',
  'sieve_duplicates',
  'api_tokens',
  'push_subscriptions',
  'outbound',
  'messages',
  'expunged_held',
  'metadata',
  'tombstones',
  'blob_meta',
  'blob_headers',
  'blob_sort_keys',
  'blobs',
  'urlauth_keys',
  'mailbox_keywords',
  'thread_refs',
  'subscriptions',
  'mailboxes',
  'quota',
  'users',
  'domains',
  'aliases',
];

/** Highest schema version this code knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Applies the missing migrations. Returns the versions applied by this call (empty when up to date).
 * `schema` must already be validated as a plain identifier.
 */
export async function migrate(db: Db, schema: string, logger: Logger, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const known = Math.max(0, ...migrations.map((m) => m.version));
  return db.tx(async (q) => {
    // One lock per schema, held to the end of this transaction (also on error). Another node's migration
    // may take long: wait for it without the pool's lock timeout.
    await q.query('SET LOCAL lock_timeout = 0');
    await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`mailroom.migrate.${schema}`]);
    await q.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await q.query(`CREATE TABLE IF NOT EXISTS ${schema}.schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = await appliedVersions(q, schema);
    const newest = Math.max(0, ...done);
    if (newest > known) {
      logger.warn({ databaseVersion: newest, codeVersion: known }, 'database schema is newer than this program');
    }
    const applied: number[] = [];
    for (const m of [...migrations].sort((x, y) => x.version - y.version)) {
      if (done.includes(m.version)) continue;
      await q.query(m.sql);
      await q.query(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      applied.push(m.version);
      logger.info({ version: m.version, name: m.name }, 'applied schema migration');
    }
    return applied;
  });
}

export async function appliedVersions(q: Queryable, schema: string): Promise<number[]> {
  const r = await q.query<{ version: number }>(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
  return r.rows.map((row) => num(row.version));
}

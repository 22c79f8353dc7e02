/**
 * The profile's SQLite state file (better-sqlite3): accounts, per-folder sync state, the message index,
 * POP3 UIDLs already fetched, and the queue of offline changes. Synchronous inside; one instance per
 * profile directory. No secrets are stored: accounts keep only a reference to where the password comes from.
 */
import type { StallRule } from '../stall.js';
import Database from 'better-sqlite3';
import type { Security } from '../pop3/client.js';
import type { CachePolicy, Pop3Policy, QueuedOp } from '../sync/plan.js';

/** A queued operation before it has an id. */
export type NewQueuedOp = QueuedOp extends infer T ? (T extends QueuedOp ? Omit<T, 'id'> : never) : never;

export type PasswordSource = { kind: 'env'; name: string } | { kind: 'command'; command: string } | { kind: 'stdin' };

export interface SmtpSettings {
  host: string;
  port: number;
  security: Security;
}

export interface AccountConfig {
  name: string;
  protocol: 'pop3' | 'imap';
  host: string;
  port: number;
  security: Security;
  user: string;
  password: PasswordSource;
  /** PEM file with extra CA certificates to trust for this account. */
  caFile?: string;
  /** POP3: what to do with messages on the server after download. */
  policy?: Pop3Policy;
  /** POP3: messages larger than this are not downloaded whole. */
  maxSize?: number;
  oversize?: 'skip' | 'headers';
  /** IMAP: which bodies to keep locally. */
  cache?: CachePolicy;
  smtp?: SmtpSettings;
  /** The progress rule for this server (stall.ts), when not the default (64 KiB or an answer per 5 minutes). */
  progress?: StallRule;
}

export interface FolderRow {
  account: string;
  path: string;
  delimiter: string;
  specialUse: string | null;
  uidValidity: string | null;
  highestModseq: string | null;
  lastSync: number | null;
}

export interface Summary {
  subject: string;
  from: string;
  to: string;
  date: string | null;
  messageId: string | null;
  /** Content type of the top-level part and whether the message has attachments, when known. */
  contentType?: string;
  attachments?: number;
}

export interface MessageRow {
  id: number;
  account: string;
  folder: string;
  uid: number | null;
  uidl: string | null;
  messageId: string | null;
  /** IMAP: the server's EMAILID (RFC 8474 OBJECTID) when it has one; it names the same bytes in any folder. */
  emailId: string | null;
  flags: string[];
  summary: Summary;
  internalDate: number;
  size: number;
  /** Maildir directory holding the body, when cached. */
  maildir: string;
  fileKey: string | null;
  filePath: string | null;
  bodyCached: boolean;
  cachedAt: number | null;
  addedAt: number;
}

interface RawMessage {
  id: number;
  account: string;
  folder: string;
  uid: number | null;
  uidl: string | null;
  message_id: string | null;
  email_id: string | null;
  flags: string;
  summary: string;
  internal_date: number;
  size: number;
  maildir: string;
  file_key: string | null;
  file_path: string | null;
  body_cached: number;
  cached_at: number | null;
  added_at: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  name TEXT PRIMARY KEY,
  protocol TEXT NOT NULL CHECK (protocol IN ('pop3','imap')),
  config TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS folders (
  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
  path TEXT NOT NULL,
  delimiter TEXT NOT NULL DEFAULT '/',
  special_use TEXT,
  uidvalidity TEXT,
  highest_modseq TEXT,
  last_sync INTEGER,
  PRIMARY KEY (account, path)
);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
  folder TEXT NOT NULL,
  uid INTEGER,
  uidl TEXT,
  message_id TEXT,
  flags TEXT NOT NULL DEFAULT '[]',
  summary TEXT NOT NULL,
  internal_date INTEGER NOT NULL,
  size INTEGER NOT NULL,
  maildir TEXT NOT NULL,
  file_key TEXT,
  file_path TEXT,
  body_cached INTEGER NOT NULL DEFAULT 0,
  cached_at INTEGER,
  added_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_uid ON messages(account, folder, uid) WHERE uid IS NOT NULL;
CREATE INDEX IF NOT EXISTS messages_folder ON messages(folder, internal_date);
CREATE TABLE IF NOT EXISTS pop3_uidls (
  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
  uidl TEXT NOT NULL,
  fetched_at INTEGER NOT NULL,
  local_deleted INTEGER NOT NULL DEFAULT 0,
  partial INTEGER NOT NULL DEFAULT 0,
  size INTEGER,
  PRIMARY KEY (account, uidl)
);
CREATE TABLE IF NOT EXISTS queue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
  folder TEXT NOT NULL,
  uid INTEGER NOT NULL,
  uidvalidity TEXT NOT NULL,
  op TEXT NOT NULL,
  arg TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  refused_at INTEGER
);
`;

export class StateDb {
  readonly db: Database.Database;
  private byEmailId: Database.Statement | undefined;
  private byIdentity: Database.Statement | undefined;

  /** `durable: false` turns off SQLite's fsyncs (synchronous = OFF), matching a Maildir without fsync. */
  constructor(file: string, opts: { durable?: boolean } = {}) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    if (opts.durable === false) this.db.pragma('synchronous = OFF');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    // Profiles made before pop3_uidls.size: add the column (NULL: size unknown, never judged reused).
    const cols = this.db.prepare('PRAGMA table_info(pop3_uidls)').all() as Array<{ name: string }>;
    if (!cols.some((c) => c.name === 'size')) this.db.exec('ALTER TABLE pop3_uidls ADD COLUMN size INTEGER');
    // Profiles made before replay attempts were counted, and before EMAILIDs were kept.
    const qcols = this.db.prepare('PRAGMA table_info(queue)').all() as Array<{ name: string }>;
    if (!qcols.some((c) => c.name === 'attempts')) this.db.exec('ALTER TABLE queue ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0; ALTER TABLE queue ADD COLUMN last_error TEXT');
    if (!qcols.some((c) => c.name === 'refused_at')) this.db.exec('ALTER TABLE queue ADD COLUMN refused_at INTEGER');
    const mcols = this.db.prepare('PRAGMA table_info(messages)').all() as Array<{ name: string }>;
    if (!mcols.some((c) => c.name === 'email_id')) this.db.exec('ALTER TABLE messages ADD COLUMN email_id TEXT');
    this.db.exec('CREATE INDEX IF NOT EXISTS messages_identity ON messages(account, message_id); CREATE INDEX IF NOT EXISTS messages_email_id ON messages(account, email_id) WHERE email_id IS NOT NULL');
  }

  close(): void {
    this.db.close();
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // -------------------------------------------------------------- accounts

  addAccount(cfg: AccountConfig): void {
    this.db.prepare('INSERT INTO accounts (name, protocol, config, created_at) VALUES (?, ?, ?, ?)').run(cfg.name, cfg.protocol, JSON.stringify(cfg), Date.now());
  }

  updateAccount(cfg: AccountConfig): void {
    this.db.prepare('UPDATE accounts SET config = ? WHERE name = ?').run(JSON.stringify(cfg), cfg.name);
  }

  getAccount(name: string): AccountConfig | null {
    const row = this.db.prepare('SELECT config FROM accounts WHERE name = ?').get(name) as { config: string } | undefined;
    return row ? (JSON.parse(row.config) as AccountConfig) : null;
  }

  listAccounts(): AccountConfig[] {
    const rows = this.db.prepare('SELECT config FROM accounts ORDER BY name').all() as Array<{ config: string }>;
    return rows.map((r) => JSON.parse(r.config) as AccountConfig);
  }

  removeAccount(name: string): boolean {
    return this.db.prepare('DELETE FROM accounts WHERE name = ?').run(name).changes > 0;
  }

  // -------------------------------------------------------------- folders

  getFolder(account: string, path: string): FolderRow | null {
    const r = this.db.prepare('SELECT * FROM folders WHERE account = ? AND path = ?').get(account, path) as
      | { account: string; path: string; delimiter: string; special_use: string | null; uidvalidity: string | null; highest_modseq: string | null; last_sync: number | null }
      | undefined;
    if (!r) return null;
    return { account: r.account, path: r.path, delimiter: r.delimiter, specialUse: r.special_use, uidValidity: r.uidvalidity, highestModseq: r.highest_modseq, lastSync: r.last_sync };
  }

  listFolders(account: string): FolderRow[] {
    const rows = this.db.prepare('SELECT path FROM folders WHERE account = ? ORDER BY path').all(account) as Array<{ path: string }>;
    return rows.map((r) => this.getFolder(account, r.path)).filter((f): f is FolderRow => f !== null);
  }

  upsertFolder(account: string, path: string, delimiter: string, specialUse: string | null): void {
    this.db
      .prepare(
        `INSERT INTO folders (account, path, delimiter, special_use) VALUES (?, ?, ?, ?)
         ON CONFLICT(account, path) DO UPDATE SET delimiter = excluded.delimiter, special_use = excluded.special_use`,
      )
      .run(account, path, delimiter, specialUse);
  }

  setFolderSync(account: string, path: string, uidValidity: string, highestModseq: string | null): void {
    this.db.prepare('UPDATE folders SET uidvalidity = ?, highest_modseq = ?, last_sync = ? WHERE account = ? AND path = ?').run(uidValidity, highestModseq, Date.now(), account, path);
  }

  removeFolder(account: string, path: string): void {
    this.db.prepare('DELETE FROM folders WHERE account = ? AND path = ?').run(account, path);
  }

  // -------------------------------------------------------------- messages

  private static toRow(r: RawMessage): MessageRow {
    return {
      id: r.id,
      account: r.account,
      folder: r.folder,
      uid: r.uid,
      uidl: r.uidl,
      messageId: r.message_id,
      emailId: r.email_id,
      flags: JSON.parse(r.flags) as string[],
      summary: JSON.parse(r.summary) as Summary,
      internalDate: r.internal_date,
      size: r.size,
      maildir: r.maildir,
      fileKey: r.file_key,
      filePath: r.file_path,
      bodyCached: r.body_cached === 1,
      cachedAt: r.cached_at,
      addedAt: r.added_at,
    };
  }

  insertMessage(m: Omit<MessageRow, 'id' | 'addedAt' | 'emailId'> & { emailId?: string | null }): number {
    const r = this.db
      .prepare(
        `INSERT INTO messages (account, folder, uid, uidl, message_id, email_id, flags, summary, internal_date, size, maildir, file_key, file_path, body_cached, cached_at, added_at)
         VALUES (@account, @folder, @uid, @uidl, @messageId, @emailId, @flags, @summary, @internalDate, @size, @maildir, @fileKey, @filePath, @bodyCached, @cachedAt, @addedAt)`,
      )
      .run({
        ...m,
        emailId: m.emailId ?? null,
        flags: JSON.stringify(m.flags),
        summary: JSON.stringify(m.summary),
        bodyCached: m.bodyCached ? 1 : 0,
        addedAt: Date.now(),
      });
    return Number(r.lastInsertRowid);
  }

  getMessage(id: number): MessageRow | null {
    const r = this.db.prepare('SELECT * FROM messages WHERE id = ?').get(id) as RawMessage | undefined;
    return r ? StateDb.toRow(r) : null;
  }

  getByUid(account: string, folder: string, uid: number): MessageRow | null {
    const r = this.db.prepare('SELECT * FROM messages WHERE account = ? AND folder = ? AND uid = ?').get(account, folder, uid) as RawMessage | undefined;
    return r ? StateDb.toRow(r) : null;
  }

  getByUidl(account: string, uidl: string): MessageRow | null {
    const r = this.db.prepare('SELECT * FROM messages WHERE account = ? AND uidl = ?').get(account, uidl) as RawMessage | undefined;
    return r ? StateDb.toRow(r) : null;
  }

  /**
   * Rows of the account with a cached body that name the same message as `id`: the same EMAILID when
   * given, else the same Message-ID, size and internal date (a message moved or copied on the server).
   */
  sameMessage(account: string, id: { emailId: string | null; messageId: string | null; size: number; internalDate: number }): MessageRow[] {
    // Asked once per new message of a sync: the statements are prepared once.
    this.byEmailId ??= this.db.prepare('SELECT * FROM messages WHERE account = ? AND email_id = ? AND body_cached = 1');
    this.byIdentity ??= this.db.prepare('SELECT * FROM messages WHERE account = ? AND message_id = ? AND size = ? AND internal_date = ? AND body_cached = 1');
    const rows = id.emailId ? this.byEmailId.all(account, id.emailId) : id.messageId ? this.byIdentity.all(account, id.messageId, id.size, id.internalDate) : [];
    return (rows as RawMessage[]).map(StateDb.toRow);
  }

  folderMessages(account: string, folder: string): MessageRow[] {
    return (this.db.prepare('SELECT * FROM messages WHERE account = ? AND folder = ? ORDER BY uid').all(account, folder) as RawMessage[]).map(StateDb.toRow);
  }

  /** Messages for `list`: filtered, newest first. */
  query(f: { accounts?: string[]; folder?: string; unread?: boolean; limit?: number }): MessageRow[] {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (f.accounts && f.accounts.length) {
      where.push(`account IN (${f.accounts.map(() => '?').join(',')})`);
      args.push(...f.accounts);
    }
    if (f.folder !== undefined) {
      where.push('folder = ?');
      args.push(f.folder);
    }
    const sql = `SELECT * FROM messages ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY internal_date DESC, id DESC`;
    let rows = (this.db.prepare(sql).all(...args) as RawMessage[]).map(StateDb.toRow);
    if (f.unread) rows = rows.filter((r) => !r.flags.includes('\\Seen'));
    if (f.limit !== undefined) rows = rows.slice(0, f.limit);
    return rows;
  }

  hasMessageWithoutUidl(account: string, messageId: string, size: number): boolean {
    return (
      this.db.prepare('SELECT 1 FROM messages WHERE account = ? AND uidl IS NULL AND uid IS NULL AND message_id = ? AND size = ? LIMIT 1').get(account, messageId, size) !==
      undefined
    );
  }

  hasFileKey(key: string): boolean {
    return this.db.prepare('SELECT 1 FROM messages WHERE file_key = ? LIMIT 1').get(key) !== undefined;
  }

  setFlags(id: number, flags: string[]): void {
    this.db.prepare('UPDATE messages SET flags = ? WHERE id = ?').run(JSON.stringify(flags), id);
  }

  /** Records the size of a message the server gave none for (known once its body is stored). */
  setSize(id: number, size: number): void {
    this.db.prepare('UPDATE messages SET size = ? WHERE id = ?').run(size, id);
  }

  setFile(id: number, maildir: string, fileKey: string | null, filePath: string | null, cached: boolean): void {
    this.db
      .prepare('UPDATE messages SET maildir = ?, file_key = ?, file_path = ?, body_cached = ?, cached_at = ? WHERE id = ?')
      .run(maildir, fileKey, filePath, cached ? 1 : 0, cached ? Date.now() : null, id);
  }

  moveRow(id: number, folder: string, uid: number | null): void {
    this.db.prepare('UPDATE messages SET folder = ?, uid = ? WHERE id = ?').run(folder, uid, id);
  }

  deleteMessage(id: number): void {
    this.db.prepare('DELETE FROM messages WHERE id = ?').run(id);
  }

  deleteFolderMessages(account: string, folder: string): MessageRow[] {
    const rows = this.folderMessages(account, folder);
    this.db.prepare('DELETE FROM messages WHERE account = ? AND folder = ?').run(account, folder);
    return rows;
  }

  /** Cached bodies of temporary-cache (IMAP) messages older than `before` (by cache time). */
  evictable(before: number): MessageRow[] {
    return (
      this.db
        .prepare(
          `SELECT m.* FROM messages m JOIN accounts a ON a.name = m.account
           WHERE a.protocol = 'imap' AND m.body_cached = 1 AND m.uid IS NOT NULL AND COALESCE(m.cached_at, 0) < ?`,
        )
        .all(before) as RawMessage[]
    ).map(StateDb.toRow);
  }

  // -------------------------------------------------------------- POP3 UIDLs

  knownUidls(account: string): Map<string, { fetchedAt: number; locallyDeleted: boolean; partial: boolean; size: number | null }> {
    const rows = this.db.prepare('SELECT uidl, fetched_at, local_deleted, partial, size FROM pop3_uidls WHERE account = ?').all(account) as Array<{
      uidl: string;
      fetched_at: number;
      local_deleted: number;
      partial: number;
      size: number | null;
    }>;
    return new Map(rows.map((r) => [r.uidl, { fetchedAt: r.fetched_at, locallyDeleted: r.local_deleted === 1, partial: r.partial === 1, size: r.size }]));
  }

  /**
   * Records a fetched UIDL with the message's LIST size. Recording a known UIDL again (a reused one now
   * naming another message) starts its record afresh: new size and time, not deleted locally.
   */
  recordUidl(account: string, uidl: string, partial: boolean, fetchedAt = Date.now(), size: number | null = null): void {
    this.db
      .prepare(
        `INSERT INTO pop3_uidls (account, uidl, fetched_at, partial, size) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(account, uidl) DO UPDATE SET partial = excluded.partial, size = excluded.size, fetched_at = excluded.fetched_at, local_deleted = 0`,
      )
      .run(account, uidl, fetchedAt, partial ? 1 : 0, size);
  }

  setUidlSize(account: string, uidl: string, size: number): void {
    this.db.prepare('UPDATE pop3_uidls SET size = ? WHERE account = ? AND uidl = ?').run(size, account, uidl);
  }

  markUidlLocallyDeleted(account: string, uidl: string): void {
    this.db.prepare('UPDATE pop3_uidls SET local_deleted = 1 WHERE account = ? AND uidl = ?').run(account, uidl);
  }

  forgetUidl(account: string, uidl: string): void {
    this.db.prepare('DELETE FROM pop3_uidls WHERE account = ? AND uidl = ?').run(account, uidl);
  }

  // -------------------------------------------------------------- offline queue

  enqueue(op: NewQueuedOp & { account: string }): number {
    const { account, kind, folder, uid, uidValidity, ...rest } = op as { account: string; kind: string; folder: string; uid: number; uidValidity: string } & Record<string, unknown>;
    delete rest.attempts;
    delete rest.refusedAt;
    const r = this.db
      .prepare('INSERT INTO queue (account, folder, uid, uidvalidity, op, arg, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(account, folder, uid, uidValidity, kind, JSON.stringify(rest), Date.now());
    return Number(r.lastInsertRowid);
  }

  queued(account: string, folder?: string): QueuedOp[] {
    const rows = (
      folder === undefined
        ? this.db.prepare('SELECT * FROM queue WHERE account = ? ORDER BY id').all(account)
        : this.db.prepare('SELECT * FROM queue WHERE account = ? AND folder = ? ORDER BY id').all(account, folder)
    ) as Array<{ id: number; folder: string; uid: number; uidvalidity: string; op: string; arg: string; attempts: number; refused_at: number | null }>;
    return rows.map(
      (r) => ({ id: r.id, kind: r.op, folder: r.folder, uid: r.uid, uidValidity: r.uidvalidity, attempts: r.attempts, refusedAt: r.refused_at, ...(JSON.parse(r.arg) as object) }) as QueuedOp,
    );
  }

  queueSize(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM queue').get() as { n: number }).n;
  }

  /** Gives a queued change the message's UID in a recreated folder. */
  remapQueued(id: number, uid: number, uidValidity: string): void {
    this.db.prepare('UPDATE queue SET uid = ?, uidvalidity = ? WHERE id = ?').run(uid, uidValidity, id);
  }

  dequeue(id: number): void {
    this.db.prepare('DELETE FROM queue WHERE id = ?').run(id);
  }

  /**
   * Records a refused replay of queued changes that stay queued, with the server's reason; `countedAt` (ms)
   * counts it as one more attempt made then, null leaves the count alone (a quick retry).
   */
  deferQueued(ids: number[], reason: string, countedAt: number | null): void {
    const st =
      countedAt === null
        ? this.db.prepare('UPDATE queue SET last_error = ? WHERE id = ?')
        : this.db.prepare('UPDATE queue SET attempts = attempts + 1, refused_at = ?, last_error = ? WHERE id = ?');
    this.tx(() => {
      for (const id of ids) (countedAt === null ? st.run(reason, id) : st.run(countedAt, reason, id));
    });
  }
}

/**
 * Quotas of the SQLite store (../quota.ts): table `quota`, one row per user holding the usage counters and
 * the user's own limits (NULL: the default; -1: no limit).
 *
 * The counters are kept by triggers on `messages` (insert adds the row's size and one message to the owner
 * of its mailbox, delete takes them off), so every write path (append, copy, move, expunge, REPLACE, POP3
 * commit, mailbox and user deletion, a build that does not know about quotas) keeps them exact inside its
 * own transaction. A held expunged message (expunged_held) is not in `messages`, so it no longer counts.
 * The table and the triggers are created at open (initQuota, inside the open transaction); the first open
 * of a database without them counts every user's messages once. A trigger on `users` drops the row with the
 * user.
 *
 * The check (checkQuota) runs inside the write's transaction, after its rows are written: the savepoint of
 * the operation rolls back when it throws OVER_QUOTA.
 */
import type Database from 'better-sqlite3';
import type { QuotaDefaults, QuotaLimits, QuotaSetting, QuotaSettings, QuotaStore, QuotaUsage } from '../quota.js';
import { decodeSetting, effectiveLimit, encodeSetting, overQuota } from '../quota.js';
import { StoreError } from '../types.js';
import type { SqliteCore } from './core.js';

const QUOTA_SQL = `
CREATE TABLE IF NOT EXISTS quota (
  user_id INTEGER PRIMARY KEY,
  storage_used INTEGER NOT NULL DEFAULT 0,
  messages_used INTEGER NOT NULL DEFAULT 0,
  storage_limit INTEGER,
  messages_limit INTEGER
);
CREATE TRIGGER IF NOT EXISTS quota_messages_insert AFTER INSERT ON messages BEGIN
  INSERT INTO quota (user_id, storage_used, messages_used)
    SELECT user_id, NEW.size, 1 FROM mailboxes WHERE id = NEW.mailbox_id
    ON CONFLICT (user_id) DO UPDATE SET storage_used = storage_used + excluded.storage_used, messages_used = messages_used + 1;
END;
CREATE TRIGGER IF NOT EXISTS quota_messages_delete AFTER DELETE ON messages BEGIN
  UPDATE quota SET storage_used = storage_used - OLD.size, messages_used = messages_used - 1
    WHERE user_id = (SELECT user_id FROM mailboxes WHERE id = OLD.mailbox_id);
END;
CREATE TRIGGER IF NOT EXISTS quota_users_delete AFTER DELETE ON users BEGIN
  DELETE FROM quota WHERE user_id = OLD.id;
END;
`;

/** The one-time count for a database written before quotas (every user with messages). */
const RECOUNT_SQL = `
INSERT INTO quota (user_id, storage_used, messages_used)
  SELECT b.user_id, SUM(m.size), COUNT(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id WHERE true GROUP BY b.user_id
  ON CONFLICT (user_id) DO UPDATE SET storage_used = excluded.storage_used, messages_used = excluded.messages_used`;

/** Creates the table and triggers; counts usage when the table did not exist yet. Inside the open transaction. */
export function initQuota(db: Database.Database): void {
  const had = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'quota'").get() !== undefined;
  db.exec(QUOTA_SQL);
  if (!had) db.exec(RECOUNT_SQL);
}

interface QuotaRow {
  storage_used: number;
  messages_used: number;
  storage_limit: number | null;
  messages_limit: number | null;
}

function row(core: SqliteCore, userId: number): QuotaRow | undefined {
  return core.sql('SELECT storage_used, messages_used, storage_limit, messages_limit FROM quota WHERE user_id = ?').get(userId) as QuotaRow | undefined;
}

function limitsOf(r: QuotaRow | undefined, defaults: QuotaDefaults): QuotaLimits {
  return {
    storage: effectiveLimit(decodeSetting(r?.storage_limit), defaults.storage),
    messages: effectiveLimit(decodeSetting(r?.messages_limit), defaults.messages),
  };
}

/**
 * Throws OVER_QUOTA when the user's usage, with the rows this transaction wrote, exceeds a limit. Called
 * inside the transaction of a write that added to the user's usage, after its rows are written.
 */
export function checkQuota(core: SqliteCore, userId: number): void {
  const r = row(core, userId);
  if (!r) return;
  if (overQuota({ storage: r.storage_used, messages: r.messages_used }, limitsOf(r, core.quotaDefaults))) {
    throw new StoreError('OVER_QUOTA', 'quota exceeded');
  }
}

export class SqliteQuota implements QuotaStore {
  constructor(private readonly core: SqliteCore) {}

  usage(userId: number): Promise<QuotaUsage> {
    return this.core.run(async () => {
      const r = row(this.core, userId);
      return { storage: r?.storage_used ?? 0, messages: r?.messages_used ?? 0 };
    });
  }

  limits(userId: number): Promise<QuotaLimits> {
    return this.core.run(async () => limitsOf(row(this.core, userId), this.core.quotaDefaults));
  }

  settings(userId: number): Promise<QuotaSettings> {
    return this.core.run(async () => {
      const r = row(this.core, userId);
      return { storage: decodeSetting(r?.storage_limit), messages: decodeSetting(r?.messages_limit) };
    });
  }

  setLimits(userId: number, limits: { storage?: QuotaSetting; messages?: QuotaSetting }): Promise<void> {
    return this.core.run(async () => {
      const storage = limits.storage === undefined ? undefined : encodeSetting(limits.storage);
      const messages = limits.messages === undefined ? undefined : encodeSetting(limits.messages);
      this.core.tx(() => {
        this.core.userRow(userId);
        this.core.sql('INSERT OR IGNORE INTO quota (user_id) VALUES (?)').run(userId);
        if (storage !== undefined) this.core.sql('UPDATE quota SET storage_limit = ? WHERE user_id = ?').run(storage, userId);
        if (messages !== undefined) this.core.sql('UPDATE quota SET messages_limit = ? WHERE user_id = ?').run(messages, userId);
      });
    });
  }
}

/**
 * Quotas of the PostgreSQL store (../quota.ts): table `quota` (migration 7), one row per user holding the
 * usage counters and the user's own limits (NULL: the default; -1: no limit).
 *
 * The counters are kept by statement-level triggers on `messages` with transition tables (one grouped
 * update per statement, however many rows it wrote): every write path, and nodes running code from before
 * quotas, keep them exact inside their own transaction. Rows are upserted in user order, so statements that
 * touch several users take the row locks in one order. A held expunged message (expunged_held) is not in
 * `messages`, so it no longer counts. The migration creates the triggers first (which waits for writers
 * in flight and holds off new ones until it commits), then counts every user's messages once.
 *
 * The check (checkQuota) runs inside the write's transaction after its rows are written: the trigger's
 * update holds the user's row lock to the end of the transaction, so concurrent writes of one user see each
 * other's rows and cannot both pass a limit only one of them fits under.
 */
import type { QuotaLimits, QuotaSetting, QuotaSettings, QuotaStore, QuotaUsage } from '../quota.js';
import { decodeSetting, effectiveLimit, encodeSetting, overQuota } from '../quota.js';
import { StoreError } from '../types.js';
import type { PgCore } from './core.js';
import { num, type Queryable } from './db.js';

/** Migration 7. */
export const QUOTA_MIGRATION_SQL = `
CREATE TABLE quota (
  user_id integer PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  storage_used bigint NOT NULL DEFAULT 0,
  messages_used bigint NOT NULL DEFAULT 0,
  storage_limit bigint,
  messages_limit bigint
);

CREATE FUNCTION quota_messages_added() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO quota AS q (user_id, storage_used, messages_used)
    SELECT b.user_id, sum(n.size), count(*) FROM quota_added n JOIN mailboxes b ON b.id = n.mailbox_id
    GROUP BY b.user_id ORDER BY b.user_id
  ON CONFLICT (user_id) DO UPDATE SET storage_used = q.storage_used + EXCLUDED.storage_used,
                                      messages_used = q.messages_used + EXCLUDED.messages_used;
  RETURN NULL;
END $$;

CREATE FUNCTION quota_messages_removed() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  UPDATE quota AS q SET storage_used = q.storage_used - d.s, messages_used = q.messages_used - d.n
  FROM (SELECT b.user_id, sum(o.size) AS s, count(*) AS n FROM quota_removed o JOIN mailboxes b ON b.id = o.mailbox_id
        GROUP BY b.user_id ORDER BY b.user_id) AS d
  WHERE q.user_id = d.user_id;
  RETURN NULL;
END $$;

CREATE TRIGGER quota_messages_insert AFTER INSERT ON messages
  REFERENCING NEW TABLE AS quota_added FOR EACH STATEMENT EXECUTE FUNCTION quota_messages_added();
CREATE TRIGGER quota_messages_delete AFTER DELETE ON messages
  REFERENCING OLD TABLE AS quota_removed FOR EACH STATEMENT EXECUTE FUNCTION quota_messages_removed();

INSERT INTO quota (user_id, storage_used, messages_used)
  SELECT b.user_id, sum(m.size), count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id GROUP BY b.user_id;
`;

interface QuotaRow {
  storage_used: string;
  messages_used: string;
  storage_limit: string | null;
  messages_limit: string | null;
}

const ROW_SQL = 'SELECT storage_used, messages_used, storage_limit, messages_limit FROM quota WHERE user_id = $1';

function limitsOf(core: PgCore, r: QuotaRow | undefined): QuotaLimits {
  return {
    storage: effectiveLimit(decodeSetting(r?.storage_limit), core.quotaDefaults.storage),
    messages: effectiveLimit(decodeSetting(r?.messages_limit), core.quotaDefaults.messages),
  };
}

/**
 * Throws OVER_QUOTA when the user's usage, with the rows this transaction wrote, exceeds a limit. Called
 * inside the transaction of a write that added to the user's usage, after its rows are written.
 */
export async function checkQuota(core: PgCore, q: Queryable, userId: number): Promise<void> {
  const r = (await q.query<QuotaRow>({ name: 'quota_row', text: ROW_SQL, values: [userId] })).rows[0];
  if (!r) return;
  if (overQuota({ storage: num(r.storage_used), messages: num(r.messages_used) }, limitsOf(core, r))) {
    throw new StoreError('OVER_QUOTA', 'quota exceeded');
  }
}

/**
 * Locks the quota rows of `userIds` in user order, for a statement sequence that changes the counters of
 * several users (a copy or move between users): without it, two such transfers in opposite directions could
 * each hold one row and wait for the other's. Rows not created yet need no lock (the upsert creates them).
 */
export async function lockQuotaRows(q: Queryable, userIds: readonly number[]): Promise<void> {
  await q.query({ name: 'quota_lock', text: 'SELECT 1 FROM quota WHERE user_id = ANY($1::int[]) ORDER BY user_id FOR UPDATE', values: [[...userIds]] });
}

export class PgQuota implements QuotaStore {
  constructor(private readonly core: PgCore) {}

  private async row(userId: number): Promise<QuotaRow | undefined> {
    if (!Number.isSafeInteger(userId) || userId < 1 || userId > 0x7fffffff) return undefined;
    return (await this.core.db.query<QuotaRow>(ROW_SQL, [userId], 'quota_row')).rows[0];
  }

  usage(userId: number): Promise<QuotaUsage> {
    return this.core.run(async () => {
      const r = await this.row(userId);
      return { storage: r ? num(r.storage_used) : 0, messages: r ? num(r.messages_used) : 0 };
    });
  }

  limits(userId: number): Promise<QuotaLimits> {
    return this.core.run(async () => limitsOf(this.core, await this.row(userId)));
  }

  settings(userId: number): Promise<QuotaSettings> {
    return this.core.run(async () => {
      const r = await this.row(userId);
      return { storage: decodeSetting(r?.storage_limit), messages: decodeSetting(r?.messages_limit) };
    });
  }

  setLimits(userId: number, limits: { storage?: QuotaSetting; messages?: QuotaSetting }): Promise<void> {
    return this.core.run(async () => {
      const storage = limits.storage === undefined ? undefined : encodeSetting(limits.storage);
      const messages = limits.messages === undefined ? undefined : encodeSetting(limits.messages);
      if (!Number.isSafeInteger(userId) || userId < 1 || userId > 0x7fffffff) throw new StoreError('NOT_FOUND', 'no such user');
      await this.core.db.tx(async (q) => {
        if ((await q.query('SELECT 1 FROM users WHERE id = $1', [userId])).rowCount === 0) throw new StoreError('NOT_FOUND', 'no such user');
        await q.query(
          `INSERT INTO quota AS q (user_id, storage_limit, messages_limit) VALUES ($1, $3, $5)
           ON CONFLICT (user_id) DO UPDATE SET storage_limit = CASE WHEN $2 THEN $3 ELSE q.storage_limit END,
                                               messages_limit = CASE WHEN $4 THEN $5 ELSE q.messages_limit END`,
          [userId, storage !== undefined, storage ?? null, messages !== undefined, messages ?? null],
        );
      });
    });
  }
}

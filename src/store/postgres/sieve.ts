/**
 * Sieve scripts, the vacation setting and reply/duplicate tracking of the PostgreSQL store (../sieve.ts,
 * migration 11). A put takes a new revision from the sieve_revisions sequence. Writes that check quota or
 * switch the active script lock the user row first, so concurrent writes of one user are serialized; a
 * partial unique index keeps at most one active script per user.
 */
import { StoreError } from '../types.js';
import {
  PURGE_CHANCE,
  scriptContentProblem,
  scriptNameProblem,
  sieveQuotaProblem,
  vacationProblem,
  VACATION_OFF,
  type SieveDeliveryState,
  type SieveQuota,
  type SieveQuotaProblem,
  type SieveScript,
  type SieveScriptInfo,
  type SieveStore,
  type VacationSettings,
} from '../sieve.js';
import type { PgCore } from './core.js';
import { num, type Queryable } from './db.js';

interface ScriptRow {
  name: string;
  content?: string;
  active: boolean;
  revision: string;
  updated_at: Date;
  size: number | string;
}

const INFO_COLS = 'name, active, revision, updated_at, octet_length(content) AS size';

interface VacationRow {
  enabled: boolean;
  subject: string;
  text_body: string;
  html_body: string | null;
  from_date: Date | null;
  to_date: Date | null;
}

const VACATION_COLS = 'enabled, subject, text_body, html_body, from_date, to_date';

/** The setting of a sieve_vacation row (VACATION_OFF without one). */
function vacation(v: VacationRow | undefined): VacationSettings {
  if (!v) return { ...VACATION_OFF };
  return { enabled: v.enabled, subject: v.subject, textBody: v.text_body, htmlBody: v.html_body, fromDate: v.from_date, toDate: v.to_date };
}

function info(r: ScriptRow): SieveScriptInfo {
  return { name: r.name, active: r.active, size: num(r.size), revision: num(r.revision), updatedAt: r.updated_at };
}

function checkName(name: string): void {
  const p = scriptNameProblem(name);
  if (p) throw new StoreError('INVALID', p);
}

async function lockUser(q: Queryable, userId: number): Promise<void> {
  if ((await q.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [userId])).rowCount === 0) throw new StoreError('NOT_FOUND', 'no such user');
}

async function sizes(q: Queryable, userId: number): Promise<Array<{ name: string; size: number }>> {
  const r = await q.query<{ name: string; size: string }>('SELECT name, octet_length(content) AS size FROM sieve_scripts WHERE user_id = $1', [userId]);
  return r.rows.map((x) => ({ name: x.name, size: num(x.size) }));
}

export class PgSieve implements SieveStore {
  constructor(private readonly core: PgCore) {}

  listScripts(userId: number): Promise<SieveScriptInfo[]> {
    return this.core.run(async () => {
      const r = await this.core.db.query<ScriptRow>(`SELECT ${INFO_COLS} FROM sieve_scripts WHERE user_id = $1 ORDER BY name COLLATE "C"`, [userId]);
      return r.rows.map(info);
    });
  }

  getScript(userId: number, name: string): Promise<SieveScript | null> {
    return this.#one('name = $2', [userId, name]);
  }

  getActiveScript(userId: number): Promise<SieveScript | null> {
    return this.#one('active', [userId]);
  }

  activeRevision(userId: number): Promise<{ name: string; revision: number } | null> {
    return this.core.run(async () => {
      const r = await this.core.db.query<{ name: string; revision: string }>('SELECT name, revision FROM sieve_scripts WHERE user_id = $1 AND active', [userId]);
      const row = r.rows[0];
      return row ? { name: row.name, revision: num(row.revision) } : null;
    });
  }

  #one(where: string, args: unknown[]): Promise<SieveScript | null> {
    return this.core.run(async () => {
      const r = await this.core.db.query<ScriptRow>(`SELECT ${INFO_COLS}, content FROM sieve_scripts WHERE user_id = $1 AND ${where}`, args);
      const row = r.rows[0];
      return row ? { ...info(row), content: row.content ?? '' } : null;
    });
  }

  putScript(userId: number, name: string, content: string, quota: SieveQuota): Promise<'ok' | SieveQuotaProblem> {
    return this.core.run(async () => {
      checkName(name);
      const bad = scriptContentProblem(content);
      if (bad) throw new StoreError('INVALID', bad);
      return this.core.db.tx(async (q): Promise<'ok' | SieveQuotaProblem> => {
        await lockUser(q, userId);
        const problem = sieveQuotaProblem(await sizes(q, userId), name, Buffer.byteLength(content, 'utf8'), quota);
        if (problem) return problem;
        await q.query(
          `INSERT INTO sieve_scripts (user_id, name, content) VALUES ($1, $2, $3)
           ON CONFLICT (user_id, name) DO UPDATE SET content = excluded.content, revision = nextval('sieve_revisions'), updated_at = now()`,
          [userId, name, content],
        );
        return 'ok';
      });
    });
  }

  haveSpace(userId: number, name: string, size: number, quota: SieveQuota): Promise<'ok' | SieveQuotaProblem> {
    return this.core.run(async () => {
      checkName(name);
      return this.core.db.tx(async (q) => sieveQuotaProblem(await sizes(q, userId), name, size, quota) ?? 'ok', { readOnly: true });
    });
  }

  setActive(userId: number, name: string | null): Promise<void> {
    return this.core.run(async () =>
      this.core.db.tx(async (q) => {
        await lockUser(q, userId);
        if (name !== null && (await q.query('SELECT 1 FROM sieve_scripts WHERE user_id = $1 AND name = $2', [userId, name])).rowCount === 0) {
          throw new StoreError('NOT_FOUND', 'no such script');
        }
        await q.query('UPDATE sieve_scripts SET active = false WHERE user_id = $1 AND active', [userId]);
        if (name !== null) await q.query('UPDATE sieve_scripts SET active = true WHERE user_id = $1 AND name = $2', [userId, name]);
      }),
    );
  }

  deleteScript(userId: number, name: string): Promise<void> {
    return this.core.run(async () =>
      this.core.db.tx(async (q) => {
        await lockUser(q, userId);
        const r = await q.query<{ active: boolean }>('SELECT active FROM sieve_scripts WHERE user_id = $1 AND name = $2', [userId, name]);
        const row = r.rows[0];
        if (!row) throw new StoreError('NOT_FOUND', 'no such script');
        if (row.active) throw new StoreError('NO_PERM', 'the active script cannot be deleted');
        await q.query('DELETE FROM sieve_scripts WHERE user_id = $1 AND name = $2', [userId, name]);
      }),
    );
  }

  renameScript(userId: number, from: string, to: string): Promise<void> {
    return this.core.run(async () => {
      checkName(to);
      await this.core.db.tx(async (q) => {
        await lockUser(q, userId);
        if ((await q.query('SELECT 1 FROM sieve_scripts WHERE user_id = $1 AND name = $2', [userId, from])).rowCount === 0) throw new StoreError('NOT_FOUND', 'no such script');
        if (from === to) return;
        if ((await q.query('SELECT 1 FROM sieve_scripts WHERE user_id = $1 AND name = $2', [userId, to])).rowCount !== 0) {
          throw new StoreError('EXISTS', 'a script with that name exists');
        }
        await q.query('UPDATE sieve_scripts SET name = $3, updated_at = now() WHERE user_id = $1 AND name = $2', [userId, from, to]);
      });
    });
  }

  getVacation(userId: number): Promise<VacationSettings> {
    return this.core.run(async () => {
      const r = await this.core.db.query<VacationRow>(`SELECT ${VACATION_COLS} FROM sieve_vacation WHERE user_id = $1`, [userId]);
      return vacation(r.rows[0]);
    });
  }

  /** activeRevision and getVacation in one query (one round trip per recipient at delivery). */
  deliveryState(userId: number): Promise<SieveDeliveryState> {
    return this.core.run(async () => {
      const r = await this.core.db.query<VacationRow & { script: string | null; revision: string | null; has_vacation: boolean }>(
        `SELECT s.name AS script, s.revision, v.user_id IS NOT NULL AS has_vacation, ${VACATION_COLS.split(', ').map((c) => `v.${c}`).join(', ')}
           FROM (SELECT $1::integer AS user_id) u
           LEFT JOIN sieve_scripts s ON s.user_id = u.user_id AND s.active
           LEFT JOIN sieve_vacation v ON v.user_id = u.user_id`,
        [userId],
      );
      const row = r.rows[0]!;
      return {
        active: row.script === null ? null : { name: row.script, revision: num(row.revision!) },
        vacation: vacation(row.has_vacation ? row : undefined),
      };
    });
  }

  setVacation(userId: number, v: VacationSettings): Promise<void> {
    return this.core.run(async () => {
      const bad = vacationProblem(v);
      if (bad) throw new StoreError('INVALID', bad);
      if ([v.subject, v.textBody, v.htmlBody ?? ''].some((s) => s.includes('\u0000'))) throw new StoreError('INVALID', 'vacation text contains NUL');
      await this.core.db.tx(async (q) => {
        await lockUser(q, userId);
        await q.query(
          `INSERT INTO sieve_vacation (user_id, enabled, subject, text_body, html_body, from_date, to_date) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (user_id) DO UPDATE SET enabled = excluded.enabled, subject = excluded.subject, text_body = excluded.text_body,
             html_body = excluded.html_body, from_date = excluded.from_date, to_date = excluded.to_date`,
          [userId, v.enabled, v.subject, v.textBody, v.htmlBody ?? null, v.fromDate ?? null, v.toDate ?? null],
        );
      });
    });
  }

  vacationSentAt(userId: number, sender: string, handle: string): Promise<Date | null> {
    return this.core.run(async () => {
      const r = await this.core.db.query<{ sent_at: Date }>('SELECT sent_at FROM sieve_vacation_sent WHERE user_id = $1 AND sender = $2 AND handle = $3', [
        userId,
        sender.toLowerCase(),
        handle,
      ]);
      return r.rows[0]?.sent_at ?? null;
    });
  }

  recordVacation(userId: number, sender: string, handle: string, at: Date, forgetBefore: Date): Promise<void> {
    return this.core.run(async () =>
      this.core.db.tx(async (q) => {
        await q.query('DELETE FROM sieve_vacation_sent WHERE user_id = $1 AND sent_at < $2', [userId, forgetBefore]);
        await q.query(
          `INSERT INTO sieve_vacation_sent (user_id, sender, handle, sent_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (user_id, sender, handle) DO UPDATE SET sent_at = excluded.sent_at`,
          [userId, sender.toLowerCase(), handle, at],
        );
      }),
    );
  }

  duplicateSeen(userId: number, key: string, now: Date): Promise<boolean> {
    return this.core.run(async () => {
      const r = await this.core.db.query('SELECT 1 FROM sieve_duplicates WHERE user_id = $1 AND key = $2 AND expires_at > $3', [userId, key, now]);
      return (r.rowCount ?? 0) > 0;
    });
  }

  recordDuplicate(userId: number, key: string, now: Date, expiresAt: Date): Promise<void> {
    return this.core.run(async () =>
      this.core.db.tx(async (q) => {
        if (Math.random() < PURGE_CHANCE) await q.query('DELETE FROM sieve_duplicates WHERE user_id = $1 AND expires_at <= $2', [userId, now]);
        await q.query(
          `INSERT INTO sieve_duplicates (user_id, key, expires_at) VALUES ($1, $2, $3)
           ON CONFLICT (user_id, key) DO UPDATE SET expires_at = greatest(sieve_duplicates.expires_at, excluded.expires_at)`,
          [userId, key, expiresAt],
        );
      }),
    );
  }
}

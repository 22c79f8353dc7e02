/**
 * Sieve scripts, the vacation setting and reply/duplicate tracking of the SQLite store (../sieve.ts).
 * A put replaces the script's row, so its AUTOINCREMENT id (never reused) is the revision. Every write is
 * one immediate transaction; quota checks run inside it.
 */
import { StoreError } from '../types.js';
import {
  PURGE_CHANCE,
  scriptContentProblem,
  scriptNameProblem,
  sieveQuotaProblem,
  vacationProblem,
  VACATION_OFF,
  type SieveQuota,
  type SieveQuotaProblem,
  type SieveScript,
  type SieveDeliveryState,
  type SieveScriptInfo,
  type SieveStore,
  type VacationSettings,
} from '../sieve.js';
import type { SqliteCore } from './core.js';

interface ScriptRow {
  id: number;
  name: string;
  content: string;
  active: number;
  updated_at: number;
  size: number;
}

interface VacationRow {
  enabled: number;
  subject: string;
  text_body: string;
  html_body: string | null;
  from_date: number | null;
  to_date: number | null;
}

const INFO_COLS = 'id, name, active, updated_at, length(CAST(content AS BLOB)) AS size';

function info(r: ScriptRow): SieveScriptInfo {
  return { name: r.name, active: r.active === 1, size: r.size, revision: r.id, updatedAt: new Date(r.updated_at) };
}

function full(r: ScriptRow): SieveScript {
  return { ...info(r), content: r.content };
}

function checkName(name: string): void {
  const p = scriptNameProblem(name);
  if (p) throw new StoreError('INVALID', p);
}

export class SqliteSieve implements SieveStore {
  constructor(private readonly core: SqliteCore) {}

  #user(userId: number): void {
    this.core.userRow(userId); // throws NOT_FOUND
  }

  #sizes(userId: number): Array<{ name: string; size: number }> {
    return this.core.sql('SELECT name, length(CAST(content AS BLOB)) AS size FROM sieve_scripts WHERE user_id = ?').all(userId) as Array<{ name: string; size: number }>;
  }

  listScripts(userId: number): Promise<SieveScriptInfo[]> {
    return this.core.run(async () => {
      const rows = this.core.sql(`SELECT ${INFO_COLS} FROM sieve_scripts WHERE user_id = ?`).all(userId) as ScriptRow[];
      return rows.map(info).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    });
  }

  getScript(userId: number, name: string): Promise<SieveScript | null> {
    return this.core.run(async () => {
      const r = this.core.sql(`SELECT ${INFO_COLS}, content FROM sieve_scripts WHERE user_id = ? AND name = ?`).get(userId, name) as ScriptRow | undefined;
      return r ? full(r) : null;
    });
  }

  getActiveScript(userId: number): Promise<SieveScript | null> {
    return this.core.run(async () => {
      const r = this.core.sql(`SELECT ${INFO_COLS}, content FROM sieve_scripts WHERE user_id = ? AND active = 1`).get(userId) as ScriptRow | undefined;
      return r ? full(r) : null;
    });
  }

  activeRevision(userId: number): Promise<{ name: string; revision: number } | null> {
    return this.core.run(async () => this.#activeRevision(userId));
  }

  #activeRevision(userId: number): { name: string; revision: number } | null {
    const r = this.core.sql('SELECT id, name FROM sieve_scripts WHERE user_id = ? AND active = 1').get(userId) as { id: number; name: string } | undefined;
    return r ? { name: r.name, revision: r.id } : null;
  }

  putScript(userId: number, name: string, content: string, quota: SieveQuota): Promise<'ok' | SieveQuotaProblem> {
    return this.core.run(async () => {
      checkName(name);
      const bad = scriptContentProblem(content);
      if (bad) throw new StoreError('INVALID', bad);
      return this.core.tx((): 'ok' | SieveQuotaProblem => {
        this.#user(userId);
        const problem = sieveQuotaProblem(this.#sizes(userId), name, Buffer.byteLength(content, 'utf8'), quota);
        if (problem) return problem;
        const old = this.core.sql('SELECT active FROM sieve_scripts WHERE user_id = ? AND name = ?').get(userId, name) as { active: number } | undefined;
        this.core.sql('DELETE FROM sieve_scripts WHERE user_id = ? AND name = ?').run(userId, name);
        this.core
          .sql('INSERT INTO sieve_scripts (user_id, name, content, active, updated_at) VALUES (?, ?, ?, ?, ?)')
          .run(userId, name, content, old?.active ?? 0, Date.now());
        return 'ok';
      });
    });
  }

  haveSpace(userId: number, name: string, size: number, quota: SieveQuota): Promise<'ok' | SieveQuotaProblem> {
    return this.core.run(async () => {
      checkName(name);
      return sieveQuotaProblem(this.#sizes(userId), name, size, quota) ?? 'ok';
    });
  }

  setActive(userId: number, name: string | null): Promise<void> {
    return this.core.run(async () => {
      this.core.tx(() => {
        if (name !== null && !this.core.sql('SELECT 1 FROM sieve_scripts WHERE user_id = ? AND name = ?').get(userId, name)) {
          throw new StoreError('NOT_FOUND', 'no such script');
        }
        this.core.sql('UPDATE sieve_scripts SET active = 0 WHERE user_id = ? AND active = 1').run(userId);
        if (name !== null) this.core.sql('UPDATE sieve_scripts SET active = 1 WHERE user_id = ? AND name = ?').run(userId, name);
      });
    });
  }

  deleteScript(userId: number, name: string): Promise<void> {
    return this.core.run(async () => {
      this.core.tx(() => {
        const r = this.core.sql('SELECT active FROM sieve_scripts WHERE user_id = ? AND name = ?').get(userId, name) as { active: number } | undefined;
        if (!r) throw new StoreError('NOT_FOUND', 'no such script');
        if (r.active === 1) throw new StoreError('NO_PERM', 'the active script cannot be deleted');
        this.core.sql('DELETE FROM sieve_scripts WHERE user_id = ? AND name = ?').run(userId, name);
      });
    });
  }

  renameScript(userId: number, from: string, to: string): Promise<void> {
    return this.core.run(async () => {
      checkName(to);
      this.core.tx(() => {
        if (!this.core.sql('SELECT 1 FROM sieve_scripts WHERE user_id = ? AND name = ?').get(userId, from)) throw new StoreError('NOT_FOUND', 'no such script');
        if (from === to) return;
        if (this.core.sql('SELECT 1 FROM sieve_scripts WHERE user_id = ? AND name = ?').get(userId, to)) throw new StoreError('EXISTS', 'a script with that name exists');
        this.core.sql('UPDATE sieve_scripts SET name = ?, updated_at = ? WHERE user_id = ? AND name = ?').run(to, Date.now(), userId, from);
      });
    });
  }

  getVacation(userId: number): Promise<VacationSettings> {
    return this.core.run(async () => this.#vacation(userId));
  }

  deliveryState(userId: number): Promise<SieveDeliveryState> {
    return this.core.run(async () => ({ active: this.#activeRevision(userId), vacation: this.#vacation(userId) }));
  }

  #vacation(userId: number): VacationSettings {
    const r = this.core.sql('SELECT * FROM sieve_vacation WHERE user_id = ?').get(userId) as VacationRow | undefined;
    if (!r) return { ...VACATION_OFF };
    return {
      enabled: r.enabled === 1,
      subject: r.subject,
      textBody: r.text_body,
      htmlBody: r.html_body,
      fromDate: r.from_date === null ? null : new Date(r.from_date),
      toDate: r.to_date === null ? null : new Date(r.to_date),
    };
  }

  setVacation(userId: number, v: VacationSettings): Promise<void> {
    return this.core.run(async () => {
      const bad = vacationProblem(v);
      if (bad) throw new StoreError('INVALID', bad);
      this.core.tx(() => {
        this.#user(userId);
        this.core
          .sql(
            `INSERT INTO sieve_vacation (user_id, enabled, subject, text_body, html_body, from_date, to_date) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (user_id) DO UPDATE SET enabled = excluded.enabled, subject = excluded.subject, text_body = excluded.text_body,
               html_body = excluded.html_body, from_date = excluded.from_date, to_date = excluded.to_date`,
          )
          .run(userId, v.enabled ? 1 : 0, v.subject, v.textBody, v.htmlBody ?? null, v.fromDate?.getTime() ?? null, v.toDate?.getTime() ?? null);
      });
    });
  }

  vacationSentAt(userId: number, sender: string, handle: string): Promise<Date | null> {
    return this.core.run(async () => {
      const at = this.core.sql('SELECT sent_at FROM sieve_vacation_sent WHERE user_id = ? AND sender = ? AND handle = ?').pluck().get(userId, sender.toLowerCase(), handle) as
        | number
        | undefined;
      return at === undefined ? null : new Date(at);
    });
  }

  recordVacation(userId: number, sender: string, handle: string, at: Date, forgetBefore: Date): Promise<void> {
    // Group-committed without waiting for the WAL sync (as flag changes are): losing the last record in a
    // crash costs at most one repeated reply.
    return this.core.run(async () => {
      await this.core.groupCommit(() => {
        this.core.sql('DELETE FROM sieve_vacation_sent WHERE user_id = ? AND sent_at < ?').run(userId, forgetBefore.getTime());
        this.core
          .sql('INSERT INTO sieve_vacation_sent (user_id, sender, handle, sent_at) VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET sent_at = excluded.sent_at')
          .run(userId, sender.toLowerCase(), handle, at.getTime());
      }, undefined, false);
    });
  }

  duplicateSeen(userId: number, key: string, now: Date): Promise<boolean> {
    return this.core.run(async () => {
      return this.core.sql('SELECT 1 FROM sieve_duplicates WHERE user_id = ? AND key = ? AND expires_at > ?').get(userId, key, now.getTime()) !== undefined;
    });
  }

  recordDuplicate(userId: number, key: string, now: Date, expiresAt: Date): Promise<void> {
    return this.core.run(async () => {
      await this.core.groupCommit(() => {
        // Expired entries of the user go now and then (a scan of the user's rows), not at every record.
        if (Math.random() < PURGE_CHANCE) this.core.sql('DELETE FROM sieve_duplicates WHERE user_id = ? AND expires_at <= ?').run(userId, now.getTime());
        this.core
          .sql('INSERT INTO sieve_duplicates (user_id, key, expires_at) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)')
          .run(userId, key, expiresAt.getTime());
      }, undefined, false);
    });
  }
}

/**
 * Spam filter statistics of the SQLite store (../spam.ts). Tables are created at open (CREATE IF NOT
 * EXISTS, no schema version bump; older builds ignore them):
 * - `spam_tokens` (user, token) -> spam and ham counts, clustered by user so one message's tokens are one
 *   batch of primary-key probes (json_each over the token list: one statement per message);
 * - `spam_totals` per user: trained spam and ham messages, and the training generation;
 * - `spam_trained` (user, message digest) -> class, for idempotent re-training.
 * Rows of a deleted user stay until reset() (user ids are never reused, so they are never read again).
 * Training commits through the group commit without waiting for the WAL sync (like flag changes): losing
 * the last training steps to a power cut is harmless.
 */
import { distinctTokens, trainDeltas, type ClassCounts, type SpamClass, type SpamCounts, type SpamStats, type SpamStore, type TrainOutcome } from '../spam.js';
import type { SqliteCore } from './core.js';

export const SPAM_SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS spam_tokens (
  user_id INTEGER NOT NULL,
  token TEXT NOT NULL,
  spam INTEGER NOT NULL,
  ham INTEGER NOT NULL,
  PRIMARY KEY (user_id, token)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spam_totals (
  user_id INTEGER PRIMARY KEY,
  spam INTEGER NOT NULL,
  ham INTEGER NOT NULL,
  generation INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS spam_trained (
  user_id INTEGER NOT NULL,
  digest TEXT NOT NULL,
  class TEXT NOT NULL,
  trained_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, digest)
) WITHOUT ROWID;
`;

type Row = { token: string; spam: number; ham: number };

export class SqliteSpam implements SpamStore {
  constructor(private readonly core: SqliteCore) {
    core.db.exec(SPAM_SCHEMA_SQL);
  }

  counts(userId: number, tokens: readonly string[]): Promise<SpamCounts> {
    const core = this.core;
    return core.run(async () =>
      core.readTx(() => {
        const totals = this.#totals(userId);
        const map = new Map<string, ClassCounts>();
        if (tokens.length > 0) {
          const rows = core
            // CROSS JOIN keeps json_each the outer loop: one primary-key probe per token, never a scan of the
            // user's rows (which the planner picks for "token IN (SELECT ...)").
            .sql('SELECT t.token, t.spam, t.ham FROM json_each(?) AS j CROSS JOIN spam_tokens AS t ON t.user_id = ? AND t.token = j.value')
            .all(JSON.stringify(tokens), userId) as Row[];
          for (const r of rows) map.set(r.token, { spam: r.spam, ham: r.ham });
        }
        return { totals: { spam: totals.spam, ham: totals.ham }, tokens: map, generation: totals.generation };
      }),
    );
  }

  /** The user's totals and generation (zero for a user who never trained); inside a read. */
  #totals(userId: number): ClassCounts & { generation: number } {
    const row = this.core.sql('SELECT spam, ham, generation FROM spam_totals WHERE user_id = ?').get(userId) as (ClassCounts & { generation: number }) | undefined;
    return row ?? { spam: 0, ham: 0, generation: 0 };
  }

  vocabulary(userId: number, max: number): Promise<SpamCounts & { complete: boolean }> {
    const core = this.core;
    return core.run(async () =>
      core.readTx(() => {
        const totals = this.#totals(userId);
        const rows = core.sql('SELECT token, spam, ham FROM spam_tokens WHERE user_id = ? LIMIT ?').all(userId, max + 1) as Row[];
        const complete = rows.length <= max;
        const map = new Map<string, ClassCounts>();
        if (complete) for (const r of rows) map.set(r.token, { spam: r.spam, ham: r.ham });
        return { totals: { spam: totals.spam, ham: totals.ham }, tokens: map, generation: totals.generation, complete };
      }),
    );
  }

  train(userId: number, digest: string, cls: SpamClass, tokens: readonly string[]): Promise<TrainOutcome> {
    const core = this.core;
    return core.run(async () =>
      core.groupCommit(
        (): TrainOutcome => {
          const prev = this.trainedSync(userId, digest);
          if (prev === cls) return 'unchanged';
          this.apply(userId, distinctTokens(tokens), trainDeltas(cls, prev));
          core.sql('INSERT OR REPLACE INTO spam_trained (user_id, digest, class, trained_at) VALUES (?, ?, ?, ?)').run(userId, digest, cls, Date.now());
          return prev ? 'retrained' : 'trained';
        },
        undefined,
        false,
      ),
    );
  }

  untrain(userId: number, digest: string, tokens: readonly string[]): Promise<SpamClass | null> {
    const core = this.core;
    return core.run(async () =>
      core.groupCommit(
        (): SpamClass | null => {
          const prev = this.trainedSync(userId, digest);
          if (!prev) return null;
          this.apply(userId, distinctTokens(tokens), { spam: prev === 'spam' ? -1 : 0, ham: prev === 'ham' ? -1 : 0 });
          core.sql('DELETE FROM spam_trained WHERE user_id = ? AND digest = ?').run(userId, digest);
          return prev;
        },
        undefined,
        false,
      ),
    );
  }

  trainedAs(userId: number, digest: string): Promise<SpamClass | null> {
    return this.core.run(async () => this.trainedSync(userId, digest));
  }

  stats(userId?: number): Promise<SpamStats[]> {
    const core = this.core;
    return core.run(async () =>
      core.readTx(() => {
        const totals = (
          userId === undefined
            ? core.sql('SELECT user_id, spam, ham FROM spam_totals WHERE spam + ham > 0 ORDER BY user_id').all()
            : core.sql('SELECT user_id, spam, ham FROM spam_totals WHERE user_id = ?').all(userId)
        ) as Array<{ user_id: number; spam: number; ham: number }>;
        if (userId !== undefined && totals.length === 0) totals.push({ user_id: userId, spam: 0, ham: 0 });
        const count = core.sql('SELECT count(*) FROM spam_tokens WHERE user_id = ?').pluck();
        return totals.map((t) => ({ userId: t.user_id, spamMessages: t.spam, hamMessages: t.ham, tokens: count.get(t.user_id) as number }));
      }),
    );
  }

  reset(userId: number): Promise<void> {
    const core = this.core;
    return core.run(async () =>
      core.groupCommit(() => {
        for (const t of ['spam_tokens', 'spam_trained']) core.sql(`DELETE FROM ${t} WHERE user_id = ?`).run(userId);
        // The totals row stays (zeroed) so the generation keeps moving forward.
        core.sql('UPDATE spam_totals SET spam = 0, ham = 0, generation = generation + 1 WHERE user_id = ?').run(userId);
      }),
    );
  }

  private trainedSync(userId: number, digest: string): SpamClass | null {
    const c = this.core.sql('SELECT class FROM spam_trained WHERE user_id = ? AND digest = ?').pluck().get(userId, digest) as string | undefined;
    return c === 'spam' || c === 'ham' ? c : null;
  }

  /** Adds the deltas to every token and to the totals (never below zero); drops tokens left at zero. */
  private apply(userId: number, tokens: readonly string[], d: ClassCounts): void {
    const core = this.core;
    core
      .sql(
        `INSERT INTO spam_totals (user_id, spam, ham, generation) VALUES (@u, max(@s, 0), max(@h, 0), 1)
         ON CONFLICT (user_id) DO UPDATE SET spam = max(spam + @s, 0), ham = max(ham + @h, 0), generation = generation + 1`,
      )
      .run({ u: userId, s: d.spam, h: d.ham });
    if (tokens.length === 0) return;
    const json = JSON.stringify(tokens);
    core
      .sql(
        `INSERT INTO spam_tokens (user_id, token, spam, ham) SELECT @u, value, max(@s, 0), max(@h, 0) FROM json_each(@j) WHERE true
         ON CONFLICT (user_id, token) DO UPDATE SET spam = max(spam + @s, 0), ham = max(ham + @h, 0)`,
      )
      .run({ u: userId, j: json, s: d.spam, h: d.ham });
    if (d.spam < 0 || d.ham < 0) {
      core.sql('DELETE FROM spam_tokens WHERE user_id = ? AND token IN (SELECT value FROM json_each(?)) AND spam = 0 AND ham = 0').run(userId, json);
    }
  }
}

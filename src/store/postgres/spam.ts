/**
 * Spam filter statistics of the PostgreSQL store (../spam.ts), tables of migration 10: `spam_tokens`
 * (user, token) -> spam and ham counts, `spam_totals` per user, `spam_trained` (user, message digest) ->
 * class. A message's token counts are read with one statement (token = ANY($2)); a training step is one
 * transaction that first locks the user's totals row, so training steps of one user are serialized (and
 * their token upserts, sorted, cannot deadlock with each other). Rows go with the user (ON DELETE CASCADE).
 */
import { distinctTokens, trainDeltas, type ClassCounts, type SpamClass, type SpamCounts, type SpamStats, type SpamStore, type TrainOutcome } from '../spam.js';
import type { PgCore } from './core.js';
import { num, type Queryable } from './db.js';

export class PgSpam implements SpamStore {
  constructor(private readonly core: PgCore) {}

  counts(userId: number, tokens: readonly string[]): Promise<SpamCounts> {
    return this.core.run(async () => {
      const r = await this.core.db.query<{ token: string | null; spam: number; ham: number; generation: string }>(
        `SELECT NULL AS token, spam, ham, generation FROM spam_totals WHERE user_id = $1
         UNION ALL
         SELECT token, spam, ham, 0 FROM spam_tokens WHERE user_id = $1 AND token = ANY($2::text[])`,
        [userId, tokens],
        'spam_counts_v2',
      );
      const totals = { spam: 0, ham: 0 };
      let generation = 0;
      const map = new Map<string, ClassCounts>();
      for (const row of r.rows) {
        if (row.token === null) {
          totals.spam = num(row.spam);
          totals.ham = num(row.ham);
          generation = num(row.generation);
        } else map.set(row.token, { spam: num(row.spam), ham: num(row.ham) });
      }
      return { totals, tokens: map, generation };
    });
  }

  vocabulary(userId: number, max: number): Promise<SpamCounts & { complete: boolean }> {
    return this.core.run(async () => {
      const r = await this.core.db.query<{ token: string | null; spam: number; ham: number; generation: string }>(
        `SELECT NULL AS token, spam, ham, generation FROM spam_totals WHERE user_id = $1
         UNION ALL
         (SELECT token, spam, ham, 0 FROM spam_tokens WHERE user_id = $1 LIMIT $2)`,
        [userId, max + 1],
        'spam_vocabulary_v1',
      );
      const totals = { spam: 0, ham: 0 };
      let generation = 0;
      const map = new Map<string, ClassCounts>();
      let rows = 0;
      for (const row of r.rows) {
        if (row.token === null) {
          totals.spam = num(row.spam);
          totals.ham = num(row.ham);
          generation = num(row.generation);
        } else {
          rows++;
          map.set(row.token, { spam: num(row.spam), ham: num(row.ham) });
        }
      }
      const complete = rows <= max;
      if (!complete) map.clear();
      return { totals, tokens: map, generation, complete };
    });
  }

  train(userId: number, digest: string, cls: SpamClass, tokens: readonly string[]): Promise<TrainOutcome> {
    return this.core.run(async () =>
      this.core.db.tx(async (q): Promise<TrainOutcome> => {
        const prev = await lockAndRead(q, userId, digest);
        if (prev === cls) return 'unchanged';
        await apply(q, userId, distinctTokens(tokens), trainDeltas(cls, prev));
        await q.query(
          `INSERT INTO spam_trained (user_id, digest, class) VALUES ($1, $2, $3)
           ON CONFLICT (user_id, digest) DO UPDATE SET class = EXCLUDED.class, trained_at = now()`,
          [userId, digest, cls],
        );
        return prev ? 'retrained' : 'trained';
      }),
    );
  }

  untrain(userId: number, digest: string, tokens: readonly string[]): Promise<SpamClass | null> {
    return this.core.run(async () =>
      this.core.db.tx(async (q): Promise<SpamClass | null> => {
        const prev = await lockAndRead(q, userId, digest);
        if (!prev) return null;
        await apply(q, userId, distinctTokens(tokens), { spam: prev === 'spam' ? -1 : 0, ham: prev === 'ham' ? -1 : 0 });
        await q.query('DELETE FROM spam_trained WHERE user_id = $1 AND digest = $2', [userId, digest]);
        return prev;
      }),
    );
  }

  trainedAs(userId: number, digest: string): Promise<SpamClass | null> {
    return this.core.run(async () => this.core.db.tx((q) => readClass(q, userId, digest), { readOnly: true }));
  }

  stats(userId?: number): Promise<SpamStats[]> {
    return this.core.run(async () => {
      const r = await this.core.db.query<{ user_id: number; spam: number; ham: number; tokens: string }>(
        `SELECT t.user_id, t.spam, t.ham, (SELECT count(*) FROM spam_tokens k WHERE k.user_id = t.user_id) AS tokens
         FROM spam_totals t WHERE ${userId === undefined ? 't.spam + t.ham > 0' : 't.user_id = $1'} ORDER BY t.user_id`,
        userId === undefined ? [] : [userId],
      );
      const out = r.rows.map((row) => ({ userId: num(row.user_id), spamMessages: num(row.spam), hamMessages: num(row.ham), tokens: num(row.tokens) }));
      if (userId !== undefined && out.length === 0) out.push({ userId, spamMessages: 0, hamMessages: 0, tokens: 0 });
      return out;
    });
  }

  reset(userId: number): Promise<void> {
    return this.core.run(async () =>
      this.core.db.tx(async (q) => {
        for (const t of ['spam_tokens', 'spam_trained']) await q.query(`DELETE FROM ${t} WHERE user_id = $1`, [userId]);
        // The totals row stays (zeroed) so the generation keeps moving forward.
        await q.query('UPDATE spam_totals SET spam = 0, ham = 0, generation = generation + 1 WHERE user_id = $1', [userId]);
      }),
    );
  }
}

async function readClass(q: Queryable, userId: number, digest: string): Promise<SpamClass | null> {
  const r = await q.query<{ class: string }>('SELECT class FROM spam_trained WHERE user_id = $1 AND digest = $2', [userId, digest]);
  const c = r.rows[0]?.class;
  return c === 'spam' || c === 'ham' ? c : null;
}

/** Locks the user's totals row (creating it; the user must exist) and reads the message's training state. */
async function lockAndRead(q: Queryable, userId: number, digest: string): Promise<SpamClass | null> {
  await q.query('INSERT INTO spam_totals (user_id, spam, ham) VALUES ($1, 0, 0) ON CONFLICT (user_id) DO NOTHING', [userId]);
  await q.query('SELECT 1 FROM spam_totals WHERE user_id = $1 FOR UPDATE', [userId]);
  return readClass(q, userId, digest);
}

/** Adds the deltas to every token and to the totals (never below zero); drops tokens left at zero. */
async function apply(q: Queryable, userId: number, tokens: readonly string[], d: ClassCounts): Promise<void> {
  await q.query('UPDATE spam_totals SET spam = greatest(spam + $2, 0), ham = greatest(ham + $3, 0), generation = generation + 1 WHERE user_id = $1', [userId, d.spam, d.ham]);
  if (tokens.length === 0) return;
  await q.query(
    `INSERT INTO spam_tokens (user_id, token, spam, ham) SELECT $1, t, greatest($3::int, 0), greatest($4::int, 0) FROM unnest($2::text[]) AS t
     ON CONFLICT (user_id, token) DO UPDATE SET spam = greatest(spam_tokens.spam + $3::int, 0), ham = greatest(spam_tokens.ham + $4::int, 0)`,
    [userId, tokens, d.spam, d.ham],
  );
  if (d.spam < 0 || d.ham < 0) {
    await q.query('DELETE FROM spam_tokens WHERE user_id = $1 AND token = ANY($2::text[]) AND spam = 0 AND ham = 0', [userId, tokens]);
  }
}

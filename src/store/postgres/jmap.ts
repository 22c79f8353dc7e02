/**
 * PgJmap: the JmapStore (../jmap.ts) over PostgreSQL; tables from migration 14 (jmap-schema.ts). A write
 * locks its (user, kind) state row, so writers from several nodes are serialised per user and kind.
 */
import type { JmapObject, JmapObjectChanges, JmapObjectWrite, JmapStore, JmapUpload } from '../jmap.js';
import { checkJmapId, checkObjectWrite, checkUpload, classifyChanges } from '../jmap.js';
import type { PgCore } from './core.js';
import { num, type Queryable } from './db.js';

interface ObjectRow {
  id: string;
  data: Record<string, unknown> | null;
  created_state: string | number;
}

async function stateOf(q: Queryable, userId: number, kind: string, lock = false): Promise<number> {
  const r = await q.query<{ state: string }>(`SELECT state FROM jmap_states WHERE user_id = $1 AND kind = $2${lock ? ' FOR UPDATE' : ''}`, [userId, kind]);
  return r.rows[0] ? num(r.rows[0].state) : 0;
}

export class PgJmap implements JmapStore {
  constructor(private readonly core: PgCore) {}

  putUpload(userId: number, up: JmapUpload, maxBytesPerUser: number): Promise<void> {
    return this.core.run(async () => {
      checkUpload(up, maxBytesPerUser);
      await this.core.db.tx(async (q) => {
        await q.query('DELETE FROM jmap_uploads WHERE expires_at <= now()');
        // Serialises one user's uploads so the budget holds across nodes.
        await q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`jmap-upload:${userId}`]);
        const rows = (await q.query<{ id: string; size: number }>('SELECT id, size FROM jmap_uploads WHERE user_id = $1 ORDER BY created_at, id', [userId])).rows;
        let total = rows.reduce((n, r) => n + num(r.size), 0);
        for (const r of rows) {
          if (total + up.data.length <= maxBytesPerUser) break;
          await q.query('DELETE FROM jmap_uploads WHERE id = $1', [r.id]);
          total -= num(r.size);
        }
        await q.query(
          `INSERT INTO jmap_uploads (id, user_id, type, size, data, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (id) DO UPDATE SET type = EXCLUDED.type, size = EXCLUDED.size, data = EXCLUDED.data, expires_at = EXCLUDED.expires_at`,
          [up.id, userId, up.type, up.data.length, up.data, up.expiresAt],
        );
      });
    });
  }

  getUpload(userId: number, id: string, now: Date): Promise<JmapUpload | null> {
    return this.core.run(async () => {
      if (typeof id !== 'string' || id.length > 255 || id.includes('\u0000')) return null;
      const r = (await this.core.db.query<{ id: string; type: string; data: Buffer; expires_at: Date }>('SELECT id, type, data, expires_at FROM jmap_uploads WHERE id = $1 AND user_id = $2', [id, userId])).rows[0];
      if (!r || r.expires_at.getTime() <= now.getTime()) return null;
      return { id: r.id, type: r.type, data: r.data, expiresAt: r.expires_at };
    });
  }

  listObjects(userId: number, kind: string): Promise<{ state: number; objects: JmapObject[] }> {
    return this.core.run(async () => {
      checkJmapId(kind, 'object kind');
      return this.core.db.tx(
        async (q) => {
          const rows = (await q.query<ObjectRow>('SELECT id, data, created_state FROM jmap_objects WHERE user_id = $1 AND kind = $2 AND data IS NOT NULL ORDER BY created_state, id', [userId, kind])).rows;
          return { state: await stateOf(q, userId, kind), objects: rows.map((r) => ({ id: r.id, data: r.data! })) };
        },
        { isolation: 'repeatable read', readOnly: true },
      );
    });
  }

  writeObjects(userId: number, kind: string, write: JmapObjectWrite, ifInState?: number | null): Promise<number | null> {
    return this.core.run(async () => {
      const { puts, destroy } = checkObjectWrite(kind, write);
      return this.core.db.tx(async (q) => {
        await q.query('INSERT INTO jmap_states (user_id, kind, state) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING', [userId, kind]);
        const state = await stateOf(q, userId, kind, true);
        if (ifInState !== undefined && ifInState !== null && ifInState !== state) return null;
        if (puts.length === 0 && destroy.length === 0) return state;
        const next = state + 1;
        await q.query('UPDATE jmap_states SET state = $3 WHERE user_id = $1 AND kind = $2', [userId, kind, next]);
        for (const p of puts) {
          await q.query(
            `INSERT INTO jmap_objects (user_id, kind, id, data, created_state, changed_state) VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (user_id, kind, id) DO UPDATE SET data = EXCLUDED.data, changed_state = EXCLUDED.changed_state,
               created_state = CASE WHEN jmap_objects.data IS NULL THEN EXCLUDED.created_state ELSE jmap_objects.created_state END`,
            [userId, kind, p.id, p.json, next],
          );
        }
        for (const id of destroy) await q.query('UPDATE jmap_objects SET data = NULL, changed_state = $4 WHERE user_id = $1 AND kind = $2 AND id = $3 AND data IS NOT NULL', [userId, kind, id, next]);
        return next;
      });
    });
  }

  objectChanges(userId: number, kind: string, since: number): Promise<JmapObjectChanges | null> {
    return this.core.run(async () => {
      checkJmapId(kind, 'object kind');
      return this.core.db.tx(
        async (q) => {
          const state = await stateOf(q, userId, kind);
          if (!Number.isSafeInteger(since) || since < 0 || since > state) return null;
          const rows = (await q.query<ObjectRow>('SELECT id, data, created_state FROM jmap_objects WHERE user_id = $1 AND kind = $2 AND changed_state > $3 ORDER BY changed_state, id', [userId, kind, since])).rows;
          return classifyChanges(state, rows.map((r) => ({ id: r.id, createdState: num(r.created_state), alive: r.data !== null })), since);
        },
        { isolation: 'repeatable read', readOnly: true },
      );
    });
  }

  putSnapshot(userId: number, kind: string, state: string, data: string, keep: number): Promise<void> {
    return this.core.run(async () => {
      checkJmapId(kind, 'snapshot kind');
      checkJmapId(state, 'snapshot state');
      await this.core.db.tx(async (q) => {
        await q.query('INSERT INTO jmap_snapshots (user_id, kind, state, data) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [userId, kind, state, data.replace(/\u0000/g, ' ')]);
        await q.query(
          'DELETE FROM jmap_snapshots WHERE user_id = $1 AND kind = $2 AND seq NOT IN (SELECT seq FROM jmap_snapshots WHERE user_id = $1 AND kind = $2 ORDER BY seq DESC LIMIT $3)',
          [userId, kind, Math.max(1, keep)],
        );
      });
    });
  }

  getSnapshot(userId: number, kind: string, state: string): Promise<string | null> {
    return this.core.run(async () => {
      if (typeof state !== 'string' || typeof kind !== 'string' || state.includes('\u0000') || kind.includes('\u0000')) return null;
      const r = (await this.core.db.query<{ data: string }>('SELECT data FROM jmap_snapshots WHERE user_id = $1 AND kind = $2 AND state = $3', [userId, kind, state])).rows[0];
      return r ? r.data : null;
    });
  }
}

/** Migration 14: the tables of PgJmap. */
export const JMAP_MIGRATION_SQL = `
CREATE TABLE jmap_uploads (
  id text PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  type text NOT NULL,
  size bigint NOT NULL,
  data bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX jmap_uploads_user ON jmap_uploads (user_id, created_at);
CREATE INDEX jmap_uploads_expiry ON jmap_uploads (expires_at);
CREATE TABLE jmap_states (
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind text NOT NULL,
  state bigint NOT NULL,
  PRIMARY KEY (user_id, kind)
);
CREATE TABLE jmap_objects (
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind text NOT NULL,
  id text NOT NULL,
  data jsonb,
  created_state bigint NOT NULL,
  changed_state bigint NOT NULL,
  PRIMARY KEY (user_id, kind, id)
);
CREATE INDEX jmap_objects_changed ON jmap_objects (user_id, kind, changed_state);
CREATE TABLE jmap_snapshots (
  seq bigserial PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind text NOT NULL,
  state text NOT NULL,
  data text NOT NULL,
  UNIQUE (user_id, kind, state)
);
`;

/**
 * SqliteJmap: the JmapStore (../jmap.ts) over the SQLite core; tables created at open. Upload bytes are
 * kept in the database (uploads are short-lived and bounded per user).
 */
import type { JmapObject, JmapObjectChanges, JmapObjectWrite, JmapStore, JmapUpload } from '../jmap.js';
import { checkJmapId, checkObjectWrite, checkUpload, classifyChanges } from '../jmap.js';
import type { SqliteCore } from './core.js';

export const JMAP_SQL = `
CREATE TABLE IF NOT EXISTS jmap_uploads (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL,
  type TEXT NOT NULL,
  size INTEGER NOT NULL,
  data BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jmap_uploads_user ON jmap_uploads (user_id, created_at);
CREATE INDEX IF NOT EXISTS jmap_uploads_expiry ON jmap_uploads (expires_at);
CREATE TABLE IF NOT EXISTS jmap_states (
  user_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  state INTEGER NOT NULL,
  PRIMARY KEY (user_id, kind)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS jmap_objects (
  user_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  id TEXT NOT NULL,
  data TEXT,
  created_state INTEGER NOT NULL,
  changed_state INTEGER NOT NULL,
  PRIMARY KEY (user_id, kind, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jmap_objects_changed ON jmap_objects (user_id, kind, changed_state);
CREATE TABLE IF NOT EXISTS jmap_snapshots (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL,
  kind TEXT NOT NULL,
  state TEXT NOT NULL,
  data TEXT NOT NULL,
  UNIQUE (user_id, kind, state)
);
`;

interface UploadRow {
  id: string;
  type: string;
  data: Buffer;
  expires_at: number;
}

interface ObjectRow {
  id: string;
  data: string | null;
  created_state: number;
}

export class SqliteJmap implements JmapStore {
  constructor(private readonly core: SqliteCore) {
    core.db.exec(JMAP_SQL);
  }

  putUpload(userId: number, up: JmapUpload, maxBytesPerUser: number): Promise<void> {
    return this.core.run(async () => {
      checkUpload(up, maxBytesPerUser);
      const now = Date.now();
      this.core.tx(() => {
        this.core.sql('DELETE FROM jmap_uploads WHERE expires_at <= ?').run(now);
        let total = Number(this.core.sql('SELECT COALESCE(SUM(size), 0) AS n FROM jmap_uploads WHERE user_id = ?').pluck().get(userId));
        if (total + up.data.length > maxBytesPerUser) {
          const rows = this.core.sql('SELECT id, size FROM jmap_uploads WHERE user_id = ? ORDER BY created_at, id').all(userId) as Array<{ id: string; size: number }>;
          for (const r of rows) {
            if (total + up.data.length <= maxBytesPerUser) break;
            this.core.sql('DELETE FROM jmap_uploads WHERE id = ?').run(r.id);
            total -= r.size;
          }
        }
        this.core
          .sql('INSERT OR REPLACE INTO jmap_uploads (id, user_id, type, size, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(up.id, userId, up.type, up.data.length, up.data, now, up.expiresAt.getTime());
      });
    });
  }

  getUpload(userId: number, id: string, now: Date): Promise<JmapUpload | null> {
    return this.core.run(async () => {
      if (typeof id !== 'string' || id.length > 255) return null;
      const r = this.core.sql('SELECT id, type, data, expires_at FROM jmap_uploads WHERE id = ? AND user_id = ?').get(id, userId) as UploadRow | undefined;
      if (!r || r.expires_at <= now.getTime()) return null;
      return { id: r.id, type: r.type, data: r.data, expiresAt: new Date(r.expires_at) };
    });
  }

  #state(userId: number, kind: string): number {
    return Number(this.core.sql('SELECT state FROM jmap_states WHERE user_id = ? AND kind = ?').pluck().get(userId, kind) ?? 0);
  }

  listObjects(userId: number, kind: string): Promise<{ state: number; objects: JmapObject[] }> {
    return this.core.run(async () => {
      checkJmapId(kind, 'object kind');
      return this.core.readTx(() => {
        const rows = this.core.sql('SELECT id, data, created_state FROM jmap_objects WHERE user_id = ? AND kind = ? AND data IS NOT NULL ORDER BY created_state, id').all(userId, kind) as ObjectRow[];
        return { state: this.#state(userId, kind), objects: rows.map((r) => ({ id: r.id, data: JSON.parse(r.data!) as Record<string, unknown> })) };
      });
    });
  }

  writeObjects(userId: number, kind: string, write: JmapObjectWrite, ifInState?: number | null): Promise<number | null> {
    return this.core.run(async () => {
      const { puts, destroy } = checkObjectWrite(kind, write);
      return this.core.tx(() => {
        const state = this.#state(userId, kind);
        if (ifInState !== undefined && ifInState !== null && ifInState !== state) return null;
        if (puts.length === 0 && destroy.length === 0) return state;
        const next = state + 1;
        this.core.sql('INSERT INTO jmap_states (user_id, kind, state) VALUES (?, ?, ?) ON CONFLICT (user_id, kind) DO UPDATE SET state = excluded.state').run(userId, kind, next);
        for (const p of puts) {
          this.core
            .sql(
              `INSERT INTO jmap_objects (user_id, kind, id, data, created_state, changed_state) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (user_id, kind, id) DO UPDATE SET data = excluded.data, changed_state = excluded.changed_state,
                 created_state = CASE WHEN jmap_objects.data IS NULL THEN excluded.created_state ELSE jmap_objects.created_state END`,
            )
            .run(userId, kind, p.id, p.json, next, next);
        }
        for (const id of destroy) this.core.sql('UPDATE jmap_objects SET data = NULL, changed_state = ? WHERE user_id = ? AND kind = ? AND id = ? AND data IS NOT NULL').run(next, userId, kind, id);
        return next;
      });
    });
  }

  objectChanges(userId: number, kind: string, since: number): Promise<JmapObjectChanges | null> {
    return this.core.run(async () => {
      checkJmapId(kind, 'object kind');
      return this.core.readTx(() => {
        const state = this.#state(userId, kind);
        if (!Number.isSafeInteger(since) || since < 0 || since > state) return null;
        const rows = this.core.sql('SELECT id, data, created_state FROM jmap_objects WHERE user_id = ? AND kind = ? AND changed_state > ? ORDER BY changed_state, id').all(userId, kind, since) as ObjectRow[];
        return classifyChanges(state, rows.map((r) => ({ id: r.id, createdState: r.created_state, alive: r.data !== null })), since);
      });
    });
  }

  putSnapshot(userId: number, kind: string, state: string, data: string, keep: number): Promise<void> {
    return this.core.run(async () => {
      checkJmapId(kind, 'snapshot kind');
      checkJmapId(state, 'snapshot state');
      this.core.tx(() => {
        this.core.sql('INSERT OR IGNORE INTO jmap_snapshots (user_id, kind, state, data) VALUES (?, ?, ?, ?)').run(userId, kind, state, data);
        this.core
          .sql('DELETE FROM jmap_snapshots WHERE user_id = ? AND kind = ? AND seq NOT IN (SELECT seq FROM jmap_snapshots WHERE user_id = ? AND kind = ? ORDER BY seq DESC LIMIT ?)')
          .run(userId, kind, userId, kind, Math.max(1, keep));
      });
    });
  }

  getSnapshot(userId: number, kind: string, state: string): Promise<string | null> {
    return this.core.run(async () => {
      if (typeof state !== 'string' || typeof kind !== 'string') return null;
      return (this.core.sql('SELECT data FROM jmap_snapshots WHERE user_id = ? AND kind = ? AND state = ?').pluck().get(userId, kind, state) as string | undefined) ?? null;
    });
  }
}

/**
 * SqliteTokens: the TokenStore (../tokens.ts) over the SQLite core. Its tables are created at open
 * (CREATE ... IF NOT EXISTS), like the rest of the SQLite schema. This backend runs with foreign keys off, so
 * rows of a deleted user may stay behind: every read joins users, so they are never used (user ids are
 * AUTOINCREMENT, never reused).
 */
import type { PushSubscriptionRecord, TokenInfo, TokenKind, TokenStore } from '../tokens.js';
import { LAST_USED_GRANULARITY_MS, checkTokenOptions, hashSecret, newSecret, secretId, secretMatches } from '../tokens.js';
import type { SqliteCore } from './core.js';

export const TOKENS_SQL = `
CREATE TABLE IF NOT EXISTS api_tokens (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  kind TEXT NOT NULL,
  secret_hash BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER
);
CREATE INDEX IF NOT EXISTS api_tokens_user ON api_tokens(user_id);
CREATE TABLE IF NOT EXISTS push_subscriptions (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  device_client_id TEXT NOT NULL,
  url TEXT NOT NULL,
  keys TEXT,
  verification_code TEXT NOT NULL,
  verified INTEGER NOT NULL,
  expires INTEGER,
  types TEXT
);
CREATE INDEX IF NOT EXISTS push_subscriptions_user ON push_subscriptions(user_id);
`;

interface TokenRow {
  id: string;
  user_id: number;
  name: string;
  kind: string;
  secret_hash: Buffer;
  created_at: number;
  expires_at: number | null;
  last_used_at: number | null;
}

interface PushRow {
  id: string;
  user_id: number;
  device_client_id: string;
  url: string;
  keys: string | null;
  verification_code: string;
  verified: number;
  expires: number | null;
  types: string | null;
}

function toInfo(r: TokenRow): TokenInfo {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    kind: r.kind as TokenKind,
    createdAt: new Date(r.created_at),
    expiresAt: r.expires_at === null ? null : new Date(r.expires_at),
    lastUsedAt: r.last_used_at === null ? null : new Date(r.last_used_at),
  };
}

function toPush(r: PushRow): PushSubscriptionRecord {
  return {
    id: r.id,
    userId: r.user_id,
    deviceClientId: r.device_client_id,
    url: r.url,
    keys: r.keys === null ? null : (JSON.parse(r.keys) as { p256dh: string; auth: string }),
    verificationCode: r.verification_code,
    verified: r.verified === 1,
    expires: r.expires === null ? null : new Date(r.expires),
    types: r.types === null ? null : (JSON.parse(r.types) as string[]),
  };
}

export class SqliteTokens implements TokenStore {
  constructor(private readonly core: SqliteCore) {
    core.db.exec(TOKENS_SQL);
  }

  create(userId: number, opts: { name: string; kind: TokenKind; expiresAt?: Date | null }): Promise<{ id: string; secret: string }> {
    return this.core.run(async () => {
      const name = checkTokenOptions(opts);
      const t = newSecret();
      this.core.tx(() =>
        this.core
          .sql('INSERT INTO api_tokens (id, user_id, name, kind, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
          .run(t.id, userId, name, opts.kind, hashSecret(t.secret), Date.now(), opts.expiresAt ? opts.expiresAt.getTime() : null),
      );
      return t;
    });
  }

  verify(secret: string): Promise<TokenInfo | null> {
    return this.core.run(async () => {
      const id = secretId(secret);
      if (id === null) return null;
      const r = this.core.sql('SELECT t.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = ?').get(id) as TokenRow | undefined;
      const now = Date.now();
      if (!r || !secretMatches(r.secret_hash, secret) || (r.expires_at !== null && r.expires_at <= now)) return null;
      if (r.last_used_at === null || now - r.last_used_at > LAST_USED_GRANULARITY_MS) {
        this.core.tx(() => this.core.sql('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(now, id));
        r.last_used_at = now;
      }
      return toInfo(r);
    });
  }

  list(userId: number): Promise<TokenInfo[]> {
    return this.core.run(async () => (this.core.sql('SELECT t.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.user_id = ? ORDER BY t.created_at, t.id').all(userId) as TokenRow[]).map(toInfo));
  }

  revoke(userId: number, id: string): Promise<boolean> {
    return this.core.run(async () => this.core.tx(() => this.core.sql('DELETE FROM api_tokens WHERE user_id = ? AND id = ?').run(userId, String(id)).changes > 0));
  }

  pushList(userId: number): Promise<PushSubscriptionRecord[]> {
    return this.core.run(async () => (this.core.sql('SELECT p.* FROM push_subscriptions p JOIN users u ON u.id = p.user_id WHERE p.user_id = ? ORDER BY p.id').all(userId) as PushRow[]).map(toPush));
  }

  pushPut(p: PushSubscriptionRecord): Promise<void> {
    return this.core.run(async () => {
      this.core.tx(() =>
        this.core
          .sql(
            `INSERT INTO push_subscriptions (id, user_id, device_client_id, url, keys, verification_code, verified, expires, types)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET url = excluded.url, keys = excluded.keys, verification_code = excluded.verification_code,
               verified = excluded.verified, expires = excluded.expires, types = excluded.types`,
          )
          .run(p.id, p.userId, p.deviceClientId, p.url, p.keys ? JSON.stringify(p.keys) : null, p.verificationCode, p.verified ? 1 : 0, p.expires ? p.expires.getTime() : null, p.types ? JSON.stringify(p.types) : null),
      );
    });
  }

  pushDelete(userId: number, id: string): Promise<boolean> {
    return this.core.run(async () => this.core.tx(() => this.core.sql('DELETE FROM push_subscriptions WHERE user_id = ? AND id = ?').run(userId, String(id)).changes > 0));
  }
}

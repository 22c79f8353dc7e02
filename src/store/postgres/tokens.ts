/**
 * PgTokens: the TokenStore (../tokens.ts) over PostgreSQL; tables from migration 12 (schema.ts).
 */
import type { PushSubscriptionRecord, TokenInfo, TokenKind, TokenStore } from '../tokens.js';
import { LAST_USED_GRANULARITY_MS, checkTokenOptions, hashSecret, newSecret, secretId, secretMatches } from '../tokens.js';
import type { PgCore } from './core.js';
import { pgText } from './util.js';

interface TokenRow {
  id: string;
  user_id: number;
  name: string;
  kind: string;
  secret_hash: Buffer;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

interface PushRow {
  id: string;
  user_id: number;
  device_client_id: string;
  url: string;
  keys: { p256dh: string; auth: string } | null;
  verification_code: string;
  verified: boolean;
  expires: Date | null;
  types: string[] | null;
}

function toInfo(r: TokenRow): TokenInfo {
  return { id: r.id, userId: r.user_id, name: r.name, kind: r.kind as TokenKind, createdAt: r.created_at, expiresAt: r.expires_at, lastUsedAt: r.last_used_at };
}

function toPush(r: PushRow): PushSubscriptionRecord {
  return {
    id: r.id,
    userId: r.user_id,
    deviceClientId: r.device_client_id,
    url: r.url,
    keys: r.keys,
    verificationCode: r.verification_code,
    verified: r.verified,
    expires: r.expires,
    types: r.types,
  };
}

export class PgTokens implements TokenStore {
  constructor(private readonly core: PgCore) {}

  create(userId: number, opts: { name: string; kind: TokenKind; expiresAt?: Date | null }): Promise<{ id: string; secret: string }> {
    return this.core.run(async () => {
      const name = checkTokenOptions(opts);
      const t = newSecret();
      await this.core.db.query('INSERT INTO api_tokens (id, user_id, name, kind, secret_hash, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [
        t.id,
        userId,
        pgText(name),
        opts.kind,
        hashSecret(t.secret),
        opts.expiresAt ?? null,
      ]);
      return t;
    });
  }

  verify(secret: string): Promise<TokenInfo | null> {
    return this.core.run(async () => {
      const id = secretId(secret);
      if (id === null) return null;
      const r = (await this.core.db.query<TokenRow>('SELECT * FROM api_tokens WHERE id = $1', [id])).rows[0];
      const now = Date.now();
      if (!r || !secretMatches(r.secret_hash, secret) || (r.expires_at !== null && r.expires_at.getTime() <= now)) return null;
      if (r.last_used_at === null || now - r.last_used_at.getTime() > LAST_USED_GRANULARITY_MS) {
        await this.core.db.query('UPDATE api_tokens SET last_used_at = now() WHERE id = $1', [id]);
        r.last_used_at = new Date(now);
      }
      return toInfo(r);
    });
  }

  list(userId: number): Promise<TokenInfo[]> {
    return this.core.run(async () => (await this.core.db.query<TokenRow>('SELECT * FROM api_tokens WHERE user_id = $1 ORDER BY created_at, id', [userId])).rows.map(toInfo));
  }

  revoke(userId: number, id: string): Promise<boolean> {
    return this.core.run(async () => ((await this.core.db.query('DELETE FROM api_tokens WHERE user_id = $1 AND id = $2', [userId, pgText(String(id))])).rowCount ?? 0) > 0);
  }

  pushList(userId: number): Promise<PushSubscriptionRecord[]> {
    return this.core.run(async () => (await this.core.db.query<PushRow>('SELECT * FROM push_subscriptions WHERE user_id = $1 ORDER BY id', [userId])).rows.map(toPush));
  }

  pushPut(p: PushSubscriptionRecord): Promise<void> {
    return this.core.run(async () => {
      await this.core.db.query(
        `INSERT INTO push_subscriptions (id, user_id, device_client_id, url, keys, verification_code, verified, expires, types)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url, keys = EXCLUDED.keys, verification_code = EXCLUDED.verification_code,
           verified = EXCLUDED.verified, expires = EXCLUDED.expires, types = EXCLUDED.types`,
        [p.id, p.userId, pgText(p.deviceClientId), pgText(p.url), p.keys ? JSON.stringify(p.keys) : null, p.verificationCode, p.verified, p.expires, p.types ? JSON.stringify(p.types) : null],
      );
    });
  }

  pushDelete(userId: number, id: string): Promise<boolean> {
    return this.core.run(async () => ((await this.core.db.query('DELETE FROM push_subscriptions WHERE user_id = $1 AND id = $2', [userId, pgText(String(id))])).rowCount ?? 0) > 0);
  }
}

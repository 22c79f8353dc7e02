/**
 * API tokens: bearer credentials for the HTTP API (JMAP, web interface). `app` tokens are made by the
 * operator or the user (`mailroom token add`) and live until revoked or until their expiry; `session` tokens
 * are made by the web sign-in and ride in the `mr_session` cookie. Only a SHA-256 hash of the secret is
 * stored (the secret carries 256 random bits, so a fast hash is enough); the secret is shown once, at create.
 *
 * Secrets look like `mrt_<id>_<43 base64url chars>`: the id part lets list/revoke name a token without the
 * secret. verify() answers null for anything unknown, revoked, expired or malformed, never throws for bad
 * input. Also kept here: JMAP PushSubscriptions (RFC 8620 7.2), per user, each with its verification code.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { StoreError } from './types.js';

export type TokenKind = 'app' | 'session';

export interface TokenInfo {
  id: string;
  userId: number;
  name: string;
  kind: TokenKind;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

export interface PushSubscriptionRecord {
  id: string;
  userId: number;
  deviceClientId: string;
  url: string;
  /** RFC 8291 keys (p256dh, auth) or null. */
  keys: { p256dh: string; auth: string } | null;
  verificationCode: string;
  verified: boolean;
  expires: Date | null;
  /** Type names to push, or null for all. */
  types: string[] | null;
}

export interface TokenStore {
  /** Makes a token; the secret is returned only here. Throws INVALID (empty name, bad kind/date). */
  create(userId: number, opts: { name: string; kind: TokenKind; expiresAt?: Date | null }): Promise<{ id: string; secret: string }>;
  /** The token a secret belongs to, when it exists and has not expired; records its use (coarsely). */
  verify(secret: string): Promise<TokenInfo | null>;
  list(userId: number): Promise<TokenInfo[]>;
  /** Revokes one of the user's tokens; false when it has no such token. */
  revoke(userId: number, id: string): Promise<boolean>;

  // ---- JMAP PushSubscription ----
  pushList(userId: number): Promise<PushSubscriptionRecord[]>;
  pushPut(rec: PushSubscriptionRecord): Promise<void>;
  pushDelete(userId: number, id: string): Promise<boolean>;
}

export const TOKEN_PREFIX = 'mrt_';

/** A new secret for token `id`. */
export function newSecret(): { id: string; secret: string } {
  const id = 'k' + randomBytes(9).toString('hex');
  return { id, secret: `${TOKEN_PREFIX}${id}_${randomBytes(32).toString('base64url')}` };
}

/** The id part of a well-formed secret, else null. */
export function secretId(secret: unknown): string | null {
  if (typeof secret !== 'string' || secret.length > 200 || !secret.startsWith(TOKEN_PREFIX)) return null;
  const m = /^mrt_(k[0-9a-f]{18})_([A-Za-z0-9_-]{43})$/.exec(secret);
  return m ? m[1]! : null;
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

/** Constant-time comparison of a stored hash with the hash of `secret`. */
export function secretMatches(stored: Buffer, secret: string): boolean {
  const h = hashSecret(secret);
  return stored.length === h.length && timingSafeEqual(stored, h);
}

/** Checks create()'s options; returns the cleaned name. */
export function checkTokenOptions(opts: { name: string; kind: TokenKind; expiresAt?: Date | null }): string {
  const name = typeof opts.name === 'string' ? opts.name.trim() : '';
  if (name.length === 0 || name.length > 200 || /[\u0000-\u001f]/.test(name)) throw new StoreError('INVALID', 'token name must be 1-200 printable characters');
  if (opts.kind !== 'app' && opts.kind !== 'session') throw new StoreError('INVALID', 'token kind must be app or session');
  if (opts.expiresAt != null && (!(opts.expiresAt instanceof Date) || Number.isNaN(opts.expiresAt.getTime()))) throw new StoreError('INVALID', 'invalid expiry');
  return name;
}

/** lastUsedAt is written at most this often per token (a write per request would be a write per click). */
export const LAST_USED_GRANULARITY_MS = 60_000;

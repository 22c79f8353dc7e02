/**
 * Per-user quotas (RFC 9208 resources STORAGE and MESSAGE): what a user's mail takes up, and the limits.
 *
 * Usage counts the messages a user can see in their mailboxes: `storage` is the sum of their RFC822.SIZE in
 * octets (each copy counts, though copies share one blob, as Dovecot counts), `messages` their number.
 * Messages already expunged but still held readable for a session that has not been told (RFC 2180 4.1.1,
 * see holds.ts) no longer count: usage drops at the EXPUNGE, as Dovecot's count of what is visible does.
 * Each backend keeps usage in its own row per user, changed in the same transaction as every write that adds
 * or removes messages (append, copy, move between users, expunge, mailbox and user deletion, POP3 commits),
 * so it is exact across crashes and never needs a scan; databases from before quotas are counted once when
 * the store first opens (SQLite) or migrates (PostgreSQL).
 *
 * Limits: a user's own setting per resource, else the store's default (StoreOptions.quota, from the server's
 * config). A write that adds to a user's usage (append, delivery, copy, a move into another user's mailbox)
 * is refused with StoreError 'OVER_QUOTA' when, after it, usage exceeds a limit; the check runs inside the
 * write transaction. A move between mailboxes of one user changes nothing and is never refused. Removing
 * (EXPUNGE, DELETE, POP3 DELE) is never refused, over quota or not.
 */

import { StoreError } from './types.js';

/** Octets and messages in use. */
export interface QuotaUsage {
  storage: number;
  messages: number;
}

/** Effective limits (octets, messages); null: no limit. */
export interface QuotaLimits {
  storage: number | null;
  messages: number | null;
}

/**
 * A user's own setting for one resource: a number (octets or messages; Infinity: no limit, whatever the
 * default), or null: the store's default applies.
 */
export type QuotaSetting = number | null;

export interface QuotaSettings {
  storage: QuotaSetting;
  messages: QuotaSetting;
}

/** Default limits a store applies to users without their own (StoreOptions.quota); absent or null: none. */
export interface QuotaDefaults {
  storage?: number | null;
  messages?: number | null;
}

export interface QuotaStore {
  /** What the user's mail takes up now. Zero for a user without mail; NOT_FOUND is not thrown. */
  usage(userId: number): Promise<QuotaUsage>;
  /** Effective limits: the user's own settings, else the defaults. */
  limits(userId: number): Promise<QuotaLimits>;
  /** The user's own settings as stored (null: the default applies). */
  settings(userId: number): Promise<QuotaSettings>;
  /**
   * Changes the user's own settings: a whole number >= 0 sets a limit, Infinity sets "no limit", null
   * clears the setting (the default applies again); an absent key is left as it is. Throws NOT_FOUND for
   * an unknown user, INVALID for a negative, fractional or non-numeric value.
   */
  setLimits(userId: number, limits: { storage?: QuotaSetting; messages?: QuotaSetting }): Promise<void>;
}

/** How a setting is stored: -1 for Infinity (no limit), null for "default". Throws INVALID otherwise. */
export function encodeSetting(v: QuotaSetting): number | null {
  if (v === null) return null;
  if (v === Number.POSITIVE_INFINITY) return -1;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new StoreError('INVALID', 'a quota limit is a whole number >= 0');
  return v;
}

/** The stored form back (see encodeSetting). */
export function decodeSetting(v: number | string | null | undefined): QuotaSetting {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  return n < 0 ? Number.POSITIVE_INFINITY : n;
}

/** The effective limit of one resource: the user's setting, else the default; Infinity becomes null. */
export function effectiveLimit(setting: QuotaSetting, fallback: number | null | undefined): number | null {
  const v = setting ?? fallback ?? null;
  return v === null || v === Number.POSITIVE_INFINITY ? null : v;
}

/** True when usage exceeds a limit (the check a write that added to the usage must pass). */
export function overQuota(usage: QuotaUsage, limits: QuotaLimits): boolean {
  return (limits.storage !== null && usage.storage > limits.storage) || (limits.messages !== null && usage.messages > limits.messages);
}

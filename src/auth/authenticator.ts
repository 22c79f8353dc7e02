/**
 * Authenticator: checks credentials against the store and throttles failures.
 *
 * Throttling is by source: each failed attempt counts against the remote address (its total), against the
 * pair (address, user) and against the user. The reply to a failure is delayed by failureDelayMs * 2^(n-1)
 * (capped at maxDelayMs), where n is the largest of the three counts within the last windowMs. Only the
 * source is ever refused: while an address has maxFailures failures in the window, or the pair (address,
 * user) has maxFailuresPerUser, verify() answers 'throttled' without checking the password. The per-user
 * count only slows failures down, so guesses from many addresses can never lock the owner out. A success
 * clears the (address, user) count only; the address total and the user count run out with the window.
 * The counts live in a FailureCounts (failures.ts): this process's own, or under `serve --workers N` the
 * cluster's, held by the primary, so failures spread over the workers count as one.
 *
 * Timing: an unknown user is checked against a dummy argon2id hash, so it costs what a known user costs.
 * Legacy hashes ({PLAIN}, {SHA}, salted SHA-2, argon2i): after a successful check the password is
 * re-hashed to argon2id and stored (a failure to store is ignored; the next login tries again).
 *
 * Auth cache (like Dovecot's auth_cache): a password hash such as argon2id costs tens of milliseconds of CPU
 * per check, so recent successful verifications are remembered for authCacheTtlMs, keyed by the user and an
 * HMAC of the password under a random per-process key (the password itself is never kept). An entry only
 * counts while the user's stored hash is the one it was made against, so a password change (from any
 * process) invalidates it at once; the user row is still read on every attempt. Bounded to authCacheSize
 * entries (least recently used dropped first). Failures are never cached.
 */
import { metrics } from '../lib/metrics.js';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Directory } from '../store/directory.js';
import type { User } from '../store/types.js';
import { verifyPassword, plaintextSecret, hashPassword } from './hash.js';
import { addressKey, failureKeys, FailureTable, pairKey, type FailureCounts } from './failures.js';
import { addressKey as userKey } from '../lib/ascii.js';

export type AuthResult = { ok: true; user: User } | { ok: false; reason: 'bad-credentials' | 'throttled' | 'temporary' };

export interface AuthenticatorOptions {
  /** Base delay before a failure reply (Dovecot auth_failure_delay defaults to 2 s). */
  failureDelayMs?: number;
  maxDelayMs?: number;
  windowMs?: number;
  /** Failures from one remote address in the window after which its attempts are refused. Default 50. */
  maxFailures?: number;
  /** Failures for one user from one remote address after which that pair is refused. Default 10. */
  maxFailuresPerUser?: number;
  /** How long a successful verification is remembered (0 disables the cache). Default 5 minutes. */
  authCacheTtlMs?: number;
  /** Most users remembered at once. Default 10000. */
  authCacheSize?: number;
  /** Where failures are counted; default this process's own table. */
  failures?: FailureCounts;
  /** Password check against a stored hash; injected for tests. */
  verifyHash?: (stored: string, password: string) => Promise<boolean>;
  /** Injected for tests. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

interface CachedAuth {
  /** HMAC-SHA256 of the password under the per-process key. */
  digest: Buffer;
  /** The stored hash the password was verified against. */
  passwordHash: string;
  expires: number;
}

export interface AuthContext {
  remoteAddress?: string | undefined;
}

export class Authenticator {
  readonly #directory: Directory;
  readonly #opts: Required<Omit<AuthenticatorOptions, 'sleep' | 'now' | 'verifyHash' | 'failures'>>;
  readonly #verifyHash: (stored: string, password: string) => Promise<boolean>;
  readonly #cacheKey = randomBytes(32);
  readonly #cache = new Map<string, CachedAuth>();
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;
  readonly #failures: FailureCounts;
  #dummyHash: Promise<string> | null = null;

  constructor(directory: Directory, opts: AuthenticatorOptions = {}) {
    this.#directory = directory;
    this.#opts = {
      failureDelayMs: opts.failureDelayMs ?? 2000,
      maxDelayMs: opts.maxDelayMs ?? 15000,
      windowMs: opts.windowMs ?? 15 * 60 * 1000,
      maxFailures: opts.maxFailures ?? 50,
      maxFailuresPerUser: opts.maxFailuresPerUser ?? 10,
      authCacheTtlMs: opts.authCacheTtlMs ?? 5 * 60 * 1000,
      authCacheSize: opts.authCacheSize ?? 10_000,
    };
    this.#verifyHash = opts.verifyHash ?? verifyPassword;
    this.#sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms).unref()));
    this.#now = opts.now ?? Date.now;
    this.#failures = opts.failures ?? new FailureTable(this.#now);
  }

  /** Verifies address + password. Never throws: store trouble is { ok: false, reason: 'temporary' }. */
  async verify(address: string, password: string, ctx: AuthContext = {}): Promise<AuthResult> {
    const user = normalizeAddress(address);
    const ip = ctx.remoteAddress ?? '';
    if (await this.#throttled(ip, user)) return { ok: false, reason: 'throttled' };
    let found: User | null;
    try {
      found = await this.#directory.getUser(user);
    } catch {
      return { ok: false, reason: 'temporary' };
    }
    if (found === null) {
      // Same work as for a known user, so the reply time does not tell which users exist.
      await this.#verifyHash(await this.#dummy(), password);
    } else if (this.#cached(user, found, password) || (await this.#verifyHash(found.passwordHash, password))) {
      const current = await this.#upgradeHash(user, found, password);
      this.#remember(user, current, password);
      this.#failures.clear(pairKey(ip, user));
      return { ok: true, user: current };
    }
    await this.recordFailure(ip, user);
    return { ok: false, reason: 'bad-credentials' };
  }

  /**
   * For mechanisms that check a cleartext secret themselves (APOP): the same throttle, failure counting and
   * delay as verify(). `matches` gets the stored cleartext secret; users without one never match (and, as
   * no guess is possible for them, such attempts get the base delay but are not counted).
   */
  async verifySecret(address: string, matches: (secret: string) => boolean, ctx: AuthContext = {}): Promise<AuthResult> {
    const user = normalizeAddress(address);
    const ip = ctx.remoteAddress ?? '';
    if (await this.#throttled(ip, user)) return { ok: false, reason: 'throttled' };
    let found: Awaited<ReturnType<Authenticator['cleartextSecret']>>;
    try {
      found = await this.cleartextSecret(user);
    } catch {
      return { ok: false, reason: 'temporary' };
    }
    if (found && matches(found.secret)) {
      this.#failures.clear(pairKey(ip, user));
      return { ok: true, user: found.user };
    }
    // A wrong digest for a kept secret is a guess and counts. Without a secret (unknown user, or a hash
    // such as argon2id) nothing can match, so it is no guess: the base delay, not counted (clients then
    // try the password with another mechanism).
    if (found) await this.recordFailure(ip, user);
    else if (this.#opts.failureDelayMs > 0) await this.#sleep(this.#opts.failureDelayMs);
    return { ok: false, reason: 'bad-credentials' };
  }

  /** True (after the longest delay) while this address, or this address for this user, is refused. */
  async #throttled(ip: string, user: string): Promise<boolean> {
    if (!this.#refused(ip, user)) return false;
    if (this.#opts.maxDelayMs > 0) await this.#sleep(this.#opts.maxDelayMs);
    return true;
  }

  #refused(ip: string, user: string): boolean {
    const w = this.#opts.windowMs;
    return this.#failures.get(addressKey(ip), w) >= this.#opts.maxFailures || this.#failures.get(pairKey(ip, user), w) >= this.#opts.maxFailuresPerUser;
  }

  #dummy(): Promise<string> {
    this.#dummyHash ??= hashPassword(randomBytes(16).toString('base64'));
    return this.#dummyHash;
  }

  /** Re-hashes a password verified against a legacy scheme to argon2id and stores it; returns the user as now stored. */
  async #upgradeHash(user: string, found: User, password: string): Promise<User> {
    if (!isLegacyHash(found.passwordHash)) return found;
    try {
      const passwordHash = await hashPassword(password);
      await this.#directory.setPasswordHash(user, passwordHash);
      return { ...found, passwordHash };
    } catch {
      return found;
    }
  }

  /** Forgets cached verifications: of one user, or all when no address is given. */
  forgetCached(address?: string): void {
    if (address === undefined) this.#cache.clear();
    else this.#cache.delete(normalizeAddress(address));
  }

  /** Cached verifications currently held (for tests and metrics). */
  get cachedCount(): number {
    return this.#cache.size;
  }

  #digest(password: string): Buffer {
    return createHmac('sha256', this.#cacheKey).update(password, 'utf8').digest();
  }

  #cached(user: string, found: User, password: string): boolean {
    const e = this.#cache.get(user);
    if (!e) return false;
    if (e.expires <= this.#now() || e.passwordHash !== found.passwordHash) {
      this.#cache.delete(user);
      return false;
    }
    return timingSafeEqual(e.digest, this.#digest(password));
  }

  #remember(user: string, found: User, password: string): void {
    const ttl = this.#opts.authCacheTtlMs;
    if (ttl <= 0 || this.#opts.authCacheSize <= 0) return;
    // Re-insert so Map order is least recently used first.
    this.#cache.delete(user);
    this.#cache.set(user, { digest: this.#digest(password), passwordHash: found.passwordHash, expires: this.#now() + ttl });
    while (this.#cache.size > this.#opts.authCacheSize) {
      const oldest = this.#cache.keys().next();
      if (oldest.done) break;
      this.#cache.delete(oldest.value);
    }
  }

  /** Looks a user up for mechanisms that verify differently (APOP); returns the cleartext secret if stored. */
  async cleartextSecret(address: string): Promise<{ user: User; secret: string } | null> {
    const found = await this.#directory.getUser(normalizeAddress(address));
    if (!found) return null;
    const secret = plaintextSecret(found.passwordHash);
    return secret === null ? null : { user: found, secret };
  }

  /** Counts a failure decided elsewhere (malformed SASL, refused authzid) and applies the delay. */
  async recordFailure(ip: string, user: string): Promise<void> {
    metrics.authFailures.inc();
    const n = await this.#failures.add(failureKeys(ip, normalizeAddress(user)), this.#opts.windowMs);
    const delay = Math.min(this.#opts.maxDelayMs, this.#opts.failureDelayMs * 2 ** Math.min(n - 1, 20));
    if (delay > 0) await this.#sleep(delay);
  }

  /** Failures within the window for this user from this address (what a success clears). */
  failures(ip: string, user: string): number {
    return this.#failures.get(pairKey(ip, normalizeAddress(user)), this.#opts.windowMs);
  }

  /** Failures within the window from this address, for any user. */
  addressFailures(ip: string): number {
    return this.#failures.get(addressKey(ip), this.#opts.windowMs);
  }
}

/** True for stored hashes other than argon2id (PHC or Dovecot's {ARGON2ID} prefix). */
function isLegacyHash(stored: string): boolean {
  return !/^(\{ARGON2ID\})?\$argon2id\$/i.test(stored);
}

/** The form the store keys users by: ASCII letters lowercased, ASCII whitespace trimmed (lib/ascii addressKey). */
export function normalizeAddress(address: string): string {
  return userKey(address);
}

/**
 * Per-user token counts kept in memory between deliveries (for the built-in filter's check), valid for one
 * training generation of the user (store/spam.ts SpamCounts.generation).
 *
 * - A user with at most VOCABULARY_MAX tokens has the whole vocabulary read once (store.spam.vocabulary);
 *   a check then needs no query at all: a token not in it was never trained. The generation is read again
 *   when GENERATION_RECHECK_MS have passed since the last read (one small query), and when it moved the
 *   vocabulary is read again, at most once per VOCABULARY_RELOAD_MS; in between, and for bigger users, the
 *   per-token mode below serves. Training through this process drops the user's entry (forget()), so its
 *   own training is seen at once; training in another process within GENERATION_RECHECK_MS.
 * - Per-token mode: a read returns the cached counts plus those of the tokens not cached yet, fetched with
 *   one query that also returns the current generation; when that differs from the cached one, the user's
 *   entries are dropped and the message's tokens are read again. Tokens never trained are cached as absent.
 * - Bounded: at most MAX_USERS users and MAX_CACHED_TOKENS tokens over all users (least recently used users
 *   dropped first), and MAX_TOKENS tokens per user in per-token mode.
 */
import type { ClassCounts, SpamCounts, SpamStore } from '../store/spam.js';
import { strongClues, type CountsLookup, type StrongClues } from './classify.js';

const MAX_USERS = 2000;
const MAX_TOKENS = 200_000;
/** Users with at most this many tokens are held whole. */
export const VOCABULARY_MAX = 100_000;
/** Tokens held over all users (whole vocabularies and per-token entries). */
const MAX_CACHED_TOKENS = 1_000_000;
/** A whole vocabulary is trusted this long before its generation is read again. */
export const GENERATION_RECHECK_MS = 1000;
/** A user's whole vocabulary is read at most this often (a user training steadily stays in per-token mode). */
export const VOCABULARY_RELOAD_MS = 10_000;

interface UserEntry {
  generation: number;
  totals: ClassCounts;
  tokens: Map<string, ClassCounts | null>;
  /** `tokens` is the user's whole vocabulary: a token not in it has no counts. */
  complete: boolean;
  /** When the generation was last read. */
  checkedAt: number;
  /** For a whole vocabulary: its clues, made at its first lookup (classify.ts strongClues). */
  clues?: StrongClues;
}

export class CountsCache {
  readonly #users = new Map<number, UserEntry>();
  /** When each user's vocabulary was last read whole (kept past the entry, for VOCABULARY_RELOAD_MS). */
  readonly #loadedAt = new Map<number, number>();
  #held = 0;
  constructor(
    private readonly store: Pick<SpamStore, 'counts' | 'vocabulary'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The counts of `tokens` for the user, as SpamStore.counts returns them. */
  async counts(userId: number, tokens: readonly string[]): Promise<SpamCounts> {
    const e = this.#touch(userId);
    if (e?.complete && this.now() - e.checkedAt < GENERATION_RECHECK_MS) return answer(e, tokens);
    return this.#read(userId, tokens, e);
  }

  /**
   * The counts of `tokens` for the user as classify() reads them: while the user's whole vocabulary is held
   * and fresh, the vocabulary itself (no per-message copy of the counts); else as counts() gives them.
   */
  async lookup(userId: number, tokens: readonly string[]): Promise<CountsLookup> {
    const e = this.#touch(userId);
    const clues = e && this.#heldClues(e);
    if (clues) return { totals: e.totals, tokens: e.tokens, clues };
    return this.#read(userId, tokens, e);
  }

  /**
   * The clues of the user's whole vocabulary (with its totals), made at their first use, while it is held
   * and fresh (as after counts(userId, [])); null otherwise (then lookup() reads what is needed).
   */
  heldClues(userId: number): StrongClues | null {
    const e = this.#touch(userId);
    return e ? this.#heldClues(e) : null;
  }

  #heldClues(e: UserEntry): StrongClues | null {
    if (!e.complete || this.now() - e.checkedAt >= GENERATION_RECHECK_MS) return null;
    if (!e.clues) {
      e.clues = strongClues(e.tokens, e.totals);
      this.#held += e.clues.ids.size;
      this.#trim();
    }
    return e.clues;
  }

  async #read(userId: number, tokens: readonly string[], entry: UserEntry | undefined): Promise<SpamCounts> {
    let e = entry;
    if (e?.complete) {
      const g = await this.store.counts(userId, []);
      e = this.#users.get(userId);
      if (e?.complete && g.generation === e.generation) {
        e.checkedAt = this.now();
        return answer(e, tokens);
      }
      this.forget(userId);
      e = undefined;
    }
    if (!e && this.now() - (this.#loadedAt.get(userId) ?? -Infinity) >= VOCABULARY_RELOAD_MS) {
      const v = await this.store.vocabulary(userId, VOCABULARY_MAX);
      this.#loadedAt.set(userId, this.now());
      if (this.#loadedAt.size > MAX_USERS) this.#loadedAt.delete(this.#loadedAt.keys().next().value as number);
      if (v.complete) {
        this.#put(userId, { generation: v.generation, totals: v.totals, tokens: v.tokens, complete: true, checkedAt: this.now() });
        return { totals: v.totals, tokens: pick(v.tokens, tokens), generation: v.generation };
      }
    }
    return this.#perToken(userId, tokens);
  }

  /** Forgets a user's entries (after training through this process). */
  forget(userId: number): void {
    const e = this.#users.get(userId);
    if (!e) return;
    this.#held -= e.tokens.size + (e.clues?.ids.size ?? 0);
    this.#users.delete(userId);
  }

  async #perToken(userId: number, tokens: readonly string[]): Promise<SpamCounts> {
    let e = this.#users.get(userId);
    const missing = e ? tokens.filter((t) => !e!.tokens.has(t)) : tokens;
    const fresh = await this.store.counts(userId, missing);
    e = this.#users.get(userId);
    if (!e || e.complete || e.generation !== fresh.generation) {
      const all = e && missing.length < tokens.length ? await this.store.counts(userId, tokens) : fresh;
      const entry: UserEntry = { generation: all.generation, totals: all.totals, tokens: new Map(), complete: false, checkedAt: this.now() };
      for (const t of tokens) entry.tokens.set(t, all.tokens.get(t) ?? null);
      this.#put(userId, entry);
      return all;
    }
    if (e.tokens.size + missing.length > MAX_TOKENS) {
      this.#held -= e.tokens.size;
      e.tokens.clear();
    }
    for (const t of missing) e.tokens.set(t, fresh.tokens.get(t) ?? null);
    this.#held += missing.length;
    this.#trim();
    const out = new Map<string, ClassCounts>();
    for (const t of tokens) {
      const c = e.tokens.get(t);
      if (c) out.set(t, c);
    }
    return { totals: e.totals, tokens: out, generation: e.generation };
  }

  /** The user's entry, marked most recently used. */
  #touch(userId: number): UserEntry | undefined {
    const e = this.#users.get(userId);
    if (e) {
      this.#users.delete(userId);
      this.#users.set(userId, e);
    }
    return e;
  }

  #put(userId: number, e: UserEntry): void {
    this.forget(userId);
    this.#users.set(userId, e);
    this.#held += e.tokens.size;
    this.#trim();
  }

  /** Drops least recently used users while over the bounds (never the most recent one). */
  #trim(): void {
    while ((this.#users.size > MAX_USERS || this.#held > MAX_CACHED_TOKENS) && this.#users.size > 1) {
      this.forget(this.#users.keys().next().value as number);
    }
  }
}

function pick(all: ReadonlyMap<string, ClassCounts | null>, tokens: readonly string[]): Map<string, ClassCounts> {
  const out = new Map<string, ClassCounts>();
  for (const t of tokens) {
    const c = all.get(t);
    if (c) out.set(t, c);
  }
  return out;
}

function answer(e: UserEntry, tokens: readonly string[]): SpamCounts {
  return { totals: e.totals, tokens: pick(e.tokens, tokens), generation: e.generation };
}

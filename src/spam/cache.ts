/**
 * Per-user token counts kept in memory between deliveries (for the built-in filter's check). Entries are
 * valid for one training generation of the user (store/spam.ts SpamCounts.generation): a read returns the
 * cached counts plus those of the tokens not cached yet, fetched with one store query that also returns
 * the current generation; when that differs from the cached one (a training step here or in another
 * process), the user's entries are dropped and the message's tokens are read again. Tokens never trained
 * are cached as absent. Bounded: at most MAX_USERS users (least recently used dropped) and MAX_TOKENS
 * tokens per user (the user's entries are dropped when exceeded).
 */
import type { ClassCounts, SpamCounts, SpamStore } from '../store/spam.js';

const MAX_USERS = 2000;
const MAX_TOKENS = 200_000;

interface UserEntry {
  generation: number;
  totals: ClassCounts;
  tokens: Map<string, ClassCounts | null>;
}

export class CountsCache {
  readonly #users = new Map<number, UserEntry>();

  constructor(private readonly store: Pick<SpamStore, 'counts'>) {}

  /** The counts of `tokens` for the user, as SpamStore.counts returns them. */
  async counts(userId: number, tokens: readonly string[]): Promise<SpamCounts> {
    let e = this.#users.get(userId);
    if (e) {
      // Most recently used last.
      this.#users.delete(userId);
      this.#users.set(userId, e);
    }
    const missing = e ? tokens.filter((t) => !e!.tokens.has(t)) : tokens;
    const fresh = await this.store.counts(userId, missing);
    if (!e || e.generation !== fresh.generation) {
      const all = e && missing.length < tokens.length ? await this.store.counts(userId, tokens) : fresh;
      e = { generation: all.generation, totals: all.totals, tokens: new Map() };
      this.#remember(e, tokens, all);
      this.#users.delete(userId);
      this.#users.set(userId, e);
      if (this.#users.size > MAX_USERS) this.#users.delete(this.#users.keys().next().value as number);
      return all;
    }
    this.#remember(e, missing, fresh);
    const out = new Map<string, ClassCounts>();
    for (const t of tokens) {
      const c = e.tokens.get(t);
      if (c) out.set(t, c);
    }
    return { totals: e.totals, tokens: out, generation: e.generation };
  }

  /** Forgets a user's entries (after training through this process). */
  forget(userId: number): void {
    this.#users.delete(userId);
  }

  #remember(e: UserEntry, tokens: readonly string[], got: SpamCounts): void {
    if (e.tokens.size + tokens.length > MAX_TOKENS) e.tokens.clear();
    for (const t of tokens) e.tokens.set(t, got.tokens.get(t) ?? null);
  }
}

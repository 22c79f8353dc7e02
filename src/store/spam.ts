/**
 * Per-user statistics of the spam filter (src/spam/): how many trained spam and ham messages contained each
 * token, how many messages of each class were trained, and how each trained message was classed (so that
 * training the same message again changes nothing, and re-classing it first takes it out of the other
 * class). Tokens are opaque strings (the filter's tokenizer makes them); messages are named by a digest of
 * their content, so a message keeps its training state across copies, moves and re-deliveries.
 *
 * Counts never go below zero (a token list that changed between training and untraining cannot make them
 * negative); a token whose counts are both zero is removed.
 */

export type SpamClass = 'spam' | 'ham';

/** Trained messages of each class that contained a token, or trained messages of each class in all. */
export interface ClassCounts {
  spam: number;
  ham: number;
}

/**
 * One user's totals and the counts of the tokens asked for (those never trained are absent), and the
 * user's training generation: a number that changes with every training step that changes anything, so a
 * reader may cache counts and drop them when it changes.
 */
export interface SpamCounts {
  totals: ClassCounts;
  tokens: Map<string, ClassCounts>;
  generation: number;
}

/** What train() did. */
export type TrainOutcome = 'trained' | 'retrained' | 'unchanged';

/** Summary of one user's statistics. */
export interface SpamStats {
  userId: number;
  spamMessages: number;
  hamMessages: number;
  /** Distinct tokens with a count. */
  tokens: number;
}

export interface SpamStore {
  /** The user's totals and the counts of the given tokens, in one read. Unknown users have zero totals. */
  counts(userId: number, tokens: readonly string[]): Promise<SpamCounts>;
  /**
   * The user's totals and the counts of every token the user has, in one read, when there are at most `max`
   * tokens (`complete` true); else `complete` is false and the token map is empty.
   */
  vocabulary(userId: number, max: number): Promise<SpamCounts & { complete: boolean }>;
  /**
   * Trains message `digest` as `cls`: adds one to each distinct token's count of `cls` and to the user's
   * total. A message trained before as the other class is first taken out of it ('retrained'); one
   * trained as `cls` already is left alone ('unchanged'). Atomic per call.
   */
  train(userId: number, digest: string, cls: SpamClass, tokens: readonly string[]): Promise<TrainOutcome>;
  /** Takes message `digest` out of the class it was trained as. Returns that class, or null when untrained. */
  untrain(userId: number, digest: string, tokens: readonly string[]): Promise<SpamClass | null>;
  /** The class message `digest` was trained as, or null. */
  trainedAs(userId: number, digest: string): Promise<SpamClass | null>;
  /** Statistics of one user, or of every user with training data (by user id) when `userId` is omitted. */
  stats(userId?: number): Promise<SpamStats[]>;
  /** Forgets everything the user's filter learned. */
  reset(userId: number): Promise<void>;
}

/** The distinct tokens of a list, sorted (one row each, and a fixed lock order for the backends). */
export function distinctTokens(tokens: readonly string[]): string[] {
  return [...new Set(tokens)].sort();
}

/** The per-class deltas of a training step: +1 for `cls`, and -1 for the other class when re-classing. */
export function trainDeltas(cls: SpamClass, previous: SpamClass | null): ClassCounts {
  const d = { spam: 0, ham: 0 };
  d[cls] += 1;
  if (previous && previous !== cls) d[previous] -= 1;
  return d;
}

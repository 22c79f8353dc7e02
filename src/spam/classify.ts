/**
 * Scoring a token set against one user's counts: Gary Robinson's f(w) (a token's spam probability, pulled
 * towards an assumed value when it was seen rarely) and Fisher's chi-squared combining of the strongest
 * clues, as SpamBayes does it. Pure functions.
 *
 * f(w) = (s*x + n*p(w)) / (s + n), where p(w) = spamratio / (spamratio + hamratio) with
 * spamratio = spamcount / spam messages, hamratio = hamcount / ham messages (so unbalanced training does not
 * bias it), n = spamcount + hamcount, s = strength of the assumed value x.
 * Combining: H = C^-1(-2 ln prod f(w), 2N), S = C^-1(-2 ln prod (1 - f(w)), 2N), where C^-1 is the
 * chi-squared survival function; the result is (1 + S' - H') / 2 with S' = 1 - S, H' = 1 - H: near 1 when
 * the clues agree on spam, near 0 when they agree on ham, near 0.5 when they disagree or are few.
 */
import type { ClassCounts, SpamCounts } from '../store/spam.js';
import { ClueTable, idCount, type TokenIdList } from './token-ids.js';

export interface ClassifierParams {
  /** s: strength of the assumed probability of a rare token (SpamBayes unknown_word_strength). */
  strength: number;
  /** x: the probability assumed for a token never seen (SpamBayes unknown_word_prob). */
  assumed: number;
  /** Clues nearer than this to 0.5 are ignored (SpamBayes minimum_prob_strength). */
  minStrength: number;
  /** At most this many clues, the strongest (SpamBayes max_discriminators). */
  maxClues: number;
}

export const DEFAULT_PARAMS: ClassifierParams = { strength: 0.45, assumed: 0.5, minStrength: 0.1, maxClues: 150 };

/** f(w) of one token. */
export function tokenProbability(c: ClassCounts, totals: ClassCounts, p: ClassifierParams = DEFAULT_PARAMS): number {
  const spamRatio = totals.spam > 0 ? Math.min(1, c.spam / totals.spam) : 0;
  const hamRatio = totals.ham > 0 ? Math.min(1, c.ham / totals.ham) : 0;
  const n = c.spam + c.ham;
  if (n === 0 || spamRatio + hamRatio === 0) return p.assumed;
  const pw = spamRatio / (spamRatio + hamRatio);
  return (p.strength * p.assumed + n * pw) / (p.strength + n);
}

/** The chi-squared survival function Q(x2, v) for even v (the probability of a value >= x2). */
export function chi2Q(x2: number, v: number): number {
  const m = x2 / 2;
  let term = Math.exp(-m);
  let sum = term;
  for (let i = 1; i < v / 2; i++) {
    term *= m / i;
    sum += term;
  }
  return Math.min(sum, 1);
}

export interface Score {
  /** 0 (ham) .. 1 (spam). */
  probability: number;
  /** Clues used. */
  clues: number;
}

/**
 * What classify reads: the user's totals and a look-up of token counts (SpamCounts, or a whole cached
 * vocabulary: a token absent or null there was never trained).
 */
export interface CountsLookup {
  totals: ClassCounts;
  tokens: { get(token: string): ClassCounts | null | undefined };
  /** The clues of these counts made ahead (strongClues), used when made with the same parameters. */
  clues?: StrongClues;
}

/**
 * f(w) of every token of a vocabulary that is a clue under `params` (at least minStrength from 0.5), made
 * once per vocabulary: classify() then looks each token up once and does no arithmetic per token. f(w)
 * depends only on the token's two counts, and few count pairs occur: `ids` maps a token (by its id,
 * token-ids.ts) to its pair, whose f(w) is `values[id]` (a small number in the table, and a small table of
 * f values read by every lookup).
 */
export interface StrongClues {
  params: ClassifierParams;
  ids: ClueTable;
  values: Float64Array;
  /** ln f and ln (1 - f) of each value, what combining sums (made once, not per message). */
  lnValues: Float64Array;
  lnComplements: Float64Array;
}

/** The StrongClues of a whole vocabulary with its totals. */
export function strongClues(tokens: ReadonlyMap<string, ClassCounts | null>, totals: ClassCounts, p: ClassifierParams = DEFAULT_PARAMS): StrongClues {
  const found: Array<[string, number]> = [];
  const pairs = new Map<string, number>();
  const values: number[] = [];
  for (const [t, c] of tokens) {
    if (!c) continue;
    const pair = `${c.spam} ${c.ham}`;
    let id = pairs.get(pair);
    if (id === undefined) {
      const f = tokenProbability(c, totals, p);
      id = Math.abs(f - 0.5) >= p.minStrength ? values.push(f) - 1 : -1;
      pairs.set(pair, id);
    }
    if (id >= 0) found.push([t, id]);
  }
  const ids = new ClueTable(found.length);
  for (const [t, id] of found) ids.set(t, id);
  return { params: p, ids, values: Float64Array.from(values), lnValues: Float64Array.from(values, Math.log), lnComplements: Float64Array.from(values, (f) => Math.log(1 - f)) };
}

/** f(w) of a token that is a clue in `clues`, else undefined. */
export function clueOf(clues: StrongClues, token: string): number | undefined {
  const id = clues.ids.get(token);
  return id < 0 ? undefined : clues.values[id];
}

/** Combines the clues of `tokens` given the user's counts. 0.5 when there are no clues. */
export function classify(tokens: readonly string[], counts: CountsLookup | SpamCounts, p: ClassifierParams = DEFAULT_PARAMS): Score {
  const clues: number[] = [];
  const ahead = 'clues' in counts && counts.clues?.params === p ? counts.clues : null;
  if (ahead) {
    const { ids, values } = ahead;
    for (const t of tokens) {
      const id = ids.get(t);
      if (id >= 0) clues.push(values[id]!);
    }
  } else {
    for (const t of tokens) {
      const c = counts.tokens.get(t);
      if (!c) continue;
      const f = tokenProbability(c, counts.totals, p);
      if (Math.abs(f - 0.5) >= p.minStrength) clues.push(f);
    }
  }
  return combine(clues, p);
}

/**
 * classify() of the tokens with these ids (token-ids.ts) against clues made ahead with the same parameters
 * (strongClues of the user's whole vocabulary): the same score as classify() gives for the token strings.
 */
export function classifyIds(ids: TokenIdList, clues: StrongClues): Score {
  const found: number[] = [];
  const { ids: table, params } = clues;
  const n = idCount(ids);
  for (let k = 0; k < n; k++) {
    const id = table.valueAt(ids, k);
    if (id >= 0) found.push(id);
  }
  if (found.length > params.maxClues) return combine(found.map((id) => clues.values[id]!), params);
  // At most maxClues: all of them count, and their logarithms are in the table.
  if (found.length === 0) return { probability: 0.5, clues: 0 };
  let lnHam = 0;
  let lnSpam = 0;
  for (const id of found) {
    lnHam += clues.lnValues[id]!;
    lnSpam += clues.lnComplements[id]!;
  }
  return chiCombined(lnHam, lnSpam, found.length);
}

/** Fisher's combining of the clues (f values), the strongest maxClues of them. */
function combine(all: number[], p: ClassifierParams): Score {
  if (all.length === 0) return { probability: 0.5, clues: 0 };
  const clues = all.length > p.maxClues ? strongest(all, p.maxClues) : all;
  let lnHam = 0;
  let lnSpam = 0;
  for (const f of clues) {
    lnHam += Math.log(f);
    lnSpam += Math.log(1 - f);
  }
  return chiCombined(lnHam, lnSpam, clues.length);
}

/** The score of n clues whose ln f sum to lnHam and ln (1 - f) to lnSpam. */
function chiCombined(lnHam: number, lnSpam: number, n: number): Score {
  const s = 1 - chi2Q(-2 * lnSpam, 2 * n);
  const h = 1 - chi2Q(-2 * lnHam, 2 * n);
  return { probability: Math.min(1, Math.max(0, (s - h + 1) / 2)), clues: n };
}

/**
 * The `max` clues farthest from 0.5, in their order in `clues` (of equally strong ones the first): the
 * strength of the max-th strongest is found with a numeric sort of the strengths (no comparator calls).
 */
export function strongest(clues: readonly number[], max: number): number[] {
  const strength = new Float64Array(clues.length);
  for (let i = 0; i < clues.length; i++) strength[i] = Math.abs(clues[i]! - 0.5);
  strength.sort();
  const cut = strength[clues.length - max]!;
  let ties = max;
  for (const f of clues) if (Math.abs(f - 0.5) > cut) ties--;
  const out: number[] = [];
  for (const f of clues) {
    const d = Math.abs(f - 0.5);
    if (d > cut || (d === cut && ties-- > 0)) out.push(f);
  }
  return out;
}

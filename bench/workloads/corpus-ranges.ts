/**
 * Corpus index ranges of the workloads that need their own messages (indices only; the bytes come from
 * bench/corpus.ts). The classic corpus dates message i about 0.43 days before the one before it, so the
 * ranges stay low enough for dates after 1970.
 */
/** imaptest accounts' starting INBOXes, then the mbox imaptest APPENDs from. */
export const IMAPTEST_CORPUS_BASE = 10_000;
/** The 2,000-message overview mailbox. */
export const OVERVIEW_2K_CORPUS_BASE = 20_000;

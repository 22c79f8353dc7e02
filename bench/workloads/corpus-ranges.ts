/**
 * Corpus index ranges of the workloads that need their own messages (indices only; the bytes come from
 * bench/corpus.ts). From VARIED_BASE on the corpus is its varied profile (charsets, nested multiparts, shaped
 * attachments, threads, odd Date headers with ordinary internal dates); the ranges do not overlap.
 */
import { VARIED_BASE } from '../corpus.js';

/** imaptest accounts' starting INBOXes, then the mbox imaptest APPENDs from. */
export const IMAPTEST_CORPUS_BASE = VARIED_BASE + 10_000;
/** The 2,000-message overview mailbox. */
export const OVERVIEW_2K_CORPUS_BASE = VARIED_BASE + 20_000;

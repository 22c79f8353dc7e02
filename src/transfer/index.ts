/**
 * Moving mail in and out of a store: store-to-store copy (store-copy.ts), Maildir import (maildir.ts) and
 * mbox import (mbox.ts), all through the store interfaces only. Each resolves with a report of counts and
 * the items skipped with their reason.
 */
export type { Skipped, ImportOptions, ImportReport, ImportTarget } from './common.js';
export { transferStore, type TransferOptions, type TransferProgress, type TransferReport, type TransferSide } from './store-copy.js';
export { importMaildir, maildirFlags } from './maildir.js';
export { importMbox, readMbox, fromLineDate, mboxFlags } from './mbox.js';

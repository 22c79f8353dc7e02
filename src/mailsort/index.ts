/**
 * Protocol-neutral sorting and threading of messages (RFC 5256 SORT and THREAD, RFC 5957 DISPLAYFROM and
 * DISPLAYTO, THREAD=REFS), shared by the IMAP server, JMAP and the web interface. No sockets, no store, no
 * wire syntax: callers turn each message into SortKeys once (`sortKeysFor`, cacheable per message) and hold
 * many as a SortKeyTable (columns, interned strings: what a store caches per mailbox), then `sortMessages`
 * gives uids in order and `threadMessages` gives a forest of uids; the memo variants keep results per frozen
 * table and bring them forward incrementally after a change. Rendering the IMAP thread-list syntax is the
 * IMAP layer's job.
 */
export { sortKeysFor, contentKeysFor, keysWithRow, SORT_KEYS_VERSION } from './keys.js';
export type { ContentKeys, SortAddress, SortInput, SortKeys } from './keys.js';
export { sortMessages } from './sort.js';
export { SortKeyTable, StringPool, SortKeyBuilder } from './table.js';
export type { StringField } from './table.js';
export type { SortCriterion, SortField } from './sort.js';
export { threadMessages, threadHeads } from './thread.js';
export { sortMessagesMemo, threadMessagesMemo, noteSuccessor } from './memo.js';
export type { KeySet } from './memo.js';
export { updateThreads } from './thread-update.js';
export type { ThreadAlgorithm, ThreadNode } from './thread.js';
export { baseSubject } from './subject.js';
export type { BaseSubject } from './subject.js';
export { casemap, compareCodePoints } from './casemap.js';
export { parseMessageDate } from './date.js';
export { parseMessageIds, firstMessageId, MAX_REFERENCES } from './msgid.js';

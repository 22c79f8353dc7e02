/**
 * The mail store proper: mailboxes, messages, flags and the change log (see types.ts for the change log
 * model). Protocol-neutral: no IMAP quoting, no sockets. Failures are StoreError values.
 *
 * Reads ask for what they need (like Dovecot's wanted fields): readMessages(mailbox, uids, wanted) returns,
 * per message, exactly the parts named in `wanted`, so a store reads only those columns or files.
 */
import type { Envelope, MessageIndex } from '../mime/types.js';
import type { ExpungeHold } from './holds.js';
import type { MetadataStore } from './metadata.js';
import type { SortKeyTable } from '../mailsort/index.js';
import type {
  AppendItem,
  AppendOptions,
  AppendResult,
  ByteRange,
  ChangeEvent,
  Changes,
  CopyResult,
  ExpungeResult,
  Mailbox,
  MailboxChangeOptions,
  MailboxListEvent,
  MailboxStatus,
  MessageMeta,
  SpecialUse,
  StoreFlagsOptions,
  StoreFlagsResult,
  TextScope,
} from './types.js';

/** What readMessages returns per message; every part is off unless asked for. */
export interface Wanted {
  /** Flags, size, dates, modseq, EMAILID, THREADID (MessageMeta). */
  meta?: boolean;
  /** The whole MIME index (part tree with offsets, envelope, body structure data). */
  index?: boolean;
  /** The envelope alone (cheaper than the index). */
  envelope?: boolean;
  /**
   * The protocol layer's own rendering of the envelope, cached at delivery (see StoreOptions.envelopeText),
   * or null when none was kept for this message. Opaque to the store.
   */
  envelopeText?: boolean;
  /** The header block: raw bytes up to and including the blank line. */
  header?: boolean;
  /**
   * Also messages expunged meanwhile that are still held for a reader that shows them (see holdExpunged;
   * RFC 2180 4.1.1), merged in uid order. Not a part: changes which messages are returned.
   */
  expunged?: boolean;
}

/** The parts of one message that `W` asked for. */
export type MessageParts<W extends Wanted> = { uid: number } & (W['meta'] extends true ? { meta: MessageMeta } : unknown) &
  (W['index'] extends true ? { index: MessageIndex } : unknown) &
  (W['envelope'] extends true ? { envelope: Envelope } : unknown) &
  (W['envelopeText'] extends true ? { envelopeText: string | null } : unknown) &
  (W['header'] extends true ? { header: Buffer } : unknown);

/** Annotations (RFC 5464) are part of the mail store: see metadata.ts. */
export interface MailStore extends MetadataStore {
  // ---- mailboxes ----
  listMailboxes(userId: number): Promise<Mailbox[]>;
  /** INBOX case-insensitive. Returns null when absent. */
  getMailbox(userId: number, name: string): Promise<Mailbox | null>;
  getMailboxById(mailboxId: number): Promise<Mailbox | null>;
  /*
   * The four calls below that change the mailbox list or subscriptions emit a MailboxListEvent after their
   * commit (see subscribeMailboxList); setSubscribed only when the subscription changed.
   */
  /** Throws EXISTS, INVALID (empty name, empty hierarchy level, trailing '/'). Parents are not created. */
  createMailbox(userId: number, name: string, opts?: { specialUse?: SpecialUse | null } & MailboxChangeOptions): Promise<Mailbox>;
  /** Throws NOT_FOUND, NO_PERM (INBOX), HAS_CHILDREN. Its messages are expunged (tombstones emitted). */
  deleteMailbox(userId: number, name: string, opts?: MailboxChangeOptions): Promise<void>;
  /** Renames the mailbox and its children; renaming INBOX moves its messages (RFC 9051 6.3.6). */
  renameMailbox(userId: number, from: string, to: string, opts?: MailboxChangeOptions): Promise<void>;
  /** Subscriptions are by name and may name mailboxes that do not exist (RFC 9051 6.3.7). */
  setSubscribed(userId: number, name: string, subscribed: boolean, opts?: MailboxChangeOptions): Promise<void>;
  listSubscriptions(userId: number): Promise<string[]>;
  /** Sets or clears a mailbox's special use; a change is a mailbox list event ('special-use'). */
  setSpecialUse(mailboxId: number, specialUse: SpecialUse | null, opts?: MailboxChangeOptions): Promise<void>;
  status(mailboxId: number): Promise<MailboxStatus>;
  /** IMAP4rev1 \Recent: the first recent uid for the caller; moves first-recent to uidNext (one claimant). */
  claimRecent(mailboxId: number): Promise<number>;
  /**
   * The mailbox's URLAUTH access key (RFC 4467 section 7): 32 random bytes, created on first use when
   * `create`, else null while none exists. Throws NOT_FOUND (mailbox) when creating.
   */
  urlauthKey(mailboxId: number, create: boolean): Promise<Buffer | null>;
  /** RESETKEY (RFC 4467 section 5.1): forgets the key of one mailbox of the user, or of all of them (null). */
  resetUrlauthKeys(userId: number, mailboxId: number | null): Promise<void>;

  // ---- messages ----
  /** Appends a raw message; resolves after the durable commit. Throws NOT_FOUND, TOO_BIG. */
  append(mailboxId: number, raw: Buffer, opts?: AppendOptions): Promise<AppendResult>;
  /**
   * Appends several messages all or nothing (IMAP MULTIAPPEND, RFC 3502): every message is checked and
   * parsed before anything is written, then all rows commit in one transaction (consecutive UIDs in item
   * order, one shared MODSEQ, one wake-up), or none do and no UID, MODSEQ or blob is left behind. The
   * quota is checked for the whole batch. Resolves after the durable commit with one result per item, in
   * item order. Throws what append throws (NOT_FOUND, TOO_BIG, INVALID, EXISTS, OVER_QUOTA, TEMPORARY);
   * INVALID also for an empty batch, more than MAX_APPEND_BATCH items, or an item with `replaces`.
   */
  appendMany(mailboxId: number, items: readonly AppendItem[]): Promise<AppendResult[]>;
  /**
   * All messages of the mailbox in uid order (metadata only). The array is the caller's; its objects may be
   * shared with other callers and frozen (a store may hand the same unchanged message to every session):
   * never modify them (nor their dates), make new ones.
   */
  listMessages(mailboxId: number): Promise<MessageMeta[]>;
  /** The given UIDs that exist, each once, in uid order, with exactly the parts asked for. */
  readMessages<W extends Wanted>(mailboxId: number, uids: readonly number[], wanted: W): AsyncIterable<MessageParts<W>>;
  /**
   * Raw bytes of one message, or a range of them; also of an expunged message still held (holdExpunged).
   * Throws NOT_FOUND if the message is gone.
   */
  readBytes(mailboxId: number, uid: number, range?: ByteRange): Promise<Buffer>;
  storeFlags(mailboxId: number, uids: number[], opts: StoreFlagsOptions): Promise<StoreFlagsResult>;
  /** Expunges messages flagged \Deleted (only those among `uids` when given). Returns expunged UIDs ascending. */
  expunge(mailboxId: number, uids?: number[]): Promise<number[]>;
  /**
   * expunge, also telling the HIGHESTMODSEQ it wrote (see ExpungeResult): a session that has seen every
   * change up to one below it knows its own expunge was the only change since, without reading the log.
   */
  expungeReport(mailboxId: number, uids?: number[]): Promise<ExpungeResult>;
  /** Copies with flags and internal date; new EMAILIDs, same THREADIDs. Throws NOT_FOUND (mailbox). */
  copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  /** Copy + expunge from the source in one transaction (RFC 6851). */
  move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  /** Decoded-text search (case-insensitive substring) among `uids`; returns the matching UIDs. */
  searchText(mailboxId: number, uids: number[], needle: string, scope: TextScope): Promise<number[]>;
  /**
   * The sort and thread keys (mailsort SortKeys: RFC 5256 SORT criteria, RFC 5957 display names, thread
   * ids) of the given uids that exist, or of every message when `uids` is omitted, each once, in uid order,
   * as a SortKeyTable (columns; `at(i)` or iteration gives SortKeys objects). Computed once per message and
   * cached (see sort-keys.ts), so a call reads no message data for messages seen before. While the mailbox is
   * unchanged, asking for all of its messages gives the same frozen table (results computed from it may be
   * memoized by its identity).
   * Throws NOT_FOUND (mailbox).
   */
  sortKeys(mailboxId: number, uids?: readonly number[]): Promise<SortKeyTable>;

  /**
   * Keeps the messages of the mailbox that are expunged after `modseq` readable (readMessages with
   * `expunged`, readBytes) until the hold advances past their expunge or is released, and at least the
   * store's expunge grace (RFC 2180 4.1.1: a session may still fetch a message it has not been told is
   * gone). Holds are per process; the grace covers readers elsewhere. Never throws.
   */
  holdExpunged(mailboxId: number, modseq: number): ExpungeHold;

  // ---- change log ----
  changesSince(mailboxId: number, modseq: number): Promise<Changes>;
  /** Wake-ups for one mailbox (from any connection or process); returns the unsubscribe function. */
  subscribe(mailboxId: number, listener: (ev: ChangeEvent) => void): () => void;
  /**
   * Changes to the user's mailbox list and subscriptions, made through any connection, protocol or process
   * sharing the store (IMAP, JMAP, the CLI, delivery's fileinto :create), each once, after its commit, in
   * commit order per process. Returns the unsubscribe function (idempotent). Limits: a change made while
   * the backend's cross-process channel is down (a PostgreSQL LISTEN connection reconnecting) is not
   * reported; creating and deleting users emits nothing.
   */
  subscribeMailboxList(userId: number, listener: (ev: MailboxListEvent) => void): () => void;
}

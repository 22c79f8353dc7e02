/**
 * The value types and errors shared by the store's four interfaces (directory.ts, mail.ts, maildrop.ts,
 * queue.ts; handle.ts gives them out). Protocol-neutral: mailboxes, messages, flags, a change log and
 * users, never sockets or protocol syntax. All methods are async; failures are StoreError values with
 * stable codes, which each protocol maps once (IMAP NO [NONEXISTENT], POP3 -ERR [SYS/TEMP], SMTP 4xx/5xx).
 *
 * Mailbox names are '/'-delimited UTF-8 strings; "INBOX" is matched case-insensitively and always stored as
 * "INBOX". Names are keys, never file paths.
 *
 * Change log model (CONDSTORE, RFC 7162): every message row carries the MODSEQ of its last change;
 * every append, flag change and expunge bumps the mailbox's HIGHESTMODSEQ by one per transaction (all rows
 * touched by one operation share that new MODSEQ); expunges leave tombstones (uid, modseq). So
 * changesSince(m) = rows with modseq > m plus tombstones with modseq > m. After a successful commit the store
 * emits a ChangeEvent to subscribers of that mailbox; the event is only a wake-up (subscribers re-read
 * changesSince), and it is emitted for changes made through any connection or process sharing the store.
 */
export type StoreErrorCode =
  | 'NOT_FOUND' // mailbox, message or user does not exist
  | 'EXISTS' // mailbox or user already exists
  | 'NO_PERM' // operation not allowed (e.g. delete INBOX)
  | 'HAS_CHILDREN' // delete of a mailbox that has children
  | 'INVALID' // bad name, bad argument
  | 'OVER_QUOTA'
  | 'TOO_BIG'
  | 'TEMPORARY'; // retry later (lock contention, I/O trouble)

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}

/**
 * A StoreError INVALID where the request was well formed but ran into an implementation limit (more
 * keywords on one message than the store keeps): IMAP answers it NO [LIMIT] (RFC 5530), other protocols
 * as any INVALID.
 */
export class StoreLimitError extends StoreError {
  constructor(message: string) {
    super('INVALID', message);
    this.name = 'StoreLimitError';
  }
}

export function isStoreError(e: unknown, code?: StoreErrorCode): e is StoreError {
  return e instanceof StoreError && (code === undefined || e.code === code);
}

export type SpecialUse = '\\All' | '\\Archive' | '\\Drafts' | '\\Flagged' | '\\Junk' | '\\Sent' | '\\Trash';

export interface User {
  id: number;
  /** Lowercased full address, e.g. "alice@example.org". */
  address: string;
  /** Self-describing hash string, e.g. "$argon2id$..." or "{SSHA512}..." (see auth/). */
  passwordHash: string;
  createdAt: Date;
  /** Administrator role (web admin, SETQUOTA on others); see isAdmin in directory.ts. */
  admin?: boolean;
}

export interface Mailbox {
  id: number;
  userId: number;
  /** Full '/'-delimited name; "INBOX" for the inbox. */
  name: string;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  specialUse: SpecialUse | null;
  subscribed: boolean;
  /** RFC 8474 MAILBOXID: stable across renames, never reused. */
  mailboxObjectId: string;
}

export interface MailboxStatus {
  messages: number;
  unseen: number;
  /** Messages with \Deleted. */
  deleted: number;
  /** Sum of RFC822.SIZE of all messages. */
  size: number;
  /** Messages with uid >= the mailbox's first-recent uid (see claimRecent). */
  recent: number;
  uidNext: number;
  uidValidity: number;
  highestModseq: number;
}

/** Per-message metadata: what SELECT, FETCH FLAGS, STORE and the change log deal in. */
export interface MessageMeta {
  uid: number;
  /** RFC 8474 EMAILID; also the POP3 UIDL. Stable for the message's life, unique, chars [A-Za-z0-9_-]. Copies get a new one. */
  emailId: string;
  /** RFC 8474 THREADID. */
  threadId: string;
  /** System flags (\Seen \Answered \Flagged \Deleted \Draft) and keywords, in the case first stored. No \Recent. */
  flags: string[];
  internalDate: Date;
  /**
   * RFC 8514 SAVEDATE: when the message was saved into this mailbox (append, copy or move). Absent for
   * messages stored before save dates were kept (and from stores that keep none): use internalDate then.
   */
  savedDate?: Date;
  /** RFC822.SIZE: octets of the stored raw message. */
  size: number;
  modseq: number;
}

export interface AppendOptions {
  flags?: string[];
  /** INTERNALDATE; defaults to now. */
  internalDate?: Date;
  /**
   * Keep this EMAILID instead of minting one (store-to-store transfer, so POP3 UIDLs survive a migration).
   * Must match [A-Za-z0-9_-]{1,255} (else INVALID); throws EXISTS when a message already has it.
   * Stores that cannot honour it may ignore it.
   */
  emailId?: string;
  /**
   * RFC 8508 REPLACE: expunge this message in the same transaction as the append (regardless of \Deleted;
   * nothing happens to it when it is already gone), so no reader sees both messages or neither. Throws
   * NOT_FOUND when its mailbox does not exist.
   */
  replaces?: { mailboxId: number; uid: number };
  /**
   * IMAP4rev1 \Recent: also make the caller the claimant of the mailbox's recent messages, the new one
   * among them, in the append's own transaction (what a claimRecent right after it would do, without a
   * write of its own). A store that does it says so in AppendResult.recentClaim; one that does not may
   * ignore the option, and the caller then claims apart.
   */
  claimRecent?: boolean;
}

/**
 * One message of MailStore.appendMany: the raw bytes and the options of a single append, without REPLACE
 * (RFC 8508 replaces one message by one message; a batch with `replaces` is refused with INVALID).
 */
export interface AppendItem {
  raw: Buffer;
  opts?: AppendOptions;
}

export interface AppendResult {
  uid: number;
  uidValidity: number;
  emailId: string;
  modseq: number;
  /**
   * With AppendOptions.claimRecent, when the store claimed: the messages with `first` <= uid < `next` are
   * recent for the caller alone (as claimRecent's answer `first`, with `next` the UIDNEXT it left behind).
   */
  recentClaim?: { first: number; next: number };
  /**
   * The stored message's metadata as a listMessages or changesSince right after the commit would give it
   * (canonical flag spellings, INTERNALDATE, save date), so a caller that shows the mailbox need not read it
   * back. `modseq` above is the mailbox's HIGHESTMODSEQ after the commit and `uid` + 1 its UIDNEXT (after
   * the last message of a batch).
   */
  meta: MessageMeta;
}

/** What MailStore.expungeReport removed, and the mailbox's HIGHESTMODSEQ it left. */
export interface ExpungeResult {
  /** The expunged UIDs, ascending. */
  uids: number[];
  /**
   * The mailbox's HIGHESTMODSEQ at one moment during the call: the modseq the expunge wrote (one above the
   * value before it: every change bumps HIGHESTMODSEQ by one), or, when it removed nothing, the value it read.
   */
  highestModseq: number;
}

export interface CopyResult {
  uidValidity: number;
  /** [source uid, destination uid] in source uid order. */
  pairs: Array<[number, number]>;
}

export type FlagOp = 'add' | 'remove' | 'set';

export interface StoreFlagsOptions {
  op: FlagOp;
  flags: string[];
  /** CONDSTORE UNCHANGEDSINCE: messages whose modseq is greater are left alone and reported in `modified`. */
  unchangedSince?: number;
}

export interface StoreFlagsResult {
  /** Messages whose flags actually changed, with their new flags and modseq. */
  changed: MessageMeta[];
  /** UIDs that failed the UNCHANGEDSINCE test (RFC 7162 MODIFIED response code). */
  modified: number[];
  /**
   * The mailbox's HIGHESTMODSEQ at one moment during the call: the modseq this change wrote, or, when it
   * changed nothing, the value it read. A store may leave it out. A caller that has seen every change up to
   * it knows it missed nothing committed before the call (the IMAP view skips its read after the command).
   */
  highestModseq?: number;
}

export interface Changes {
  highestModseq: number;
  /** Messages (existing now) whose modseq > since: new appends and flag changes, current state, uid order. */
  changed: MessageMeta[];
  /** UIDs expunged with tombstone modseq > since, ascending. */
  expunged: number[];
}

export interface ChangeEvent {
  userId: number;
  mailboxId: number;
  highestModseq: number;
}

/**
 * A committed change to a user's mailbox list or subscriptions (MailStore.subscribeMailboxList), from any
 * connection, protocol or process sharing the store. Unlike a ChangeEvent it carries what changed: no log a
 * reader could re-read holds a mailbox's former name.
 */
export interface MailboxListEvent {
  /** The owner of the mailbox (or of the subscription). */
  userId: number;
  /**
   * create, delete, rename: a mailbox (renaming INBOX, which moves its messages and keeps INBOX, is a
   * create of the new name); subscribe, unsubscribe: a subscription, which names a mailbox that may not exist;
   * special-use: the mailbox's special use (RFC 6154: \Junk, \Sent, ...; a JMAP role) was set or cleared.
   */
  kind: 'create' | 'delete' | 'rename' | 'subscribe' | 'unsubscribe' | 'special-use';
  /** The mailbox name (after a rename). A rename of a parent is one event; its children move with it. */
  name: string;
  /** The name before a rename; absent otherwise. */
  oldName?: string;
  /** MailboxChangeOptions.origin of the call that made the change, or null. */
  origin: string | null;
}

/** Options of the calls that change the mailbox list or subscriptions. */
export interface MailboxChangeOptions {
  /**
   * Who makes the change, as the caller names it (at most MAX_ORIGIN_LENGTH characters, longer ones are
   * dropped): handed back in the MailboxListEvent, so a session can tell its own changes from others'.
   */
  origin?: string;
}

/** Origins longer than this are not kept (they travel in cross-process notifications). */
export const MAX_ORIGIN_LENGTH = 64;

export interface ByteRange {
  /** Inclusive start offset. */
  start: number;
  /** Exclusive end offset; clamped to the message size. */
  end: number;
  /**
   * Scratch space the store may read the bytes into when they fit (the result is then a view of it); the
   * caller must not reuse it while the result is in use. Stores that cannot use it return other memory.
   */
  into?: Buffer;
}

export type TextScope = 'header' | 'body' | 'text';

export interface MaildropCommit {
  /** UIDs to expunge (POP3 DELE), regardless of \Deleted. Already-gone UIDs are ignored. */
  expunge: number[];
  /** UIDs to mark \Seen (retrieved messages), in the same transaction. */
  seen: number[];
  /** UIDs retrieved in this session (recorded for the retention policy). */
  retrieved: number[];
}

export interface OutboundMessage {
  id: string;
  /** Envelope sender ("" for bounces). */
  sender: string;
  /** Recipients still to deliver. */
  recipients: string[];
  attempts: number;
  createdAt: Date;
  nextAttemptAt: Date;
  lastError: string | null;
  size: number;
}

export interface Alias {
  from: string;
  to: string;
}

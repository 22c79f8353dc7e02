/**
 * The MailStore contract shared by every store implementation (store/sqlite, store/postgres).
 * Protocol-neutral: it knows mailboxes, messages, flags, a change log and users, never sockets or
 * protocol syntax. All methods are async; failures are StoreError values with stable codes, which each
 * protocol maps once (IMAP NO [NONEXISTENT], POP3 -ERR [SYS/TEMP], SMTP 4xx/5xx).
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
import type { Envelope, MessageIndex } from '../mime/types.js';

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
  /** RFC822.SIZE: octets of the stored raw message. */
  size: number;
  modseq: number;
}

/** Metadata plus the MIME index (computed once at delivery). */
export interface MessageRecord extends MessageMeta {
  index: MessageIndex;
}

/**
 * A message's header block: its bytes up to and including the blank line (see MailStore.getHeaders). Only
 * the UID: callers of these fast paths hold the metadata already (listMessages), and header overviews of
 * 100,000 messages should not build it twice.
 */
export interface MessageHeaderRecord {
  uid: number;
  header: Buffer;
}

/** A message's envelope (see MailStore.getEnvelopes); only the UID, like MessageHeaderRecord. */
export interface MessageEnvelopeRecord {
  uid: number;
  /** The envelope, or its IMAP text form when the store kept that (mime envelopeImapText: same data). */
  envelope: Envelope | string;
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
}

export interface AppendResult {
  uid: number;
  uidValidity: number;
  emailId: string;
  modseq: number;
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

export interface MailStore {
  // ---- users, domains, aliases ----
  /** Creates the user with INBOX, Sent, Drafts, Trash, Junk, Archive (special-use set). Throws EXISTS. */
  createUser(address: string, passwordHash: string): Promise<User>;
  getUser(address: string): Promise<User | null>;
  getUserById(id: number): Promise<User | null>;
  listUsers(): Promise<User[]>;
  /** Throws NOT_FOUND. */
  setPasswordHash(address: string, passwordHash: string): Promise<void>;
  /** Deletes the user and all their mail. Throws NOT_FOUND. */
  deleteUser(address: string): Promise<void>;
  /** Lowercased; adding an existing domain is a no-op. */
  addDomain(domain: string): Promise<void>;
  listDomains(): Promise<string[]>;
  hasDomain(domain: string): Promise<boolean>;
  /** from may be "@domain" for a catch-all. Both lowercased; adding an existing `from` replaces its target. */
  addAlias(from: string, to: string): Promise<void>;
  /** Throws NOT_FOUND. */
  removeAlias(from: string): Promise<void>;
  listAliases(): Promise<Alias[]>;

  // ---- mailboxes ----
  listMailboxes(userId: number): Promise<Mailbox[]>;
  /** INBOX case-insensitive. Returns null when absent. */
  getMailbox(userId: number, name: string): Promise<Mailbox | null>;
  getMailboxById(mailboxId: number): Promise<Mailbox | null>;
  /** Throws EXISTS, INVALID (empty name, empty hierarchy level, trailing '/'). Parents are not created. */
  createMailbox(userId: number, name: string, opts?: { specialUse?: SpecialUse | null }): Promise<Mailbox>;
  /** Throws NOT_FOUND, NO_PERM (INBOX), HAS_CHILDREN. Its messages are expunged (tombstones emitted). */
  deleteMailbox(userId: number, name: string): Promise<void>;
  /**
   * Renames the mailbox and every child (a/b -> c/b). Renaming INBOX moves all of its messages to a new
   * mailbox with the new name and leaves INBOX empty (RFC 9051 section 6.3.6). Throws NOT_FOUND, EXISTS, INVALID.
   */
  renameMailbox(userId: number, from: string, to: string): Promise<void>;
  /** Subscriptions are by name and may name mailboxes that do not exist (RFC 9051 6.3.7). */
  setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void>;
  listSubscriptions(userId: number): Promise<string[]>;
  setSpecialUse(mailboxId: number, specialUse: SpecialUse | null): Promise<void>;
  status(mailboxId: number): Promise<MailboxStatus>;
  /**
   * \Recent bookkeeping (IMAP4rev1): returns the first uid that is recent for the caller and moves the
   * mailbox's first-recent uid to uidNext, so exactly one session sees each message as recent.
   */
  claimRecent(mailboxId: number): Promise<number>;

  // ---- messages ----
  /**
   * Appends a raw message (CRLF line endings expected; bare LF is normalised to CRLF). Computes the MIME
   * index, writes and fsyncs the blob, then commits the row in one transaction; resolves only after commit.
   * Throws NOT_FOUND, TOO_BIG.
   */
  append(mailboxId: number, raw: Buffer, opts?: AppendOptions): Promise<AppendResult>;
  /** All messages of the mailbox in uid order (metadata only). */
  listMessages(mailboxId: number): Promise<MessageMeta[]>;
  /** The given UIDs (missing ones skipped) in uid order, with the MIME index. */
  getMessages(mailboxId: number, uids: number[]): AsyncIterable<MessageRecord>;
  /**
   * Optional fast path for header overviews (FETCH ENVELOPE without BODYSTRUCTURE or body sections): the
   * given UIDs (missing ones skipped) in uid order, each with only its envelope (equal to index.envelope),
   * so the store need not read or parse the whole MIME index. Callers fall back to getMessages when a store
   * lacks it.
   */
  getEnvelopes?(mailboxId: number, uids: number[]): AsyncIterable<MessageEnvelopeRecord>;
  /**
   * Optional fast path for message lists (FETCH BODY.PEEK[HEADER.FIELDS (...)], RFC822.HEADER): the given
   * UIDs (missing ones skipped) in uid order, each with its header block (RFC822.HEADER bytes). Callers
   * fall back to getMessages + readMessage when a store lacks it.
   */
  getHeaders?(mailboxId: number, uids: number[]): AsyncIterable<MessageHeaderRecord>;
  /** Raw bytes of one message, or a range of them. Throws NOT_FOUND if the message was expunged. */
  readMessage(mailboxId: number, uid: number, range?: ByteRange): Promise<Buffer>;
  storeFlags(mailboxId: number, uids: number[], opts: StoreFlagsOptions): Promise<StoreFlagsResult>;
  /** Expunges messages flagged \Deleted (only those among `uids` when given). Returns expunged UIDs ascending. */
  expunge(mailboxId: number, uids?: number[]): Promise<number[]>;
  /** Copies with flags and internal date; new EMAILIDs, same THREADIDs. Throws NOT_FOUND (mailbox). */
  copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  /** Copy + expunge from the source in one transaction (RFC 6851). */
  move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  changesSince(mailboxId: number, modseq: number): Promise<Changes>;
  /**
   * Searches decoded text (RFC 2047 headers, transfer- and charset-decoded text bodies), case-insensitive
   * substring, among `uids`; returns the matching UIDs. scope 'header' = all header fields, 'body' = body
   * text, 'text' = both.
   */
  searchText(mailboxId: number, uids: number[], needle: string, scope: TextScope): Promise<number[]>;
  /** Subscribe to wake-ups for one mailbox; returns the unsubscribe function. */
  subscribe(mailboxId: number, listener: (ev: ChangeEvent) => void): () => void;

  // ---- POP3 ----
  /** Exclusive maildrop lock for a POP3 session (RFC 1939); null when another session holds it. */
  lockMaildrop(userId: number): Promise<(() => Promise<void>) | null>;
  /** POP3 UPDATE state: expunge + \Seen + retrieved marks in one transaction. */
  commitMaildrop(mailboxId: number, commit: MaildropCommit): Promise<number[]>;
  /** Retention: expunges messages retrieved over POP3 at or before `before` (so "0 days" purges everything retrieved so far). Returns how many. */
  purgeRetrieved(mailboxId: number, before: Date): Promise<number>;

  // ---- outbound queue (persistent, survives restarts) ----
  enqueueOutbound(sender: string, recipients: string[], raw: Buffer): Promise<string>;
  /**
   * Messages whose nextAttemptAt <= now, oldest first. A store shared by several nodes (PostgreSQL) claims
   * the returned messages for the calling node until updateOutbound/deleteOutbound or a lease expires
   * (measured from `now`), so no two nodes attempt the same message; the node's own claims stay visible to it.
   */
  dueOutbound(now: Date, limit: number): Promise<OutboundMessage[]>;
  /** Throws NOT_FOUND. */
  readOutbound(id: string): Promise<Buffer>;
  /** Throws NOT_FOUND. */
  updateOutbound(id: string, patch: { recipients: string[]; attempts: number; nextAttemptAt: Date; lastError: string | null }): Promise<void>;
  /** Throws NOT_FOUND. */
  deleteOutbound(id: string): Promise<void>;
  listOutbound(): Promise<OutboundMessage[]>;

  /** Waits for in-flight commits, then closes. Idempotent; other calls after close() reject. */
  close(): Promise<void>;
}

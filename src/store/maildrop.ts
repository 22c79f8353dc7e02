/**
 * The POP3 maildrop (RFC 1939): an exclusive lock per user for the session, and the UPDATE state's commit.
 * The snapshot itself is MailStore.listMessages of INBOX taken after the lock is held.
 */
import type { MaildropCommit } from './types.js';

/**
 * The bytes of one stored message opened for RETR or TOP, read front to back without another look-up.
 * Synchronous: a backend offers it only where reading a chunk is a quick local call (SQLite: a row already
 * in hand, or a pread of a file it holds open). Not safe for concurrent use; close() exactly once.
 */
export interface MessageReader {
  /** Octets of the stored message. */
  readonly size: number;
  /**
   * The reader holds the bytes in memory: next() hands out views of them and never writes into `into`, so a
   * caller need not take a read buffer for it (any Buffer will do, an empty one included).
   */
  readonly inMemory: boolean;
  /**
   * The next bytes from where the previous call stopped (the first from byte 0), at most into.length of
   * them: read into `into`, or a view of memory the reader holds (no copy). An empty Buffer once `end`
   * (default: the whole message) is reached. I/O errors are thrown.
   */
  next(into: Buffer, end?: number): Buffer;
  /** Lets go of what the reader holds (an open file). */
  close(): void;
}

export interface Maildrop {
  /**
   * Exclusive lock for one POP3 session, held across every process sharing the store; resolves to the
   * release function, or null when another session holds it.
   */
  lock(userId: number): Promise<(() => Promise<void>) | null>;
  /** Expunge + \Seen + retrieved marks in one transaction; resolves after commit with the expunged UIDs. */
  commit(mailboxId: number, commit: MaildropCommit): Promise<number[]>;
  /**
   * Retention: expunges messages retrieved over POP3 at or before `before` (so "0 days" purges everything
   * retrieved so far). Returns how many.
   */
  purgeRetrieved(mailboxId: number, before: Date): Promise<number>;
  /**
   * Opens a message of the mailbox for reading, synchronously: null when it no longer exists (expunged since
   * the session's snapshot and not held). Backends without a synchronous path leave it out (POP3 then reads
   * through MailStore.readBytes). Throws StoreError TEMPORARY when the store is closed.
   */
  openMessage?(mailboxId: number, uid: number): MessageReader | null;
}

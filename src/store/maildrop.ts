/**
 * The POP3 maildrop (RFC 1939): an exclusive lock per user for the session, and the UPDATE state's commit.
 * The snapshot itself is MailStore.listMessages of INBOX taken after the lock is held.
 */
import type { MaildropCommit } from './types.js';

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
}

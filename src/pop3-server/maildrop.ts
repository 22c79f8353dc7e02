/**
 * The maildrop snapshot of one POP3 session (RFC 1939 section 5): INBOX as it was at login, numbered
 * 1..n in UID order for the whole session. Messages delivered later appear at the next login. DELE marks,
 * RSET unmarks, and QUIT turns the marks into one MaildropCommit for the store.
 */
import type { MaildropCommit, MessageMeta } from '../store/types.js';

export interface DropMessage {
  /** 1-based message number, fixed for the session. */
  readonly number: number;
  readonly uid: number;
  /** The UIDL (the store's EMAILID). */
  readonly uidl: string;
  /** Octets of the stored message (what RETR sends before dot-stuffing). */
  readonly size: number;
  deleted: boolean;
  /** Sent in full by RETR in this session. */
  retrieved: boolean;
  /** Had \Seen at login: a RETR needs no flag change for it. */
  readonly seen: boolean;
}

export type Lookup = { ok: true; msg: DropMessage } | { ok: false; reason: 'no-such-message' | 'deleted' };

export class Maildrop {
  readonly mailboxId: number;
  readonly #messages: DropMessage[];

  constructor(mailboxId: number, messages: readonly MessageMeta[]) {
    this.mailboxId = mailboxId;
    const sorted = [...messages].sort((a, b) => a.uid - b.uid);
    this.#messages = sorted.map((m, i) => ({ number: i + 1, uid: m.uid, uidl: m.emailId, size: m.size, deleted: false, retrieved: false, seen: hasSeen(m.flags) }));
  }

  /** Number of messages in the snapshot, deleted ones included (the highest valid message number). */
  get total(): number {
    return this.#messages.length;
  }

  /** A message by number; deleted messages are reported as such (RFC 1939: they may not be referred to). */
  lookup(n: number): Lookup {
    const msg = Number.isSafeInteger(n) && n >= 1 ? this.#messages[n - 1] : undefined;
    if (!msg) return { ok: false, reason: 'no-such-message' };
    if (msg.deleted) return { ok: false, reason: 'deleted' };
    return { ok: true, msg };
  }

  /** Messages not marked deleted, in number order. */
  live(): DropMessage[] {
    return this.#messages.filter((m) => !m.deleted);
  }

  /** STAT: count and total octets of the messages not marked deleted. */
  stat(): { count: number; octets: number } {
    let count = 0;
    let octets = 0;
    for (const m of this.#messages) {
      if (m.deleted) continue;
      count++;
      octets += m.size;
    }
    return { count, octets };
  }

  /** RSET: back to the state at login (no deletion marks, no retrieval marks). */
  reset(): void {
    for (const m of this.#messages) {
      m.deleted = false;
      m.retrieved = false;
    }
  }

  /**
   * What QUIT commits: deletions, \Seen for retrieved messages that lacked it at login (when wanted: a client
   * that leaves mail on the server re-reads seen mail, and a plan with nothing in it costs QUIT no store
   * transaction at all), and retrieval records when
   * `recordRetrievals` (only the retention policy reads them: without one, writing them would rewrite the
   * row of every message of a leave-mail-on-the-server client at every QUIT).
   */
  commitPlan(markSeenOnRetrieve: boolean, recordRetrievals = true): MaildropCommit {
    const expunge: number[] = [];
    const retrieved: number[] = [];
    const seen: number[] = [];
    for (const m of this.#messages) {
      if (m.deleted) expunge.push(m.uid);
      else if (m.retrieved && markSeenOnRetrieve && !m.seen) seen.push(m.uid);
      if (m.retrieved && recordRetrievals) retrieved.push(m.uid);
    }
    return { expunge, seen, retrieved };
  }
}

/** True when the flags hold \Seen (system flags match case-insensitively, RFC 3501 section 2.3.2). */
function hasSeen(flags: readonly string[]): boolean {
  for (const f of flags) if (f.length === 5 && f.toLowerCase() === '\\seen') return true;
  return false;
}

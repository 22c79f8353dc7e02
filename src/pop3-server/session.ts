/**
 * POP3 session state (RFC 1939 sections 4-6) as a discriminated union, and the context a command handler runs in.
 */
import type { User } from '../store/types.js';
import type { Logger } from '../lib/logger.js';
import type { Maildrop } from './maildrop.js';
import type { Pop3Shared } from './options.js';

export type SessionState =
  /** Before login. pendingUser is set by a successful USER and consumed by the PASS right after it. */
  | { kind: 'authorization'; pendingUser: string | null }
  /** Logged in, holding the maildrop lock (release() frees it). */
  | { kind: 'transaction'; user: User; maildrop: Maildrop; release: () => Promise<void> }
  /** After QUIT or when the connection is going away. */
  | { kind: 'closed' };

export type SessionKind = SessionState['kind'];
export type TransactionState = Extract<SessionState, { kind: 'transaction' }>;

/** One line sent by the client in answer to an AUTH continuation ("+ ..."). */
export type ChallengeAnswer =
  | { kind: 'line'; text: string }
  | { kind: 'too-long' }
  /** No answer will come: the client went away, the autologout timer fired, or the server is shutting down. */
  | { kind: 'closed'; why: 'eof' | 'timeout' | 'shutdown' };

/** What the connection exposes to command handlers. */
export interface CommandContext {
  readonly shared: Pop3Shared;
  readonly log: Logger;
  readonly remoteAddress: string;
  /** The connection is TLS (implicit, or after STLS). */
  readonly secure: boolean;
  /** The APOP timestamp of the greeting, or null when none was offered. */
  readonly apopTimestamp: string | null;
  state: SessionState;
  /** Sends "+ <base64>" and waits for the client's next line (RFC 5034 continuation). */
  challenge(base64: string): Promise<ChallengeAnswer>;
}

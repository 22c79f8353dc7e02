/**
 * One open store: the four narrow interfaces over one backend core (connection, transactions and group
 * commit, change bus, blob files). openStore (index.ts) returns it; close() waits for in-flight commits.
 */
import type { AclStore } from './acl.js';
import type { DkimKeyStore } from './dkim.js';
import type { JmapStore } from './jmap.js';
import type { Directory } from './directory.js';
import type { MailStore } from './mail.js';
import type { Maildrop } from './maildrop.js';
import type { OutboundQueue } from './queue.js';
import type { QuotaDefaults, QuotaStore } from './quota.js';
import type { SpamStore } from './spam.js';
import type { SieveStore } from './sieve.js';
import type { TokenStore } from './tokens.js';
import type { Envelope } from '../mime/types.js';

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly directory: Directory;
  readonly mail: MailStore;
  readonly maildrop: Maildrop;
  readonly queue: OutboundQueue;
  /** Per-user storage and message limits and usage (quota.ts). */
  readonly quota: QuotaStore;
  /** Per-user statistics of the spam filter (spam.ts). */
  readonly spam: SpamStore;
  /** Mailbox access control lists, private \Seen of shared mailboxes, public folders' owner (acl.ts). */
  readonly acl: AclStore;
  /** Sieve scripts, the vacation setting, reply and duplicate tracking (sieve.ts). */
  readonly sieve: SieveStore;
  /** HTTP API tokens and JMAP push subscriptions (tokens.ts). */
  readonly tokens: TokenStore;
  /** DKIM signing keys of the local domains (dkim.ts). */
  readonly dkim: DkimKeyStore;
  /** JMAP uploads, Identity and EmailSubmission records, Mailbox state snapshots (jmap.ts). */
  readonly jmap: JmapStore;
  /** Waits for in-flight commits, then closes. Idempotent; calls on any part after close() reject. */
  close(): Promise<void>;
}

/** Options every backend takes. */
export interface StoreOptions {
  /**
   * The protocol layer's rendering of an envelope, computed once at delivery and kept opaque by the store
   * (returned by readMessages with `envelopeText`). Returns null when the message needs per-session
   * rendering. Without it no text is kept.
   */
  envelopeText?: (envelope: Envelope) => string | null;
  /**
   * Expunged messages stay readable (held) for at least this many milliseconds, for readers in other
   * processes that still show them (mail.ts holdExpunged covers this process's). Default 0.
   */
  expungeGraceMs?: number;
  /** Limits for users without their own (quota.ts); absent: no limits. */
  quota?: QuotaDefaults;
}

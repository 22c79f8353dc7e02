/**
 * The per-recipient delivery pipeline: what happens to one user's copy between "the recipient is a local
 * user" and "the copy is stored".
 *
 * deliver() builds a Disposition that says "one copy into INBOX", then runs the configured stages in order
 * (the spam filter, then the user's Sieve script), each of which may change it: add header fields, file into
 * other mailboxes with flags, discard, refuse the recipient, or schedule work for after the copies are
 * committed (redirects, vacation replies). Then deliver() stores the copies.
 *
 * A stage that throws leaves the disposition as the previous stages left it (implicit keep): a message is
 * never lost because of a filter. The error is logged.
 */
import type { Logger } from '../lib/logger.js';

/** Where the message came from. */
export type Transport = 'lmtp' | 'smtp' | 'submission' | 'queue';

/** One local user's copy of a message, as the stages see it. */
export interface LocalMessage {
  userId: number;
  /** The user's own address. */
  address: string;
  /** The recipient as given (first of the group when several reach the same user). */
  recipient: string;
  /** Every recipient of this transaction that reaches this user. */
  members: readonly string[];
  /** Plus-address detail of `recipient` (bob+lists@ -> "lists"), or null. */
  tag: string | null;
  /** Envelope sender ("" for the null sender). */
  envelopeFrom: string;
  transport: Transport;
  /** The message as received, without this hop's trace fields. */
  raw: Buffer;
  /**
   * Message-level facts set before the per-user stages by whoever received the message: e.g.
   * `authResults` (the Authentication-Results value the MX added) and `dmarc` (the verdict).
   */
  facts: Readonly<Record<string, unknown>>;
}

/** One copy to store. */
export interface Target {
  /** Mailbox name (IMAP name, '/' separated, UTF-8). A missing mailbox falls back to INBOX unless `create`. */
  mailbox: string;
  flags?: string[];
  /** Create the mailbox when it does not exist (Sieve's fileinto :create). */
  create?: boolean;
  /**
   * The id of the mailbox `mailbox` names, when the stage that chose it knows it (the spam stage's
   * remembered Junk mailbox): delivery appends there without looking the name up, and looks the name up
   * after all when that mailbox is gone. A stage that changes `mailbox` must drop it.
   */
  mailboxId?: number;
}

/** The running decision for one user's copy. */
export interface Disposition {
  /** Header fields (each a complete field ending in CRLF) put above the message in the stored copies. */
  headers: string[];
  /** Copies to store, in order; an empty list discards the message (it is acknowledged and not stored). */
  targets: Target[];
  /** Refuse this recipient instead of storing anything (e.g. Sieve reject at SMTP/LMTP time). */
  refuse?: { code: number; enhanced: string; message: string };
  /** Work run after the copies are committed (redirects, vacation replies); errors are logged, never thrown. */
  after: Array<() => Promise<void>>;
  /** Facts passed from stage to stage (the spam verdict for Sieve's spamtest, ...). */
  notes: Record<string, unknown>;
  /**
   * The message to store instead of LocalMessage.raw, when a stage edited its header (the spam stage renames
   * untrusted X-Spam fields; Sieve editheader). Later stages should read `d.message ?? msg.raw`.
   */
  message?: Buffer;
}

/** A pipeline stage. It changes `d` in place. */
export interface DeliveryStage {
  readonly name: string;
  run(msg: LocalMessage, d: Disposition, log: Logger): Promise<void>;
}

/** The disposition every message starts with: one copy into INBOX, no flags. */
export function defaultDisposition(): Disposition {
  return { headers: [], targets: [{ mailbox: 'INBOX' }], after: [], notes: {} };
}

/** Runs `stages` in order over a fresh disposition. A failing stage is logged and skipped (implicit keep). */
export async function runStages(stages: readonly DeliveryStage[], msg: LocalMessage, log: Logger): Promise<Disposition> {
  const d = defaultDisposition();
  for (const stage of stages) {
    const before = { headers: [...d.headers], targets: d.targets.map((t) => ({ ...t })), after: [...d.after], message: d.message };
    try {
      await stage.run(msg, d, log);
    } catch (e) {
      log.error({ stage: stage.name, user: msg.address, err: e instanceof Error ? e.message : String(e) }, 'delivery stage failed; keeping the message');
      d.headers = before.headers;
      d.targets = before.targets.length ? before.targets : [{ mailbox: 'INBOX' }];
      d.after = before.after;
      if (before.message) d.message = before.message;
      else delete d.message;
      delete d.refuse;
    }
  }
  return d;
}

/** Runs the after-commit work of a disposition; failures are logged. */
export async function runAfter(d: Disposition, log: Logger): Promise<void> {
  for (const job of d.after) {
    try {
      await job();
    } catch (e) {
      log.error({ err: e instanceof Error ? e.message : String(e) }, 'after-delivery action failed');
    }
  }
}

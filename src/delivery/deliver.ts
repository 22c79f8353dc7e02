/**
 * deliver(): the one local delivery path used by LMTP, SMTP, submission (local recipients) and the outbound
 * queue (local recipients and bounces).
 *
 * It resolves the recipient (user, alias, plus-address, catch-all; see resolve.ts), prepends
 *   Return-Path: <envelope sender>
 *   Delivered-To: <recipient as given>      (records a plus-address tag: bob+lists@example.org)
 *   Received: ...                           (when the caller passes one)
 * to the raw message and appends it to the user's INBOX. It resolves only after the store committed the
 * message (blob fsynced, row committed), so a caller may acknowledge the recipient when it resolves ok.
 * Each recipient's copy is one store append: atomic per recipient.
 *
 * Failures are values, never thrown: UNKNOWN (no such local recipient), REMOTE (not a local domain),
 * INVALID (bad address), LOOP (the message already carries "Delivered-To: <this recipient>", as a message that
 * went round a forwarding loop does), TOO_BIG / OVER_QUOTA (permanent), TEMPORARY (store trouble: try again).
 * An unexpected error (anything but a StoreError code mapped here) is TEMPORARY too; it is logged with its
 * stack under a short random id, and the failure message ends with that id in brackets, so the 451 a
 * client sees leads to the log line (as IMAP's NO [SERVERBUG] does).
 */
import type { Store } from '../store/handle.js';
import { isStoreError } from '../store/types.js';
import type { AliasTable, Resolution } from './resolve.js';
import { resolveRecipient } from './resolve.js';
import { isMarkedCrlfOnly, markCrlfOnly } from '../mime/index.js';
import { findBareLineEnd, headerSection } from './message-check.js';
import { deliveredToHeader, returnPathHeader } from './trace.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import { randomString } from '../lib/random.js';

export interface DeliverOptions {
  /** Envelope sender ("" for the null sender). */
  envelopeFrom: string;
  /** A complete Received header field (ending in CRLF) to put on this copy, or a builder given the recipient. */
  received?: string | ((recipient: string) => string);
  /** Flags for the stored copy (none by default: new mail is unseen). */
  flags?: string[];
  internalDate?: Date;
  /** Alias snapshot shared by the recipients of one transaction. */
  aliases?: AliasTable;
  /** The recipient as RCPT already resolved it in this transaction (skips resolving it again). */
  resolution?: Resolution;
  /** Where unexpected failures are logged (error level, with the stack and the id the reply carries). */
  logger?: Logger;
}

export type DeliverFailureCode = 'UNKNOWN' | 'REMOTE' | 'INVALID' | 'LOOP' | 'TOO_BIG' | 'OVER_QUOTA' | 'TEMPORARY';

export type DeliverResult =
  | { ok: true; userId: number; address: string; recipient: string; tag: string | null; mailboxId: number; uid: number; emailId: string }
  | { ok: false; code: DeliverFailureCode; message: string };

/** The trace prefix deliver() puts in front of the message for one recipient. */
export function tracePrefix(recipient: string, opts: Pick<DeliverOptions, 'envelopeFrom' | 'received'>): Buffer {
  const received = typeof opts.received === 'function' ? opts.received(recipient) : (opts.received ?? '');
  return Buffer.from(returnPathHeader(opts.envelopeFrom) + deliveredToHeader(recipient) + received, 'utf8');
}

/**
 * What delivery uses of the store: the directory (recipients, aliases, domains), the mail store (INBOX
 * appends) and the outbound queue (relay, retries, bounces). deliver() itself needs only the first two.
 */
export type DeliveryStore = Pick<Store, 'directory' | 'mail' | 'queue'>;

export async function deliver(store: Pick<Store, 'directory' | 'mail'>, recipient: string, raw: Buffer, opts: DeliverOptions): Promise<DeliverResult> {
  try {
    const r = opts.resolution ?? (await resolveRecipient(store.directory, recipient, opts.aliases));
    if (r.kind === 'invalid') return { ok: false, code: 'INVALID', message: `Bad recipient address syntax` };
    if (r.kind === 'remote') return { ok: false, code: 'REMOTE', message: `${r.domain} is not a local domain` };
    if (r.kind === 'unknown') return { ok: false, code: 'UNKNOWN', message: `No such user here` };
    if (alreadyDeliveredTo(raw, r.recipient)) return { ok: false, code: 'LOOP', message: 'Mail loop: already delivered to this address' };
    const inbox = await store.mail.getMailbox(r.user.id, 'INBOX');
    if (!inbox) return { ok: false, code: 'TEMPORARY', message: 'Mailbox unavailable' };
    const prefix = tracePrefix(r.recipient, opts);
    const copy = Buffer.concat([prefix, raw]);
    if (isMarkedCrlfOnly(raw) && findBareLineEnd(prefix) === -1) markCrlfOnly(copy);
    const appendOpts: { flags?: string[]; internalDate?: Date } = {};
    if (opts.flags) appendOpts.flags = opts.flags;
    if (opts.internalDate) appendOpts.internalDate = opts.internalDate;
    const res = await store.mail.append(inbox.id, copy, appendOpts);
    return {
      ok: true,
      userId: r.user.id,
      address: r.user.address,
      recipient: r.recipient,
      tag: r.tag,
      mailboxId: inbox.id,
      uid: res.uid,
      emailId: res.emailId,
    };
  } catch (e) {
    if (isStoreError(e, 'TOO_BIG')) return { ok: false, code: 'TOO_BIG', message: 'Message too big for the mailbox' };
    if (isStoreError(e, 'OVER_QUOTA')) return { ok: false, code: 'OVER_QUOTA', message: 'Mailbox full' };
    if (isStoreError(e, 'NOT_FOUND')) return { ok: false, code: 'TEMPORARY', message: 'Mailbox unavailable' };
    if (isStoreError(e, 'TEMPORARY')) return { ok: false, code: 'TEMPORARY', message: 'Local delivery failed, try again later' };
    const rid = randomString(5, 'hex');
    (opts.logger ?? silentLogger).error({ rid, rcpt: recipient, err: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined }, 'local delivery failed');
    return { ok: false, code: 'TEMPORARY', message: `Local delivery failed, try again later [${rid}]` };
  }
}

/** True when the header section has a Delivered-To field naming `recipient` (case-insensitive). */
export function alreadyDeliveredTo(raw: Buffer, recipient: string): boolean {
  const header = headerSection(raw).toString('utf8').toLowerCase();
  const want = recipient.toLowerCase();
  for (const m of header.matchAll(/(?:^|\r\n)delivered-to:[ \t]*([^\r\n]*)/g)) {
    if (m[1]!.trim().replace(/^<|>$/g, '') === want) return true;
  }
  return false;
}

/** SMTP/LMTP reply code for a delivery failure (enhanced status codes come from the reply code). */
export function replyCodeFor(code: DeliverFailureCode): number {
  switch (code) {
    case 'UNKNOWN':
    case 'REMOTE':
      return 550;
    case 'INVALID':
      return 553;
    case 'LOOP':
      return 554;
    case 'TOO_BIG':
      return 552;
    case 'OVER_QUOTA':
      return 452;
    case 'TEMPORARY':
      return 451;
  }
}

/** RFC 3463 status for a delivery failure, as reported in bounces. */
export function enhancedStatusFor(code: DeliverFailureCode): string {
  switch (code) {
    case 'UNKNOWN':
      return '5.1.1';
    case 'REMOTE':
      return '5.1.2';
    case 'INVALID':
      return '5.1.3';
    case 'LOOP':
      return '5.4.6';
    case 'TOO_BIG':
      return '5.2.3';
    case 'OVER_QUOTA':
      return '4.2.2';
    case 'TEMPORARY':
      return '4.3.0';
  }
}

/** True when the failure is permanent (5xx). */
export function isPermanent(code: DeliverFailureCode): boolean {
  return replyCodeFor(code) >= 500;
}

/** Copies delivered at once for one message: concurrent appends share the store's group commit (one fsync). */
export const DELIVERY_CONCURRENCY = 8;

/**
 * Runs `fn` over `items` with at most `limit` running at a time; results keep the order of `items`.
 * `fn` must not throw (deliver() does not).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

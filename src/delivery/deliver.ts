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
 * went round a forwarding loop does), TOO_BIG / OVER_QUOTA (permanent: 552 5.2.3 / 552 5.2.2; over quota is
 * TEMPORARY with the reply 452 4.2.2 instead under quotaFullTemporary), TEMPORARY (store trouble: try again).
 * An unexpected error (anything but a StoreError code mapped here) is TEMPORARY too; it is logged with its
 * stack under a short random id, and the failure message ends with that id in brackets, so the 451 a
 * client sees leads to the log line (as IMAP's NO [SERVERBUG] does).
 *
 * One copy per user and transaction: groupRecipients() puts the recipients of one message that reach the
 * same user (plus-addresses, aliases, catch-all, repeated addresses) in one group, and deliverGroup() stores
 * one copy for the whole group (Delivered-To and Received "for" name its first recipient; the loop check
 * looks for every member). deliverEach() does both and gives every recipient its group's result.
 */
import type { Store } from '../store/handle.js';
import { isStoreError } from '../store/types.js';
import { AliasTable, resolveRecipient, type Resolution } from './resolve.js';
import { isMarkedCrlfOnly, markCrlfOnly } from '../mime/index.js';
import { prefixedIndex, rememberedIndex, rememberIndex, sharedIndex } from '../mime/shared.js';
import { findBareLineEnd, headerSection } from './message-check.js';
import { deliveredToHeader, returnPathHeader } from './trace.js';
import { prefixed } from './headroom.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import { randomString } from '../lib/random.js';
import { defaultDisposition, runAfter, runStages, type DeliveryStage, type Target, type Transport } from './pipeline.js';

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
  /** Per-user stages (spam filter, Sieve) that decide where the copy goes; none: INBOX (see pipeline.ts). */
  stages?: readonly DeliveryStage[];
  /** Where the message came from (told to the stages). Default 'lmtp'. */
  transport?: Transport;
  /** Message-level facts for the stages (see LocalMessage.facts). */
  facts?: Readonly<Record<string, unknown>>;
  /** Every recipient of the transaction that reaches this user (deliverGroup sets it). */
  members?: readonly string[];
  /**
   * Over quota is a temporary failure (TEMPORARY with the reply 452 4.2.2, so senders retry) instead of the
   * permanent OVER_QUOTA (552 5.2.2, Dovecot's default). Config key quota-full-temporary.
   */
  quotaFullTemporary?: boolean;
}

export type DeliverFailureCode = 'UNKNOWN' | 'REMOTE' | 'INVALID' | 'LOOP' | 'TOO_BIG' | 'OVER_QUOTA' | 'TEMPORARY' | 'REFUSED';

/** One stored copy. */
export interface StoredCopy {
  mailboxId: number;
  uid: number;
  emailId: string;
}

export type DeliverResult =
  | {
      ok: true;
      userId: number;
      address: string;
      recipient: string;
      tag: string | null;
      /** The first stored copy (0/0/'' when the pipeline discarded the message). */
      mailboxId: number;
      uid: number;
      emailId: string;
      /** Every stored copy (empty when discarded). */
      copies: StoredCopy[];
    }
  | { ok: false; code: DeliverFailureCode; message: string; reply?: { code: number; enhanced: string } };

/** The trace prefix deliver() puts in front of the message for one recipient. */
export function tracePrefix(recipient: string, opts: Pick<DeliverOptions, 'envelopeFrom' | 'received'>): Buffer {
  return Buffer.from(traceFields(recipient, opts), 'utf8');
}

/** tracePrefix as text. */
function traceFields(recipient: string, opts: Pick<DeliverOptions, 'envelopeFrom' | 'received'>): string {
  const received = typeof opts.received === 'function' ? opts.received(recipient) : (opts.received ?? '');
  return returnPathHeader(opts.envelopeFrom) + deliveredToHeader(recipient) + received;
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
    const log = opts.logger ?? silentLogger;
    const d = opts.stages?.length
      ? await runStages(opts.stages, {
          userId: r.user.id,
          address: r.user.address,
          recipient: r.recipient,
          members: opts.members ?? [r.recipient],
          tag: r.tag,
          envelopeFrom: opts.envelopeFrom,
          transport: opts.transport ?? 'lmtp',
          raw,
          facts: opts.facts ?? {},
        }, log)
      : defaultDisposition();
    if (d.refuse) return { ok: false, code: 'REFUSED', message: d.refuse.message, reply: { code: d.refuse.code, enhanced: d.refuse.enhanced } };
    const fields = traceFields(r.recipient, opts) + d.headers.join('');
    const body = d.message ?? raw;
    // The first copy of a received message is written into the room in front of it (headroom.ts).
    const copy = prefixed(fields, body);
    const prefix = copy.subarray(0, copy.length - body.length);
    if (isMarkedCrlfOnly(body) && findBareLineEnd(prefix) === -1) markCrlfOnly(copy);
    // A stage that parsed the message (the spam filter) spares the store parsing the copy again.
    const parsed = rememberedIndex(body);
    const index = parsed && prefixedIndex(parsed, body, prefix);
    if (index) rememberIndex(copy, index);
    else if (d.targets.length > 1) sharedIndex(copy); // one parse for the copies a stage files in several mailboxes
    const copies: StoredCopy[] = [];
    const done = new Set<number>();
    for (const t of d.targets) {
      const inbox = t.mailbox.toUpperCase() === 'INBOX' ? inboxIds(store.mail) : null;
      // A remembered INBOX id, or the id the stage that chose the mailbox knew (the spam stage's Junk).
      const known = inbox?.get(r.user.id) ?? t.mailboxId;
      let mailboxId = known ?? (await targetMailbox(store, r.user.id, t))?.id;
      if (mailboxId === undefined) return { ok: false, code: 'TEMPORARY', message: 'Mailbox unavailable' };
      if (done.has(mailboxId)) continue; // fileinto the same mailbox twice stores one copy (RFC 5228 4.1)
      done.add(mailboxId);
      const appendOpts: { flags?: string[]; internalDate?: Date } = {};
      const flags = t.flags ?? opts.flags;
      if (flags) appendOpts.flags = flags;
      if (opts.internalDate) appendOpts.internalDate = opts.internalDate;
      let res;
      try {
        res = await store.mail.append(mailboxId, copy, appendOpts);
      } catch (e) {
        // A remembered mailbox that is gone (an INBOX whose user was removed, a Junk deleted a moment ago):
        // look the mailbox up by name again, once.
        if (known === undefined || !isStoreError(e, 'NOT_FOUND')) throw e;
        inbox?.delete(r.user.id);
        mailboxId = (await targetMailbox(store, r.user.id, t))?.id;
        if (mailboxId === undefined) return { ok: false, code: 'TEMPORARY', message: 'Mailbox unavailable' };
        done.add(mailboxId);
        res = await store.mail.append(mailboxId, copy, appendOpts);
      }
      if (inbox && known !== mailboxId) rememberInbox(inbox, r.user.id, mailboxId);
      copies.push({ mailboxId, uid: res.uid, emailId: res.emailId });
    }
    if (d.after.length) void runAfter(d, log);
    const first = copies[0];
    return {
      ok: true,
      userId: r.user.id,
      address: r.user.address,
      recipient: r.recipient,
      tag: r.tag,
      mailboxId: first?.mailboxId ?? 0,
      uid: first?.uid ?? 0,
      emailId: first?.emailId ?? '',
      copies,
    };
  } catch (e) {
    if (isStoreError(e, 'TOO_BIG')) return { ok: false, code: 'TOO_BIG', message: 'Message too big for the mailbox' };
    if (isStoreError(e, 'OVER_QUOTA')) {
      if (opts.quotaFullTemporary) return { ok: false, code: 'TEMPORARY', message: 'Mailbox full, try again later', reply: { code: 452, enhanced: '4.2.2' } };
      return { ok: false, code: 'OVER_QUOTA', message: 'Mailbox full' };
    }
    if (isStoreError(e, 'NOT_FOUND')) return { ok: false, code: 'TEMPORARY', message: 'Mailbox unavailable' };
    if (isStoreError(e, 'TEMPORARY')) return { ok: false, code: 'TEMPORARY', message: 'Local delivery failed, try again later' };
    const rid = randomString(5, 'hex');
    (opts.logger ?? silentLogger).error({ rid, rcpt: recipient, err: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined }, 'local delivery failed');
    return { ok: false, code: 'TEMPORARY', message: `Local delivery failed, try again later [${rid}]` };
  }
}

/**
 * INBOX ids by user, per mail store. A user's INBOX is never deleted, and RENAME INBOX moves its messages
 * to a new mailbox while INBOX itself stays (RFC 9051 6.3.6), so its id holds for as long as the user
 * exists; delivery then skips looking it up for every message. An append that finds the remembered mailbox
 * gone looks it up again (deliver()).
 */
const inboxes = new WeakMap<object, Map<number, number>>();
/** Users whose INBOX id is remembered per store (the map is cleared when it grows past this). */
const INBOX_IDS_MAX = 10_000;

function inboxIds(mail: object): Map<number, number> {
  let m = inboxes.get(mail);
  if (!m) inboxes.set(mail, (m = new Map()));
  return m;
}

function rememberInbox(m: Map<number, number>, userId: number, mailboxId: number): void {
  if (m.size >= INBOX_IDS_MAX) m.clear();
  m.set(userId, mailboxId);
}

/** The mailbox a target names: created when asked and missing; a missing one falls back to INBOX. */
async function targetMailbox(store: Pick<Store, 'mail'>, userId: number, t: Target) {
  const found = await store.mail.getMailbox(userId, t.mailbox);
  if (found || t.mailbox.toUpperCase() === 'INBOX') return found;
  if (t.create) {
    try {
      return await store.mail.createMailbox(userId, t.mailbox);
    } catch (e) {
      if (isStoreError(e, 'EXISTS')) return store.mail.getMailbox(userId, t.mailbox);
      if (!isStoreError(e, 'INVALID')) throw e;
    }
  }
  return store.mail.getMailbox(userId, 'INBOX');
}

/** A recipient of one transaction, with its RCPT-time resolution when there is one. */
export interface RecipientEntry {
  address: string;
  resolution?: Resolution;
}

/** Recipients of one message that get one stored copy: all reach `resolution`'s user, or a lone non-local one. */
export interface DeliveryGroup {
  /** The recipients as given, in transaction order; the first names the copy. */
  members: string[];
  resolution: Resolution;
}

/**
 * Resolves `entries` (reusing RCPT-time resolutions; the rest against one alias snapshot) and groups them
 * by the local user they reach. `groupOf[i]` is the index in `groups` of entry i. Store errors propagate.
 */
export async function groupRecipients(
  directory: Store['directory'],
  entries: readonly RecipientEntry[],
  aliases?: AliasTable,
): Promise<{ groups: DeliveryGroup[]; groupOf: number[] }> {
  const groups: DeliveryGroup[] = [];
  const groupOf: number[] = [];
  const byUser = new Map<number, number>();
  let table = aliases;
  for (const e of entries) {
    let r = e.resolution;
    if (!r) {
      table ??= await AliasTable.load(directory);
      r = await resolveRecipient(directory, e.address, table);
    }
    const at = r.kind === 'local' ? byUser.get(r.user.id) : undefined;
    if (at !== undefined) {
      groups[at]!.members.push(e.address);
      groupOf.push(at);
      continue;
    }
    if (r.kind === 'local') byUser.set(r.user.id, groups.length);
    groupOf.push(groups.length);
    groups.push({ members: [e.address], resolution: r });
  }
  return { groups, groupOf };
}

/** The LOOP failure when the message already carries Delivered-To for one of the group's recipients, else null. */
export function groupLoop(raw: Buffer, group: DeliveryGroup): Extract<DeliverResult, { ok: false }> | null {
  const hit = group.members.find((m) => alreadyDeliveredTo(raw, m));
  return hit === undefined ? null : { ok: false, code: 'LOOP', message: `Mail loop: already delivered to ${hit.toLowerCase()}` };
}

/** Stores one copy for a group (see deliver()); the loop check covers every member. */
export async function deliverGroup(store: Pick<Store, 'directory' | 'mail'>, group: DeliveryGroup, raw: Buffer, opts: DeliverOptions): Promise<DeliverResult> {
  return groupLoop(raw, group) ?? deliver(store, group.members[0]!, raw, { ...opts, resolution: group.resolution, members: group.members });
}

/**
 * Delivers one message to `entries`, one copy per user, `DELIVERY_CONCURRENCY` copies at a time; returns one
 * result per entry (recipients of the same user share their group's result).
 */
export async function deliverEach(
  store: Pick<Store, 'directory' | 'mail'>,
  entries: readonly RecipientEntry[],
  raw: Buffer,
  opts: DeliverOptions,
): Promise<DeliverResult[]> {
  const { groups, groupOf } = await groupRecipients(store.directory, entries, opts.aliases);
  // Several users get a copy: the message is parsed once here, and each copy's index is this one moved by
  // its trace fields (prefixedIndex in deliver) instead of the store parsing every copy again.
  if (groups.filter((g) => g.resolution.kind === 'local').length > 1) sharedIndex(raw);
  const results = await mapLimit(groups, DELIVERY_CONCURRENCY, (g) => deliverGroup(store, g, raw, opts));
  return groupOf.map((i) => results[i]!);
}

const DELIVERED_TO = /(?:^|\r\n)delivered-to:/i;

/** True when the header section has a Delivered-To field naming `recipient` (case-insensitive). */
export function alreadyDeliveredTo(raw: Buffer, recipient: string): boolean {
  const section = headerSection(raw);
  // Most messages have no Delivered-To at all: a look at the bytes spares decoding and lower-casing the header.
  if (!DELIVERED_TO.test(section.toString('latin1'))) return false;
  const header = section.toString('utf8').toLowerCase();
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
    case 'OVER_QUOTA':
      return 552;
    case 'TEMPORARY':
      return 451;
    case 'REFUSED':
      return 550;
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
      return '5.2.2';
    case 'TEMPORARY':
      return '4.3.0';
    case 'REFUSED':
      return '5.7.1';
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

/**
 * Per-message sort and thread keys (RFC 5256 sections 2 and 3, RFC 5957), computed once by `sortKeysFor`
 * from a compact description of a message. A `SortKeys` is plain JSON-safe data that a store may cache next
 * to the message (bump SORT_KEYS_VERSION when what it holds changes); sorting and threading read nothing else.
 *
 * Key rules:
 * - arrival: the internal date; sent: the Date header in UTC (RFC 5256 section 2.2), the internal date when
 *   the header is missing or unparseable;
 * - from / to / cc: the IMAP addr-mailbox of the first address of the field (RFC 5256 section 3); for a list
 *   that starts with a group that is the group name, as IMAP reports it in ENVELOPE; "" when there is none;
 * - displayFrom / displayTo (RFC 5957): the first address's display name, RFC 2047-decoded; when it has none
 *   (or it decodes to ""), `mailbox@host` (just the mailbox when there is no host, so the group name for a
 *   group); "" when there is no address;
 * - subject: the base subject (RFC 5256 section 2.1);
 * - all string keys are i;unicode-casemap keys (see casemap.ts): compare them by code point, never show them;
 * - messageId / parents: the normalized msg-ids used by REFERENCES threading: parents are the References ids
 *   or, when References has none, the first In-Reply-To id (RFC 5256 section 4).
 * An internal date that is not a finite number counts as 0. Never throws.
 */
import { decodeMimeWords } from '../mime/decode.js';
import type { EnvelopeAddress } from '../mime/types.js';
import { casemap } from './casemap.js';
import { parseMessageDate } from './date.js';
import { firstMessageId, parseMessageIds } from './msgid.js';
import { baseSubject } from './subject.js';

/** Version of the SortKeys layout and rules; a cache of keys with another version must be rebuilt. */
export const SORT_KEYS_VERSION = 1;

/** One address as ENVELOPE reports it; `adl` is not needed here. */
export type SortAddress = Pick<EnvelopeAddress, 'name' | 'mailbox' | 'host'>;

/**
 * What sortKeysFor needs to know about a message: the store's uid, internal date and size, and the raw
 * (unfolded, not RFC 2047-decoded) header values as the MIME layer's Envelope holds them, plus References.
 * An `Envelope` spread into this (`{ uid, internalDate, size, references, ...envelope }`) fits.
 */
export interface SortInput {
  uid: number;
  /** Internal date: milliseconds since the epoch, or a Date. */
  internalDate: number | Date;
  /** Size in octets (RFC822.SIZE). */
  size: number;
  date: string | null;
  subject: string | null;
  from: readonly SortAddress[] | null;
  to: readonly SortAddress[] | null;
  cc: readonly SortAddress[] | null;
  messageId: string | null;
  inReplyTo: string | null;
  /** The References header value, or null when absent. */
  references: string | null;
}

/** The precomputed keys of one message. */
export interface SortKeys {
  uid: number;
  /** Internal date, ms since the epoch. */
  arrival: number;
  /** Sent date (Date header in UTC, else the internal date), ms since the epoch. */
  sent: number;
  size: number;
  /** Casemapped base subject. */
  subject: string;
  /** Casemapped addr-mailbox of the first From / To / Cc address. */
  from: string;
  to: string;
  cc: string;
  /** Casemapped RFC 5957 display name of the first From / To address. */
  displayFrom: string;
  displayTo: string;
  /** True when base subject extraction removed a Re:/Fwd: leader, "(fwd)" trailer or "[fwd: ]" wrapper. */
  replyOrForward: boolean;
  /** Normalized Message-ID (no brackets), or null when the header has no valid msg-id. */
  messageId: string | null;
  /** Normalized ids of the ancestors, oldest first (References, else the first In-Reply-To id). */
  parents: string[];
}

function firstAddress(list: readonly SortAddress[] | null): SortAddress | null {
  return list?.[0] ?? null;
}

function mailboxKey(list: readonly SortAddress[] | null): string {
  return casemap(firstAddress(list)?.mailbox ?? '');
}

function displayKey(list: readonly SortAddress[] | null): string {
  const a = firstAddress(list);
  if (!a) return '';
  const name = a.name ? decodeMimeWords(a.name) : '';
  if (name) return casemap(name);
  const mailbox = a.mailbox ?? '';
  return casemap(a.host ? `${mailbox}@${a.host}` : mailbox);
}

/** What of a message's keys depends only on its bytes; a store may persist it per message content. */
export type ContentKeys = Omit<SortKeys, 'uid' | 'arrival' | 'size' | 'sent'> & {
  /** The Date header in UTC, or null when it is missing or unparseable (the internal date stands in). */
  sent: number | null;
};

/** The keys of one message that come from its header fields alone (see ContentKeys). */
export function contentKeysFor(m: Omit<SortInput, 'uid' | 'internalDate' | 'size'>): ContentKeys {
  const base = baseSubject(m.subject);
  const parents = parseMessageIds(m.references);
  if (parents.length === 0) {
    const irt = firstMessageId(m.inReplyTo);
    if (irt !== null) parents.push(irt);
  }
  return {
    sent: parseMessageDate(m.date),
    subject: casemap(base.subject),
    from: mailboxKey(m.from),
    to: mailboxKey(m.to),
    cc: mailboxKey(m.cc),
    displayFrom: displayKey(m.from),
    displayTo: displayKey(m.to),
    replyOrForward: base.replyOrForward,
    messageId: firstMessageId(m.messageId),
    parents,
  };
}

/** The arrival key of an internal date (0 when it is not a finite number). */
export function arrivalOf(internalDate: number | Date): number {
  const t = typeof internalDate === 'number' ? internalDate : internalDate.getTime();
  return Number.isFinite(t) ? t : 0;
}

/** A message's full keys from its content keys and what its store row says (uid, internal date, size). */
export function keysWithRow(c: ContentKeys, uid: number, internalDate: number | Date, size: number): SortKeys {
  const arrival = arrivalOf(internalDate);
  return { ...c, uid, arrival, sent: c.sent ?? arrival, size };
}

/** Computes every sort and thread key of one message. */
export function sortKeysFor(m: SortInput): SortKeys {
  return keysWithRow(contentKeysFor(m), m.uid, m.internalDate, m.size);
}

/**
 * Row shapes of the SQLite schema (schema.ts) and their conversion to the store's value types, plus the
 * small helpers every part of the SQLite store shares: uid-list cleaning and padding for the prepared
 * `IN (...)` statements (chunking and address normalization are in ../helpers.ts), and the mapping of SQLite and file-system errors to
 * StoreError TEMPORARY. Pure functions; nothing here touches the database.
 */
import Database from 'better-sqlite3';
import type { Mailbox, MessageMeta, OutboundMessage, SpecialUse, User } from '../types.js';
import { StoreError } from '../types.js';
import { flagList } from '../flags.js';

/** Up to this many uids are read with point lookups instead of an IN list. */
export const FEW_UIDS = 8;
/** Rows per query of the uid-range read paths (readMessages). */
export const RANGE_BATCH = 512;
/** UIDs per `IN (...)` query: statements are prepared once for this many parameters (padded). */
export const CHUNK = 256;
export const IN_LIST = Array.from({ length: CHUNK }, () => '?').join(',');
export const MSG_COLS = 'uid, email_id, thread_id, flags, keywords, internal_date, size, modseq';
/** MSG_COLS and the save date: what reads of message metadata select. */
export const READ_COLS = `${MSG_COLS}, saved_date`;
export const ENVELOPE_OF_MIME = "json_extract(d.mime, '$.envelope')";

export interface UserRow {
  id: number;
  address: string;
  password_hash: string;
  created_at: number;
  admin?: number;
}

export interface MailboxRow {
  id: number;
  user_id: number;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  first_recent: number;
  special_use: string | null;
  object_id: string;
  subscribed?: number;
}

export interface MsgRow {
  uid: number;
  email_id: string;
  thread_id: string;
  flags: number;
  keywords: string;
  internal_date: number;
  size: number;
  modseq: number;
  /** RFC 8514 save date; null for rows written before it was kept, absent when not selected. */
  saved_date?: number | null;
}

export interface FullMsgRow extends MsgRow {
  blob_id: string;
  retrieved_at: number | null;
}

export interface OutboundRow {
  id: string;
  sender: string;
  recipients: string;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  last_error: string | null;
  size: number;
  blob_id: string;
}

export function toUser(r: UserRow): User {
  return { id: r.id, address: r.address, passwordHash: r.password_hash, createdAt: new Date(r.created_at), admin: r.admin === 1 };
}

export function toMailbox(r: MailboxRow, subscribed: boolean): Mailbox {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    specialUse: (r.special_use as SpecialUse | null) ?? null,
    subscribed,
    mailboxObjectId: r.object_id,
  };
}

export function splitKeywords(s: string): string[] {
  return s.length === 0 ? [] : s.split(' ');
}

export function toMeta(r: MsgRow): MessageMeta {
  return metaOf(r.uid, r.email_id, r.thread_id, flagList(r.flags, splitKeywords(r.keywords)), r.internal_date, r.size, r.modseq, r.saved_date);
}

/**
 * A MessageMeta, its savedDate (when there is one) written in the object literal: added afterwards, it went
 * to a separate property array (V8 gives an object in-object fields for its literal only), and a frozen
 * meta of the list cache took 333-365 bytes of heap instead of 322. Most of the rest are its two Dates
 * (~115 bytes each).
 */
function metaOf(uid: number, emailId: string, threadId: string, flags: string[], internalDate: number, size: number, modseq: number, saved: number | null | undefined): MessageMeta {
  if (saved == null) return { uid, emailId, threadId, flags, internalDate: new Date(internalDate), size, modseq };
  return { uid, emailId, threadId, flags, internalDate: new Date(internalDate), size, modseq, savedDate: new Date(saved) };
}

/** A row of MSG_COLS in raw (array) mode: skips building an intermediate object per row. */
export type RawMsgRow = [number, string, string, number, string, number, number, number, (number | null)?];

/** MessageMeta of a row whose first eight columns are MSG_COLS (then saved_date, when READ_COLS). */
export function rawToMeta(r: RawMsgRow): MessageMeta {
  return metaWithFlags(r, flagList(r[3], splitKeywords(r[4])));
}

function metaWithFlags(r: RawMsgRow, flags: string[]): MessageMeta {
  return metaOf(r[0], r[1], r[2], flags, r[5], r[6], r[7], r[8]);
}

/**
 * Frozen flag lists of shared metas by flags mask and keywords: most messages of a mailbox carry one of a
 * few flag combinations, which then share one list instead of one (frozen) array per message. Bounded: a
 * table grown to SHARED_FLAG_LISTS entries (mailboxes full of distinct keywords) starts over.
 */
const SHARED_FLAG_LISTS = 4096;
const sharedFlagLists = new Map<number | string, string[]>();

function sharedFlagList(mask: number, keywords: string): string[] {
  const key = keywords.length === 0 ? mask : `${mask} ${keywords}`;
  let list = sharedFlagLists.get(key);
  if (list === undefined) {
    if (sharedFlagLists.size >= SHARED_FLAG_LISTS) sharedFlagLists.clear();
    list = Object.freeze(flagList(mask, splitKeywords(keywords))) as string[];
    sharedFlagLists.set(key, list);
  }
  return list;
}

/**
 * rawToMeta for the list cache (caches.ts): the object and its flag list are frozen, so one object can be
 * handed to every session that lists the mailbox while the row is unchanged (a view keeps it for as long as
 * it is selected); the flag list may be shared with other messages of the same flags. Its
 * internalDate/savedDate must not be changed either (Dates cannot be frozen).
 */
export function sharedMeta(r: RawMsgRow): MessageMeta {
  return Object.freeze(metaWithFlags(r, sharedFlagList(r[3], r[4])));
}

export function toOutbound(r: OutboundRow): OutboundMessage {
  return {
    id: r.id,
    sender: r.sender,
    recipients: JSON.parse(r.recipients) as string[],
    attempts: r.attempts,
    createdAt: new Date(r.created_at),
    nextAttemptAt: new Date(r.next_attempt_at),
    lastError: r.last_error,
    size: r.size,
  };
}

/** Sorted, deduplicated positive integer UIDs (a new array). */
export function cleanUids(uids: readonly number[]): number[] {
  // The usual input (a view's resolved set) is already strictly ascending: one pass, no set, no sort.
  let clean = true;
  let prev = 0;
  for (let i = 0; i < uids.length; i++) {
    const u = uids[i]!;
    if (!(u > prev) || !Number.isSafeInteger(u)) {
      clean = false;
      break;
    }
    prev = u;
  }
  if (clean) return uids.slice();
  const out = Array.from(new Set(uids.filter((u) => Number.isSafeInteger(u) && u > 0)));
  out.sort((a, b) => a - b);
  return out;
}

export function padChunk(c: readonly number[]): number[] {
  const out = c.slice();
  while (out.length < CHUNK) out.push(-1);
  return out;
}

export function mapError(e: unknown): unknown {
  if (e instanceof StoreError) return e;
  if (e instanceof Database.SqliteError) {
    const code = e.code;
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_FULL') {
      return new StoreError('TEMPORARY', `database temporarily unavailable (${code})`, { cause: e });
    }
  }
  const errno = (e as NodeJS.ErrnoException | null)?.code;
  if (errno === 'ENOSPC' || errno === 'EIO' || errno === 'EMFILE' || errno === 'ENFILE' || errno === 'EDQUOT') {
    return new StoreError('TEMPORARY', `storage temporarily unavailable (${errno})`, { cause: e });
  }
  return e;
}

/**
 * The checks every store makes on the messages of append and appendMany before anything is written (no
 * parsing, no I/O), so both backends refuse the same input with the same codes and a batch is refused
 * whole before its first blob exists.
 */
import { MAX_MESSAGE_SIZE } from '../lib/limits.js';
import { parseFlags, type ParsedFlags } from './flags.js';
import { checkInternalDate } from './helpers.js';
import { isObjectId } from './ids.js';
import { StoreError, type AppendItem, type AppendOptions } from './types.js';

/**
 * Most messages in one appendMany. The batch is one transaction: the SQLite write lock or the PostgreSQL
 * mailbox row lock is held while all of its rows are written, and every message is parsed and kept in
 * memory until the commit. IMAP bounds a MULTIAPPEND's bytes by APPENDLIMIT; this bounds its count.
 */
export const MAX_APPEND_BATCH = 10_000;

/** One message that passed the checks: what a backend writes besides the parsed message. */
export interface CheckedAppend {
  raw: Buffer;
  flags: ParsedFlags;
  internalDate: Date;
  /** The EMAILID to keep (AppendOptions.emailId), already checked for syntax. */
  emailId: string | undefined;
}

/**
 * Checks one message: a Buffer (INVALID), at most MAX_MESSAGE_SIZE octets (TOO_BIG), valid flags,
 * internal date and kept EMAILID (INVALID). The size is checked again after line endings are normalized.
 */
export function checkAppend(raw: Buffer, opts: AppendOptions | undefined): CheckedAppend {
  if (!Buffer.isBuffer(raw)) throw new StoreError('INVALID', 'message must be a Buffer');
  if (raw.length > MAX_MESSAGE_SIZE) throw new StoreError('TOO_BIG', `message exceeds ${MAX_MESSAGE_SIZE} octets`);
  const flags = parseFlags(opts?.flags ?? []);
  const internalDate = checkInternalDate(opts?.internalDate);
  const emailId: unknown = opts?.emailId;
  if (emailId !== undefined && (typeof emailId !== 'string' || !isObjectId(emailId))) throw new StoreError('INVALID', 'invalid EMAILID');
  return { raw, flags, internalDate, emailId };
}

/** Checks every message of an appendMany (see checkAppend); INVALID for an empty or oversized batch or REPLACE. */
export function checkAppendBatch(items: readonly AppendItem[]): CheckedAppend[] {
  if (!Array.isArray(items) || items.length === 0) throw new StoreError('INVALID', 'no messages to append');
  if (items.length > MAX_APPEND_BATCH) throw new StoreError('INVALID', `more than ${MAX_APPEND_BATCH} messages in one append`);
  return items.map((item) => {
    if (item?.opts?.replaces !== undefined) throw new StoreError('INVALID', 'REPLACE appends one message');
    return checkAppend(item?.raw, item?.opts);
  });
}

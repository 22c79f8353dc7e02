/**
 * Mailbox name rules shared by every store implementation.
 *
 * Stored names are '/'-delimited UTF-8. The first level "INBOX" is case-insensitive and always stored as
 * "INBOX" (RFC 9051 section 5.1; "inbox/x" is stored as "INBOX/x", as Dovecot does).
 */
import { StoreError } from './types.js';

/** Longest stored mailbox name in UTF-8 octets (Dovecot caps names near this size too). */
export const MAX_MAILBOX_NAME_OCTETS = 1024;
/** Deepest hierarchy accepted. */
export const MAX_MAILBOX_DEPTH = 64;

/**
 * Validates and normalises a mailbox name. Throws StoreError INVALID for: an empty name, an empty hierarchy
 * level ("a//b", "/a", "a/"), control characters, the LIST wildcards '*' and '%', ill-formed UTF-16
 * (lone surrogates), or a name longer than the limits above.
 */
export function normalizeMailboxName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new StoreError('INVALID', 'empty mailbox name');
  if (Buffer.byteLength(name, 'utf8') > MAX_MAILBOX_NAME_OCTETS) throw new StoreError('INVALID', 'mailbox name too long');
  if (Buffer.from(name, 'utf8').toString('utf8') !== name) throw new StoreError('INVALID', 'mailbox name is not valid UTF-8');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f*%]/.test(name)) throw new StoreError('INVALID', 'mailbox name contains a forbidden character');
  const levels = name.split('/');
  if (levels.length > MAX_MAILBOX_DEPTH) throw new StoreError('INVALID', 'mailbox hierarchy too deep');
  if (levels.some((l) => l.length === 0)) throw new StoreError('INVALID', 'empty hierarchy level in mailbox name');
  if (levels[0]!.toUpperCase() === 'INBOX') levels[0] = 'INBOX';
  return levels.join('/');
}

/** normalizeMailboxName's result, or null for a name it rejects (for lookups, where such a name finds nothing). */
export function mailboxNameOrNull(name: string): string | null {
  try {
    return normalizeMailboxName(name);
  } catch {
    return null;
  }
}

/**
 * The half-open range [lo, hi) that holds exactly the names strictly below `parent` ("parent/..."), for
 * stores that order names by their UTF-8 octets (SQLite's BINARY collation): '0' is the octet after '/'.
 * A range counts no characters, so it is exact for names outside the Basic Multilingual Plane, where a
 * JavaScript string length (UTF-16 code units) and SQL character counts disagree.
 */
export function childNameRange(parent: string): [string, string] {
  return [parent + '/', parent + '0'];
}

/** True when `name` is INBOX itself (after normalisation). */
export function isInbox(name: string): boolean {
  return name === 'INBOX';
}

/** Normalises a name for a subscription (same rules as mailbox names). */
export const normalizeSubscriptionName = normalizeMailboxName;

/**
 * Normalises both names of a rename and checks the pair: EXISTS when the target is INBOX or the source
 * itself, INVALID when the target lies in the source's own hierarchy (except from INBOX, whose messages
 * move to the new mailbox, so "INBOX/old" is a fine target; RFC 9051 section 6.3.6). Also throws what
 * normalizeMailboxName throws.
 */
export function renameNames(from: string, to: string): { from: string; to: string } {
  const f = normalizeMailboxName(from);
  const t = normalizeMailboxName(to);
  if (t === 'INBOX') throw new StoreError('EXISTS', 'INBOX always exists');
  if (t === f) throw new StoreError('EXISTS', 'mailbox exists');
  if (f !== 'INBOX' && t.startsWith(f + '/')) throw new StoreError('INVALID', 'cannot rename a mailbox into its own hierarchy');
  return { from: f, to: t };
}

/**
 * Access control lists of mailboxes (RFC 4314) and what sharing needs besides: per-user \Seen in mailboxes
 * read by someone other than their owner, the mailboxes a user may see of others, and the internal owner of
 * public folders. Protocol-neutral: identifiers are stored lower-cased ("anyone", "authenticated" or a user
 * address; a user that does not exist may be named, as Dovecot allows); rights are stored canonical (the
 * RFC 4314 letters this server knows, each once, in RIGHT_ORDER). The owner of a mailbox always has every
 * right and needs no entry. Failures are StoreError values.
 *
 * \Seen in a shared mailbox: the owner's \Seen is the message's flag (MailStore); every other user's lives
 * here, per (mailbox, user, uid), and the protocol layer merges it when that user reads flags. Other flags
 * are shared by everyone. Rows of deleted mailboxes or messages are harmless (ids are never reused) and
 * are never returned by sharedWith.
 */
import type { Mailbox } from './types.js';
import { addressKey, asciiLower } from '../lib/ascii.js';

/** The RFC 4314 rights this server implements, in the order they are written out (Dovecot's order). */
export const RIGHT_ORDER = 'lrwstipekxa';

/** Identifiers with a meaning of their own; `anyone` is any authenticated user here (never anonymous). */
export const ANYONE = 'anyone';
export const AUTHENTICATED = 'authenticated';

/** Address of the internal user that owns public folders; no password can match its hash. */
export const PUBLIC_OWNER = '#public';

/** True for the store's internal owners (PUBLIC_OWNER): not people, never listed as users, never log in. */
export function isInternalOwner(address: string): boolean {
  return address.startsWith('#');
}

export interface AclEntry {
  identifier: string;
  /** Canonical rights (see canonicalRights); never empty. */
  rights: string;
}

/** A mailbox of another owner with the entries that name the asking user (directly, anyone, authenticated). */
export interface SharedMailbox {
  mailbox: Mailbox;
  ownerId: number;
  ownerAddress: string;
  entries: AclEntry[];
}

export interface AclStore {
  /** The mailbox's entries, by identifier. Throws NOT_FOUND when the mailbox does not exist. */
  list(mailboxId: number): Promise<AclEntry[]>;
  /**
   * Sets the rights of one identifier (canonicalized first); empty rights remove the entry. Throws
   * NOT_FOUND (mailbox), INVALID (empty identifier, a letter this server does not know).
   */
  set(mailboxId: number, identifier: string, rights: string): Promise<void>;
  /** Removes the identifier's entry; false when there was none. Throws NOT_FOUND (mailbox). */
  remove(mailboxId: number, identifier: string): Promise<boolean>;
  /**
   * Mailboxes not owned by `userId` with an entry for any of `identifiers` (lower-cased), each once, by
   * owner address then mailbox name, with the matching entries.
   */
  sharedWith(userId: number, identifiers: readonly string[]): Promise<SharedMailbox[]>;
  /** The uids of `mailboxId` that `userId` has marked \Seen privately, ascending. */
  seenUids(mailboxId: number, userId: number): Promise<number[]>;
  /** Marks (seen true) or unmarks the uids \Seen for `userId` only. */
  setSeen(mailboxId: number, userId: number, uids: readonly number[], seen: boolean): Promise<void>;
  /** The id of the internal owner of public folders (PUBLIC_OWNER), created on first use. */
  publicOwner(): Promise<number>;
}

/** Letters RFC 4314 2.1.1 keeps as obsolete names: "c" grants k and x, "d" grants e and t (as Dovecot reads them). */
const OBSOLETE: Readonly<Record<string, string>> = { c: 'kx', d: 'et' };

/**
 * The canonical form of a rights string: known letters each once in RIGHT_ORDER, "c" and "d" expanded.
 * Returns null when a letter is unknown (RFC 4314 SETACL: BAD).
 */
export function canonicalRights(text: string): string | null {
  const have = new Set<string>();
  for (const ch of text) {
    const expanded = OBSOLETE[ch];
    if (expanded) for (const e of expanded) have.add(e);
    else if (RIGHT_ORDER.includes(ch)) have.add(ch);
    else return null;
  }
  return [...RIGHT_ORDER].filter((r) => have.has(r)).join('');
}

/** Rights as written on the wire (MYRIGHTS, ACL): canonical letters, then "c" and "d" when implied (RFC 4314 2.1.1). */
export function wireRights(rights: string): string {
  let out = rights;
  if (/[kx]/.test(rights)) out += 'c';
  if (/[et]/.test(rights)) out += 'd';
  return out;
}

/**
 * The rights `address` holds from `entries`: its own entry when there is one (it overrides the general ones,
 * as Dovecot applies user entries after anyone/authenticated), else the union of "anyone" and
 * "authenticated". Canonical.
 */
export function effectiveRights(entries: readonly AclEntry[], address: string): string {
  const own = entries.find((e) => e.identifier === asciiLower(address));
  if (own) return own.rights;
  const general = entries.filter((e) => e.identifier === ANYONE || e.identifier === AUTHENTICATED).map((e) => e.rights);
  return canonicalRights(general.join('')) ?? '';
}

/** Lower-cases an identifier's ASCII letters (as addresses are keyed) and checks it; throws nothing, returns null when unusable. */
export function normalizeIdentifier(identifier: string): string | null {
  const id = addressKey(identifier);
  if (!id || id.length > 320 || /[\s\x00-\x1f"\\]/.test(id)) return null;
  return id;
}

/**
 * Accounts shared with a user (RFC 8620 2, RFC 8621 1.6): every owner of a mailbox on which the user holds
 * the "l" right through an ACL (store/acl.ts: entries naming the user, "anyone" or "authenticated"; the
 * same rules as the IMAP "shared/" and "Public/" namespaces) is an account of the session with
 * isPersonal false. The account is the owner's mail limited by the user's rights: it lists the mailboxes
 * with "l", reads messages of those with "r", and every change is checked against the rights of the
 * mailboxes it touches (checkRights). Only the mail capability is offered on it.
 */
import type { Store } from '../store/handle.js';
import type { User } from '../store/types.js';
import { ANYONE, AUTHENTICATED, PUBLIC_OWNER, effectiveRights } from '../store/acl.js';
import { setError } from './errors.js';
import type { Account } from './account.js';

export interface SharedOwner {
  ownerId: number;
  /** The owner's address; PUBLIC_OWNER for public folders. */
  address: string;
  /** The user's rights per mailbox id (only mailboxes with "l"). */
  rights: Map<number, string>;
}

/** The owners that share mailboxes the user may see, by owner id. */
export async function sharedOwners(store: Store, user: User): Promise<Map<number, SharedOwner>> {
  const out = new Map<number, SharedOwner>();
  for (const s of await store.acl.sharedWith(user.id, [user.address.toLowerCase(), ANYONE, AUTHENTICATED])) {
    const r = effectiveRights(s.entries, user.address);
    if (!r.includes('l')) continue;
    let o = out.get(s.ownerId);
    if (!o) out.set(s.ownerId, (o = { ownerId: s.ownerId, address: s.ownerAddress, rights: new Map() }));
    o.rights.set(s.mailbox.id, r);
  }
  return out;
}

/** The Account object of the session (RFC 8620 2) for a shared owner, given the mail account capability. */
export function sharedAccountObject(o: SharedOwner, mailCapability: Record<string, unknown>, mailCap: string): Record<string, unknown> {
  const writable = [...o.rights.values()].some((r) => /[iwstekx]/.test(r));
  return {
    name: o.address === PUBLIC_OWNER ? 'Public folders' : o.address,
    isPersonal: false,
    isReadOnly: !writable,
    // A top-level mailbox of another owner needs a parent to hold the "k" right: there is none.
    accountCapabilities: { [mailCap]: { ...mailCapability, mayCreateTopLevelMailbox: false } },
  };
}

/** RFC 8621 2 myRights from RFC 4314 rights (as RFC 8621 2 maps them). */
export function myRightsOf(rights: string, isInbox: boolean, own: boolean): Record<string, boolean> {
  const has = (l: string) => rights.includes(l);
  return {
    mayReadItems: has('r'),
    mayAddItems: has('i'),
    mayRemoveItems: has('t') && has('e'),
    maySetSeen: has('s'),
    maySetKeywords: has('w'),
    mayCreateChild: has('k'),
    mayRename: has('x') && !(own && isInbox),
    mayDelete: has('x') && !(own && isInbox),
    maySubmit: own,
  };
}

/**
 * Throws a SetError "forbidden" unless the viewer holds every letter of `needed` on mailbox `boxId` of
 * `account` (always true in the viewer's own account).
 */
export function checkRights(account: Account, boxId: number, needed: string, what: string): void {
  const have = account.rightsOf(boxId);
  const missing = [...needed].filter((l) => !have.includes(l));
  if (missing.length) throw setError('forbidden', `${what} needs the ${missing.join('')} right${missing.length > 1 ? 's' : ''} on this mailbox`);
}

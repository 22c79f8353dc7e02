/**
 * Mailbox names as the client sees them -> store mailboxes, with the caller's rights (RFC 2342 namespaces,
 * RFC 4314 access control). Three namespaces, laid out as in Dovecot's usual shared setup:
 *
 * - personal, prefix "": the user's own mailboxes; the owner holds every right;
 * - other users, prefix "shared/": "shared/<owner address>/<owner's mailbox name>", e.g.
 *   "shared/bob@example.org/INBOX" (Dovecot's `prefix = shared/%%u/`);
 * - public, prefix "Public/": the mailboxes of the internal public owner (store/acl.ts PUBLIC_OWNER),
 *   e.g. "Public/Announcements".
 *
 * "shared", "shared/<owner>" and "Public" are namespace roots, never mailboxes. Every command that names a
 * mailbox goes through resolveMailbox with the rights it needs; a caller without the "l" right who lacks
 * a needed right learns nothing: the answer is NO [NONEXISTENT] as for a mailbox that does not exist,
 * else NO [NOPERM] (RFC 4314 section 4, as Dovecot answers). `anyone` and `authenticated` entries apply
 * to every logged-in user; there are no anonymous sessions.
 */
import type { Mailbox, MailboxStatus, User } from '../store/types.js';
import { ANYONE, AUTHENTICATED, effectiveRights, PUBLIC_OWNER, RIGHT_ORDER } from '../store/acl.js';
import { mailboxNameOrNull } from '../store/names.js';
import { no } from './errors.js';
import { currentUser, type CommandContext } from './session.js';
import type { PrivateSeen } from './view.js';

export const SHARED_PREFIX = 'shared/';
export const PUBLIC_PREFIX = 'Public/';

/** RFC 2342 NAMESPACE response: personal, other users, shared (public), each with the "/" delimiter. */
export function namespaceResponse(sharing: boolean): string {
  if (!sharing) return '* NAMESPACE (("" "/")) NIL NIL\r\n';
  return `* NAMESPACE (("" "/")) (("${SHARED_PREFIX}" "/")) (("${PUBLIC_PREFIX}" "/"))\r\n`;
}

export type Location =
  | { ns: 'personal'; name: string }
  | { ns: 'shared'; owner: string; name: string }
  | { ns: 'public'; name: string }
  | { ns: 'root' };

/** Where a decoded client name points (no store access). */
export function locate(name: string): Location {
  if (name === 'shared' || name === 'Public') return { ns: 'root' };
  if (name.startsWith(SHARED_PREFIX)) {
    const rest = name.slice(SHARED_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash <= 0 || slash === rest.length - 1) return { ns: 'root' };
    return { ns: 'shared', owner: rest.slice(0, slash).toLowerCase(), name: rest.slice(slash + 1) };
  }
  if (name.startsWith(PUBLIC_PREFIX)) {
    const rest = name.slice(PUBLIC_PREFIX.length);
    return rest ? { ns: 'public', name: rest } : { ns: 'root' };
  }
  return { ns: 'personal', name };
}

/** True for the names LIST shows as namespace roots (\Noselect, never \NonExistent). */
export function isNamespaceRoot(name: string): boolean {
  return locate(name).ns === 'root';
}

/** The client name of an owner's mailbox. */
export function clientName(ownerAddress: string, storeName: string, own: boolean): string {
  if (own) return storeName;
  if (ownerAddress === PUBLIC_OWNER) return PUBLIC_PREFIX + storeName;
  return `${SHARED_PREFIX}${ownerAddress}/${storeName}`;
}

/** A store mailbox as the current user reaches it. */
export interface Target {
  /** The owner's store mailbox (its name is the owner's). */
  mailbox: Mailbox;
  /** The same mailbox under the client's name (for responses: LIST, STATUS). */
  shown: Mailbox;
  ownerId: number;
  /** The owner's address (PUBLIC_OWNER for public folders). */
  ownerAddress: string;
  /** The current user owns it (personal namespace): every right, \Seen on the message. */
  own: boolean;
  /** Canonical rights (store/acl.ts RIGHT_ORDER). */
  rights: string;
}

function sharing(ctx: CommandContext): boolean {
  return !!ctx.service.acl && !!ctx.service.directory;
}

/** The identifiers whose entries apply to `user`. */
export function identifiersOf(user: User): string[] {
  return [user.address.toLowerCase(), ANYONE, AUTHENTICATED];
}

/** The mailbox `name` (decoded) and the current user's rights on it, or null when there is none to see. */
export async function findMailbox(ctx: CommandContext, name: string): Promise<Target | null> {
  const user = currentUser(ctx);
  const where = locate(name);
  const store = ctx.service.store;
  if (where.ns === 'root') return null;
  if (where.ns === 'personal') {
    const mb = await store.getMailbox(user.id, name);
    return mb ? { mailbox: mb, shown: mb, ownerId: user.id, ownerAddress: user.address, own: true, rights: RIGHT_ORDER } : null;
  }
  const acl = ctx.service.acl;
  const directory = ctx.service.directory;
  if (!acl || !directory) return null;
  const owner = await directory.getUser(where.ns === 'public' ? PUBLIC_OWNER : where.owner);
  if (!owner) return null;
  const mb = await store.getMailbox(owner.id, where.name);
  if (!mb) return null;
  const own = owner.id === user.id;
  const rights = own ? RIGHT_ORDER : effectiveRights(await acl.list(mb.id), user.address);
  const shown = { ...mb, name: clientName(owner.address, mb.name, own) };
  return { mailbox: mb, shown: own ? mb : shown, ownerId: owner.id, ownerAddress: owner.address, own, rights };
}

/** Throws unless `t` grants every right in `need`: NO [NOPERM] with "l", else NO [NONEXISTENT]. */
export function requireRights(t: Target, need: string, name?: string): void {
  for (const r of need) {
    if (t.rights.includes(r)) continue;
    if (t.rights.includes('l')) throw no('Permission denied', 'NOPERM');
    throw no('Mailbox does not exist', 'NONEXISTENT');
  }
}

/**
 * The mailbox `name` (decoded) when the current user holds every right in `need` (see the module comment
 * for the refusals). A mailbox that is missing, or the user may not see, is NO [NONEXISTENT] (RFC 5530).
 */
export async function resolveMailbox(ctx: CommandContext, name: string, need: string): Promise<Target> {
  const t = await findMailbox(ctx, name);
  if (!t) {
    refuseInvalidName(name);
    throw no('Mailbox does not exist', 'NONEXISTENT');
  }
  requireRights(t, need, name);
  return t;
}

/**
 * NO [CANNOT] for a personal name no mailbox can have: empty, an empty level ("a//b", "a/", "/a"), too long,
 * a control character or wildcard. Dovecot answers such names "Invalid mailbox name" with [CANNOT] too,
 * where a valid name that is missing gets [NONEXISTENT] or [TRYCREATE].
 */
function refuseInvalidName(name: string): void {
  if (locate(name).ns === 'personal' && mailboxNameOrNull(name) === null) throw no('Invalid mailbox name', 'CANNOT');
}

/** Dovecot's rule: a mailbox is read-only when none of i, e, w, s, t is granted. */
export function readOnlyByRights(rights: string): boolean {
  return !/[iewst]/.test(rights);
}

/** The personal mailboxes plus the others' the user may look up ("l"), under client names, with rights by name. */
export async function visibleMailboxes(ctx: CommandContext): Promise<{ mailboxes: Mailbox[]; rights: Map<string, string> }> {
  const user = currentUser(ctx);
  const own = await ctx.service.store.listMailboxes(user.id);
  const rights = new Map<string, string>();
  for (const m of own) rights.set(m.name, RIGHT_ORDER);
  if (!sharing(ctx)) return { mailboxes: own, rights };
  const others: Mailbox[] = [];
  for (const s of await ctx.service.acl!.sharedWith(user.id, identifiersOf(user))) {
    const r = effectiveRights(s.entries, user.address);
    if (!r.includes('l')) continue;
    const name = clientName(s.ownerAddress, s.mailbox.name, false);
    others.push({ ...s.mailbox, name, subscribed: false });
    rights.set(name, r);
  }
  return { mailboxes: [...own, ...others], rights };
}

/**
 * STATUS of a mailbox for the current user: for a mailbox of another owner UNSEEN counts the user's own
 * \Seen (kept apart by store.acl), not the owner's.
 */
export async function statusFor(ctx: CommandContext, mb: Mailbox): Promise<MailboxStatus> {
  const store = ctx.service.store;
  const st = await store.status(mb.id);
  const user = currentUser(ctx);
  const acl = ctx.service.acl;
  if (mb.userId === user.id || !acl) return st;
  const [seen, list] = await Promise.all([acl.seenUids(mb.id, user.id), store.listMessages(mb.id)]);
  const seenSet = new Set(seen);
  return { ...st, unseen: list.filter((m) => !seenSet.has(m.uid)).length };
}

/** The private \Seen of the current user in `t` (for the view), or null when `t` is the user's own (\Seen on the message). */
export async function privateSeenOf(ctx: CommandContext, t: Target): Promise<PrivateSeen | null> {
  const acl = ctx.service.acl;
  if (t.own || !acl) return null;
  const userId = currentUser(ctx).id;
  const load = (): Promise<number[]> => acl.seenUids(t.mailbox.id, userId);
  return { uids: new Set(await load()), load };
}

/**
 * The destination of APPEND, COPY or MOVE: needs "i" (RFC 4314 section 4). A missing personal mailbox is
 * NO [TRYCREATE] (RFC 9051 6.3.12); a missing or unseen one elsewhere NO [NONEXISTENT].
 */
export async function destinationMailbox(ctx: CommandContext, name: string): Promise<Target> {
  const t = await findMailbox(ctx, name);
  if (!t) {
    // TRYCREATE only where a CREATE could succeed.
    refuseInvalidName(name);
    if (locate(name).ns === 'personal') throw no('Mailbox does not exist', 'TRYCREATE');
    throw no('Mailbox does not exist', 'NONEXISTENT');
  }
  requireRights(t, 'i', name);
  return t;
}

/**
 * APPEND's flags in `t` (RFC 4314 section 4: flags are set only with their rights, others dropped as
 * Dovecot does): `flags` to store with the message, and `seen` when \Seen goes to the user's private
 * \Seen instead (another owner's mailbox; see markAppendedSeen).
 */
export function appendFlags(t: Target, flags: readonly string[]): { flags: string[]; seen: boolean } {
  if (t.own) return { flags: [...flags], seen: false };
  const kept = flags.filter((f) => {
    const l = f.toLowerCase();
    return t.rights.includes(l === '\\seen' ? 's' : l === '\\deleted' ? 't' : 'w');
  });
  const seen = kept.some((f) => f.toLowerCase() === '\\seen');
  return { flags: kept.filter((f) => f.toLowerCase() !== '\\seen'), seen };
}

/** Records the private \Seen of messages just appended to another owner's mailbox (appendFlags `seen`). */
export async function markAppendedSeen(ctx: CommandContext, t: Target, uids: readonly number[]): Promise<void> {
  if (t.own || !uids.length || !ctx.service.acl) return;
  await ctx.service.acl.setSeen(t.mailbox.id, currentUser(ctx).id, uids, true);
}

/**
 * Where CREATE (or RENAME's new name) puts `name` (decoded): the owner and the owner's name for it. In
 * another owner's namespace the parent must exist and grant "k" (RFC 4314 section 4); a new top-level
 * mailbox there, or a namespace root, is NO [NOPERM] / NO [CANNOT].
 */
export async function creationPlace(ctx: CommandContext, name: string): Promise<{ ownerId: number; name: string; own: boolean }> {
  const user = currentUser(ctx);
  const where = locate(name);
  if (where.ns === 'personal') return { ownerId: user.id, name, own: true };
  if (where.ns === 'root') throw no('Namespace roots cannot be created', 'CANNOT');
  const slash = where.name.lastIndexOf('/');
  if (slash <= 0) throw no('Permission denied', 'NOPERM');
  const parent = await resolveMailbox(ctx, name.slice(0, name.length - (where.name.length - slash)), 'k');
  return { ownerId: parent.ownerId, name: parent.mailbox.name + where.name.slice(slash), own: parent.own };
}

/**
 * Recipient resolution shared by LMTP, SMTP, submission and the outbound queue.
 *
 * Order for an address in a local domain (first match wins):
 *   1. a user with exactly that address;
 *   2. an alias with exactly that address;
 *   3. plus-addressing: user+tag@domain -> the user (or alias) base@domain, tag kept;
 *   4. the domain's catch-all alias "@domain";
 *   5. postmaster@domain (any case, RFC 5321 4.5.1 requires it of every local domain): an administrator, one
 *      of that domain first, else the first by address (as Postfix and Dovecot setups alias postmaster to root).
 * Alias targets are resolved the same way (chains up to MAX_ALIAS_DEPTH); a target that is not a local user
 * in the end makes the recipient unknown (aliases do not forward off the system).
 * An address whose domain is not local is 'remote'.
 */
import { isAdmin, type Directory } from '../store/directory.js';
import type { Alias, User } from '../store/types.js';
import { parseAddress } from './address.js';
import { asciiLower } from '../lib/ascii.js';

export const MAX_ALIAS_DEPTH = 8;

export type Resolution =
  | {
      kind: 'local';
      user: User;
      /** The envelope recipient as given (lowercased), e.g. "bob+lists@example.org". */
      recipient: string;
      /** Plus-address tag of the recipient, or null. */
      tag: string | null;
      via: 'user' | 'plus' | 'alias' | 'catch-all' | 'postmaster';
    }
  | { kind: 'remote'; address: string; domain: string }
  | { kind: 'unknown'; address: string }
  | { kind: 'invalid'; address: string };

/** A snapshot of the alias table for resolving many recipients of one transaction. */
export class AliasTable {
  readonly #map: Map<string, string>;
  constructor(aliases: Alias[]) {
    this.#map = new Map(aliases.map((a) => [asciiLower(a.from), asciiLower(a.to)]));
  }
  static async load(directory: Directory): Promise<AliasTable> {
    return new AliasTable(await directory.listAliases());
  }
  get(from: string): string | undefined {
    return this.#map.get(asciiLower(from));
  }
  /** Aliases whose target is `to` (exact, ASCII letters lowercased). */
  pointingTo(to: string): string[] {
    const t = asciiLower(to);
    const out: string[] = [];
    for (const [from, target] of this.#map) if (target === t) out.push(from);
    return out;
  }
}

/** Resolves one envelope recipient. Never throws for bad input (store errors propagate). */
export async function resolveRecipient(directory: Directory, input: string, aliases?: AliasTable): Promise<Resolution> {
  const p = parseAddress(input);
  if (!p) return { kind: 'invalid', address: input };
  if (!(await directory.hasDomain(p.domain))) return { kind: 'remote', address: p.address, domain: p.domain };
  const found = await lookup(directory, lazyAliases(directory, aliases), p.address, 0);
  if (found) return { kind: 'local', user: found.user, recipient: p.address, tag: p.tag, via: found.via };
  if (p.base === POSTMASTER) {
    const admin = await postmasterAdmin(directory, p.domain);
    if (admin) return { kind: 'local', user: admin, recipient: p.address, tag: p.tag, via: 'postmaster' };
  }
  return { kind: 'unknown', address: p.address };
}

/** The local part every domain must receive mail for (RFC 5321 4.5.1), lowercased. */
export const POSTMASTER = 'postmaster';

/**
 * Who receives postmaster mail that no user, alias or catch-all takes: an administrator of `domain`, else the
 * first administrator by address; null when there is none. (The directory has no admin query: this reads the
 * user list, which only happens for a postmaster address nobody configured.)
 */
export async function postmasterAdmin(directory: Directory, domain: string | null): Promise<User | null> {
  const admins = (await directory.listUsers()).filter((u) => isAdmin(u));
  return admins.find((u) => domain !== null && u.address.endsWith(`@${domain}`)) ?? admins[0] ?? null;
}

/** `aliases`, or the directory's alias table read at the first call: only an address that is not a user's needs it. */
function lazyAliases(directory: Directory, aliases: AliasTable | undefined): () => Promise<AliasTable> {
  let loading: Promise<AliasTable> | undefined;
  return () => (loading ??= aliases ? Promise.resolve(aliases) : AliasTable.load(directory));
}

async function lookup(
  directory: Directory,
  aliases: () => Promise<AliasTable>,
  address: string,
  depth: number,
  catchAll = true,
): Promise<{ user: User; via: 'user' | 'plus' | 'alias' | 'catch-all' } | null> {
  if (depth > MAX_ALIAS_DEPTH) return null;
  const p = parseAddress(address);
  if (!p) return null;
  const user = await directory.getUser(p.address);
  if (user) return { user, via: depth === 0 ? 'user' : 'alias' };
  const table = await aliases();
  const viaAlias = async (target: string, via: 'alias' | 'plus' | 'catch-all') => {
    const r = await lookup(directory, aliases, target, depth + 1);
    return r ? { user: r.user, via } : null;
  };
  const direct = table.get(p.address);
  if (direct !== undefined) return viaAlias(direct, 'alias');
  if (p.tag !== null) {
    const baseAddress = `${p.base}@${p.domain}`;
    const baseUser = await directory.getUser(baseAddress);
    if (baseUser) return { user: baseUser, via: 'plus' };
    const baseAlias = table.get(baseAddress);
    if (baseAlias !== undefined) return viaAlias(baseAlias, 'plus');
  }
  const catchAllAlias = table.get(`@${p.domain}`);
  if (catchAllAlias !== undefined && depth === 0 && catchAll) return viaAlias(catchAllAlias, 'catch-all');
  return null;
}

/**
 * The user `address` belongs to as a sender address, or null: resolved like a recipient (a user with exactly
 * that address first, so a real user wins over an older alias of the same address and a user named
 * "a+b@d" is not a plus-address of "a@d"; then an alias; then the plus rule), but never through a catch-all.
 */
export async function addressOwner(directory: Directory, address: string, aliases?: AliasTable): Promise<User | null> {
  const p = parseAddress(address);
  if (!p) return null;
  return (await lookup(directory, lazyAliases(directory, aliases), p.address, 0, false))?.user ?? null;
}

/**
 * True when `sender` is one of `user`'s addresses: the user's own address, a plus-variant of it that is not
 * itself a user, or an alias that resolves to the user (or a plus-variant of such an alias) and is not itself
 * a user. A catch-all does not count.
 */
export async function isUserAddress(directory: Directory, user: User, sender: string, aliases?: AliasTable): Promise<boolean> {
  return (await addressOwner(directory, sender, aliases))?.id === user.id;
}

/**
 * Mailbox and server annotations (RFC 5464 METADATA / METADATA-SERVER), a part of MailStore. Entries are per
 * user: the server's entries (mailboxId null) and each mailbox's, under "/private/..." and "/shared/..."
 * (a mailbox here has one owner, so "/shared" entries are that owner's too, as in Dovecot's default setup).
 * Names are stored and returned lower-cased (entry names are case-insensitive); the protocol layer checks
 * their syntax. A mailbox's entries go with the mailbox, a user's with the user.
 */

/** One annotation: its lower-cased entry name and its value. */
export interface MetadataEntry {
  name: string;
  value: Buffer;
}

/** How deep GETMETADATA looks below each name asked for (RFC 5464 4.2.2). */
export type MetadataDepth = 0 | 1 | 'infinity';

/** Per-user limits a setMetadata call must keep (counted over the server's and all mailboxes' entries). */
export interface MetadataLimits {
  /** Entries per user. */
  maxEntries: number;
  /** Octets of names plus values per user. */
  maxTotalSize: number;
}

export interface MetadataStore {
  /**
   * The entries named (lower-cased before lookup) and, with depth 1 or infinity, those one level or any
   * number of levels below them, in name order, each once. Entries that do not exist are left out.
   * Throws NOT_FOUND when the mailbox does not exist.
   */
  getMetadata(userId: number, mailboxId: number | null, names: readonly string[], depth: MetadataDepth): Promise<MetadataEntry[]>;
  /**
   * Sets (value) or removes (null) entries, all or none. Returns 'toomany' (nothing changed) when the
   * user's entries would then exceed `limits`; removing never fails on limits. Throws NOT_FOUND when the
   * mailbox does not exist.
   */
  setMetadata(
    userId: number,
    mailboxId: number | null,
    entries: ReadonlyArray<{ name: string; value: Buffer | null }>,
    limits: MetadataLimits,
  ): Promise<'ok' | 'toomany'>;
}

/** True when `name` is `base` itself or lies below it within `depth` levels. Both lower-cased. */
export function withinDepth(name: string, base: string, depth: MetadataDepth): boolean {
  if (name === base) return true;
  if (depth === 0 || !name.startsWith(base + '/')) return false;
  return depth === 'infinity' || !name.slice(base.length + 1).includes('/');
}

/**
 * What the transfer functions share: the report of skipped items, the import options and report, and the
 * two store look-ups every import starts with. Failures of the store propagate as StoreError.
 */
import type { Directory } from '../store/directory.js';
import type { MailStore } from '../store/mail.js';
import type { Mailbox, SpecialUse } from '../store/types.js';
import { StoreError, isStoreError } from '../store/types.js';

export interface Skipped {
  /** What was skipped: "user@x/Mailbox uid 7", a file path, "mbox message 12". */
  item: string;
  reason: string;
}

/** The parts of a store an import writes to: the directory (to find the user) and the mail store. */
export interface ImportTarget {
  directory: Directory;
  mail: MailStore;
}

export interface ImportOptions {
  /** Target mailbox for the Maildir root / the mbox file (default INBOX); created when missing. */
  mailbox?: string;
  /** Maildir: also import sub-folders (default true). */
  folders?: boolean;
  onProgress?: (p: { mailbox: string; messages: number; bytes: number }) => void;
}

export interface ImportReport {
  mailboxes: number;
  messages: number;
  bytes: number;
  skipped: Skipped[];
}

/** The user's id. Throws StoreError NOT_FOUND for an unknown user. */
export async function userId(directory: Directory, address: string): Promise<number> {
  const u = await directory.getUser(address);
  if (!u) throw new StoreError('NOT_FOUND', `no such user: ${address}`);
  return u.id;
}

/** The mailbox `name`, created (with `specialUse`) when missing; tolerates a concurrent creation. */
export async function ensureMailbox(mail: MailStore, userId: number, name: string, specialUse: SpecialUse | null): Promise<Mailbox> {
  const existing = await mail.getMailbox(userId, name);
  if (existing) return existing;
  try {
    return await mail.createMailbox(userId, name, { specialUse });
  } catch (e) {
    if (isStoreError(e, 'EXISTS')) {
      const again = await mail.getMailbox(userId, name);
      if (again) return again;
    }
    throw e;
  }
}

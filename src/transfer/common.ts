/**
 * What the transfer functions share: the report of skipped items, the import options and report, the two
 * store look-ups every import starts with, and the file access of the imports, which never follows a
 * symbolic link (a Maildir or mbox is often writable by the user it belongs to, and a link in it could point
 * at any file the importing process may read: a TLS key, /etc/shadow). Failures of the store propagate as
 * StoreError.
 */
import { constants, promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
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

/** The reason reported for every symbolic link an import meets. */
export const SYMLINK_SKIPPED = 'symbolic link, not followed';

/** Read-only, failing with ELOOP on a symbolic link, and not waiting for a writer when the file is a FIFO. */
const OPEN_NO_FOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export type OpenedFile = { handle: FileHandle; stat: Stats } | 'symlink' | 'other' | 'missing';

/**
 * Opens `path` for reading when it is a regular file, never through a symbolic link in its last component
 * (O_NOFOLLOW). The type and size come from fstat of the open file, so a file swapped for a link after a
 * directory listing cannot slip in. Returns 'symlink', 'other' (a directory, FIFO, device ...) or 'missing'
 * instead of a handle; the caller closes the handle. Other I/O errors propagate.
 */
export async function openRegularFile(path: string): Promise<OpenedFile> {
  let handle: FileHandle;
  try {
    handle = await fs.open(path, OPEN_NO_FOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return 'symlink';
    if (code === 'ENOENT' || code === 'ENOTDIR') return 'missing';
    throw e;
  }
  const stat = await handle.stat();
  if (stat.isFile()) return { handle, stat };
  await handle.close();
  return 'other';
}

/** What is at `path` itself (lstat: a link is 'symlink', whatever it points at), or 'missing'. */
export async function entryKind(path: string): Promise<'dir' | 'file' | 'symlink' | 'other' | 'missing'> {
  const st = await fs.lstat(path).catch(() => null);
  if (!st) return 'missing';
  return st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other';
}

/**
 * Blob ids (RFC 8620 6): an Email's raw message is `B<len><EMAILID>`, one of its parts
 * `B<len><EMAILID>S<section with '-' for '.'>` (the IMAP section number, so download slices the stored
 * message by the MIME index), an upload `U...` (server.ts). <len> is the EMAILID's length in base 36, two
 * digits, so any EMAILID fits the id syntax [A-Za-z0-9_-].
 */
import type { Account } from './account.js';
import { findPart, decodePartBody } from '../mime/index.js';
import type { MessageIndex, MimePart } from '../mime/types.js';

export function messageBlobId(emailId: string): string {
  return 'B' + emailId.length.toString(36).padStart(2, '0') + emailId;
}

export function partBlobId(emailId: string, section: string): string {
  return messageBlobId(emailId) + 'S' + section.replace(/\./g, '-');
}

export function parseBlobId(blobId: string): { emailId: string; section: string | null } | null {
  if (typeof blobId !== 'string' || !blobId.startsWith('B') || blobId.length < 4) return null;
  const len = parseInt(blobId.slice(1, 3), 36);
  if (!Number.isFinite(len) || len <= 0) return null;
  const emailId = blobId.slice(3, 3 + len);
  if (emailId.length !== len) return null;
  const rest = blobId.slice(3 + len);
  if (rest === '') return { emailId, section: null };
  if (!/^S[0-9]+(-[0-9]+)*$/.test(rest)) return null;
  return { emailId, section: rest.slice(1).replace(/-/g, '.') };
}

/** Reads the raw message of an Email of the account, or null when it is gone. */
export async function readEmailRaw(account: Account, emailId: string): Promise<Buffer | null> {
  const rec = account.emails.get(emailId);
  if (!rec) return null;
  try {
    return await account.store.mail.readBytes(rec.mailboxId, rec.uid);
  } catch {
    return null;
  }
}

export async function readEmailIndex(account: Account, emailId: string): Promise<MessageIndex | null> {
  const rec = account.emails.get(emailId);
  if (!rec) return null;
  for await (const m of account.store.mail.readMessages(rec.mailboxId, [rec.uid], { index: true })) return m.index;
  return null;
}

/** The decoded bytes of a part (content transfer encoding removed), as a blob of that part is defined. */
export function partBytes(raw: Buffer, part: MimePart): Buffer {
  try {
    return decodePartBody(raw, part);
  } catch {
    return raw.subarray(part.bodyStart, part.bodyEnd);
  }
}

/** Resolves any blob id of the account to bytes (and the type known for it), or null. */
export async function readBlob(account: Account, blobId: string, upload: (id: string) => { data: Buffer; type: string } | null): Promise<{ data: Buffer; type: string } | null> {
  if (blobId.startsWith('U')) return upload(blobId);
  const p = parseBlobId(blobId);
  if (!p) return null;
  const raw = await readEmailRaw(account, p.emailId);
  if (!raw) return null;
  if (p.section === null) return { data: raw, type: 'message/rfc822' };
  const index = await readEmailIndex(account, p.emailId);
  if (!index) return null;
  const loc = findPart(index, p.section);
  if (!loc) return null;
  const part = loc.part;
  if (part.type === 'message' && (part.subtype === 'rfc822' || part.subtype === 'global')) return { data: raw.subarray(part.bodyStart, part.bodyEnd), type: 'message/rfc822' };
  return { data: partBytes(raw, part), type: `${part.type}/${part.subtype}` };
}

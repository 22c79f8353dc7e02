/**
 * Blob ids (RFC 8620 6): an Email's raw message is `B<len><EMAILID>`, an upload `U<hex>` (server.ts), and
 * a part of either `<that id>S<section with '-' for '.'>` (the IMAP section number within the message, so
 * download slices the bytes by the MIME index: the stored one for an Email, one computed for an upload).
 * Parts of a part nest by extending the section (`...S2-1` is part 1 of the message attached as part 2),
 * which is how Email/parse's attachments of an uploaded or attached message stay downloadable. <len> is
 * the EMAILID's length in base 36, two digits, so any EMAILID fits the id syntax [A-Za-z0-9_-]; upload ids
 * are lowercase hex, so the last 'S' of an upload part id starts its section. A Sieve script's content is
 * `V<script id>r<revision>` (sieve.ts).
 */
import type { Account } from './account.js';
import { randomBytes } from 'node:crypto';
import { findPart, decodePartBody, indexMessage, normalizeLineEndings } from '../mime/index.js';
import type { MessageIndex, MimePart } from '../mime/types.js';

export function messageBlobId(emailId: string): string {
  return 'B' + emailId.length.toString(36).padStart(2, '0') + emailId;
}

/** The blob id of part `section` (IMAP numbering) of the message that blob `base` holds. */
export function partBlobId(base: string, section: string): string {
  const sec = section.replace(/\./g, '-');
  return parseBlobId(base)?.section ? `${base}-${sec}` : `${base}S${sec}`;
}

/** A new upload id. */
export function newUploadId(): string {
  return 'U' + randomBytes(12).toString('hex');
}

export type ParsedBlobId = { emailId: string; uploadId?: undefined; section: string | null } | { uploadId: string; emailId?: undefined; section: string | null };

export function parseBlobId(blobId: string): ParsedBlobId | null {
  if (typeof blobId !== 'string') return null;
  const up = /^(U[0-9a-f]{1,64})(?:S([0-9]+(?:-[0-9]+)*))?$/.exec(blobId);
  if (up) return { uploadId: up[1]!, section: up[2] === undefined ? null : up[2].replace(/-/g, '.') };
  if (!blobId.startsWith('B') || blobId.length < 4) return null;
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

export interface Blob {
  data: Buffer;
  type: string;
}

/** Where readBlob finds what the mail store does not hold (JmapServer.blobSources). */
export interface BlobSources {
  /** An upload by its id (U...). */
  upload(id: string): Promise<Blob | null>;
  /** A Sieve script's content by its blob id (V..., sieve.ts). */
  sieve(blobId: string): Promise<Blob | null>;
}

/** The bytes of part `section` of `raw`, indexed by `index` (null when there is no such part). */
function sliceSection(raw: Buffer, index: MessageIndex, section: string): { data: Buffer; type: string } | null {
  const loc = findPart(index, section);
  if (!loc) return null;
  const part = loc.part;
  if (part.type === 'message' && (part.subtype === 'rfc822' || part.subtype === 'global')) return { data: raw.subarray(part.bodyStart, part.bodyEnd), type: 'message/rfc822' };
  return { data: partBytes(raw, part), type: `${part.type}/${part.subtype}` };
}

/** Resolves any blob id of the account to bytes (and the type known for it), or null. */
export async function readBlob(account: Account, blobId: string, sources: BlobSources): Promise<Blob | null> {
  if (typeof blobId === 'string' && blobId.startsWith('V')) return sources.sieve(blobId);
  const p = parseBlobId(blobId);
  if (!p) return null;
  if (p.uploadId !== undefined) {
    const up = await sources.upload(p.uploadId);
    if (!up || p.section === null) return up;
    // Email/parse indexed the upload with normalised line endings: part offsets refer to those bytes.
    const raw = normalizeLineEndings(up.data);
    try {
      return sliceSection(raw, indexMessage(raw), p.section);
    } catch {
      return null;
    }
  }
  const raw = await readEmailRaw(account, p.emailId);
  if (!raw) return null;
  if (p.section === null) return { data: raw, type: 'message/rfc822' };
  const index = await readEmailIndex(account, p.emailId);
  return index ? sliceSection(raw, index, p.section) : null;
}

/**
 * FETCH PREVIEW (RFC 8970): up to 200 characters of the message's first text part (text/plain or
 * text/html, depth first, not an attachment, not inside an attached message), transfer- and
 * charset-decoded, HTML stripped, white space collapsed to single spaces and trimmed; "" when there is
 * no such part. Computed from the stored MIME index (only that part's bytes are read, at most PREVIEW_READ
 * of them) and kept in a small per-process cache keyed by EMAILID (unique and random; a message's bytes
 * never change).
 * Throws StoreError NOT_FOUND when the message is gone.
 */
import type { MailStore } from '../../store/mail.js';
import type { MessageIndex, MimePart } from '../../mime/types.js';
import { partText } from '../../mime/decode.js';

/** Longest preview, in characters (RFC 8970 section 3: at most 256; Dovecot and this server use 200). */
export const PREVIEW_CHARS = 200;
/** Bytes of the text part read at most (enough for 200 characters after HTML markup). */
const PREVIEW_READ = 64 * 1024;
const CACHE_MAX = 4096;
const cache = new Map<string, string>();

/** The part the preview comes from, or null. */
export function previewPart(p: MimePart): MimePart | null {
  if (p.type === 'multipart' && p.children.length) {
    for (const c of p.children) {
      const hit = previewPart(c);
      if (hit) return hit;
    }
    return null;
  }
  if (p.type !== 'text' || (p.subtype !== 'plain' && p.subtype !== 'html')) return null;
  if (p.disposition?.value.toLowerCase() === 'attachment') return null;
  return p;
}

/** The preview of one part's (possibly truncated) body bytes. */
export function previewOf(body: Buffer, part: MimePart): string {
  const text = partText(body, { ...part, bodyStart: 0, bodyEnd: body.length }).replace(/\s+/gu, ' ').trim();
  const chars = Array.from(text);
  return chars.length > PREVIEW_CHARS ? chars.slice(0, PREVIEW_CHARS).join('').trimEnd() : text;
}

export async function messagePreview(store: Pick<MailStore, 'readBytes'>, mailboxId: number, meta: { uid: number; emailId: string }, index: MessageIndex): Promise<string> {
  const key = meta.emailId;
  const uid = meta.uid;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const part = previewPart(index.root);
  let text = '';
  if (part && part.bodyEnd > part.bodyStart) {
    const end = Math.min(part.bodyEnd, part.bodyStart + PREVIEW_READ);
    text = previewOf(await store.readBytes(mailboxId, uid, { start: part.bodyStart, end }), part);
  }
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(key, text);
  return text;
}

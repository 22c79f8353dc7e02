/**
 * Header work of the spam filter on raw messages: naming a message by a digest of its content (its training
 * state follows it through copies, moves and re-deliveries), renaming untrusted incoming X-Spam fields on
 * the stored copy, and finding the Authentication-Results our MX added. Never throws.
 */
import { createHash } from 'node:crypto';
import { headerFieldSpans, isMarkedCrlfOnly, markCrlfOnly, messageHeaderEnd, unfoldHeader } from '../mime/index.js';
import { isSpamField } from './tokenize.js';

/** Prefix given to incoming X-Spam* field names on the stored copy ("Untrusted-X-Spam-Status"). */
export const UNTRUSTED_PREFIX = 'Untrusted-';

function skipForDigest(lowerName: string): boolean {
  return isSpamField(lowerName) || lowerName.startsWith('untrusted-x-spam');
}

/**
 * A digest naming the message for training: SHA-256 over the message without its X-Spam* fields (ours or
 * renamed incoming ones), base64url, 128 bits.
 */
export function messageDigest(raw: Buffer): string {
  const h = createHash('sha256');
  const end = messageHeaderEnd(raw);
  let at = 0;
  for (const f of headerFieldSpans(raw, 0, end)) {
    if (!skipForDigest(f.name.toLowerCase())) continue;
    h.update(raw.subarray(at, f.start));
    at = f.end;
  }
  h.update(raw.subarray(at));
  return h.digest('base64url').slice(0, 22);
}

/**
 * The message with every incoming X-Spam* field renamed to "Untrusted-<name>" (so neither Sieve nor a
 * client mistakes it for this server's verdict), or null when it has none. Keeps the CRLF-only mark.
 */
export function renameSpamFields(raw: Buffer): Buffer | null {
  const end = messageHeaderEnd(raw);
  const parts: Buffer[] = [];
  let at = 0;
  for (const f of headerFieldSpans(raw, 0, end)) {
    if (!isSpamField(f.name.toLowerCase())) continue;
    parts.push(raw.subarray(at, f.start), Buffer.from(UNTRUSTED_PREFIX, 'latin1'));
    at = f.start;
  }
  if (parts.length === 0) return null;
  parts.push(raw.subarray(at));
  const out = Buffer.concat(parts);
  if (isMarkedCrlfOnly(raw)) markCrlfOnly(out);
  return out;
}

/**
 * The value of the topmost Authentication-Results field (the one the receiving MX put above the others),
 * or, when `authservId` is given, of the first one whose authserv-id is that name. Null when none.
 */
export function storedAuthResults(raw: Buffer, authservId?: string): string | null {
  const end = Math.min(messageHeaderEnd(raw), 64 * 1024);
  for (const f of headerFieldSpans(raw, 0, end)) {
    if (f.name.toLowerCase() !== 'authentication-results') continue;
    const v = unfoldHeader(raw.subarray(f.valueStart, f.valueEnd));
    if (!authservId) return v;
    const id = v.split(';')[0]!.trim().split(/\s+/)[0]!.toLowerCase();
    if (id === authservId.toLowerCase()) return v;
  }
  return null;
}

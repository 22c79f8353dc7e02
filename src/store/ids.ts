/**
 * Object identifiers (RFC 8474): EMAILID, THREADID, MAILBOXID, outbound ids. 96 random bits in base64url,
 * so they use only [A-Za-z0-9_-], are unique without coordination, and are never reused. The one-letter
 * prefix keeps them from starting with '-' (some POP3 clients dislike that in UIDL) and tells kinds apart.
 */
import { randomString } from '../lib/random.js';

export function newObjectId(prefix: 'M' | 'T' | 'F' | 'Q'): string {
  return prefix + randomString(12, 'base64url');
}

/** RFC 8474 objectid syntax: 1-255 of [A-Za-z0-9_-]. */
export function isObjectId(s: string): boolean {
  return /^[A-Za-z0-9_-]{1,255}$/.test(s);
}

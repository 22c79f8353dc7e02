/**
 * Envelope address helpers (RFC 5321 section 4.1.2 mailbox = local-part "@" domain; RFC 6531 allows UTF-8).
 * smtp-server already checks MAIL/RCPT syntax; these helpers split, normalise and recognise
 * plus-addressing (user+tag@domain, the tag after the first '+').
 */
import { addressKey } from '../lib/ascii.js';

export interface ParsedAddress {
  /** Local part as given, ASCII letters lowercased (including any +tag). */
  local: string;
  /** Domain, ASCII letters lowercased (IDNA A-labels are kept as given, lowercased). */
  domain: string;
  /** local@domain: lib/ascii addressKey, so no Unicode spelling names another user. */
  address: string;
  /** Local part before the first '+', or the whole local part. */
  base: string;
  /** The text after the first '+', or null when there is none (an empty tag "user+@d" is ""). */
  tag: string | null;
}

/** Longest address accepted: RFC 5321 section 4.5.3.1.3 limits a path to 256 octets (254 without brackets). */
export const MAX_ADDRESS_LENGTH = 254;

/**
 * Splits an envelope address into its parts (ASCII letters lowercased, nothing else folded); null when it is not local@domain (no '@', empty parts,
 * control characters, whitespace, or longer than MAX_ADDRESS_LENGTH octets).
 */
export function parseAddress(input: string): ParsedAddress | null {
  const address = addressKey(input);
  if (!address || Buffer.byteLength(address, 'utf8') > MAX_ADDRESS_LENGTH) return null;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f<>]/.test(address)) return null;
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (!isValidDomain(domain)) return null;
  // an '@' in the local part is only possible inside a quoted string (RFC 5321 Quoted-string)
  if (local.includes('@') && !(local.length > 1 && local.startsWith('"') && local.endsWith('"'))) return null;
  const plus = local.indexOf('+');
  const base = plus > 0 ? local.slice(0, plus) : local;
  const tag = plus > 0 ? local.slice(plus + 1) : null;
  return { local, domain, address, base, tag };
}

/** A dot-separated domain name (letters, digits, hyphens, UTF-8 allowed) or an address literal [..]. */
export function isValidDomain(domain: string): boolean {
  if (!domain || domain.length > 253) return false;
  if (domain.startsWith('[') && domain.endsWith(']')) return domain.length > 2;
  const labels = domain.split('.');
  return labels.every((l) => l.length > 0 && l.length <= 63 && !l.startsWith('-') && !l.endsWith('-') && /^[\p{L}\p{N}_-]+$/u.test(l));
}

/** The domain of an address (ASCII letters lowercased), or null. */
export function domainOf(address: string): string | null {
  return parseAddress(address)?.domain ?? null;
}

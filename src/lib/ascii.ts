/**
 * ASCII-only case folding. Protocol keywords, mechanism names and user addresses fold A-Z and a-z and
 * nothing else: Unicode case rules map some non-ASCII letters onto ASCII ones (the Kelvin sign U+212A
 * lowercases to "k", the dotless i U+0131 uppercases to "I"), which would make "\u212Aate" a second
 * spelling of "kate".
 */

/** A-Z lowercased; every other character as it is. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** a-z uppercased; every other character as it is. */
export function asciiUpper(s: string): string {
  return s.replace(/[a-z]+/g, (m) => m.toUpperCase());
}

/**
 * The key a user address (or domain) is stored and looked up by: ASCII whitespace trimmed, ASCII letters
 * lowercased. RFC 5321 2.4 makes the local part case-sensitive in principle; like Dovecot (auth_username_format
 * %Lu) and most sites we fold ASCII letters, and only those: non-ASCII local parts (RFC 6531) are compared as
 * sent, so no Unicode spelling (a Kelvin sign, a trailing no-break space) names another user.
 */
export function addressKey(address: string): string {
  return asciiLower(address.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, ''));
}

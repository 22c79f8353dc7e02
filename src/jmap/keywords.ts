/**
 * IMAP flags <-> JMAP keywords (RFC 8621 4.1.1): \Seen $seen, \Flagged $flagged, \Answered $answered,
 * \Draft $draft; other keywords as they are, lowercased (JMAP keywords are case-insensitive). \Deleted is
 * IMAP's business: it is not shown as a keyword and an update keeps it as it was.
 */
const TO_JMAP: Record<string, string> = { '\\seen': '$seen', '\\flagged': '$flagged', '\\answered': '$answered', '\\draft': '$draft' };
const TO_IMAP: Record<string, string> = { $seen: '\\Seen', $flagged: '\\Flagged', $answered: '\\Answered', $draft: '\\Draft' };

export function keywordsOf(flags: readonly string[]): Record<string, true> {
  const out: Record<string, true> = {};
  for (const f of flags) {
    const l = f.toLowerCase();
    if (l === '\\deleted' || l === '\\recent') continue;
    out[TO_JMAP[l] ?? l] = true;
  }
  return out;
}

/** A valid keyword (RFC 8621 4.1.1: 1-255 of %x21-7E except ( ) { ] % * " \). */
export function isKeyword(k: string): boolean {
  return /^[\x21-\x7e]{1,255}$/.test(k) && !/[(){\]%*"\\]/.test(k);
}

export function flagOf(keyword: string): string {
  const l = keyword.toLowerCase();
  return TO_IMAP[l] ?? l;
}

/** The IMAP flags for a keyword set, keeping \Deleted from `current`. */
export function flagsFor(keywords: Iterable<string>, current: readonly string[] = []): string[] {
  const out = new Set<string>();
  for (const k of keywords) out.add(flagOf(k));
  for (const f of current) if (f.toLowerCase() === '\\deleted') out.add(f);
  return [...out];
}

export function hasKeyword(flags: readonly string[], keyword: string): boolean {
  const want = flagOf(keyword).toLowerCase();
  return flags.some((f) => f.toLowerCase() === want);
}

/**
 * Message-ID extraction for threading (RFC 5256 section 4, RFC 5322 section 3.6.4).
 *
 * Contract of `parseMessageIds(s)`: every valid msg-id of a Message-ID, In-Reply-To or References value, in
 * order, normalized so that differently quoted forms of one id are equal (RFC 5256 requires this):
 * - a msg-id is `<` ... `>` containing an `@` with something on both sides;
 * - inside the brackets quoted strings are unquoted (backslash escapes resolved), comments and whitespace are
 *   dropped: `<"01KF8JCEOCBS0045PS"@xxx.yyy.com>` and `<01KF8JCEOCBS0045PS@xxx.yyy.com>` give the same
 *   `01KF8JCEOCBS0045PS@xxx.yyy.com` (the returned ids have no brackets);
 * - text outside brackets (phrases, comments, garbage) is skipped; a `<...>` without `@` or without its `>`
 *   is not a msg-id and is skipped;
 * - case is kept: Message-ID comparisons are case-sensitive (RFC 5256 section 4, step 1).
 * Never throws.
 */

/** At most this many ids are taken from one header: References of real threads stay far below it. */
export const MAX_REFERENCES = 1000;

/** The valid msg-ids of `s`, normalized, in order (at most MAX_REFERENCES). */
export function parseMessageIds(s: string | null | undefined): string[] {
  const out: string[] = [];
  if (!s) return out;
  const n = s.length;
  let i = 0;
  while (i < n && out.length < MAX_REFERENCES) {
    const c = s[i];
    if (c === '(') {
      i = skipComment(s, i);
      continue;
    }
    if (c === '"') {
      i = skipQuoted(s, i, null);
      continue;
    }
    if (c !== '<') {
      i++;
      continue;
    }
    const r = readId(s, i + 1);
    if (r.id !== null) out.push(r.id);
    i = r.next;
  }
  // Copies the ids out of the header string: V8 keeps a substring as a view into its parent, and Map lookups
  // with such views (threading looks every id up) are several times slower than with flat strings.
  return out.length === 0 ? out : (JSON.parse(JSON.stringify(out)) as string[]);
}

/** The first valid msg-id of `s`, or null. */
export function firstMessageId(s: string | null | undefined): string | null {
  if (!s) return null;
  return parseMessageIds(s)[0] ?? null;
}

/** Index just past the comment opening at `i` (nested comments and quoted pairs allowed). */
function skipComment(s: string, i: number): number {
  let depth = 0;
  for (; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return s.length;
}

/** Index just past the quoted string opening at `i`; its unquoted text goes to `sink` when given. */
function skipQuoted(s: string, i: number, sink: string[] | null): number {
  for (i++; i < s.length; i++) {
    const c = s[i];
    if (c === '"') return i + 1;
    if (c === '\\' && i + 1 < s.length) i++;
    if (sink) sink.push(s[i] ?? '');
  }
  return s.length;
}

/** Reads an id whose `<` was just before `i`: the normalized id (or null when invalid) and where to go on. */
function readId(s: string, i: number): { id: string | null; next: number } {
  const close = s.indexOf('>', i);
  if (close >= 0) {
    const plain = s.slice(i, close);
    if (/^[^"()<\s]*$/.test(plain)) return { id: validId(plain), next: close + 1 };
  }
  const parts: string[] = [];
  for (; i < s.length; ) {
    const c = s[i];
    if (c === '>') {
      return { id: validId(parts.join('')), next: i + 1 };
    }
    if (c === '<') return { id: null, next: i }; // a new "<" starts over: this one was garbage
    if (c === '"') i = skipQuoted(s, i, parts);
    else if (c === '(') i = skipComment(s, i);
    else {
      if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\n') parts.push(c ?? '');
      i++;
    }
  }
  return { id: null, next: s.length };
}

/** `id` when it has an "@" with text on both sides, else null. */
function validId(id: string): string | null {
  const at = id.lastIndexOf('@');
  return at > 0 && at < id.length - 1 ? id : null;
}

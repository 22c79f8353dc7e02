/**
 * Resolving IMAP section numbers (RFC 9051 section 6.4.5) against a MessageIndex.
 *
 * How sections map onto the part tree:
 * - A message (the top-level one, or the one encapsulated in a message/rfc822 or message/global part)
 *   is represented by its root MimePart. The top-level root has section ""; an encapsulated root has
 *   the section X of the message/rfc822 part that holds it ("1" when the top-level root itself is
 *   message/rfc822).
 * - Resolving a part number N against a message root R:
 *     R is multipart      -> N picks R.children[N-1] (their sections are "<prefix>N");
 *     R is not multipart  -> only N = 1 exists, and it is R itself ("BODY[1]" of a single-part
 *                            message is its body).
 * - To go one level deeper (the next number in "X.N"), the part reached must be a multipart (its
 *   children) or a message/rfc822 part (whose encapsulated root is resolved as above). Anything else
 *   has no sub-parts and the section does not exist.
 * - BODY[X]        = the part's body bytes [bodyStart, bodyEnd) (for a message/rfc822 part: the whole
 *                    encapsulated message); BODY[] (section "") = the whole message.
 * - BODY[X.MIME]   = the part's own header [headerStart, headerEnd), blank line included.
 * - BODY[X.HEADER], BODY[X.TEXT], BODY[X.HEADER.FIELDS (...)]: only when X is a message/rfc822 part
 *   (or section ""): the encapsulated message's header and body (message.root header/body spans).
 */
import { scanHeaderFields } from './headers.js';
import type { Envelope, MessageIndex, MimePart } from './types.js';

/** A byte range [start, end) of the raw message. */
export interface Span {
  start: number;
  end: number;
}

/** What a section number designates; see the module comment for the rules. */
export interface PartLocation {
  /** The part addressed (for "" the top-level root; for "X.1" under a single-part message, its root). */
  part: MimePart;
  /** BODY[section]: the whole message for "", else the part's body. */
  body: Span;
  /** BODY[section.MIME]: the part's own header including the blank line; null for "" (MIME needs a part number). */
  mime: Span | null;
  /**
   * The message that BODY[section.HEADER], [section.TEXT] and [section.HEADER.FIELDS ...] refer to:
   * the top-level message for "", the encapsulated message when the part is message/rfc822 or
   * message/global; null for any other part (those specifiers are invalid there).
   */
  message: { root: MimePart; envelope: Envelope; header: Span; text: Span } | null;
}

const SECTION_RE = /^[1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,8})*$/;

function isMultipart(p: MimePart): boolean {
  return p.type === 'multipart' && p.children.length > 0;
}

function messageOf(p: MimePart): PartLocation['message'] {
  if (!p.message) return null;
  const r = p.message.root;
  return {
    root: r,
    envelope: p.message.envelope,
    header: { start: r.headerStart, end: r.headerEnd },
    text: { start: r.bodyStart, end: r.bodyEnd },
  };
}

/**
 * Resolves a section part-number string ("", "1", "1.2", ... without the HEADER/TEXT/MIME suffix)
 * to the part and the byte spans IMAP FETCH needs. Returns null when the section does not exist or
 * is malformed (IMAP then answers with an empty string or NO, at the server's choice).
 */
export function findPart(index: MessageIndex, section: string): PartLocation | null {
  if (section === '') {
    const r = index.root;
    return {
      part: r,
      body: { start: 0, end: index.size },
      mime: null,
      message: { root: r, envelope: index.envelope, header: { start: r.headerStart, end: r.headerEnd }, text: { start: r.bodyStart, end: r.bodyEnd } },
    };
  }
  if (!SECTION_RE.test(section)) return null;
  let root: MimePart | null = index.root; // the message root (or multipart) that the next number indexes
  let part: MimePart | null = null;
  for (const s of section.split('.')) {
    if (part !== null) {
      // Descend from the part reached so far.
      if (isMultipart(part)) root = part;
      else if (part.message) root = part.message.root;
      else return null;
    }
    if (root === null) return null;
    const n = Number(s);
    if (isMultipart(root)) {
      part = root.children[n - 1] ?? null;
      if (part === null) return null;
    } else {
      if (n !== 1) return null;
      part = root;
    }
    root = null;
  }
  if (part === null) return null;
  return {
    part,
    body: { start: part.bodyStart, end: part.bodyEnd },
    mime: { start: part.headerStart, end: part.headerEnd },
    message: messageOf(part),
  };
}

/**
 * Convenience: the byte span of BODY[section] / BODY[section.MIME|HEADER|TEXT], or null when that
 * section/specifier does not exist (e.g. HEADER on a text part, MIME on the top level).
 */
export function sectionSpan(index: MessageIndex, section: string, specifier: '' | 'MIME' | 'HEADER' | 'TEXT'): Span | null {
  const loc = findPart(index, section);
  if (!loc) return null;
  switch (specifier) {
    case '':
      return loc.body;
    case 'MIME':
      return loc.mime;
    case 'HEADER':
      return loc.message?.header ?? null;
    case 'TEXT':
      return loc.message?.text ?? null;
  }
}

/**
 * BODY[HEADER.FIELDS (names)] and BODY[HEADER.FIELDS.NOT (names)] (RFC 9051 6.4.5): the header fields
 * of `part` (pass the message root: index.root or location.message.root) whose names are (or, with
 * `not`, are not) in `names` (or a set of lower-case names), case-insensitively, byte-exact from the raw header in their original
 * order, each ending in CRLF, followed by the terminating blank line CRLF. Built as one latin1 string
 * (byte for byte) and converted once: every FETCH of a message list runs this per message.
 */
export function headerFieldsSlice(raw: Buffer, part: Pick<MimePart, 'headerStart' | 'headerEnd'>, names: readonly string[] | ReadonlySet<string>, not: boolean): Buffer {
  // A set is taken as given (lower-case names): callers slicing many messages make it once.
  const wanted = Array.isArray(names) ? new Set(names.map((n) => n.toLowerCase())) : (names as ReadonlySet<string>);
  const block = raw.toString('latin1', part.headerStart, part.headerEnd);
  let out = '';
  scanHeaderFields(block, (name, start, _colon, valueEnd, end) => {
    if (wanted.has(name.toLowerCase()) === not) return;
    out += block.slice(start, end);
    if (end === valueEnd) out += '\r\n';
  });
  return Buffer.from(out + '\r\n', 'latin1');
}

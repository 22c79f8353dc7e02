/**
 * BINARY of a whole entity (RFC 3516 / RFC 5524 URLFETCH BINARY of a message/rfc822 part, a multipart or
 * a message), the way Dovecot's binary converter gives it: the entity's bytes with every base64 or
 * quoted-printable leaf inside (encapsulated messages included) replaced by its decoded content and its
 * Content-Transfer-Encoding value by "binary"; everything else byte for byte. decodedEntity also returns
 * the entity's structure for BODYPARTSTRUCTURE: the stored part tree (encodings as stored, as Dovecot
 * reports them) with the sizes and line counts of the converted bytes. Pure; never throws (an undecodable
 * leaf stays as stored).
 */
import { decodePartBody } from './decode.js';
import { headerFieldSpans } from './headers.js';
import { indexMessage } from './parser.js';
import type { MimePart } from './types.js';

interface Edit {
  start: number;
  end: number;
  data: Buffer;
}

const DECODED = new Set(['base64', 'quoted-printable']);
/** The encodings decodePartBody knows (lowercased, trimmed); any other is unknown (IMAP NO [UNKNOWN-CTE]). */
const KNOWN = new Set(['', '7bit', '8bit', 'binary', ...DECODED]);

const cte = (p: MimePart): string => p.encoding.trim().toLowerCase();

function collect(raw: Buffer, p: MimePart, edits: Edit[]): void {
  if (p.message) return collect(raw, p.message.root, edits);
  if (p.type === 'multipart' && p.children.length) {
    for (const c of p.children) collect(raw, c, edits);
    return;
  }
  if (!DECODED.has(cte(p))) return;
  const field = headerFieldSpans(raw, p.headerStart, p.headerEnd).find((f) => f.name.toLowerCase() === 'content-transfer-encoding');
  let body: Buffer;
  try {
    body = decodePartBody(raw, p);
  } catch {
    return;
  }
  if (field) edits.push({ start: field.valueStart, end: field.valueEnd, data: Buffer.from(' binary') });
  edits.push({ start: p.bodyStart, end: p.bodyEnd, data: body });
}

function lineCount(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

/** `orig` with the sizes of `conv` (the same tree, parsed from the converted bytes). */
function withSizes(orig: MimePart, conv: MimePart | undefined): MimePart {
  if (!conv) return orig;
  const out: MimePart = { ...orig, octets: conv.octets, lines: conv.lines };
  if (orig.children.length) out.children = orig.children.map((c, i) => withSizes(c, conv.children[i]));
  if (orig.message && conv.message) out.message = { ...orig.message, root: withSizes(orig.message.root, conv.message.root) };
  return out;
}

/** The parts decodedBytes walks: the whole tree under `part` (for a message/rfc822 part, its message). */
function walk(p: MimePart, visit: (p: MimePart) => boolean): boolean {
  if (visit(p)) return true;
  if (p.message) return walk(p.message.root, visit);
  return p.children.some((c) => walk(c, visit));
}

/**
 * The first Content-Transfer-Encoding decodedBytes(raw, part) cannot decode, in `part` or any part inside
 * it (as written), or null. Dovecot answers BINARY of such an entity NO [UNKNOWN-CTE], and so do we.
 */
export function unknownEncodingIn(part: MimePart): string | null {
  let found: string | null = null;
  walk(part, (p) => {
    if (!KNOWN.has(cte(p))) found = p.encoding;
    return found !== null;
  });
  return found;
}

/** Whether a base64 or quoted-printable leaf lies in `part` (else decodedBytes gives the stored bytes). */
export function hasEncodedLeaf(part: MimePart): boolean {
  return walk(part, (p) => !p.message && !p.children.length && DECODED.has(cte(p)) && p.bodyEnd > p.bodyStart);
}

/**
 * The converted bytes of `part`'s body (for a message/rfc822 part: the encapsulated message; for the
 * top-level root pass the whole message as `part` with `whole`): the same bytes as decodedEntity's data,
 * without parsing the result for its structure.
 */
export function decodedBytes(raw: Buffer, part: MimePart, whole = false): Buffer {
  const start = whole ? 0 : part.bodyStart;
  const end = whole ? raw.length : part.bodyEnd;
  const edits: Edit[] = [];
  if (whole || part.message || (part.type === 'multipart' && part.children.length)) collect(raw, whole || !part.message ? part : part.message.root, edits);
  edits.sort((a, b) => a.start - b.start);
  const out: Buffer[] = [];
  let at = start;
  for (const e of edits) {
    if (e.start < at || e.end > end) continue;
    out.push(raw.subarray(at, e.start), e.data);
    at = e.end;
  }
  out.push(raw.subarray(at, end));
  return Buffer.concat(out);
}

/** decodedBytes, and the entity's structure with the converted sizes and line counts (BODYPARTSTRUCTURE). */
export function decodedEntity(raw: Buffer, part: MimePart, whole = false): { data: Buffer; structure: MimePart } {
  const data = decodedBytes(raw, part, whole);
  const conv = indexMessage(data).root;
  let structure: MimePart;
  if (part.message) {
    structure = { ...part, octets: data.length, lines: lineCount(data), message: { ...part.message, root: withSizes(part.message.root, conv) } };
  } else if (whole) structure = withSizes(part, conv);
  else structure = withSizes(part, { ...conv, children: indexMessage(Buffer.concat([raw.subarray(part.headerStart, part.headerEnd), data])).root.children });
  return { data, structure };
}

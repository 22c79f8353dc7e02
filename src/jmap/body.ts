/**
 * Email body structure (RFC 8621 4.1.4): EmailBodyPart objects from the stored MIME index (partId is the
 * IMAP section number), the textBody/htmlBody/attachments split of the RFC's parsing algorithm, body
 * values, and the preview. No re-parsing: offsets come from the index, bytes from the stored message.
 */
import { parseHeaderBlock, decodePartBody, partText } from '../mime/index.js';
import { safeDecode } from '../mime/headers.js';
import type { MimePart } from '../mime/types.js';
import { partBlobId } from './blob.js';
import { headerValue, asText, parseHeaderProp, type HeaderProp } from './headers.js';

export const DEFAULT_BODY_PROPERTIES = ['partId', 'blobId', 'size', 'name', 'type', 'charset', 'disposition', 'cid', 'language', 'location'];
const BODY_PROPERTIES = new Set([...DEFAULT_BODY_PROPERTIES, 'headers', 'subParts']);

export function isBodyProperty(p: string): boolean {
  return BODY_PROPERTIES.has(p) || p.startsWith('header:');
}

/** A leaf (or a multipart) of the structure with its JMAP part id (null for multiparts). */
export interface Leaf {
  part: MimePart;
  partId: string | null;
  children: Leaf[];
}

/** The structure with part ids: a single-part root is "1", the children of a multipart 1, 2, ...; message/rfc822 parts are leaves. */
export function walk(root: MimePart): Leaf {
  const visit = (p: MimePart, id: string): Leaf => {
    if (p.type === 'multipart' && p.children.length > 0) {
      return { part: p, partId: null, children: p.children.map((c, i) => visit(c, id === '' ? String(i + 1) : `${id}.${i + 1}`)) };
    }
    return { part: p, partId: id === '' ? '1' : id, children: [] };
  };
  return visit(root, '');
}

function param(p: MimePart, name: string): string | null {
  return p.params.find(([k]) => k === name)?.[1] ?? null;
}

export function partName(p: MimePart): string | null {
  const n = p.disposition?.params.find(([k]) => k === 'filename')?.[1] ?? param(p, 'name');
  return n ?? null;
}

function isText(p: MimePart, sub?: string): boolean {
  return p.type === 'text' && (sub === undefined || p.subtype === sub);
}

/** The RFC 8621 4.1.4 split of the parts into textBody, htmlBody and attachments (the RFC's algorithm). */
export function splitBody(root: Leaf): { text: Leaf[]; html: Leaf[]; attachments: Leaf[] } {
  const text: Leaf[] = [];
  const html: Leaf[] = [];
  const attachments: Leaf[] = [];
  const media = (p: MimePart): boolean => p.type === 'image' || p.type === 'audio' || p.type === 'video';
  const parse = (parts: Leaf[], multiSub: string, inAlternative: boolean, htmlOut: Leaf[] | null, textOut: Leaf[] | null): void => {
    const isAlt = multiSub === 'alternative';
    const isRelated = multiSub === 'related';
    const textLen = textOut ? textOut.length : -1;
    const htmlLen = htmlOut ? htmlOut.length : -1;
    parts.forEach((leaf, i) => {
      const p = leaf.part;
      if (leaf.partId === null) {
        parse(leaf.children, p.subtype, inAlternative || isAlt, htmlOut, textOut);
        return;
      }
      const inline =
        p.disposition?.value !== 'attachment' &&
        (isText(p, 'plain') || isText(p, 'html') || media(p)) &&
        (i === 0 || (!isRelated && (media(p) || partName(p) === null)));
      if (!inline) {
        attachments.push(leaf);
        return;
      }
      if (isAlt) {
        if (isText(p, 'plain')) textOut?.push(leaf);
        else if (isText(p, 'html')) htmlOut?.push(leaf);
        else attachments.push(leaf);
        return;
      }
      if (inAlternative) {
        if (isText(p, 'plain')) htmlOut = null;
        if (isText(p, 'html')) textOut = null;
      }
      textOut?.push(leaf);
      htmlOut?.push(leaf);
      if ((!textOut || !htmlOut) && media(p)) attachments.push(leaf);
    });
    if (isAlt && textOut && htmlOut) {
      if (textLen === textOut.length && htmlLen !== htmlOut.length) textOut.push(...htmlOut.slice(htmlLen));
      if (htmlLen === htmlOut.length && textLen !== textOut.length) htmlOut.push(...textOut.slice(textLen));
    }
  };
  if (root.partId === null) parse(root.children, root.part.subtype, false, html, text);
  else parse([root], 'mixed', false, html, text);
  return { text, html, attachments };
}

/** One EmailBodyPart with the asked properties. `raw` is the whole message, `blobBase` the blob id holding it. */
export function bodyPart(blobBase: string, leaf: Leaf, raw: Buffer, props: readonly string[]): Record<string, unknown> {
  const p = leaf.part;
  const out: Record<string, unknown> = {};
  let fields: Array<{ name: string; value: Buffer }> | null = null;
  const headers = (): Array<{ name: string; value: Buffer }> => (fields ??= parseHeaderBlock(raw.subarray(p.headerStart, p.headerEnd)));
  for (const prop of props) {
    switch (prop) {
      case 'partId':
        out[prop] = leaf.partId;
        break;
      case 'blobId':
        out[prop] = leaf.partId === null ? null : partBlobId(blobBase, leaf.partId);
        break;
      case 'size':
        out[prop] = leaf.partId === null ? 0 : decodedSize(raw, p);
        break;
      case 'headers':
        out[prop] = headers().map((f) => ({ name: f.name, value: f.value.toString('utf8') }));
        break;
      case 'name': {
        const n = partName(p);
        out[prop] = n === null ? null : asText(Buffer.from(n));
        break;
      }
      case 'type':
        out[prop] = `${p.type}/${p.subtype}`;
        break;
      case 'charset':
        out[prop] = p.type === 'text' ? (param(p, 'charset') ?? 'us-ascii') : param(p, 'charset');
        break;
      case 'disposition':
        out[prop] = p.disposition?.value ?? null;
        break;
      case 'cid':
        out[prop] = p.id ? p.id.replace(/^\s*<|>\s*$/g, '') : null;
        break;
      case 'language':
        out[prop] = p.language;
        break;
      case 'location':
        out[prop] = p.location;
        break;
      case 'subParts':
        out[prop] = leaf.partId === null ? leaf.children.map((c) => bodyPart(blobBase, c, raw, props)) : null;
        break;
      default:
        if (prop.startsWith('header:')) {
          const hp = parseHeaderPropCached(prop);
          if (hp) {
            const lower = hp.name.toLowerCase();
            const matching = headers().filter((f) => f.name.toLowerCase() === lower);
            out[prop] = hp.all ? matching.map((f) => headerValue(f.value, hp.form)) : matching.length ? headerValue(matching[matching.length - 1]!.value, hp.form) : null;
          }
        }
    }
  }
  return out;
}

const hpCache = new Map<string, HeaderProp | null>();
function parseHeaderPropCached(prop: string): HeaderProp | null {
  let v = hpCache.get(prop);
  if (v === undefined) {
    v = parseHeaderProp(prop);
    if (hpCache.size < 1000) hpCache.set(prop, v);
  }
  return v;
}

/** Size in octets of the part's content after the transfer encoding is removed. */
export function decodedSize(raw: Buffer, p: MimePart): number {
  const enc = p.encoding.toLowerCase();
  if (enc !== 'base64' && enc !== 'quoted-printable') return p.octets;
  try {
    return decodePartBody(raw, p).length;
  } catch {
    return p.octets;
  }
}

/** An EmailBodyValue (RFC 8621 4.1.4): the decoded text, truncated to maxBytes UTF-8 octets when asked. */
export function bodyValue(raw: Buffer, p: MimePart, maxBytes: number): { value: string; isEncodingProblem: boolean; isTruncated: boolean } {
  let isEncodingProblem = false;
  let bytes: Buffer;
  try {
    bytes = decodePartBody(raw, p);
  } catch {
    isEncodingProblem = true;
    bytes = raw.subarray(p.bodyStart, p.bodyEnd);
  }
  let value = safeDecode(bytes, param(p, 'charset') ?? 'us-ascii');
  if (value.includes('\ufffd')) isEncodingProblem = true;
  value = value.replace(/\r\n/g, '\n');
  let isTruncated = false;
  if (maxBytes > 0 && Buffer.byteLength(value, 'utf8') > maxBytes) {
    let b = Buffer.from(value, 'utf8').subarray(0, maxBytes);
    // Do not cut inside a UTF-8 sequence.
    let end = b.length;
    while (end > 0 && (b[end - 1]! & 0xc0) === 0x80) end--;
    if (end > 0 && b[end - 1]! >= 0xc0) end--;
    b = b.subarray(0, end);
    value = b.toString('utf8');
    if (p.subtype === 'html') value = value.replace(/<[^>]*$/, '');
    isTruncated = true;
  }
  return { value, isEncodingProblem, isTruncated };
}

/** Up to 256 characters of plain text from the first text body part (RFC 8621 "preview"). */
export function preview(raw: Buffer, text: readonly Leaf[]): string {
  for (const l of text) {
    if (l.part.type !== 'text') continue;
    const t = partText(raw, l.part, 4096).replace(/\s+/g, ' ').trim();
    if (t) return [...t].slice(0, 256).join('');
  }
  return '';
}

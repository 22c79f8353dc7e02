/**
 * Binary parts of a message sent as a literal8 (RFC 3516 section 4.4: APPEND may carry binary content; the
 * server must still give a valid message for BODY[] and the exact bytes for BINARY[]).
 *
 * encodeBinaryParts(raw) re-encodes every leaf part whose Content-Transfer-Encoding is exactly "binary"
 * (any case, no comments: what Dovecot's binary converter takes) as base64: the field value becomes
 * "base64" (same length, same place) and the body becomes base64 lines of 76 characters joined by CRLF,
 * without a CRLF after the last line (the CRLF before a boundary stays the delimiter's). Parts inside
 * message/rfc822 parts are converted too. Everything else is returned byte for byte; a message with no
 * such part is returned as the same Buffer. The part structure is found on the bytes as sent (header ends
 * and boundaries keyed on CRLF, as indexMessage does). Pure; never throws.
 */
import { indexMessage } from './parser.js';
import { headerFieldSpans, unfoldHeader } from './headers.js';
import type { MimePart } from './types.js';

/** Base64 line length (RFC 2045 6.8: at most 76 characters per line). */
const LINE = 76;

interface Edit {
  start: number;
  end: number;
  data: Buffer;
}

export function encodeBinaryParts(raw: Buffer): Buffer {
  const edits: Edit[] = [];
  collect(raw, indexMessage(raw).root, edits);
  if (!edits.length) return raw;
  const out: Buffer[] = [];
  let at = 0;
  for (const e of edits) {
    out.push(raw.subarray(at, e.start), e.data);
    at = e.end;
  }
  out.push(raw.subarray(at));
  return Buffer.concat(out);
}

function collect(raw: Buffer, part: MimePart, edits: Edit[]): void {
  if (part.children.length) {
    for (const c of part.children) collect(raw, c, edits);
    return;
  }
  if (part.message) {
    collect(raw, part.message.root, edits);
    return;
  }
  const cte = headerFieldSpans(raw, part.headerStart, part.headerEnd).find((f) => f.name.toLowerCase() === 'content-transfer-encoding');
  if (!cte) return;
  const value = raw.toString('latin1', cte.valueStart, cte.valueEnd);
  if (unfoldHeader(Buffer.from(value, 'latin1')).toLowerCase() !== 'binary') return;
  edits.push({ start: cte.valueStart, end: cte.valueEnd, data: Buffer.from(value.replace(/binary/i, 'base64'), 'latin1') });
  edits.push({ start: part.bodyStart, end: part.bodyEnd, data: base64Lines(raw.subarray(part.bodyStart, part.bodyEnd)) });
}

function base64Lines(body: Buffer): Buffer {
  const b64 = body.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += LINE) lines.push(b64.slice(i, i + LINE));
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

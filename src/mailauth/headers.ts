/**
 * The header section of a raw message as a list of fields (RFC 5322 section 2.2), octets kept as they are
 * (latin1 strings map one octet to one character), for DKIM canonicalization and for editing the fields the
 * MX owns. No decoding: names and values are what is on the wire.
 */

export interface RawField {
  /** The field name as written (without the colon). */
  name: string;
  /** `name` lower-cased, for comparisons. */
  lower: string;
  /** The whole field, folding included, without its final CRLF. */
  text: string;
  /** Octet offsets of the field in the message, its final CRLF included in `end`. */
  start: number;
  end: number;
}

/** Offset of the blank line that ends the header section (the body starts 2 octets later), or -1 when there is none. */
export function headerEnd(raw: Buffer): number {
  if (raw.length >= 2 && raw[0] === 0x0d && raw[1] === 0x0a) return 0;
  const i = raw.indexOf('\r\n\r\n');
  return i < 0 ? -1 : i + 2;
}

/**
 * The fields of the header section, in order. A line that does not start a field (no colon) and is not
 * a continuation is kept as a field with an empty name, so offsets stay exact.
 */
export function splitFields(raw: Buffer): RawField[] {
  const end = headerEnd(raw);
  const head = raw.toString('latin1', 0, end < 0 ? raw.length : end);
  const fields: RawField[] = [];
  let pos = 0;
  while (pos < head.length) {
    let next = head.indexOf('\r\n', pos);
    while (next >= 0 && (head[next + 2] === ' ' || head[next + 2] === '\t')) next = head.indexOf('\r\n', next + 2);
    const stop = next < 0 ? head.length : next;
    const text = head.slice(pos, stop);
    const colon = text.indexOf(':');
    const name = colon < 0 ? '' : text.slice(0, colon).trim();
    fields.push({ name, lower: name.toLowerCase(), text, start: pos, end: next < 0 ? head.length : next + 2 });
    pos = next < 0 ? head.length : next + 2;
  }
  return fields;
}

/** The value of a field (after the colon), unfolded. */
export function fieldValue(f: RawField): string {
  const colon = f.text.indexOf(':');
  const v = f.text.slice(colon + 1);
  return v.includes('\r\n') ? v.replace(/\r\n(?=[ \t])/g, '') : v;
}

/** Removes RFC 5322 comments (nested parentheses, quoted-pairs) from a structured value. */
export function stripComments(v: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && (depth > 0 || quoted)) {
      if (depth === 0) out += c + (v[i + 1] ?? '');
      i++;
      continue;
    }
    if (!depth && c === '"') quoted = !quoted;
    if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')' && depth > 0) depth--;
    else if (!depth) out += c;
  }
  return out;
}

/** The authserv-id of an Authentication-Results value (RFC 8601 section 2.2), lower-cased, or null. */
export function authservId(value: string): string | null {
  const head = stripComments(value).split(';')[0]!.trim();
  const id = head.split(/[ \t]+/)[0];
  if (!id) return null;
  return id.replace(/^"|"$/g, '').toLowerCase();
}

/**
 * The message without the Authentication-Results fields that claim `authservId` (RFC 8601 section 5: a
 * border MTA removes them, since only it may speak for that name). Returns the same Buffer when none do.
 */
export function removeOwnAuthResults(raw: Buffer, id: string, fields: readonly RawField[] = splitFields(raw)): { raw: Buffer; removed: number } {
  return removeSpans(raw, ownAuthResultsSpans(fields, id));
}

/** The [start, end) offsets of the Authentication-Results fields that claim `id` (see removeOwnAuthResults). */
export function ownAuthResultsSpans(fields: readonly RawField[], id: string): Array<[number, number]> {
  const own = id.toLowerCase();
  const out: Array<[number, number]> = [];
  for (const f of fields) if (f.lower === 'authentication-results' && authservId(fieldValue(f)) === own) out.push([f.start, f.end]);
  return out;
}

/** The message without the octets of `spans` (in order, not overlapping); the same Buffer when there are none. */
export function removeSpans(raw: Buffer, spans: ReadonlyArray<readonly [number, number]>): { raw: Buffer; removed: number } {
  if (!spans.length) return { raw, removed: 0 };
  const parts: Buffer[] = [];
  let at = 0;
  for (const [start, end] of spans) {
    parts.push(raw.subarray(at, start));
    at = end;
  }
  parts.push(raw.subarray(at));
  return { raw: Buffer.concat(parts), removed: spans.length };
}

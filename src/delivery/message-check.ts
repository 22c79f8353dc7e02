/**
 * Checks applied to a message received over SMTP, LMTP or submission before it is stored.
 *
 * - NUL octets are refused: no BINARYMIME is offered, and RFC 5321 section 4.1.1.4 / RFC 5322 section 2.3
 *   forbid them in message text.
 * - Bare LF or bare CR (not part of CRLF) is refused by default (RFC 5321 section 2.3.8; bare line ends are how
 *   SMTP smuggling attacks hide a second end-of-data), or normalised to CRLF when the listener is configured
 *   to trust its client (LMTP from a local MTA).
 * - MAX_HOPS or more Received fields: refused as a mail loop (RFC 5321 section 6.3).
 * A message with only a header, or without any header, is accepted as it is.
 */

import { markCrlfOnly, normalizeLineEndings } from '../mime/index.js';

export type BareLineEndPolicy = 'reject' | 'normalize';

/** RFC 5321 section 6.3: a message with this many Received fields is in a loop (Postfix uses 50, Exim 100). */
export const MAX_HOPS = 100;

export type CheckResult = { ok: true; raw: Buffer } | { ok: false; code: number; enhanced: string; message: string };

const CR = 0x0d;
const LF = 0x0a;

/**
 * Index of the first bare CR or LF, or -1. A clean message is walked one line break at a time, with the
 * next CR and the next LF found together (each CR must sit just before its LF); the first break that is
 * not a CRLF pair is located by the plain scans below.
 */
export function findBareLineEnd(raw: Buffer): number {
  let cr = raw.indexOf(CR);
  let lf = raw.indexOf(LF);
  while (cr !== -1 || lf !== -1) {
    if (cr === -1 || cr + 1 !== lf) return firstBareLineEnd(raw);
    cr = raw.indexOf(CR, lf + 1);
    lf = raw.indexOf(LF, lf + 1);
  }
  return -1;
}

/** findBareLineEnd by two scans: each LF looks back for its CR, then each CR forward for its LF. */
function firstBareLineEnd(raw: Buffer): number {
  for (let i = raw.indexOf(LF); i !== -1; i = raw.indexOf(LF, i + 1)) {
    if (i === 0 || raw[i - 1] !== CR) return i;
  }
  for (let i = raw.indexOf(CR); i !== -1; i = raw.indexOf(CR, i + 1)) {
    if (i + 1 >= raw.length || raw[i + 1] !== LF) return i;
  }
  return -1;
}

/** Applies the checks above; on success returns the (possibly normalised) message. */
export function checkMessage(raw: Buffer, policy: BareLineEndPolicy): CheckResult {
  if (raw.includes(0)) return { ok: false, code: 554, enhanced: '5.6.0', message: 'Message contains NUL octets' };
  if (findBareLineEnd(raw) !== -1) {
    if (policy === 'reject') return { ok: false, code: 554, enhanced: '5.6.0', message: 'Message contains a bare CR or LF (lines must end in CRLF)' };
    raw = normalizeLineEndings(raw);
  }
  if (countReceived(raw) >= MAX_HOPS) return { ok: false, code: 554, enhanced: '5.4.6', message: 'Too many hops (mail loop?)' };
  markCrlfOnly(raw); // the store need not scan it for bare line ends again
  return { ok: true, raw };
}

/** Number of Received fields in the header section. */
export function countReceived(raw: Buffer): number {
  const text = headerSection(raw).toString('latin1');
  let n = 0;
  if (/^received:/i.test(text)) n++;
  const re = /\r\nreceived:/gi;
  while (re.exec(text)) n++;
  return n;
}

/** The header section of a message (up to and including the empty line), or the whole message if none ends it. */
export function headerSection(raw: Buffer): Buffer {
  if (raw.length >= 2 && raw[0] === CR && raw[1] === LF) return raw.subarray(0, 2);
  const end = raw.indexOf('\r\n\r\n');
  return end === -1 ? raw : raw.subarray(0, end + 4);
}

/**
 * The unfolded value of the first header field named `name` (case-insensitive), or null.
 * Looks only at the header section.
 */
export function headerValue(raw: Buffer, name: string): string | null {
  const text = headerSection(raw).toString('utf8');
  const lines = text.split('\r\n');
  const want = name.toLowerCase() + ':';
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.toLowerCase().startsWith(want)) {
      let value = line.slice(want.length);
      while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1]!)) value += lines[++i]!;
      return value.trim();
    }
  }
  return null;
}

/**
 * ManageSieve responses (RFC 5804 section 1.3, 4): OK / NO / BYE with an optional response code in
 * parentheses and an optional human-readable string; strings go out quoted when they can (printable, no
 * CR/LF, at most 1024 octets) and as literals {n} otherwise.
 */
import { MAX_QUOTED } from './framer.js';

/** A string argument or result in ManageSieve syntax. */
export function msString(value: string | Buffer): Buffer {
  const b = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  if (b.length <= MAX_QUOTED && !b.includes(0x0d) && !b.includes(0x0a) && !b.includes(0)) {
    return Buffer.from(`"${b.toString('utf8').replace(/([\\"])/g, '\\$1')}"`, 'utf8');
  }
  return Buffer.concat([Buffer.from(`{${b.length}}\r\n`, 'latin1'), b]);
}

/** One response line: `OK (CODE) "text"`. `code` is raw (e.g. `QUOTA/MAXSIZE`, `TAG "x"`). */
export function msResponse(kind: 'OK' | 'NO' | 'BYE', code: string | null, text: string | null): Buffer {
  const parts: Buffer[] = [Buffer.from(kind)];
  if (code) parts.push(Buffer.from(` (${code})`, 'utf8'));
  if (text !== null) parts.push(Buffer.from(' '), msString(text));
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** The capability lines (RFC 5804 1.7), without the final OK. */
export function capabilityLines(caps: {
  implementation: string;
  sasl: readonly string[];
  sieve: readonly string[];
  starttls: boolean;
  maxRedirects: number;
  owner: string | null;
}): Buffer {
  const lines: Buffer[] = [
    Buffer.concat([msString('IMPLEMENTATION'), Buffer.from(' '), msString(caps.implementation)]),
    Buffer.concat([msString('SASL'), Buffer.from(' '), msString(caps.sasl.join(' '))]),
    Buffer.concat([msString('SIEVE'), Buffer.from(' '), msString(caps.sieve.join(' '))]),
  ];
  if (caps.starttls) lines.push(msString('STARTTLS'));
  lines.push(Buffer.concat([msString('MAXREDIRECTS'), Buffer.from(' '), msString(String(caps.maxRedirects))]));
  if (caps.owner) lines.push(Buffer.concat([msString('OWNER'), Buffer.from(' '), msString(caps.owner)]));
  lines.push(Buffer.concat([msString('VERSION'), Buffer.from(' '), msString('1.0')]));
  return Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\r\n')]));
}

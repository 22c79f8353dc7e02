/**
 * Mail the Sieve stage sends: vacation replies (RFC 5230, 6131) and redirected copies (RFC 5228 4.2), and
 * the rules that keep them from looping or answering machines.
 *
 * A vacation reply is never sent (RFC 5230 4.5, 5; what Pigeonhole also checks) when:
 * - the envelope sender is empty, MAILER-DAEMON, owner-*, *-request, LISTSERV or majordomo, or one of the
 *   user's own addresses;
 * - the message carries Auto-Submitted other than "no", Precedence bulk/list/junk, or any List-* field
 *   (RFC 2369/2919), or X-Auto-Response-Suppress asking for none;
 * - none of the user's addresses (or :addresses) is in To, Cc, Bcc, Resent-To, Resent-Cc or Resent-Bcc.
 * The reply goes to the envelope sender with the null envelope sender, `Auto-Submitted: auto-replied`,
 * In-Reply-To/References of the original and Subject "Auto: <original>" unless :subject says otherwise.
 *
 * A redirected copy keeps the message (after editheader) and its envelope sender (Pigeonhole's default),
 * with `X-Sieve-Redirected-From: <user>` on top; a message that already carries that field for this user
 * is not redirected again (the copy would go round a forwarding loop).
 */
import { createHash, randomBytes } from 'node:crypto';
import { parseAddressList, parseHeaderBlock, unfoldHeader, messageHeaderEnd } from '../mime/index.js';
import { decodeMimeWords } from '../mime/decode.js';
import { parseAddress } from '../delivery/address.js';
import { headerSafe, rfc5322Date } from '../delivery/trace.js';

/** The header fields of a message, names lower-cased, values unfolded, in order. */
export function headerFields(raw: Buffer): Array<{ name: string; value: string }> {
  const block = raw.subarray(0, messageHeaderEnd(raw));
  return parseHeaderBlock(block).map((f) => ({ name: f.name.toLowerCase(), value: unfoldHeader(f.value) }));
}

function first(fields: ReadonlyArray<{ name: string; value: string }>, name: string): string | null {
  return fields.find((f) => f.name === name)?.value ?? null;
}

/** The Message-ID of a message (angle brackets included), or null. */
export function messageId(fields: ReadonlyArray<{ name: string; value: string }>): string | null {
  const v = first(fields, 'message-id');
  const m = v ? /<[^<>\s]+>/.exec(v) : null;
  return m ? m[0] : null;
}

/** Lower-cased address with any +detail removed from the local part. */
function baseAddress(a: string): string {
  const p = parseAddress(a);
  return p ? `${p.base}@${p.domain}` : a.trim().toLowerCase();
}

/** Local parts that are machines or lists (RFC 5230 4.5; Pigeonhole's list). */
const MACHINE_SENDER = /^(?:mailer-daemon|listserv|majordomo|owner-.*|.*-request|.*-owner|.*-bounces?|noreply|no-reply)$/i;

/** Why no vacation reply goes out for this message, or null when one may. */
export function vacationRefusal(opts: {
  fields: ReadonlyArray<{ name: string; value: string }>;
  envelopeFrom: string;
  /** The user's own addresses (address, envelope recipients, :addresses). */
  own: readonly string[];
}): string | null {
  const sender = parseAddress(opts.envelopeFrom);
  if (!opts.envelopeFrom || !sender) return 'null or invalid envelope sender';
  if (MACHINE_SENDER.test(sender.base)) return 'sender is a mailer or list address';
  const own = new Set(opts.own.map(baseAddress));
  if (own.has(baseAddress(sender.address))) return 'sender is the user';
  for (const f of opts.fields) {
    if (f.name === 'auto-submitted' && !/^no\b/i.test(f.value.trim())) return 'auto-submitted message';
    if (f.name === 'precedence' && /^(bulk|list|junk)\b/i.test(f.value.trim())) return `precedence ${f.value.trim().toLowerCase()}`;
    if (f.name.startsWith('list-')) return 'mailing list message';
    if (f.name === 'x-auto-response-suppress' && /\b(all|oof|autoreply)\b/i.test(f.value)) return 'auto responses suppressed';
  }
  for (const f of opts.fields) {
    if (!['to', 'cc', 'bcc', 'resent-to', 'resent-cc', 'resent-bcc'].includes(f.name)) continue;
    for (const a of parseAddressList(f.value) ?? []) {
      if (a.mailbox && a.host && own.has(baseAddress(`${a.mailbox}@${a.host}`))) return null;
    }
  }
  return 'the user is not in To or Cc';
}

/** The vacation handle when the script gave none: a digest of what makes two vacation actions the same. */
export function vacationHandle(a: { reason: string; subject?: string | undefined; from?: string | undefined; mime: boolean }): string {
  return createHash('sha256')
    .update([a.reason, a.subject ?? '', a.from ?? '', a.mime ? '1' : '0'].join('\0'))
    .digest('hex')
    .slice(0, 32);
}

/** Encodes a header value with RFC 2047 encoded words when it is not plain ASCII. */
export function encodeHeaderValue(s: string): string {
  const clean = headerSafe(s);
  if (/^[\x20-\x7e]*$/.test(clean)) return clean;
  const words: string[] = [];
  let chunk = '';
  for (const ch of clean) {
    if (Buffer.byteLength(chunk + ch, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += ch;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

/** Folds a long References value at spaces. */
function fold(name: string, value: string): string {
  const parts = value.split(' ').filter(Boolean);
  let line = `${name}:`;
  const lines: string[] = [];
  for (const p of parts) {
    if (line.length + 1 + p.length > 76 && line.length > name.length + 1) {
      lines.push(line);
      line = '';
    }
    line += ` ${p}`;
  }
  lines.push(line);
  return lines.join('\r\n') + '\r\n';
}

export interface VacationReply {
  /** Where it goes (the original envelope sender). */
  to: string;
  raw: Buffer;
}

/**
 * Builds the reply. `reason` is the body text, or with `mime` a complete MIME entity (its own header
 * fields, a blank line, the body). `htmlBody` (vacation setting) makes a multipart/alternative.
 */
export function buildVacationReply(opts: {
  fields: ReadonlyArray<{ name: string; value: string }>;
  to: string;
  from: string;
  reason: string;
  subject?: string | undefined;
  mime: boolean;
  htmlBody?: string | null | undefined;
  hostname: string;
  now: Date;
}): VacationReply {
  const original = decodeMimeWords(first(opts.fields, 'subject') ?? '');
  const subject = opts.subject ?? `Auto: ${original}`;
  const id = messageId(opts.fields);
  const refs = [first(opts.fields, 'references') ?? '', id ?? ''].join(' ').trim();
  const head =
    `From: ${headerSafe(opts.from)}\r\n` +
    `To: <${headerSafe(opts.to)}>\r\n` +
    `Subject: ${encodeHeaderValue(subject)}\r\n` +
    `Date: ${rfc5322Date(opts.now)}\r\n` +
    `Message-ID: <${randomBytes(12).toString('hex')}.vacation@${headerSafe(opts.hostname)}>\r\n` +
    (id ? `In-Reply-To: ${id}\r\n` : '') +
    (refs ? fold('References', refs) : '') +
    'Auto-Submitted: auto-replied (vacation)\r\n' +
    'MIME-Version: 1.0\r\n';
  const crlf = (s: string): string => s.replace(/\r?\n/g, '\r\n');
  let body: string;
  if (opts.mime) {
    body = mimeReason(crlf(opts.reason));
  } else if (opts.htmlBody) {
    const b = `=_alt_${randomBytes(10).toString('hex')}`;
    body =
      `Content-Type: multipart/alternative; boundary="${b}"\r\n\r\n` +
      `--${b}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${crlf(opts.reason)}\r\n` +
      `--${b}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${crlf(opts.htmlBody)}\r\n--${b}--\r\n`;
  } else {
    body = `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${crlf(opts.reason)}`;
  }
  if (!body.endsWith('\r\n')) body += '\r\n';
  return { to: opts.to, raw: Buffer.from(head + body, 'utf8') };
}

/**
 * A :mime reason (RFC 5230 4.4) as the reply's MIME part: of its header, only the Content-* fields are kept
 * (anything else, a From or a Bcc, would become a header field of the reply itself); a reason that does not
 * begin with a header block is a text/plain body.
 */
function mimeReason(reason: string): string {
  const split = reason.indexOf('\r\n\r\n');
  const lines = split < 0 ? [] : reason.slice(0, split).split('\r\n');
  const isHeader = lines.length > 0 && /^[!-9;-~]+:/.test(lines[0]!) && lines.every((l) => /^[!-9;-~]+:/.test(l) || /^[ \t]/.test(l));
  if (!isHeader) return `Content-Type: text/plain; charset=utf-8\r\n\r\n${reason}`;
  const kept: string[] = [];
  let keep = false;
  for (const l of lines) {
    if (!/^[ \t]/.test(l)) keep = /^content-/i.test(l);
    if (keep) kept.push(l);
  }
  const rest = reason.slice(split + 4);
  return kept.length ? `${kept.join('\r\n')}\r\n\r\n${rest}` : `Content-Type: text/plain; charset=utf-8\r\n\r\n${rest}`;
}

/** The header field a redirected copy carries, naming the user who redirected it. */
export const REDIRECTED_FROM = 'x-sieve-redirected-from';

/** True when the message was already redirected by this user (a forwarding loop). */
export function redirectedBy(fields: ReadonlyArray<{ name: string; value: string }>, user: string): boolean {
  const u = user.toLowerCase();
  return fields.some((f) => f.name === REDIRECTED_FROM && f.value.trim().replace(/^<|>$/g, '').toLowerCase() === u);
}

/** The redirected copy: the message with X-Sieve-Redirected-From on top. */
export function redirectedCopy(message: Buffer, user: string): Buffer {
  return Buffer.concat([Buffer.from(`X-Sieve-Redirected-From: <${headerSafe(user)}>\r\n`, 'utf8'), message]);
}

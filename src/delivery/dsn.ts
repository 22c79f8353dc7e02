/**
 * Delivery status notifications (bounces): RFC 3464 message/delivery-status inside an RFC 6522
 * multipart/report; report-type=delivery-status. The third part carries the original header
 * (text/rfc822-headers), not the whole message, to keep bounces small.
 * A bounce is sent with the null envelope sender (MAIL FROM:<>) so it can never cause another bounce.
 */
import { randomBytes } from 'node:crypto';
import { headerSection } from './message-check.js';
import { headerSafe, rfc5322Date } from './trace.js';

export interface FailedRecipient {
  recipient: string;
  /** RFC 3463 enhanced status, e.g. "5.1.1". */
  status: string;
  /** The remote reply or our reason, e.g. "550 5.1.1 No such user". */
  diagnostic: string;
  /** The host that answered, if any. */
  remoteMta?: string;
}

export interface DsnInput {
  /** Our host name (Reporting-MTA). */
  reportingMta: string;
  /** Where the bounce goes (the original envelope sender). */
  to: string;
  originalEnvelopeFrom: string;
  arrivalDate: Date;
  failed: FailedRecipient[];
  /** The original message; only its header section is included. */
  original: Buffer;
  date?: Date;
}

/** The enhanced status code in a reply ("550 5.1.1 ..." -> "5.1.1"), or one derived from the basic code. */
export function statusFromReply(reply: string, fallbackPermanent: boolean): string {
  const m = /^\s*([245])\d\d[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply);
  if (m) return m[2]!;
  const basic = /^\s*([245])\d\d\b/.exec(reply);
  if (basic) return `${basic[1]}.0.0`;
  return fallbackPermanent ? '5.0.0' : '4.4.1';
}

/** Builds the complete bounce message (CRLF line endings). */
export function buildDsn(input: DsnInput): Buffer {
  const date = input.date ?? new Date();
  const boundary = `=_report_${randomBytes(12).toString('hex')}`;
  const mta = headerSafe(input.reportingMta);
  const rcptList = input.failed.map((f) => `  <${headerSafe(f.recipient)}>: ${headerSafe(f.diagnostic)}`).join('\r\n');
  const human = [
    `This is the mail system at ${mta}.`,
    '',
    'Your message could not be delivered to one or more recipients.',
    'It has been returned with the reasons below.',
    '',
    rcptList,
    '',
  ].join('\r\n');
  const perMessage = [`Reporting-MTA: dns; ${mta}`, `Arrival-Date: ${rfc5322Date(input.arrivalDate)}`];
  const perRecipient = input.failed.map((f) => {
    const lines = [`Final-Recipient: rfc822; ${headerSafe(f.recipient)}`, 'Action: failed', `Status: ${headerSafe(f.status)}`];
    if (f.remoteMta) lines.push(`Remote-MTA: dns; ${headerSafe(f.remoteMta)}`);
    lines.push(`Diagnostic-Code: smtp; ${headerSafe(f.diagnostic)}`, `Last-Attempt-Date: ${rfc5322Date(date)}`);
    return lines.join('\r\n');
  });
  let origHeader = headerSection(input.original);
  if (!origHeader.subarray(-2).equals(Buffer.from('\r\n'))) origHeader = Buffer.concat([origHeader, Buffer.from('\r\n')]);
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${mta}>`,
    `To: <${headerSafe(input.to)}>`,
    'Subject: Undelivered Mail Returned to Sender',
    `Date: ${rfc5322Date(date)}`,
    `Message-ID: <${randomBytes(12).toString('hex')}.dsn@${mta}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    human,
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    '',
    [perMessage.join('\r\n'), ...perRecipient].join('\r\n\r\n'),
    '',
    `--${boundary}`,
    'Content-Type: text/rfc822-headers',
    '',
    '',
  ].join('\r\n');
  return Buffer.concat([Buffer.from(head, 'utf8'), origHeader, Buffer.from(`\r\n--${boundary}--\r\n`, 'utf8')]);
}

/**
 * Trace header fields added at delivery (RFC 5321 section 4.4, RFC 5322 section 3.6.7):
 * Return-Path (the envelope sender, added by the final delivery), Delivered-To (the envelope recipient as
 * given, which records a plus-address tag: "Delivered-To: bob+lists@example.org"), and Received (one per hop,
 * "with" protocol names from RFC 3848 / RFC 6531).
 * Every value is sanitised: nothing a client sends can add a line break to a header.
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 section 3.3 date-time in UTC, e.g. "Fri, 27 Nov 2026 06:37:33 +0000". */
export function rfc5322Date(d: Date): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} +0000`
  );
}

/** Removes control characters (CR, LF, NUL, ...) and angle brackets' breakers from a value put in a header. */
export function headerSafe(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\x00-\x1f\x7f]/g, '').trim();
}

/** RFC 3848 / RFC 6531 "with" keyword. */
export function withProtocol(opts: { lmtp?: boolean; secure: boolean; authenticated: boolean; utf8?: boolean }): string {
  if (opts.lmtp) return opts.secure ? 'LMTPS' : 'LMTP';
  const base = opts.utf8 ? 'UTF8SMTP' : 'ESMTP';
  return base + (opts.secure ? 'S' : '') + (opts.authenticated ? 'A' : '');
}

export interface ReceivedInfo {
  /** Name the client gave in HELO/EHLO/LHLO. */
  helo: string;
  /** Reverse DNS of the client, if known. */
  clientHostname?: string;
  remoteAddress: string;
  /** Our name. */
  by: string;
  protocol: string;
  /** Transaction id. */
  id: string;
  /** Recipient for the "for" clause (only when the copy is for one recipient). */
  for?: string;
  date: Date;
}

/** One Received header field, folded, ending in CRLF. */
export function receivedHeader(r: ReceivedInfo): string {
  return receivedFor(r)(r.for);
}

/**
 * receivedHeader for one hop and any recipient: what does not depend on the recipient is made once, so the
 * copies of one message (one per user) each add only their "for" clause.
 */
export function receivedFor(r: Omit<ReceivedInfo, 'for'>): (recipient?: string) => string {
  const ip = headerSafe(r.remoteAddress).replace(/^::ffff:/, '');
  const host = r.clientHostname && r.clientHostname !== `[${ip}]` ? `${headerSafe(r.clientHostname)} ` : '';
  const head = `Received: from ${headerSafe(r.helo) || 'unknown'} (${host}[${ip}])\r\n\tby ${headerSafe(r.by)} (mailroom) with ${r.protocol} id ${headerSafe(r.id)}`;
  const tail = `\r\n\t${rfc5322Date(r.date)}\r\n`;
  return (recipient) => (recipient ? `${head}\r\n\tfor <${headerSafe(recipient)}>;${tail}` : `${head};${tail}`);
}

/** "Return-Path: <sender>\r\n" ("<>" for the null sender). */
export function returnPathHeader(envelopeFrom: string): string {
  return `Return-Path: <${headerSafe(envelopeFrom)}>\r\n`;
}

/** "Delivered-To: recipient\r\n". */
export function deliveredToHeader(recipient: string): string {
  return `Delivered-To: ${headerSafe(recipient)}\r\n`;
}

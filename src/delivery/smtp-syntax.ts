/**
 * Command syntax checks smtp-server leaves to us (RFC 5321), for LMTP, the MX and submission alike:
 * - the EHLO/HELO/LHLO argument is a Domain or an address-literal (4.1.1.1, 4.1.3); a malformed one is
 *   `501` (with no enhanced status code, as RFC 2034 says of HELO/EHLO replies). Liberal where real clients are sloppy: underscores in labels, a trailing root dot and a bare
 *   IP address without brackets pass (Postfix's reject_invalid_helo_hostname accepts those too).
 * - a MAIL FROM / RCPT TO parameter that the listener does not advertise in EHLO is `555 5.5.4` (3.3,
 *   4.1.1.11); the values of the advertised ones are checked by smtp-server (SIZE digits, BODY 7BIT or
 *   8BITMIME, SMTPUTF8 without a value), except AUTH, which needs one (RFC 4954 section 5).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { SMTPServerOptions } from 'smtp-server';
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

/** Longest EHLO argument: a domain is at most 255 octets (RFC 5321 4.5.3.1.2); a literal of IPv6 is shorter. */
const MAX_HELO_ARGUMENT = 255;

/** An RFC 5321 sub-domain, with the underscore real hosts use in their names (Dovecot and Postfix allow it). */
const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
/** Standardized-tag ":" 1*dcontent of a General-address-literal (RFC 5321 4.1.3). */
const GENERAL_LITERAL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?:[\x21-\x5a\x5e-\x7e]+$/;
/** Snum "." Snum "." Snum "." Snum, each 1*3DIGIT up to 255 (leading zeros allowed, as the grammar does). */
const IPV4_LITERAL = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Whether `arg` (the raw bytes after EHLO/HELO/LHLO) is a Domain, an address-literal or a bare IP address. */
export function isValidHeloArgument(arg: Buffer): boolean {
  if (arg.length === 0 || arg.length > MAX_HELO_ARGUMENT) return false;
  for (const b of arg) if (b <= 0x20 || b >= 0x7f) return false; // 8-bit bytes, controls, spaces
  const s = arg.toString('latin1');
  if (s.startsWith('[')) return s.endsWith(']') && isAddressLiteral(s.slice(1, -1));
  if (isIPv4(s) || isIPv6(s)) return true; // a bare address: sloppy but common (printers, scripts)
  const name = s.endsWith('.') ? s.slice(0, -1) : s;
  return name.length > 0 && name.split('.').every((l) => LABEL.test(l));
}

function isAddressLiteral(inner: string): boolean {
  const v4 = IPV4_LITERAL.exec(inner);
  if (v4) return v4.slice(1).every((n) => Number(n) <= 255);
  if (/^ipv6:/i.test(inner)) return isIPv6(inner.slice(5));
  return GENERAL_LITERAL.test(inner);
}

/** The parameter keywords a listener recognises, per command. */
export interface EsmtpParams {
  mail: ReadonlySet<string>;
  rcpt: ReadonlySet<string>;
}

/**
 * The MAIL and RCPT parameters that go with the extensions smtp-server advertises in EHLO for `options`:
 * SIZE, BODY (8BITMIME), SMTPUTF8, AUTH (when AUTH is offered), REQUIRETLS and DSN's RET, ENVID, NOTIFY, ORCPT.
 */
export function advertisedParams(options: SMTPServerOptions): EsmtpParams {
  const mail: string[] = [];
  const rcpt: string[] = [];
  if (options.size) mail.push('SIZE');
  if (!options.hide8BITMIME) mail.push('BODY');
  if (!options.hideSMTPUTF8) mail.push('SMTPUTF8');
  if (options.authMethods?.length && !options.disabledCommands?.includes('AUTH')) mail.push('AUTH');
  if (!options.hideREQUIRETLS) mail.push('REQUIRETLS');
  if (!options.hideDSN) {
    mail.push('RET', 'ENVID');
    rcpt.push('NOTIFY', 'ORCPT');
  }
  return { mail: new Set(mail), rcpt: new Set(rcpt) };
}

/** RFC 5321 esmtp-keyword; other text is not echoed in a reply. */
const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

/**
 * The refusal for the parameters of a parsed MAIL/RCPT (`args` as smtp-server's parser gives them, keys
 * uppercased, a bare keyword as true), or null when they are all recognised and well-formed here.
 */
export function paramsRefusal(command: 'MAIL FROM' | 'RCPT TO', args: Record<string, string | boolean> | false, known: ReadonlySet<string>): { code: number; text: string } | null {
  if (!args) return null;
  const unknown = Object.keys(args).filter((k) => !known.has(k));
  if (unknown.length) {
    const named = unknown.filter((k) => KEYWORD.test(k)).join(' ');
    return { code: 555, text: `{5.5.4} ${command} parameters not recognized or not implemented${named ? `: ${named}` : ''}` };
  }
  // RFC 4954 section 5: AUTH=<> or AUTH=xtext mailbox, never a bare keyword.
  if (args.AUTH === true) return { code: 501, text: '{5.5.4} AUTH parameter requires a value' };
  return null;
}

/**
 * Puts the checks above in front of smtp-server's own EHLO/HELO (LHLO runs the EHLO handler), MAIL and RCPT
 * handlers of one connection. Commands out of sequence and unparsable addresses are left to smtp-server, so
 * its 503 and 501 replies keep their precedence.
 */
export function installSyntaxChecks(conn: SMTPConnection, params: EsmtpParams): void {
  const wrapHelo = (verb: 'EHLO' | 'HELO'): void => {
    const inner = verb === 'EHLO' ? conn.handler_EHLO : conn.handler_HELO;
    const handler = function (this: SMTPConnection, command: Buffer, callback: () => void): void {
      const arg = heloArgument(command);
      if (arg && !isValidHeloArgument(arg)) {
        // No enhanced status code: RFC 2034 section 3 leaves the replies to HELO and EHLO without one.
        conn.send(501, 'Invalid domain name or address literal', false);
        return callback();
      }
      inner.call(conn, command, callback);
    };
    if (verb === 'EHLO') conn.handler_EHLO = handler;
    else conn.handler_HELO = handler;
  };
  wrapHelo('EHLO');
  wrapHelo('HELO');

  const mail = conn.handler_MAIL;
  conn.handler_MAIL = function (command, callback) {
    const parsed = !conn.session.envelope.mailFrom && mayHaveParams(command) && conn._parseAddressCommand('mail from', command);
    const refused = parsed && paramsRefusal('MAIL FROM', parsed.args as Record<string, string | boolean> | false, params.mail);
    if (refused) {
      conn.send(refused.code, refused.text);
      return callback();
    }
    mail.call(conn, command, callback);
  };
  const rcpt = conn.handler_RCPT;
  conn.handler_RCPT = function (command, callback) {
    const parsed = conn.session.envelope.mailFrom && mayHaveParams(command) && conn._parseAddressCommand('rcpt to', command);
    const refused = parsed && paramsRefusal('RCPT TO', parsed.args as Record<string, string | boolean> | false, params.rcpt);
    if (refused) {
      conn.send(refused.code, refused.text);
      return callback();
    }
    rcpt.call(conn, command, callback);
  };
}

/**
 * False when a MAIL/RCPT line certainly has no parameter: after the ":" and the blanks that follow it, one
 * token of visible ASCII. Anything else (a separator smtp-server's \s+ split could see, 8-bit bytes) gets
 * the full parse; this spares it for the common "RCPT TO:<a@b>" (about 3 us each).
 */
export function mayHaveParams(command: Buffer): boolean {
  let i = command.indexOf(0x3a) + 1;
  if (i === 0) return false; // no ':' at all: smtp-server answers 501
  let end = command.length;
  while (i < end && (command[i] === 0x20 || command[i] === 0x09)) i++;
  while (end > i && (command[end - 1] === 0x20 || command[end - 1] === 0x09)) end--;
  for (let j = i; j < end; j++) if (command[j]! <= 0x20 || command[j]! >= 0x7f) return true;
  return false;
}

/** The single argument of EHLO/HELO/LHLO as sent, or null when there is not exactly one (smtp-server answers that). */
function heloArgument(command: Buffer): Buffer | null {
  const parts = command.toString('latin1').trim().split(/[ \t]+/);
  return parts.length === 2 ? Buffer.from(parts[1]!, 'latin1') : null;
}

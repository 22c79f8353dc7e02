/**
 * Named limits, each with its reason. Protocol servers take these as defaults and allow overrides
 * through their options (tests lower them to exercise the limit paths).
 */

/** IMAP command line cap. RFC 9051 sets no limit; RFC 7162 section 4 asks servers to accept at least 8192 octets. */
export const IMAP_MAX_LINE = 64 * 1024;
/** Largest literal (and message) accepted: advertised as APPENDLIMIT (RFC 7889). */
export const MAX_MESSAGE_SIZE = 64 * 1024 * 1024;
/**
 * Literal bytes (APPEND data) one IMAP service holds in memory across all its connections at once: an eighth
 * of the machine's memory, at least 256 MiB and at most 2 GiB (never below the APPENDLIMIT in use). Beyond
 * it a literal is refused with NO [UNAVAILABLE] before it is sent; one connection alone is bounded by
 * APPENDLIMIT, but a hundred sessions each sending a 64 MiB literal would otherwise hold 6.4 GB.
 */
export function maxBufferedLiterals(totalMemory: number, appendLimit: number): number {
  const MiB = 1024 * 1024;
  return Math.max(appendLimit, Math.min(2048 * MiB, Math.max(256 * MiB, Math.floor(totalMemory / 8))));
}
/** IMAP autologout: RFC 9051 section 5.4 requires at least 30 minutes. */
export const IMAP_IDLE_TIMEOUT_MS = 30 * 60 * 1000;
/**
 * Time a connection has to log in (IMAP, POP3, ManageSieve), however busy it keeps itself meanwhile; then it is
 * disconnected. Dovecot's login processes allow 3 minutes as well.
 */
export const LOGIN_TIMEOUT_MS = 3 * 60 * 1000;
/** POP3 autologout: RFC 1939 section 3 requires at least 10 minutes. */
export const POP3_IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** POP3 command line: RFC 2449 section 4 limits commands to 255 octets including CRLF. */
export const POP3_MAX_COMMAND_LINE = 255;
/** Depth of nested multiparts/message parts indexed; deeper content is treated as an opaque leaf. */
export const MIME_MAX_DEPTH = 100;
/**
 * MIME parts indexed in one message (Dovecot's max_total_mime_parts); past it the rest of a multipart is the
 * body of its last indexed part. Each part costs a few hundred bytes of index: empty parts ("--b" lines) in
 * a 64 MB message would otherwise make an index of gigabytes.
 */
export const MIME_MAX_PARTS = 10000;
/** SMTP/LMTP recipients per transaction; RFC 5321 4.5.3.1.8 requires accepting at least 100. */
export const SMTP_MAX_RECIPIENTS = 1000;
/** Concurrent connections from one IP address per protocol listener. */
export const MAX_CONNECTIONS_PER_IP = 50;
/** Concurrent IMAP sessions of one user (Dovecot's mail_max_userip_connections default is 10 per IP). */
export const MAX_CONNECTIONS_PER_USER = 100;

/**
 * POP3 replies as values. A command handler returns one Reply; the connection alone writes it
 * (status line, then an optional multi-line body that it dot-stuffs and terminates with ".").
 */

import type { MessageReader } from '../store/maildrop.js';

/** RFC 2449 section 8 / RFC 3206 extended response codes used by this server. */
export type RespCode = 'IN-USE' | 'LOGIN-DELAY' | 'SYS/TEMP' | 'SYS/PERM' | 'AUTH';

export type ReplyBody =
  /** Short text lines (LIST, UIDL, CAPA, AUTH mechanism list); no line terminators inside. */
  | { kind: 'lines'; lines: readonly string[] }
  /** Message bytes (RETR, TOP), streamed; the connection dot-stuffs them on Buffers. */
  | { kind: 'bytes'; chunks: AsyncIterable<Buffer> | Iterable<Buffer> }
  /**
   * A stored message opened by the store (RETR): the connection reads it up to `end` into its read buffers,
   * dot-stuffs it, closes the reader whatever happens, and calls `sent` once the last byte is handed over.
   */
  | { kind: 'message'; reader: MessageReader; end: number; sent: () => void };

/** What the connection does after writing the reply. */
export type AfterReply = 'close' | 'starttls';

/**
 * Why a -ERR reply counts against the connection: malformed or misplaced commands ('bad-command')
 * and failed logins ('auth-failure') are limited per connection.
 */
export type ErrorClass = 'bad-command' | 'auth-failure';

export type Reply =
  | { ok: true; text: string; code?: undefined; counts?: undefined; body?: ReplyBody | undefined; after?: AfterReply | undefined }
  | { ok: false; text: string; code?: RespCode | undefined; counts?: ErrorClass | undefined; body?: undefined; after?: AfterReply | undefined };

// ok(), err() and bad() build every reply with the same six fields in the same order: the connection code
// that reads them (every command goes through it) then sees one object shape, where a shape per combination
// of fields made V8 drop its optimized code for that path when a new combination came by, and compile it
// again (in each worker process of its own).

export function ok(text: string, extra?: { body?: ReplyBody; after?: AfterReply }): Reply {
  return { ok: true, text, code: undefined, counts: undefined, body: extra?.body, after: extra?.after };
}

export function err(text: string, code?: RespCode, extra?: { counts?: ErrorClass; after?: AfterReply }): Reply {
  return { ok: false, text, code, counts: extra?.counts, body: undefined, after: extra?.after };
}

/** A -ERR for a malformed, unknown or misplaced command. */
export function bad(text: string): Reply {
  return { ok: false, text, code: undefined, counts: 'bad-command', body: undefined, after: undefined };
}

/** Replaces anything that could break the status line (CR, LF, other controls) with a space. */
export function sanitizeText(text: string): string {
  // Most texts are clean: a test is cheaper than a replace that finds nothing (it builds no new string).
  return CONTROL.test(text) ? text.replace(CONTROL_ALL, ' ') : text;
}

const CONTROL = /[\x00-\x1f\x7f]/;
const CONTROL_ALL = /[\x00-\x1f\x7f]/g;

/** "+OK text\r\n" or "-ERR [CODE] text\r\n" (RFC 1939 section 3, RFC 2449 section 8). */
export function formatStatus(reply: Reply): string {
  const text = sanitizeText(reply.text);
  if (reply.ok) return text ? `+OK ${text}\r\n` : '+OK\r\n';
  const code = reply.code ? `[${reply.code}] ` : '';
  return `-ERR ${code}${text}\r\n`;
}

/** Lines of a multi-line body, dot-stuffed (RFC 1939 section 3), CRLF-terminated, plus the final ".". */
export function formatLines(lines: readonly string[]): string {
  // Each sanitized line is exactly one line (no CR or LF left in it): stuffing is a "." before a leading ".".
  let out = '';
  for (const line of lines) {
    const text = sanitizeText(line);
    out += text.charCodeAt(0) === DOT ? `.${text}\r\n` : `${text}\r\n`;
  }
  return `${out}.\r\n`;
}

const DOT = 0x2e;

/**
 * BURL (RFC 4468) for message submission: "BURL <imap-url> [LAST]" appends the message or part the URL
 * names (resolved with URLAUTH access "submit+<user>" or "authuser" through src/urlauth/, the same code as
 * IMAP URLFETCH) to the message of the current transaction; with LAST the message is complete and handled
 * like the end of DATA. EHLO advertises "BURL" before AUTH and "BURL imap" after it.
 * Replies: 530 before AUTH, 503 5.5.1 before MAIL and RCPT, 501 for bad syntax, 554 5.6.6 when the URL does
 * not resolve (the message so far is discarded), 552 5.3.4 over the size limit, 250 2.5.0 for a chunk
 * that is not the last; the last chunk gets the DATA reply.
 */
import type { SMTPServerSession } from 'smtp-server';
import type { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

export interface BurlHandlers {
  /** Largest message (the chunks together). */
  maxSize: number;
  /** The authenticated user of the session, or null. */
  user(session: SMTPServerSession): { id: number; address: string } | null;
  /** The bytes the URL names for this user, or null when it does not resolve. */
  resolve(user: { id: number; address: string }, url: string): Promise<Buffer | null>;
  /** Handles the complete message like DATA does; `reply` gets the error or the 250 text. */
  complete(raw: Buffer, session: SMTPServerSession, reply: (err: (Error & { responseCode?: number }) | null, message?: string) => void): Promise<void>;
}

/** Adds BURL to one connection (ListenerHandlers.onConnection). */
export function burlExtension(h: BurlHandlers): (conn: SMTPConnection) => void {
  return (conn) => {
    let chunks: Buffer[] = [];
    let size = 0;
    let tx = -1;
    const reset = (): void => {
      chunks = [];
      size = 0;
    };
    const ehlo = conn.handler_EHLO;
    conn.handler_EHLO = function (command, callback) {
      const send = conn.send;
      conn.send = (code, data, context) => {
        conn.send = send;
        const extra = h.user(conn.session) ? 'BURL imap' : 'BURL';
        send.call(conn, code, code === 250 && Array.isArray(data) ? [...data, extra] : data, context);
      };
      reset();
      ehlo.call(this, command, callback);
    };
    const burl = (command: Buffer, callback: () => void): void => {
      const reply = (code: number, text: string): void => {
        conn.send(code, text, false);
        callback();
      };
      // A new transaction (after RSET, MAIL, a finished message) starts with no chunks.
      if (tx !== conn._transactionCounter || !conn.session.envelope.mailFrom) reset();
      tx = conn._transactionCounter;
      const m = /^BURL +(\S+)( +LAST)? *$/i.exec(command.toString('utf8'));
      if (!m) return reply(501, '5.5.4 Syntax: BURL absolute-URI [LAST]');
      const user = h.user(conn.session);
      if (!user) return reply(530, '5.7.0 Authentication required');
      if (!conn.session.envelope.mailFrom || !conn.session.envelope.rcptTo.length) return reply(503, '5.5.1 Error: need MAIL and RCPT first');
      const last = m[2] !== undefined;
      h.resolve(user, m[1]!).then(
        (data) => {
          if (data === null) {
            reset();
            conn._resetSession();
            return reply(554, '5.6.6 IMAP URL resolution failed');
          }
          size += data.length;
          if (size > h.maxSize) {
            reset();
            conn._resetSession();
            return reply(552, `5.3.4 Error: message exceeds fixed maximum message size ${h.maxSize}`);
          }
          chunks.push(data);
          if (!last) return reply(250, `2.5.0 ${data.length} octets received`);
          const raw = Buffer.concat(chunks, size);
          reset();
          void h.complete(raw, conn.session, (err, message) => {
            if (err) conn.send(err.responseCode ?? 450, err.message);
            else conn.send(250, message ?? 'OK: message queued', 'DATA_OK');
            conn._transactionCounter++;
            conn._resetSession();
            callback();
          });
        },
        () => reply(454, '4.6.6 Temporary failure resolving the IMAP URL'),
      );
    };
    Object.assign(conn, { handler_BURL: burl });
  };
}

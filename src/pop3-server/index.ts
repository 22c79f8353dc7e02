/**
 * POP3 server (RFC 1939; RFC 2449 CAPA, response codes, PIPELINING, EXPIRE, LOGIN-DELAY; RFC 2595 STLS;
 * RFC 5034 AUTH with SASL PLAIN and LOGIN; RFC 3206 SYS/AUTH codes) over the shared store (Pop3Store: mail store, maildrop, directory).
 * The server wiring imports exactly createPop3Service and Pop3ServiceOptions from here.
 *
 * Layout: connection.ts (framer, pipelining, replies, STLS, autologout) -> dispatch.ts (table of commands
 * with allowed states) -> commands/<command>.ts (typed parse + handler returning a Reply) -> session.ts
 * (state union) and maildrop.ts (the login snapshot).
 *
 * Behaviour worth knowing:
 * - The maildrop is INBOX, snapshotted at login (numbers fixed for the session; later deliveries appear at the
 *   next login). QUIT commits DELE marks as one expunge plus \Seen for RETR'd messages (markSeenOnRetrieve)
 *   in one store transaction, then replies. A dropped connection or an autologout commits nothing.
 * - Messages that IMAP flagged \Deleted but did not expunge are still listed, as Dovecot does by default.
 * - UIDL is the store's EMAILID (stable, unique, never reused, characters [A-Za-z0-9_-]).
 * - RETR sends the stored bytes exactly, dot-stuffed; LIST/STAT octets equal those bytes. A stored message
 *   that does not end with CRLF gets one CRLF before the terminating ".", as every POP3 server must.
 * - TOP does not count as retrieval (no \Seen, no retention clock), as in Dovecot. RSET forgets both the
 *   DELE marks and the session's retrievals.
 * - A message expunged through IMAP during the session: RETR/TOP answer -ERR "removed by another session";
 *   its number stays valid for LIST/UIDL/DELE (the snapshot), and DELE of it is harmless.
 * - APOP: the greeting carries a timestamp only when APOP can succeed, i.e. some user's stored hash keeps a
 *   cleartext secret ({PLAIN}); with the default argon2 hashes no timestamp is sent and APOP is refused
 *   (options.apop overrides: true/false/'auto').
 * - Cleartext USER/PASS and AUTH PLAIN/LOGIN only over TLS or from loopback (unless
 *   allowPlaintextAuthOffLoopback); otherwise they are not advertised and are refused with -ERR [AUTH].
 * - Response codes: [IN-USE] maildrop locked by another POP3 session, [LOGIN-DELAY], [AUTH] bad credentials,
 *   [SYS/TEMP] throttled logins, store trouble and internal errors (logged with an id), [SYS/PERM] no INBOX.
 * - LOGIN-DELAY is enforced per service instance (in memory); EXPIRE N purges messages retrieved more than
 *   N days ago at login and at QUIT (EXPIRE 0: at the QUIT of the retrieving session).
 */
import type { NetService } from '../lib/service.js';
import type { Pop3ServiceOptions } from './options.js';
import { Pop3Service } from './service.js';

export type { Pop3ServiceOptions } from './options.js';
export { Pop3Service } from './service.js';

export function createPop3Service(opts: Pop3ServiceOptions): NetService {
  return new Pop3Service(opts);
}

/**
 * IMAP server (IMAP4rev2 RFC 9051 and IMAP4rev1 RFC 3501 with the extensions listed in capabilities.ts).
 * The server wiring imports exactly createImapService and ImapServiceOptions from here.
 */
export { createImapService, type ImapServiceOptions } from './service.js';

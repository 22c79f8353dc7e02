/**
 * POP3 server (RFC 1939, RFC 2449 CAPA and response codes, RFC 2595 STLS, RFC 5034 AUTH) over the shared
 * MailStore. The maildrop is INBOX, snapshotted at login; QUIT commits deletions as one expunge.
 */
import type { NetService } from '../lib/service.js';
import type { Pop3ServiceOptions } from './options.js';
import { Pop3Service } from './service.js';

export type { Pop3ServiceOptions } from './options.js';
export { Pop3Service } from './service.js';

export function createPop3Service(opts: Pop3ServiceOptions): NetService {
  return new Pop3Service(opts);
}

/**
 * Mail authentication: DKIM keys and records (keys.ts, records.ts), DKIM signing and ARC sealing of
 * forwarded mail in the outbound queue (sign.ts, arc-seal.ts), and the SMTP MX's SPF/DKIM/DMARC/ARC checks with their Authentication-Results field
 * (inbound.ts, mx.ts; DKIM verification in verify.ts). The web interface's domain page and
 * `mailroom domain dns` use domainDnsRecords().
 */
import type { Logger } from '../lib/logger.js';
import type { DkimKeyStore } from '../store/dkim.js';
import { createMxChecker } from './mx.js';
import { buildMailAuth, type MailAuthConfig, type MailAuthOptions } from './options.js';

export { generateDkimKey, dkimRecordName, dkimRecordValue, ensureDomainKey, newSelector, type EnsureKeyOptions } from './keys.js';
export { domainDnsRecords, formatZoneLine, type DnsRecord } from './records.js';
export { createSigner, signMessage, SIGNED_FIELDS, type Signer, type SigningKey } from './sign.js';
export { createSealer, sealMessage, chainState, ownAuthResults, type Sealer, type ChainValidation } from './arc-seal.js';
export { checkInbound, type InboundVerdict, type InboundSession } from './inbound.js';
export { createMxChecker, type MxChecker, type MxCheckResult } from './mx.js';
export { verifyDkim, DkimKeyCache, type DkimResult } from './verify.js';

export { buildMailAuth, type MailAuthConfig, type MailAuthOptions } from './options.js';

/**
 * The options createMailroom hands to the outbound queue (the signer; with dnsServers, MX and address
 * look-ups through them) and to the SMTP MX (the checker, when `checks`). createMailroom itself uses
 * buildMailAuth (options.ts), which loads the checker only for an SMTP listener.
 */
export function mailAuthOptions(store: { dkim: DkimKeyStore }, hostname: string, logger: Logger, cfg: MailAuthConfig = {}): MailAuthOptions {
  return buildMailAuth(store, hostname, logger, cfg, createMxChecker);
}

/**
 * Mail authentication: DKIM keys and records (keys.ts, records.ts), DKIM signing and ARC sealing of
 * forwarded mail in the outbound queue (sign.ts, arc-seal.ts), and the SMTP MX's SPF/DKIM/DMARC/ARC checks with their Authentication-Results field
 * (inbound.ts, mx.ts; DKIM verification in verify.ts). The web interface's domain page and
 * `mailroom domain dns` use domainDnsRecords().
 */
import type { Logger } from '../lib/logger.js';
import { createResolver, parseDnsServer, type DnsResolver } from '../lib/dns.js';
import type { DkimKeyStore } from '../store/dkim.js';
import { createMxChecker, type MxChecker } from './mx.js';
import { createSigner } from './sign.js';
import { createSealer } from './arc-seal.js';

export { generateDkimKey, dkimRecordName, dkimRecordValue, ensureDomainKey, newSelector, type EnsureKeyOptions } from './keys.js';
export { domainDnsRecords, formatZoneLine, type DnsRecord } from './records.js';
export { createSigner, signMessage, SIGNED_FIELDS, type Signer, type SigningKey } from './sign.js';
export { createSealer, sealMessage, chainState, ownAuthResults, type Sealer, type ChainValidation } from './arc-seal.js';
export { checkInbound, type InboundVerdict, type InboundSession } from './inbound.js';
export { createMxChecker, type MxChecker, type MxCheckResult } from './mx.js';
export { verifyDkim, DkimKeyCache, type DkimResult } from './verify.js';

export interface MailAuthConfig {
  /** SPF/DKIM/DMARC/ARC on the SMTP MX. */
  checks?: boolean;
  /** "HOST:PORT" servers for every look-up; default the system's resolver. */
  dnsServers?: readonly string[];
}

/**
 * The options createMailroom hands to the outbound queue (the signer; with dnsServers, MX and address
 * look-ups through them) and to the SMTP MX (the checker, when `checks`).
 */
export function mailAuthOptions(
  store: { dkim: DkimKeyStore },
  hostname: string,
  logger: Logger,
  cfg: MailAuthConfig = {},
): {
  resolver: DnsResolver | null;
  outbound: {
    sign: (raw: Buffer, envelopeFrom: string) => Promise<Buffer>;
    resolveMx?: (domain: string) => Promise<Array<{ exchange: string; priority: number }>>;
    lookupHost?: (host: string) => Promise<Array<{ address: string; family: number }>>;
  };
  smtp: { mxChecks?: MxChecker };
} {
  const custom = !!cfg.dnsServers?.length;
  const resolver = custom || cfg.checks ? createResolver(custom ? { servers: cfg.dnsServers!.map(parseDnsServer) } : {}) : null;
  const signer = createSigner(store);
  // Mail our MX verified and a local rule forwards (a Sieve redirect) gets an ARC set (arc-seal.ts).
  const sealer = createSealer(store, hostname);
  return {
    resolver,
    outbound: {
      sign: async (raw, from) => sealer.seal(await signer.sign(raw, from)),
      ...(custom && resolver ? { resolveMx: (d: string) => resolver.resolveMx(d), lookupHost: (h: string) => resolver.lookupAll(h) } : {}),
    },
    smtp: cfg.checks && resolver ? { mxChecks: createMxChecker({ hostname, resolver, logger: logger.child({ component: 'mailauth' }) }) } : {},
  };
}

/**
 * The mail-authentication options createMailroom hands to the outbound queue and the SMTP MX. Kept apart
 * from index.ts so a server loads the MX checks (mx.ts, inbound.ts and the mailauth package's SPF and
 * DMARC code, ~5 MB of heap) only when it runs an SMTP listener with checks on: the caller passes the
 * checker factory, or null.
 */
import type { Logger } from '../lib/logger.js';
import { createResolver, parseDnsServer, type DnsResolver } from '../lib/dns.js';
import type { DkimKeyStore } from '../store/dkim.js';
import type { MxChecker, MxCheckerOptions } from './mx.js';
import { createSigner } from './sign.js';
import { createSealer } from './arc-seal.js';

export interface MailAuthConfig {
  /** SPF/DKIM/DMARC/ARC on the SMTP MX. */
  checks?: boolean;
  /** "HOST:PORT" servers for every look-up; default the system's resolver. */
  dnsServers?: readonly string[];
}

export interface MailAuthOptions {
  resolver: DnsResolver | null;
  outbound: {
    sign: (raw: Buffer, envelopeFrom: string) => Promise<Buffer>;
    resolveMx?: (domain: string) => Promise<Array<{ exchange: string; priority: number }>>;
    lookupHost?: (host: string) => Promise<Array<{ address: string; family: number }>>;
  };
  smtp: { mxChecks?: MxChecker };
}

/**
 * The options for the outbound queue (the signer; with dnsServers, MX and address look-ups through them)
 * and for the SMTP MX (a checker made by `createChecker` when `checks` and a factory is given).
 */
export function buildMailAuth(
  store: { dkim: DkimKeyStore },
  hostname: string,
  logger: Logger,
  cfg: MailAuthConfig,
  createChecker: ((opts: MxCheckerOptions) => MxChecker) | null,
): MailAuthOptions {
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
    smtp: cfg.checks && resolver && createChecker ? { mxChecks: createChecker({ hostname, resolver, logger: logger.child({ component: 'mailauth' }) }) } : {},
  };
}

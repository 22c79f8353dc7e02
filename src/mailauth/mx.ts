/**
 * What the SMTP MX calls (delivery/smtp.ts): createMxChecker() gives one function that checks a received
 * message (inbound.ts), removes Authentication-Results fields that claim our authserv-id (RFC 8601
 * section 5), puts our field and Received-SPF (RFC 7208 9.1) on top, and returns the facts the delivery stages see (pipeline.ts
 * LocalMessage.facts): `authResults` (our field's value), `dmarc` ({ result, policy }) and `quarantine`.
 */
import type { Logger } from '../lib/logger.js';
import type { DnsResolver } from '../lib/dns.js';
import { isMarkedCrlfOnly, markCrlfOnly } from '../mime/index.js';
import { removeOwnAuthResults, splitFields } from './headers.js';
import { checkInbound, ResultCache, SpfCache, startSpf, type InboundSession, type InboundVerdict } from './inbound.js';
import type { DMARCResult } from 'mailauth';
import { DkimKeyCache } from './verify.js';

export interface MxCheckResult {
  /** The message to deliver: our Authentication-Results on top, forged ones of our authserv-id removed. */
  raw: Buffer;
  facts: { authResults: string; dmarc: { result: string; policy: string | null }; quarantine: boolean };
  /** Refuse the message with this reply instead of delivering it (DMARC reject, or 451 on a DNS failure). */
  refuse: InboundVerdict['refuse'];
  verdict: InboundVerdict;
}

export type MxChecker = ((raw: Buffer, session: InboundSession) => Promise<MxCheckResult>) & {
  /** Starts what depends on the envelope only (SPF) when DATA begins, to run while the message arrives. */
  start?: (session: InboundSession) => void;
};

export interface MxCheckerOptions {
  hostname: string;
  resolver: DnsResolver;
  logger?: Logger;
  random?: () => number;
}

export function createMxChecker(opts: MxCheckerOptions): MxChecker {
  const keys = new DkimKeyCache();
  const spfCache = new SpfCache();
  const dmarcCache = new ResultCache<DMARCResult>();
  const check: MxChecker = async (raw, session) => {
    const fields = splitFields(raw);
    const verdict = await checkInbound(raw, session, { hostname: opts.hostname, resolver: opts.resolver, keys, spfCache, dmarcCache, fields, ...(opts.random ? { random: opts.random } : {}) });
    const stripped = removeOwnAuthResults(raw, opts.hostname, fields);
    if (stripped.removed) opts.logger?.info({ removed: stripped.removed }, 'removed Authentication-Results fields claiming our name');
    const out = Buffer.concat([Buffer.from(verdict.field + verdict.receivedSpf, 'latin1'), stripped.raw]);
    if (isMarkedCrlfOnly(raw)) markCrlfOnly(out);
    return {
      raw: out,
      facts: { authResults: verdict.authResults, dmarc: { result: verdict.dmarc.result, policy: verdict.dmarc.policy }, quarantine: verdict.quarantine },
      refuse: verdict.refuse,
      verdict,
    };
  };
  check.start = (session) => startSpf(session, { hostname: opts.hostname, resolver: opts.resolver, spfCache });
  return check;
}

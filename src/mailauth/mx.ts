/**
 * What the SMTP MX calls (delivery/smtp.ts): createMxChecker() gives one function that checks a received
 * message (inbound.ts), removes Authentication-Results fields that claim our authserv-id (RFC 8601
 * section 5), puts our field and Received-SPF (RFC 7208 9.1) on top, and returns the facts the delivery stages see (pipeline.ts
 * LocalMessage.facts): `authResults` (our field's value), `dmarc` ({ result, policy }) and `quarantine`.
 */
import type { Logger } from '../lib/logger.js';
import type { DnsResolver } from '../lib/dns.js';
import { isMarkedCrlfOnly, markCrlfOnly } from '../mime/index.js';
import { removeSpans } from './headers.js';
import { headed } from '../delivery/headroom.js';
import { checkInbound, checkSignatures, ResultCache, SpfCache, startSpf, type InboundSession, type InboundVerdict, type SignatureReport } from './inbound.js';
import type { DMARCResult } from 'mailauth';
import { DkimKeyCache } from './verify.js';
import { checkPool, type CheckPool } from './pool.js';
import { octets, unpackParts } from './tasks.js';
import { rememberPrefixed, tokensWanted } from '../spam/pretokens.js';
import type { AheadTokens } from '../spam/pretokens.js';

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
  /**
   * Where DKIM and ARC verification run: the process's check pool by default (pool.ts; used when the
   * resolver has copyable settings), null for in-process always. A pool failure falls back to in-process.
   */
  pool?: CheckPool | null;
}

export function createMxChecker(opts: MxCheckerOptions): MxChecker {
  const keys = new DkimKeyCache();
  const spfCache = new SpfCache();
  const dmarcCache = new ResultCache<DMARCResult>();
  const dns = opts.resolver.settings;
  const local = (raw: Buffer): Promise<SignatureReport> => checkSignatures(raw, opts.hostname, opts.resolver, keys);
  /** The report, from a pool thread when there is one (with the spam tokens when the filter wants them). */
  const signatures = (raw: Buffer): Promise<SignatureReport & { ahead?: AheadTokens }> => {
    const pool = opts.pool === undefined ? checkPool() : opts.pool;
    if (!dns || !pool?.available) return local(raw);
    const { bytes, transfer } = octets(raw);
    const wanted = tokensWanted();
    return pool.run('auth', { bytes, hostname: opts.hostname, dns, tokens: wanted.strings, ids: wanted.ids }, transfer).then(
      ({ parts, ids, ...report }) => (parts || ids ? { ...report, ahead: { ...(parts ? { parts: unpackParts(parts) } : {}), ...(ids ? { ids } : {}) } } : report),
      () => local(raw),
    );
  };
  const check: MxChecker = async (raw, session) => {
    const sigs = signatures(raw);
    const verdict = await checkInbound(raw, session, { hostname: opts.hostname, resolver: opts.resolver, keys, spfCache, dmarcCache, signatures: sigs, ...(opts.random ? { random: opts.random } : {}) });
    const { own, ahead } = await sigs;
    const stripped = removeSpans(raw, own);
    if (stripped.removed) opts.logger?.info({ removed: stripped.removed }, 'removed Authentication-Results fields claiming our name');
    const prefix = Buffer.from(verdict.field + verdict.receivedSpf, 'latin1');
    const out = headed(prefix, stripped.raw);
    if (isMarkedCrlfOnly(raw)) markCrlfOnly(out);
    if (ahead) rememberPrefixed(out, prefix.length, ahead);
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

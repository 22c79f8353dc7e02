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
import { dnsSettingsText, octets, unpackParts } from './tasks.js';
import { rememberPrefixed, tokensWanted, type AheadTokens } from '../spam/pretokens.js';

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
  /** For DMARC pct sampling (inbound.ts); given, the checks run in-process. */
  random?: () => number;
  /**
   * Where the checks run (SPF, DKIM, DMARC, ARC, each thread with its own DNS and result caches): the
   * process's check pool by default (pool.ts; used when the resolver has copyable settings), null for
   * in-process always. A pool failure falls back to in-process.
   */
  pool?: CheckPool | null;
}

/** What the checks of one message give the MX: the verdict, our forged fields' offsets, the spam tokens. */
interface Checked {
  verdict: InboundVerdict;
  own: SignatureReport['own'];
  ahead?: AheadTokens;
}

export function createMxChecker(opts: MxCheckerOptions): MxChecker {
  const keys = new DkimKeyCache();
  const spfCache = new SpfCache();
  const dmarcCache = new ResultCache<DMARCResult>();
  const dns = opts.resolver.settings;
  const dnsText = dns ? dnsSettingsText(dns) : null;
  /** The pool the checks run on, or null for in-process (also with a `random` of the caller's, which stays here). */
  const threads = (): CheckPool | null => {
    const pool = opts.pool === undefined ? checkPool() : opts.pool;
    return dns && !opts.random && pool?.available ? pool : null;
  };
  const local = async (raw: Buffer, session: InboundSession): Promise<Checked> => {
    const signatures = checkSignatures(raw, opts.hostname, opts.resolver, keys);
    const verdict = await checkInbound(raw, session, { hostname: opts.hostname, resolver: opts.resolver, keys, spfCache, dmarcCache, signatures, ...(opts.random ? { random: opts.random } : {}) });
    return { verdict, own: (await signatures).own };
  };
  /**
   * Every check on a pool thread when there is one (with the spam tokens when the filter wants them): the
   * event loop only sends the octets and the envelope and receives the verdict. Else, or when the pool fails, here.
   */
  const checked = (raw: Buffer, session: InboundSession): Promise<Checked> => {
    const pool = threads();
    if (!pool) return local(raw, session);
    const { bytes, transfer } = octets(raw);
    const wanted = tokensWanted();
    const envelope = { ip: session.ip, helo: session.helo, mailFrom: session.mailFrom };
    return pool.run('inbound', { bytes, hostname: opts.hostname, dns: dnsText!, session: envelope, tokens: wanted.strings, ids: wanted.ids }, transfer).then(
      ({ verdict, own, parts, ids, authIds }) => {
        if (!parts && !ids) return { verdict, own };
        const auth = authIds ? { auth: { value: verdict.authResults, ids: authIds } } : {};
        return { verdict, own, ahead: { ...(parts ? { parts: unpackParts(parts) } : {}), ...(ids ? { ids } : {}), ...auth } };
      },
      () => local(raw, session),
    );
  };
  const check: MxChecker = async (raw, session) => {
    const { verdict, own, ahead } = await checked(raw, session);
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
  // On a pool thread SPF runs with the rest at the end of DATA (its results are cached there).
  check.start = (session) => {
    if (!threads()) startSpf(session, { hostname: opts.hostname, resolver: opts.resolver, spfCache });
  };
  return check;
}

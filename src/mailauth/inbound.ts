/**
 * The checks the SMTP MX makes on every message (RFC 7208 SPF, RFC 6376 DKIM, RFC 7489 DMARC, RFC 8617
 * ARC) over our resolver (lib/dns.ts), and the one Authentication-Results field (RFC 8601) that records
 * them. mailauth checks SPF and DMARC; DKIM signatures and the ARC chain are verified by verify.ts and
 * arc-verify.ts (see there why).
 *
 * checkInbound():
 * - SPF for the MAIL FROM identity and for the HELO identity (RFC 7208 2.3, 2.4; a null sender is checked
 *   as postmaster@HELO), DKIM for every signature, and the ARC chain, all at once; then DMARC over the
 *   aligned passes (SPF's domain: MAIL FROM's, or HELO's for a null sender).
 * - The verdict: DMARC fail under p=reject (after pct, RFC 7489 6.6.4) refuses the message with 550 5.7.1;
 *   if a temporary DNS failure (SPF or DKIM temperror) may have caused that fail, 451 4.7.5 asks the sender
 *   to try again instead. DMARC fail under p=quarantine sets `quarantine`. Everything else is delivered
 *   with the results recorded (temperror included).
 * - Never throws for anything in the message or in DNS; a failing check is recorded as temperror.
 */
import { spf } from 'mailauth/lib/spf/index.js';
import { dmarc } from 'mailauth/lib/dmarc/index.js';
import type { DMARCResult, DNSResolver } from 'mailauth';
import type { DnsResolver, RecordType } from '../lib/dns.js';
import { parseAddressList } from '../mime/address.js';
import { fieldValue, ownAuthResultsSpans, splitFields, type RawField } from './headers.js';
import { verifyArc, type ArcResult } from './arc-verify.js';
import { receivedSpfField } from './received-spf.js';
import { DkimKeyCache, messageView, verifyDkim, type DkimResult } from './verify.js';

export interface InboundSession {
  /** The client's address. */
  ip: string;
  /** The EHLO/HELO name as given. */
  helo: string;
  /** MAIL FROM ("" for the null sender). */
  mailFrom: string;
}

export interface InboundCheckOptions {
  /** Our authserv-id: the server's host name. */
  hostname: string;
  resolver: DnsResolver;
  /** Decoded DKIM keys, kept across messages (one per MX). */
  keys?: DkimKeyCache;
  /** SPF results kept across messages (one per MX). */
  spfCache?: SpfCache;
  /** The message's header fields, when the caller split them already. */
  fields?: RawField[];
  /** DMARC results kept across messages (one per MX). */
  dmarcCache?: ResultCache<DMARCResult>;
  /** For DMARC pct sampling; default Math.random. */
  random?: () => number;
  /** The message's SignatureReport when the caller has it under way (else it is made here). */
  signatures?: Promise<SignatureReport>;
}

export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

export interface InboundVerdict {
  /** The value of our Authentication-Results field (authserv-id first). */
  authResults: string;
  /** The complete field, CRLF-terminated, to put on top of the message. */
  field: string;
  /** The Received-SPF field (RFC 7208 9.1) for the identity that counts, CRLF-terminated. */
  receivedSpf: string;
  spf: { mailfrom: string; helo: string };
  dkim: Array<{ domain: string; selector: string; result: string }>;
  arc: string;
  dmarc: { result: string; policy: DmarcPolicy | null; domain: string | null };
  /** DMARC says quarantine: the message goes to Junk. */
  quarantine: boolean;
  /** DMARC says reject (or try later): the reply at the end of DATA; nothing is stored. */
  refuse: { code: number; enhanced: string; message: string } | null;
}

const KNOWN_TYPES = new Set<string>(['A', 'AAAA', 'TXT', 'MX', 'PTR', 'CNAME', 'NS']);

/** mailauth's resolver shape over ours. */
export function mailauthResolver(r: DnsResolver): DNSResolver {
  return async (name: string, type: string) => {
    const t = type.toUpperCase();
    if (!KNOWN_TYPES.has(t)) throw Object.assign(new Error(`unsupported type ${type}`), { code: 'ENODATA' });
    return (await r.resolve(name, t as RecordType)) as string[][] | string[];
  };
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

const UNCLEAN = /[\r\n()\\";\s]/;

/** Text safe inside an RFC 8601 comment or value. */
function clean(v: string): string {
  if (!UNCLEAN.test(v)) return v;
  return v.replace(/[\r\n()\\";]/g, ' ').replace(/\s+/g, ' ').trim();
}

function spfInfo(result: string, ptype: 'mailfrom' | 'helo', value: string, ip: string): string {
  return `spf=${result} (${ptype === 'mailfrom' ? 'MAIL FROM' : 'HELO'} of ${clean(ip)}) smtp.${ptype}=${clean(value) || 'unknown'}`;
}

/**
 * Check results kept across messages for CHECK_CACHE_MS: SPF by client address, HELO name and sender
 * (everything an SPF check depends on, macros included), DMARC by From domain and the aligned-candidate
 * domains that passed. A sending host usually sends many messages in a row. Temporary errors are not kept.
 */
export class ResultCache<T> {
  readonly #results = new Map<string, { at: number; result: T }>();
  constructor(
    private readonly max = 10_000,
    private readonly now: () => number = Date.now,
  ) {}
  get(key: string): T | undefined {
    const hit = this.#results.get(key);
    if (!hit) return undefined;
    if (this.now() - hit.at < SPF_CACHE_MS) return hit.result;
    this.#results.delete(key);
    return undefined;
  }
  set(key: string, result: T): void {
    if (this.#results.size >= this.max) this.#results.delete(this.#results.keys().next().value!);
    this.#results.set(key, { at: this.now(), result });
  }
}

/** SPF results (see ResultCache), and the checks under way (a check started early is joined, not repeated). */
export class SpfCache extends ResultCache<string> {
  readonly running = new Map<string, Promise<string>>();
  override set(key: string, result: string): void {
    if (result !== 'temperror') super.set(key, result);
  }
}

/** How long a check result is reused (a record change takes effect within this, as with a DNS cache). */
export const SPF_CACHE_MS = 60_000;

async function cachedSpf(cache: SpfCache | undefined, key: string, check: () => Promise<string>): Promise<string> {
  const hit = cache?.get(key);
  if (hit !== undefined) return hit;
  const running = cache?.running.get(key);
  if (running) return running;
  const p = check().then((result) => {
    cache?.set(key, result);
    cache?.running.delete(key);
    return result;
  });
  cache?.running.set(key, p);
  return p;
}

/**
 * Starts the SPF checks of a transaction (they depend on the envelope only) so they run while the message
 * is received; checkInbound then finds their results in the cache or joins them.
 */
export function startSpf(session: InboundSession, opts: Pick<InboundCheckOptions, 'hostname' | 'resolver' | 'spfCache'>): void {
  if (!opts.spfCache) return;
  const { spfCheck, mailFrom, heloIdentity } = spfChecks(session, opts);
  void spfCheck(mailFrom);
  if (session.mailFrom) void spfCheck(heloIdentity);
}

/** The SPF check of one identity of the session, through the cache. */
function spfChecks(session: InboundSession, opts: Pick<InboundCheckOptions, 'hostname' | 'resolver' | 'spfCache'>) {
  const resolver = mailauthResolver(opts.resolver);
  const helo = session.helo || session.ip;
  const heloIdentity = `postmaster@${helo}`;
  const mailFrom = session.mailFrom || heloIdentity;
  const spfCheck = (sender: string): Promise<string> =>
    cachedSpf(opts.spfCache, `${session.ip} ${helo} ${sender}`, async () => (await safe(spf({ sender, ip: session.ip, helo, mta: opts.hostname, resolver })))?.status.result ?? 'temperror');
  return { resolver, helo, heloIdentity, mailFrom, spfCheck };
}

/** DMARC through the cache: a failed look-up (null) is not kept; `false` (no single From) is not looked up. */
async function cachedDmarc(cache: ResultCache<DMARCResult> | undefined, key: string, check: () => Promise<DMARCResult | false | null>): Promise<DMARCResult | false | null> {
  const hit = cache?.get(key);
  if (hit !== undefined) return hit;
  const result = await check();
  if (result && result.status.result !== 'temperror') cache?.set(key, result);
  return result;
}

async function safe<T>(p: Promise<T>): Promise<T | null> {
  try {
    return await p;
  } catch {
    return null;
  }
}

/**
 * What checkInbound takes from the message itself, apart from the envelope: the DKIM results (null when
 * verification failed as a whole), the ARC chain's result, the From addresses, and the offsets of the
 * Authentication-Results fields that claim our authserv-id (mx.ts removes them). The CPU-heavy part of the
 * checks (canonicalization, body hashes, signature checks): pool.ts may run it on another thread.
 */
export interface SignatureReport {
  dkim: DkimResult[] | null;
  arc: ArcResult | null;
  from: string[];
  own: Array<[number, number]>;
}

/** The SignatureReport of `raw`; `hostname` is our authserv-id. Never throws. */
export async function checkSignatures(raw: Buffer, hostname: string, resolver: DnsResolver, keys: DkimKeyCache, fields: RawField[] = splitFields(raw)): Promise<SignatureReport> {
  // The header fields are split once and the body hashed once per canonicalization for DKIM and ARC both.
  const view = messageView(raw, fields);
  const [dkim, arc] = await Promise.all([safe(verifyDkim(raw, resolver, keys, new Date(), view)), safe(verifyArc(view, resolver, keys))]);
  return { dkim, arc, from: fromAddresses(view.fields), own: ownAuthResultsSpans(view.fields, hostname) };
}

export async function checkInbound(raw: Buffer, session: InboundSession, opts: InboundCheckOptions): Promise<InboundVerdict> {
  const mta = opts.hostname;
  const { resolver, helo, heloIdentity, mailFrom, spfCheck } = spfChecks(session, opts);
  const checkDmarc = (from: string, spfDomains: string[], dkimDomains: string[]) =>
    cachedDmarc(opts.dmarcCache, `${domainOf(from)} ${spfDomains.join(',')} ${dkimDomains.join(',')}`, () =>
      safe(dmarc({ headerFrom: [from], spfDomains, dkimDomains: dkimDomains.map((domain) => ({ domain })), resolver })),
    );
  const [signatures, spfMailFrom, spfHelo] = await Promise.all([
    opts.signatures ?? checkSignatures(raw, mta, opts.resolver, opts.keys ?? new DkimKeyCache(), opts.fields),
    spfCheck(mailFrom),
    session.mailFrom ? spfCheck(heloIdentity) : Promise.resolve(null),
  ]);
  const { dkim: dkimRes, arc: arcRes, from: headerFrom } = signatures;
  const spfHeloResult = spfHelo ?? spfMailFrom;

  const dkimRows = dkimRes ?? [{ domain: '', selector: '', algorithm: '', result: 'temperror' as const, info: 'dkim=temperror (verification failed)' }];
  const passing = dkimRows.filter((d) => d.result === 'pass');
  const dmarcRes =
    headerFrom.length === 1 ? await checkDmarc(headerFrom[0]!, spfMailFrom === 'pass' ? [domainOf(mailFrom)] : [], passing.map((d) => d.domain)) : (false as const);

  const parts: string[] = [];
  for (const d of dkimRows) parts.push(d.info);
  if (!dkimRows.length) parts.push('dkim=none');
  parts.push(spfInfo(spfMailFrom, 'mailfrom', mailFrom, session.ip));
  if (session.mailFrom) parts.push(spfInfo(spfHeloResult, 'helo', helo, session.ip));
  const arcResult = arcRes?.result ?? 'temperror';
  parts.push(arcRes?.info ?? 'arc=temperror');
  const dm = dmarcOutcome(dmarcRes, headerFrom.length);
  parts.push(dm.info);
  const authResults = `${mta};\r\n ${parts.join(';\r\n ')}`;

  let policy = dm.policy;
  const pct = dmarcRes && typeof dmarcRes.pct === 'number' ? dmarcRes.pct : 100;
  if (dm.result === 'fail' && policy && policy !== 'none' && pct < 100 && (opts.random ?? Math.random)() * 100 >= pct) {
    policy = policy === 'reject' ? 'quarantine' : 'none'; // RFC 7489 6.6.4: the next less strict policy
  }
  let refuse: InboundVerdict['refuse'] = null;
  let quarantine = false;
  if (dm.result === 'fail' && policy === 'reject') {
    const transient = spfMailFrom === 'temperror' || dkimRows.some((d) => d.result === 'temperror');
    refuse = transient
      ? { code: 451, enhanced: '4.7.5', message: `Temporary DNS failure while checking ${dm.domain ?? 'the sender'}'s DMARC policy, try again later` }
      : { code: 550, enhanced: '5.7.1', message: `Message rejected: it fails the DMARC policy of ${dm.domain ?? 'the sender domain'}` };
  } else if (dm.result === 'fail' && policy === 'quarantine') {
    quarantine = true;
  }
  return {
    authResults,
    field: `Authentication-Results: ${authResults}\r\n`,
    receivedSpf: receivedSpfField({ result: spfMailFrom, ip: session.ip, sender: mailFrom, envelopeFrom: session.mailFrom, helo, receiver: mta }),
    spf: { mailfrom: spfMailFrom, helo: spfHeloResult },
    dkim: dkimRows.map(({ domain, selector, result }) => ({ domain, selector, result })),
    arc: arcResult,
    dmarc: { result: dm.result, policy, domain: dm.domain },
    quarantine,
    refuse,
  };
}

/** The addresses of the From field(s) (RFC 5322 3.6.2), for DMARC: it applies to a message with exactly one. */
function fromAddresses(fields: readonly RawField[]): string[] {
  const out: string[] = [];
  for (const f of fields) {
    if (f.lower !== 'from') continue;
    for (const a of parseAddressList(fieldValue(f)) ?? []) if (a.mailbox && a.host) out.push(`${a.mailbox}@${a.host}`);
  }
  return out;
}

function dmarcOutcome(res: DMARCResult | false | null, fromCount: number): { result: string; policy: DmarcPolicy | null; domain: string | null; info: string } {
  if (res === null) return { result: 'temperror', policy: null, domain: null, info: 'dmarc=temperror' };
  if (res === false) {
    const why = fromCount !== 1 ? ' (no single From address)' : '';
    return { result: 'none', policy: null, domain: null, info: `dmarc=none${why}` };
  }
  const p = (res.policy ?? '').toLowerCase();
  const policy: DmarcPolicy | null = p === 'reject' || p === 'quarantine' || p === 'none' ? p : res.status.result === 'fail' ? 'none' : null;
  return { result: res.status.result, policy, domain: res.domain ?? null, info: res.info.replace(/\r?\n/g, ' ') };
}


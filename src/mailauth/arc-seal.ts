/**
 * ARC sealing (RFC 8617) of mail this server forwards after its MX verified it (a Sieve redirect leaves
 * through the outbound queue): one ARC set on top of the message, instance i = the highest one present + 1:
 *
 *   ARC-Seal: i=; a=; t=; cv=; d=; s=; b=            (section 4.1.3) signs the ARC sets 1..i
 *   ARC-Message-Signature: i=; a=; c=relaxed/relaxed; d=; s=; t=; h=; bh=; b=   (4.1.2) a DKIM-like
 *                                                    signature of the message as it leaves
 *   ARC-Authentication-Results: i=; <our Authentication-Results value>         (4.1.1)
 *
 * cv= is the chain's state as our MX found it (the arc= result in our Authentication-Results): none for a
 * message without ARC sets (i=1), pass, or fail. With cv=fail the seal covers only the new set (5.1.2);
 * otherwise every set in instance order (AAR, AMS, AS each), then the new AAR and AMS, then the new seal
 * with b= empty, all in relaxed header canonicalization (RFC 6376 3.4.2), as RFC 8617 5.1.1 lists them.
 * Nothing is sealed past instance 50 (4.2.1). Canonicalization and folding are sign.ts's.
 */
import { createHash, sign as cryptoSign } from 'node:crypto';
import { authservId, fieldValue, headerEnd, splitFields, type RawField } from './headers.js';
import type { DkimKeyStore } from '../store/dkim.js';
import { foldTags, foldValue, headerList, keyLoader, keysFor, relaxedBody, relaxedHeader, signedHeaderData, type SigningKey } from './sign.js';
import { parseTags } from './verify.js';

export type ChainValidation = 'none' | 'pass' | 'fail';

/** The highest ARC instance allowed (RFC 8617 4.2.1). */
export const MAX_ARC_INSTANCE = 50;

const ARC_NAMES = ['arc-authentication-results', 'arc-message-signature', 'arc-seal'] as const;

/** The i= of an ARC field, or null when it has none that is valid. */
function instanceOf(f: RawField, lower: string): number | null {
  const v = fieldValue(f);
  const raw = lower === 'arc-authentication-results' ? /^\s*i\s*=\s*(\d+)\s*;/.exec(v)?.[1] : parseTags(v)?.get('i');
  if (!raw || !/^\d+$/.test(raw)) return null;
  const n = Number(raw);
  return n >= 1 && n <= MAX_ARC_INSTANCE ? n : null;
}

/** The ARC fields of a message by instance; null when any set is incomplete, repeated or out of range. */
function arcSets(fields: readonly RawField[]): { max: number; sets: Map<number, RawField[]> } | null {
  const sets = new Map<number, RawField[]>();
  let bad = false;
  for (const f of fields) {
    const lower = f.name.toLowerCase();
    const slot = ARC_NAMES.indexOf(lower as (typeof ARC_NAMES)[number]);
    if (slot < 0) continue;
    const i = instanceOf(f, lower);
    if (i === null) {
      bad = true;
      continue;
    }
    const set = sets.get(i) ?? [];
    if (set[slot]) bad = true;
    set[slot] = f;
    sets.set(i, set);
  }
  const max = sets.size ? Math.max(...sets.keys()) : 0;
  for (let i = 1; i <= max; i++) if (!sets.get(i) || ARC_NAMES.some((_n, k) => !sets.get(i)![k])) bad = true;
  return bad ? null : { max, sets };
}

/** The highest ARC instance in the message (0: none). */
export function arcInstance(raw: Buffer): number {
  let max = 0;
  for (const f of splitFields(raw)) {
    const lower = f.name.toLowerCase();
    if (lower === 'arc-seal') max = Math.max(max, instanceOf(f, lower) ?? 0);
  }
  return max;
}

/**
 * The message with an ARC set on top, signed with `key`; `authResults` is our Authentication-Results value
 * (authserv-id first). Unchanged when the message is at the instance limit or has no From field.
 */
export function sealMessage(raw: Buffer, key: SigningKey, authResults: string, cv: ChainValidation, now: Date = new Date()): Buffer {
  const fields = splitFields(raw);
  if (!fields.some((f) => f.name.toLowerCase() === 'from')) return raw;
  const chain = arcSets(fields);
  const previous = chain ? chain.max : arcInstance(raw);
  const i = previous + 1;
  if (i > MAX_ARC_INSTANCE) return raw;
  // A first set says none; a chain we cannot follow, or one not said to pass, is sealed as failed.
  const state: ChainValidation = previous === 0 ? 'none' : chain && cv === 'pass' ? 'pass' : 'fail';
  const a = key.algorithm === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256';
  const t = Math.floor(now.getTime() / 1000);
  const sign = (data: string): string => {
    const bytes = Buffer.from(data, 'latin1');
    const sig = key.algorithm === 'rsa' ? cryptoSign('sha256', bytes, key.key) : cryptoSign(null, createHash('sha256').update(bytes).digest(), key.key);
    return foldValue(sig.toString('base64'));
  };
  const withoutName = (field: string): string => field.slice(field.indexOf(':') + 1);

  const aarValue = ` i=${i}; ${authResults.replace(/\r?\n(?![ \t])/g, '\r\n ')}`;
  const aar = `ARC-Authentication-Results:${aarValue}`;

  const end = headerEnd(raw);
  const bh = createHash('sha256').update(relaxedBody(end < 0 ? Buffer.alloc(0) : raw.subarray(end + 2))).digest('base64');
  const names = headerList(fields);
  const amsUnsigned = foldTags([`i=${i};`, `a=${a};`, 'c=relaxed/relaxed;', `d=${key.domain};`, `s=${key.selector};`, `t=${t};`, `h=${names.join(':')};`, `bh=${bh};`, 'b='], 'ARC-Message-Signature');
  const ams = amsUnsigned + sign(signedHeaderData(fields, names) + relaxedHeader('ARC-Message-Signature', withoutName(amsUnsigned)).slice(0, -2));

  let sealed = '';
  if (state !== 'fail' && chain) {
    for (let j = 1; j <= chain.max; j++) for (const f of chain.sets.get(j)!) sealed += relaxedHeader(f.name, fieldValue(f));
  }
  sealed += relaxedHeader('ARC-Authentication-Results', aarValue) + relaxedHeader('ARC-Message-Signature', withoutName(ams));
  const asUnsigned = foldTags([`i=${i};`, `a=${a};`, `t=${t};`, `cv=${state};`, `d=${key.domain};`, `s=${key.selector};`, 'b='], 'ARC-Seal');
  const seal = asUnsigned + sign(sealed + relaxedHeader('ARC-Seal', withoutName(asUnsigned)).slice(0, -2));
  return Buffer.concat([Buffer.from(`${seal}\r\n${ams}\r\n${aar}\r\n`, 'latin1'), raw]);
}

/** The value of the first Authentication-Results field that names `hostname` as its authserv-id, or null. */
export function ownAuthResults(raw: Buffer, hostname: string): string | null {
  const own = hostname.toLowerCase();
  for (const f of splitFields(raw)) {
    if (f.name.toLowerCase() !== 'authentication-results') continue;
    const v = fieldValue(f).trim();
    if (authservId(v) === own) return v;
  }
  return null;
}

/** The arc= result recorded in an Authentication-Results value, as an ARC chain state. */
export function chainState(authResults: string): ChainValidation {
  const m = /(?:^|;)\s*arc\s*=\s*([a-z]+)/i.exec(authResults);
  const r = m?.[1]?.toLowerCase();
  return r === 'pass' ? 'pass' : r === 'none' || !r ? 'none' : 'fail';
}

/** The field Sieve puts on a redirected copy, naming the user who redirected it (sieve/deliver-outgoing.ts). */
const REDIRECTED_FROM = 'x-sieve-redirected-from';

/** The domain of the user who redirected the message (topmost X-Sieve-Redirected-From), or null. */
function forwarderDomain(fields: readonly RawField[]): string | null {
  const f = fields.find((x) => x.name.toLowerCase() === REDIRECTED_FROM);
  const m = f ? /@([A-Za-z0-9.-]+)>?\s*$/.exec(fieldValue(f).trim()) : null;
  return m ? m[1]!.toLowerCase() : null;
}

export interface Sealer {
  /**
   * The message with an ARC set on top when our MX verified it (it carries our Authentication-Results) and
   * the forwarding domain (the redirecting user's, else the server's host name or a parent) has a key;
   * otherwise unchanged. An RSA key is preferred (RFC 8617 defines rsa-sha256).
   */
  seal(raw: Buffer): Promise<Buffer>;
}

export function createSealer(store: { dkim: DkimKeyStore }, hostname: string, opts: { now?: () => number } = {}): Sealer {
  const now = opts.now ?? Date.now;
  const load = keyLoader(store, now);
  return {
    async seal(raw) {
      const ours = ownAuthResults(raw, hostname);
      if (!ours) return raw;
      const byDomain = await load();
      const keys = keysFor(byDomain, [forwarderDomain(splitFields(raw)), hostname.toLowerCase()]);
      if (!keys) return raw;
      const key = keys.find((k) => k.algorithm === 'rsa') ?? keys[0]!;
      return sealMessage(raw, key, ours, chainState(ours), new Date(now()));
    },
  };
}

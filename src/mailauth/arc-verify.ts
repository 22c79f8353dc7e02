/**
 * ARC chain validation (RFC 8617 section 5.2) for the MX checks, over the same key look-ups, key cache,
 * canonicalization and body hashes as DKIM verification (verify.ts), so a sealed message costs one more
 * signature check per ARC field instead of a second parse of the whole message.
 *
 * 1. No ARC fields: none. Sets must be complete (one ARC-Authentication-Results, ARC-Message-Signature and
 *    ARC-Seal per instance), numbered 1..N without gaps, N <= 50; otherwise fail.
 * 2. The newest seal saying cv=fail: fail.
 * 3. The newest ARC-Message-Signature must verify (as a DKIM signature: h=, bh=, c=, the field itself with b=
 *    empty): else fail.
 * 4. Every seal, newest first, must say cv=none for instance 1 and cv=pass above it, and verify over the
 *    sets 1..i (AAR, AMS, AS each, relaxed) with its own b= emptied: else fail.
 * A key that cannot be looked up now gives temperror instead of fail.
 */
import type { DnsResolver } from '../lib/dns.js';
import { fieldValue, type RawField } from './headers.js';
import { relaxedHeader, signedHeaderData } from './sign.js';
import { lookupKey, parseTags, signatureValid, unsignedField, type DkimKeyCache, type MessageView } from './verify.js';

export interface ArcResult {
  result: 'none' | 'pass' | 'fail' | 'temperror';
  /** The highest instance (0 for none). */
  instance: number;
  /** The Authentication-Results resinfo ("arc=pass (i=2, sealed by example.org)"). */
  info: string;
}

const MAX_INSTANCE = 50;
const SLOTS = ['arc-authentication-results', 'arc-message-signature', 'arc-seal'];

interface ArcSet {
  aar: RawField;
  ams: RawField;
  seal: RawField;
  sealTags: Map<string, string>;
}

function clean(v: string): string {
  return v.replace(/[^A-Za-z0-9.-]/g, '');
}

/** Whether the view has any ARC field (the chain is then validated). */
export function hasArc(view: MessageView): boolean {
  return view.fields.some((f) => SLOTS.includes(f.lower));
}

/** The sets by instance, or a reason they are not a well-formed chain. */
function collectSets(fields: readonly RawField[]): ArcSet[] | string {
  const byInstance = new Map<number, Array<RawField | undefined>>();
  for (const f of fields) {
    const slot = SLOTS.indexOf(f.lower);
    if (slot < 0) continue;
    const v = fieldValue(f);
    const i = slot === 0 ? /^\s*i\s*=\s*(\d+)\s*;/.exec(v)?.[1] : parseTags(v)?.get('i');
    if (!i || !/^\d+$/.test(i) || Number(i) < 1 || Number(i) > MAX_INSTANCE) return 'bad instance';
    const set = byInstance.get(Number(i)) ?? [];
    if (set[slot]) return 'repeated ARC field';
    set[slot] = f;
    byInstance.set(Number(i), set);
  }
  const sets: ArcSet[] = [];
  for (let i = 1; i <= byInstance.size; i++) {
    const s = byInstance.get(i);
    if (!s || !s[0] || !s[1] || !s[2]) return 'incomplete ARC set';
    const sealTags = parseTags(fieldValue(s[2]));
    if (!sealTags) return 'seal syntax error';
    sets.push({ aar: s[0], ams: s[1], seal: s[2], sealTags });
  }
  return sets;
}

export async function verifyArc(view: MessageView, resolver: DnsResolver, keys: DkimKeyCache): Promise<ArcResult> {
  if (!hasArc(view)) return { result: 'none', instance: 0, info: 'arc=none' };
  const sets = collectSets(view.fields);
  const n = typeof sets === 'string' ? 0 : sets.length;
  const done = (result: ArcResult['result'], comment: string): ArcResult => ({ result, instance: n, info: `arc=${result} (${comment})` });
  if (typeof sets === 'string') return done('fail', sets);
  const newest = sets[n - 1]!;
  if (newest.sealTags.get('cv') === 'fail') return done('fail', `i=${n} says the chain failed`);

  // The newest ARC-Message-Signature.
  const ams = parseTags(fieldValue(newest.ams));
  const a = (ams?.get('a') ?? '').toLowerCase();
  if (!ams || !ams.get('b') || !ams.get('bh') || !ams.get('d') || !ams.get('s') || !ams.get('h')) return done('fail', `i=${n} message signature incomplete`);
  if (a !== 'rsa-sha256' && a !== 'ed25519-sha256') return done('fail', `i=${n} unknown algorithm`);
  const [hc = 'relaxed', bc = 'relaxed'] = (ams.get('c') ?? 'relaxed/relaxed').toLowerCase().split('/');
  if (!['simple', 'relaxed'].includes(hc) || !['simple', 'relaxed'].includes(bc)) return done('fail', `i=${n} unknown canonicalization`);
  const names = ams.get('h')!.split(':').map((x) => x.trim()).filter(Boolean);
  if (names.some((x) => x.toLowerCase() === 'arc-seal')) return done('fail', `i=${n} message signature covers a seal`);
  if (view.bodyHash(bc, 'sha256', null) !== ams.get('bh')!.replace(/\s/g, '')) return done('fail', `i=${n} body hash did not verify`);
  const amsKey = await lookupKey(ams.get('d')!.toLowerCase(), ams.get('s')!.toLowerCase(), a, resolver, keys);
  if (!amsKey.ok) return done(amsKey.result === 'temperror' ? 'temperror' : 'fail', `i=${n} message signature: ${amsKey.comment}`);
  const canon = hc === 'relaxed' ? 'relaxed' : 'simple';
  if (!signatureValid(a, signedHeaderData(view.fields, names, canon) + unsignedField(newest.ams, canon), amsKey.key, ams.get('b')!.replace(/\s/g, ''))) {
    return done('fail', `i=${n} message signature did not verify`);
  }

  // Every seal, newest first, over the sets up to its own.
  const relaxed = (f: RawField): string => relaxedHeader(f.name, fieldValue(f));
  for (let i = n; i >= 1; i--) {
    const set = sets[i - 1]!;
    const cv = set.sealTags.get('cv');
    if (cv !== (i === 1 ? 'none' : 'pass')) return done('fail', `i=${i} cv=${clean(cv ?? '')}`);
    const sa = (set.sealTags.get('a') ?? '').toLowerCase();
    const d = (set.sealTags.get('d') ?? '').toLowerCase();
    const sel = (set.sealTags.get('s') ?? '').toLowerCase();
    const b = (set.sealTags.get('b') ?? '').replace(/\s/g, '');
    if ((sa !== 'rsa-sha256' && sa !== 'ed25519-sha256') || !d || !sel || !b || set.sealTags.has('h')) return done('fail', `i=${i} seal incomplete`);
    let data = '';
    for (let j = 0; j < i - 1; j++) data += relaxed(sets[j]!.aar) + relaxed(sets[j]!.ams) + relaxed(sets[j]!.seal);
    data += relaxed(set.aar) + relaxed(set.ams) + unsignedField(set.seal, 'relaxed');
    const key = await lookupKey(d, sel, sa, resolver, keys);
    if (!key.ok) return done(key.result === 'temperror' ? 'temperror' : 'fail', `i=${i} seal: ${key.comment}`);
    if (!signatureValid(sa, data, key.key, b)) return done('fail', `i=${i} seal did not verify`);
  }
  return done('pass', `i=${n}, sealed by ${clean(newest.sealTags.get('d') ?? '')}`);
}

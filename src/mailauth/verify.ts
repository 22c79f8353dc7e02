/**
 * DKIM verification (RFC 6376 section 6; Ed25519-SHA256 per RFC 8463) for the MX checks.
 *
 * Why not mailauth's verifier here: for every signature it turns the published key into PEM, decodes it,
 * encodes it again and decodes it once more for the signature check, about 1 ms of CPU per signature with
 * OpenSSL 3, and it hashes the body in a byte-by-byte JavaScript parser; that alone made the MX checks cost
 * more than delivery itself. Here a key record is decoded once (DER) and cached by its text, and each body
 * hash (per canonicalization and l=) is computed once per message. mailauth still checks SPF, DMARC and ARC.
 *
 * Results per signature, as RFC 8601 section 2.7.1 names them: pass; fail (bad signature, body hash
 * mismatch, expired); neutral (a signature that cannot be processed: unknown algorithm or canonicalization,
 * bad syntax); permerror (no key record, a revoked or unusable key, From not signed, i= outside d=);
 * temperror (the key could not be looked up now); policy (an RSA key shorter than 1024 bits, RFC 8301).
 */
import { createHash, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { isTemporaryDnsError, type DnsResolver } from '../lib/dns.js';
import { fieldValue, headerEnd, splitFields, type RawField } from './headers.js';
import { relaxedBody, relaxedHeader, signedHeaderData } from './sign.js';

export interface DkimResult {
  domain: string;
  selector: string;
  algorithm: string;
  result: 'pass' | 'fail' | 'neutral' | 'permerror' | 'temperror' | 'policy';
  comment?: string;
  /** The Authentication-Results resinfo ("dkim=pass header.d=... header.s=..."). */
  info: string;
}

/** Shortest RSA key accepted (RFC 8301 section 3.2). */
export const MIN_RSA_BITS = 1024;
/** Signatures checked per message at most (the rest are reported neutral): bounds the work a message can cause. */
export const MAX_SIGNATURES = 10;

/** A key record as lookupKey reads it: an error that holds whatever the signature, or its parts. */
type KeyRecord =
  | { ok: false; result: DkimResult['result']; comment: string }
  | { ok: true; k: string; sha256: boolean; sameDomainOnly: boolean; key: { key: KeyObject; type: string; bits: number } | string };

/** Decoded key records, by record text: the same key signs many messages. */
export class DkimKeyCache {
  readonly #keys = new Map<string, { key: KeyObject; type: string; bits: number } | string>();
  /** Parsed records by the resolver's answer (a cached answer is the same array until its TTL ends). */
  readonly #records = new WeakMap<object, KeyRecord>();
  constructor(private readonly max = 1000) {}

  /** The key record of a TXT answer (RFC 6376 3.6.1), parsed once per answer. */
  record(answer: string[][]): KeyRecord {
    let r = this.#records.get(answer);
    if (!r) {
      r = this.#parseRecord(answer);
      this.#records.set(answer, r);
    }
    return r;
  }

  #parseRecord(answer: string[][]): KeyRecord {
    const no = (result: DkimResult['result'], comment: string): KeyRecord => ({ ok: false, result, comment });
    const keyTags = answer.map((r) => parseTags(r.join(''))).find((t) => t?.has('p'));
    if (!keyTags) return no('permerror', 'no key');
    if (keyTags.has('v') && keyTags.get('v') !== 'DKIM1') return no('permerror', 'unknown key version');
    const p = keyTags.get('p')!.replace(/[ \t\r\n]/g, '');
    if (!p) return no('permerror', 'key revoked');
    const k = (keyTags.get('k') ?? 'rsa').toLowerCase();
    const hashes = keyTags.get('h');
    return {
      ok: true,
      k,
      sha256: !hashes || hashes.split(':').map((h) => h.trim().toLowerCase()).includes('sha256'),
      sameDomainOnly: (keyTags.get('t') ?? '').split(':').some((f) => f.trim() === 's'),
      key: this.get(p, k),
    };
  }

  /** The key of a record's p= value, or an error text. */
  get(p: string, k: string): { key: KeyObject; type: string; bits: number } | string {
    const id = `${k} ${p}`;
    let v = this.#keys.get(id);
    if (v === undefined) {
      v = decodeKey(p, k);
      if (this.#keys.size >= this.max) this.#keys.delete(this.#keys.keys().next().value!);
      this.#keys.set(id, v);
    }
    return v;
  }
}

function decodeKey(p: string, k: string): { key: KeyObject; type: string; bits: number } | string {
  const der = Buffer.from(p, 'base64');
  try {
    if (k === 'ed25519') {
      if (der.length !== 32) return 'invalid public key';
      const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), der]), format: 'der', type: 'spki' });
      return { key, type: 'ed25519', bits: 256 };
    }
    if (k !== 'rsa') return 'unknown key type';
    const key = createPublicKey({ key: der, format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'rsa') return 'unknown key type';
    return { key, type: 'rsa', bits: key.asymmetricKeyDetails?.modulusLength ?? 0 };
  } catch {
    return 'invalid public key';
  }
}

/** Tag=value list (RFC 6376 3.2); null on a syntax error or a repeated tag. */
export function parseTags(value: string): Map<string, string> | null {
  const tags = new Map<string, string>();
  for (const part of value.split(';')) {
    const t = part.trim();
    if (!t) continue;
    const eq = t.indexOf('=');
    if (eq <= 0) return null;
    const name = t.slice(0, eq).trim();
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name) || tags.has(name)) return null;
    tags.set(name, t.slice(eq + 1).trim());
  }
  return tags;
}

/** Simple body canonicalization (RFC 6376 3.4.3): trailing empty lines go, one CRLF ends the body. */
function simpleBody(body: Buffer): Buffer {
  let end = body.length;
  while (end >= 2 && body[end - 2] === 13 && body[end - 1] === 10) end -= 2;
  if (end === body.length) return Buffer.concat([body, Buffer.from('\r\n')]);
  return body.subarray(0, end + 2);
}

const UNCLEAN = /[\s();"\\]/;

function clean(v: string): string {
  return UNCLEAN.test(v) ? v.replace(/[\s();"\\]/g, '') : v;
}

function info(r: Omit<DkimResult, 'info'>, identity: string, b: string): string {
  const c = r.comment ? ` (${r.comment})` : '';
  const props = [r.domain && `header.d=${clean(r.domain)}`, identity && `header.i=${clean(identity)}`, r.selector && `header.s=${clean(r.selector)}`, r.algorithm && `header.a=${clean(r.algorithm)}`, b && `header.b=${clean(b).slice(0, 8)}`];
  return `dkim=${r.result}${c} ${props.filter(Boolean).join(' ')}`.trim();
}

/** A received message as the verifiers read it: its header fields, and its body hashes computed once each. */
export interface MessageView {
  fields: RawField[];
  /** The base64 body hash for a body canonicalization, hash and l= (null: the whole body), memoized. */
  bodyHash(canon: string, hash: string, l: number | null): string;
}

export function messageView(raw: Buffer, fields: RawField[] = splitFields(raw)): MessageView {
  const end = headerEnd(raw);
  const body = end < 0 ? Buffer.alloc(0) : raw.subarray(end + 2);
  const hashes = new Map<string, string>();
  return {
    fields,
    bodyHash(canon, hash, l) {
      const id = `${canon} ${hash} ${l ?? ''}`;
      let v = hashes.get(id);
      if (v === undefined) {
        let c = canon === 'relaxed' ? relaxedBody(body) : simpleBody(body);
        if (l !== null) c = c.subarray(0, l);
        v = createHash(hash).update(c).digest('base64');
        hashes.set(id, v);
      }
      return v;
    },
  };
}

/** Verifies every DKIM-Signature of `raw` (at most MAX_SIGNATURES); [] when there is none. */
export async function verifyDkim(raw: Buffer, resolver: DnsResolver, keys: DkimKeyCache, now: Date = new Date(), view: MessageView = messageView(raw)): Promise<DkimResult[]> {
  const sigs = view.fields.filter((f) => f.lower === 'dkim-signature');
  if (!sigs.length) return [];
  return Promise.all(sigs.slice(0, MAX_SIGNATURES).map((sig) => verifyOne(sig, view.fields, view.bodyHash, resolver, keys, now)));
}

export type KeyLookup = { ok: true; key: KeyObject } | { ok: false; result: DkimResult['result']; comment: string };

/**
 * The public key of selector `s` of domain `d` for algorithm `a` (rsa-sha256 or ed25519-sha256), checked as
 * RFC 6376 3.6.1 says (version, revocation, key type, allowed hashes, t=s when `identityIsD` is false) and
 * RFC 8301 (RSA of at least MIN_RSA_BITS), or the result that failure gives.
 */
export async function lookupKey(d: string, s: string, a: string, resolver: DnsResolver, keys: DkimKeyCache, identityIsD = true): Promise<KeyLookup> {
  const no = (result: DkimResult['result'], comment: string): KeyLookup => ({ ok: false, result, comment });
  let record: string[][];
  try {
    record = await resolver.resolveTxt(`${s}._domainkey.${d}`);
  } catch (e) {
    return isTemporaryDnsError(e) ? no('temperror', 'key lookup failed') : no('permerror', 'no key');
  }
  const rec = keys.record(record);
  if (!rec.ok) return rec;
  if (rec.k !== a.split('-')[0]) return no('permerror', 'key type does not match the algorithm');
  if (!rec.sha256) return no('permerror', 'hash not allowed by the key');
  if (rec.sameDomainOnly && !identityIsD) return no('permerror', 'key requires i= to be d=');
  const key = rec.key;
  if (typeof key === 'string') return no('permerror', key);
  if (key.type === 'rsa' && key.bits < MIN_RSA_BITS) return no('policy', 'weak key');
  return { ok: true, key: key.key };
}

/** Checks signature `b` (base64) over `data` (latin1) for algorithm `a`. */
export function signatureValid(a: string, data: string, key: KeyObject, b: string): boolean {
  const signed = Buffer.from(data, 'latin1');
  const signature = Buffer.from(b, 'base64');
  try {
    return a === 'rsa-sha256' ? cryptoVerify('sha256', signed, key, signature) : cryptoVerify(null, createHash('sha256').update(signed).digest(), key, signature);
  } catch {
    return false;
  }
}

/** A signature field with its b= value emptied (RFC 6376 3.7), canonicalized, without the final CRLF. */
export function unsignedField(f: RawField, canon: 'relaxed' | 'simple'): string {
  const unsigned = f.text.replace(/((?:^|[;:])[ \t\r\n]*b[ \t\r\n]*=)[^;]*/, '$1');
  return canon === 'relaxed' ? relaxedHeader(f.name, unsigned.slice(unsigned.indexOf(':') + 1)).slice(0, -2) : unsigned;
}

async function verifyOne(
  sig: RawField,
  fields: readonly RawField[],
  bodyHash: (canon: string, hash: string, l: number | null) => string,
  resolver: DnsResolver,
  keys: DkimKeyCache,
  now: Date,
): Promise<DkimResult> {
  const tags = parseTags(fieldValue(sig));
  const d = (tags?.get('d') ?? '').toLowerCase();
  const s = (tags?.get('s') ?? '').toLowerCase();
  const a = (tags?.get('a') ?? '').toLowerCase();
  const b = (tags?.get('b') ?? '').replace(/[ \t\r\n]/g, '');
  const identity = tags?.get('i') ?? (d ? `@${d}` : '');
  const done = (result: DkimResult['result'], comment?: string): DkimResult => {
    const r = { domain: d, selector: s, algorithm: a, result, ...(comment ? { comment } : {}) };
    return { ...r, info: info(r, identity, b) };
  };
  if (!tags) return done('neutral', 'signature syntax error');
  for (const t of ['v', 'a', 'b', 'bh', 'd', 'h', 's']) if (!tags.get(t)) return done('neutral', `missing ${t}= tag`);
  if (tags.get('v') !== '1') return done('neutral', 'unknown version');
  if (a !== 'rsa-sha256' && a !== 'ed25519-sha256') return done('neutral', a === 'rsa-sha1' ? 'rsa-sha1 is not accepted' : 'unknown algorithm');
  const [hc = 'simple', bc = 'simple'] = (tags.get('c') ?? 'simple/simple').toLowerCase().split('/');
  if (!['simple', 'relaxed'].includes(hc) || !['simple', 'relaxed'].includes(bc)) return done('neutral', 'unknown canonicalization');
  const names = tags.get('h')!.split(':').map((n) => n.trim()).filter(Boolean);
  if (!names.some((n) => n.toLowerCase() === 'from')) return done('permerror', 'From is not signed');
  const idDomain = identity.slice(identity.lastIndexOf('@') + 1).toLowerCase();
  if (idDomain !== d && !idDomain.endsWith(`.${d}`)) return done('permerror', 'i= is not within d=');
  const x = tags.get('x');
  if (x && /^\d+$/.test(x) && Number(x) * 1000 < now.getTime()) return done('fail', 'signature expired');
  const lTag = tags.get('l');
  const l = lTag !== undefined && /^\d+$/.test(lTag) ? Number(lTag) : null;
  if (bodyHash(bc, 'sha256', l) !== tags.get('bh')!.replace(/[ \t\r\n]/g, '')) return done('fail', 'body hash did not verify');
  const key = await lookupKey(d, s, a, resolver, keys, idDomain === d);
  if (!key.ok) return done(key.result, key.comment);
  // The signed header fields, each name taking the lowest instance not used yet (RFC 6376 5.4.2), then this
  // signature's field with the b= value emptied, without its final CRLF (RFC 6376 3.7).
  const canon = hc === 'relaxed' ? 'relaxed' : 'simple';
  const data = signedHeaderData(fields, names, canon) + unsignedField(sig, canon);
  return signatureValid(a, data, key.key, b) ? done('pass') : done('fail', 'bad signature');
}

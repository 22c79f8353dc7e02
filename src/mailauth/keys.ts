/**
 * DKIM key management: generating keys (RSA 2048 or Ed25519, RFC 8463), choosing selectors, and the key
 * records a domain publishes (RFC 6376 section 3.6.1: `S._domainkey.DOMAIN. IN TXT "v=DKIM1; k=...; p=..."`).
 * Private keys go to the store and to the signer only; nothing here logs them.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { DkimAlgorithm, DkimKey, DkimKeyStore } from '../store/dkim.js';
import { isValidSelector } from '../store/dkim.js';

export const RSA_BITS = 2048;

/** A new key pair: PKCS#8 PEM private key and the p= value of its record. */
export function generateDkimKey(algorithm: DkimAlgorithm): { privateKey: string; publicKey: string } {
  const pair =
    algorithm === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: RSA_BITS, publicExponent: 0x10001 })
      : generateKeyPairSync('ed25519');
  return { privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: publicKeyValue(pair.publicKey) };
}

/** The p= value for a public key: SubjectPublicKeyInfo DER for RSA, the raw 32 octets for Ed25519 (RFC 8463 4.2). */
export function publicKeyValue(key: KeyObject): string {
  const der = (key.type === 'public' ? key : createPublicKey(key)).export({ type: 'spki', format: 'der' });
  return (key.asymmetricKeyType === 'ed25519' ? der.subarray(der.length - 32) : der).toString('base64');
}

/** The TXT value of a key's record. */
export function dkimRecordValue(key: Pick<DkimKey, 'algorithm' | 'publicKey'>): string {
  return `v=DKIM1; k=${key.algorithm}; p=${key.publicKey}`;
}

/** The owner name of a key's record (without the final dot). */
export function dkimRecordName(key: Pick<DkimKey, 'domain' | 'selector'>): string {
  return `${key.selector}._domainkey.${key.domain}`;
}

/** The default selector for a new key: algorithm and date ("rsa20261207", "ed20261207"), with a letter when taken. */
export function newSelector(algorithm: DkimAlgorithm, taken: ReadonlySet<string>, now: Date = new Date()): string {
  const base = `${algorithm === 'rsa' ? 'rsa' : 'ed'}${now.toISOString().slice(0, 10).replace(/-/g, '')}`;
  if (!taken.has(base)) return base;
  for (const letter of 'bcdefghijklmnopqrstuvwxyz') if (!taken.has(base + letter)) return base + letter;
  let n = 2;
  while (taken.has(`${base}-${n}`)) n++;
  return `${base}-${n}`;
}

export interface EnsureKeyOptions {
  /** Selector for a key that is created (default: newSelector). */
  selector?: string;
  algorithm?: DkimAlgorithm;
  /** Add a key even when the domain has one of this algorithm (rotation: the old one keeps signing until removed). */
  rotate?: boolean;
}

/**
 * Makes sure `domain` has a key of the algorithm (default rsa): creates one when it has none (or always with
 * `rotate`, or when `selector` names one that does not exist). Returns every key of the domain and the one
 * created, if any. Throws Error for a bad selector; StoreError EXISTS when `selector` exists with another
 * algorithm.
 */
export async function ensureDomainKey(store: DkimKeyStore, domain: string, opts: EnsureKeyOptions = {}): Promise<{ keys: DkimKey[]; created: DkimKey | null }> {
  const algorithm = opts.algorithm ?? 'rsa';
  const selector = opts.selector?.toLowerCase();
  if (selector !== undefined && !isValidSelector(selector)) throw new Error(`invalid selector: ${opts.selector}`);
  const existing = await store.list(domain);
  const named = selector === undefined ? undefined : existing.find((k) => k.selector === selector);
  if (named && named.algorithm !== algorithm) throw new Error(`selector ${selector} already holds an ${named.algorithm} key`);
  const need = named ? false : opts.rotate || selector !== undefined || !existing.some((k) => k.algorithm === algorithm);
  if (!need) return { keys: existing, created: null };
  const pair = generateDkimKey(algorithm);
  const created = await store.add({
    domain,
    selector: selector ?? newSelector(algorithm, new Set(existing.map((k) => k.selector))),
    algorithm,
    ...pair,
  });
  return { keys: [...existing, created], created };
}

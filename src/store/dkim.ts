/**
 * DKIM signing keys per local domain (RFC 6376), a part of the Store. A domain may have several keys at
 * once (an RSA and an Ed25519 one for dual signing, RFC 8463; an old and a new selector during a rotation);
 * every key stored signs. The private key is PKCS#8 PEM and is treated like a password hash: it stays in
 * the store (whose files are private to the server's user), is never logged and never leaves except to the
 * signer. Domains and selectors are stored lower-cased.
 */

export type DkimAlgorithm = 'rsa' | 'ed25519';

export interface DkimKey {
  domain: string;
  selector: string;
  algorithm: DkimAlgorithm;
  /** PKCS#8 PEM. */
  privateKey: string;
  /** The key as published in the p= tag: base64 of the SubjectPublicKeyInfo DER (RSA), or of the raw 32 octets (Ed25519, RFC 8463 section 4.2). */
  publicKey: string;
  createdAt: Date;
}

export interface DkimKeyStore {
  /** The keys of `domain` (all domains when absent), oldest first. */
  list(domain?: string): Promise<DkimKey[]>;
  /** Stores a new key. Throws StoreError EXISTS when the domain already has that selector, INVALID for bad values. */
  add(key: Omit<DkimKey, 'createdAt'>): Promise<DkimKey>;
  /** Removes one key. Throws StoreError NOT_FOUND when there is none. */
  remove(domain: string, selector: string): Promise<void>;
}

const SELECTOR = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** True for a selector this store accepts: dot-separated DNS labels of letters, digits and hyphens (RFC 6376 3.1). */
export function isValidSelector(s: string): boolean {
  return s.length <= 63 && SELECTOR.test(s);
}

/** The checks both backends make before storing a key; returns the lower-cased domain and selector. */
export function checkDkimKey(key: Omit<DkimKey, 'createdAt'>): { domain: string; selector: string } | string {
  const domain = String(key.domain ?? '').toLowerCase();
  const selector = String(key.selector ?? '').toLowerCase();
  if (!domain || domain.length > 253 || !/^[a-z0-9.-]+$/.test(domain)) return 'invalid domain';
  if (!isValidSelector(selector)) return 'invalid selector';
  if (key.algorithm !== 'rsa' && key.algorithm !== 'ed25519') return 'invalid algorithm';
  if (typeof key.privateKey !== 'string' || !key.privateKey.includes('PRIVATE KEY')) return 'invalid private key';
  if (typeof key.publicKey !== 'string' || !/^[A-Za-z0-9+/=]+$/.test(key.publicKey)) return 'invalid public key';
  return { domain, selector };
}

/** A stored row's columns (both backends), without its creation time. */
export interface DkimKeyRow {
  domain: string;
  selector: string;
  algorithm: string;
  private_key: string;
  public_key: string;
}

/** The DkimKey of a row. */
export function dkimKeyFromRow(r: DkimKeyRow, createdAt: Date): DkimKey {
  return { domain: r.domain, selector: r.selector, algorithm: r.algorithm as DkimAlgorithm, privateKey: r.private_key, publicKey: r.public_key, createdAt };
}

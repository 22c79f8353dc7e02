/**
 * Web Push message encryption (RFC 8291) with the aes128gcm content coding (RFC 8188), as JMAP push
 * subscriptions with `keys` require (RFC 8620 7.2): every push message, the PushVerification included, is
 * sent encrypted to the subscriber's P-256 key (p256dh) with its authentication secret (auth).
 *
 * One record: salt(16) | rs(4, big-endian) | idlen(1) = 65 | the server's ephemeral public key (65) |
 * AES-128-GCM(plaintext | 0x02). Keys: IKM = HKDF(salt=auth, ikm=ECDH secret, info="WebPush: info" 0x00
 * ua_public as_public), then CEK and nonce from HKDF(salt, IKM) with the RFC 8188 info strings.
 */
import { ECDH, createCipheriv, createECDH, hkdfSync, randomBytes } from 'node:crypto';

/** Octets of a P-256 public key in uncompressed form (0x04 | X | Y). */
const P256_PUBLIC_LENGTH = 65;
/** The authentication secret's length (RFC 8291 3.2). */
const AUTH_SECRET_LENGTH = 16;
/** Record size announced for a single record (RFC 8291 4: push services need accept no more than 4096). */
const RECORD_SIZE = 4096;

export interface PushKeys {
  /** The subscriber's P-256 ECDH public key, base64url (uncompressed point). */
  p256dh: string;
  /** The subscriber's authentication secret, base64url (16 octets). */
  auth: string;
}

function b64url(s: string): Buffer | null {
  if (typeof s !== 'string' || !/^[A-Za-z0-9_-]+={0,2}$/.test(s)) return null;
  return Buffer.from(s.replace(/=+$/, ''), 'base64url');
}

/** Checks keys given by a client; returns an explanation, or null when they can be used. */
export function pushKeysProblem(keys: unknown): string | null {
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) return 'keys must be an object with p256dh and auth';
  const k = keys as Record<string, unknown>;
  const pub = b64url(k['p256dh'] as string);
  const auth = b64url(k['auth'] as string);
  if (!pub || pub.length !== P256_PUBLIC_LENGTH || pub[0] !== 4) return 'p256dh must be an uncompressed P-256 public key in base64url';
  if (!auth || auth.length !== AUTH_SECRET_LENGTH) return 'auth must be 16 octets in base64url';
  try {
    ECDH.convertKey(pub, 'prime256v1', undefined, undefined, 'compressed');
  } catch {
    return 'p256dh is not a point on P-256';
  }
  return null;
}

function hkdf(ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/**
 * Encrypts `plaintext` for the subscriber (RFC 8291 3.4). `ephemeral` and `salt` are for tests with known
 * vectors only; by default both are fresh for every message, as they must be.
 */
export function encryptPush(plaintext: Buffer, keys: PushKeys, opts: { ephemeralPrivate?: Buffer; salt?: Buffer } = {}): Buffer {
  const uaPublic = b64url(keys.p256dh);
  const authSecret = b64url(keys.auth);
  if (!uaPublic || !authSecret) throw new Error('bad push keys');
  const ecdh = createECDH('prime256v1');
  if (opts.ephemeralPrivate) ecdh.setPrivateKey(opts.ephemeralPrivate);
  else ecdh.generateKeys();
  const asPublic = ecdh.getPublicKey();
  const secret = ecdh.computeSecret(uaPublic);
  const ikm = hkdf(secret, authSecret, Buffer.concat([Buffer.from('WebPush: info\0', 'latin1'), uaPublic, asPublic]), 32);
  const salt = opts.salt ?? randomBytes(16);
  const cek = hkdf(ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0', 'latin1'), 16);
  const nonce = hkdf(ikm, salt, Buffer.from('Content-Encoding: nonce\0', 'latin1'), 12);
  const cipher = createCipheriv('aes-128-gcm', cek, nonce);
  // 0x02: this is the last (and only) record; no padding.
  const body = Buffer.concat([cipher.update(Buffer.concat([plaintext, Buffer.from([2])])), cipher.final(), cipher.getAuthTag()]);
  const header = Buffer.alloc(21);
  salt.copy(header, 0);
  header.writeUInt32BE(Math.max(RECORD_SIZE, body.length + 1), 16);
  header[20] = asPublic.length;
  return Buffer.concat([header, asPublic, body]);
}

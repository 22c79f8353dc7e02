/**
 * Password hashes. New hashes are argon2id in PHC format ("$argon2id$v=19$..."), which names its algorithm
 * and parameters, so the scheme can be upgraded later. Dovecot-style "{SCHEME}..." hashes can be imported
 * and verified: {PLAIN}, {CLEARTEXT}, {SHA}, {SSHA}, {SHA256}, {SSHA256}, {SHA512}, {SSHA512},
 * {ARGON2I}, {ARGON2ID} (base64 payloads as Dovecot writes them).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';

// Algorithm.Argon2id in @node-rs/argon2 (a const enum, which isolated modules cannot read).
const ARGON2ID = 2;

/**
 * Argon2 computations running at once in this process. Each takes its memory cost (19 MiB for our hashes)
 * for its duration, and the thread pool would run four at once: a burst of logins (a server restart, a
 * cold auth cache) then raised the resident size by ~80 MB, for no more throughput than the cores give.
 * Two at a time (one on a single core) bounds it to two hashes' memory while a burst of cold logins still
 * uses two cores (one at a time made each of them wait for all before it); the auth cache keeps repeated
 * logins off this path.
 */
// `serve --workers N` gives each worker its share in MAILROOM_ARGON2_AT_ONCE (server/cluster.ts).
const ARGON2_AT_ONCE = Math.max(1, Number(process.env['MAILROOM_ARGON2_AT_ONCE'])) || Math.min(2, availableParallelism());
let argonRunning = 0;
const argonWaiting: Array<() => void> = [];

async function limitArgon<T>(fn: () => Promise<T>): Promise<T> {
  if (argonRunning >= ARGON2_AT_ONCE) await new Promise<void>((resolve) => argonWaiting.push(resolve));
  else argonRunning++;
  try {
    return await fn();
  } finally {
    // The slot passes straight to the next waiter (argonRunning stays the same), or is freed.
    const next = argonWaiting.shift();
    if (next) next();
    else argonRunning--;
  }
}

export async function hashPassword(password: string): Promise<string> {
  return limitArgon(() => argonHash(password, { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 }));
}

const DIGESTS: Record<string, { algo: string; salted: boolean; len: number }> = {
  SHA: { algo: 'sha1', salted: false, len: 20 },
  SHA1: { algo: 'sha1', salted: false, len: 20 },
  SSHA: { algo: 'sha1', salted: true, len: 20 },
  SHA256: { algo: 'sha256', salted: false, len: 32 },
  SSHA256: { algo: 'sha256', salted: true, len: 32 },
  SHA512: { algo: 'sha512', salted: false, len: 64 },
  SSHA512: { algo: 'sha512', salted: true, len: 64 },
};

function safeEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** True when the scheme of `stored` is one verifyPassword understands. */
export function isSupportedHash(stored: string): boolean {
  if (stored.startsWith('$argon2')) return true;
  const m = /^\{([A-Z0-9.-]+)\}/i.exec(stored);
  if (!m) return false;
  const scheme = m[1]!.toUpperCase();
  return scheme === 'PLAIN' || scheme === 'CLEARTEXT' || scheme in DIGESTS || scheme === 'ARGON2I' || scheme === 'ARGON2ID';
}

/** Verifies a password against a stored hash in constant time for the comparison. Unknown schemes never match. */
export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    if (stored.startsWith('$argon2')) return await limitArgon(() => argonVerify(stored, password));
    const m = /^\{([A-Z0-9.-]+)\}(.*)$/is.exec(stored);
    if (!m) return false;
    const scheme = m[1]!.toUpperCase();
    const payload = m[2]!;
    if (scheme === 'PLAIN' || scheme === 'CLEARTEXT') {
      return safeEqual(Buffer.from(payload, 'utf8'), Buffer.from(password, 'utf8'));
    }
    if (scheme === 'ARGON2I' || scheme === 'ARGON2ID') return await limitArgon(() => argonVerify(payload, password));
    const d = DIGESTS[scheme];
    if (!d) return false;
    const raw = /^[0-9a-f]+$/i.test(payload) && payload.length === d.len * 2 ? Buffer.from(payload, 'hex') : Buffer.from(payload, 'base64');
    if (raw.length < d.len) return false;
    const digest = raw.subarray(0, d.len);
    const salt = d.salted ? raw.subarray(d.len) : Buffer.alloc(0);
    const computed = createHash(d.algo).update(Buffer.from(password, 'utf8')).update(salt).digest();
    return safeEqual(computed, digest);
  } catch {
    return false;
  }
}

/** The cleartext secret when the stored hash keeps one ({PLAIN}); APOP and CRAM-MD5 need it. */
export function plaintextSecret(stored: string): string | null {
  const m = /^\{(PLAIN|CLEARTEXT)\}(.*)$/is.exec(stored);
  return m ? m[2]! : null;
}

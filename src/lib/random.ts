/**
 * Random identifiers drawn from a pooled buffer of CSPRNG output, refilled POOL_SIZE bytes at a time: ids are
 * made for every delivered message (EMAILID, blob name, thread), and one randomBytes() call per id costs a
 * trip into the CSPRNG and a fresh Buffer each time. Every pooled byte is handed out once.
 */
import { randomBytes, randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let used = POOL_SIZE;

/** `bytes` fresh random bytes, encoded (hex: 2 characters per byte; base64url: 4 per 3 bytes, no padding). */
export function randomString(bytes: number, encoding: 'hex' | 'base64url'): string {
  if (bytes > POOL_SIZE) return randomBytes(bytes).toString(encoding);
  if (used + bytes > POOL_SIZE) {
    randomFillSync(pool);
    used = 0;
  }
  const s = pool.toString(encoding, used, used + bytes);
  used += bytes;
  return s;
}

/**
 * Small pure helpers of the PostgreSQL store: input normalisation (same rules as the SQLite store, so the
 * contract suite sees one behaviour), message-id extraction for threading, and text sanitising for
 * PostgreSQL (text and jsonb cannot hold U+0000).
 */
import type { MessageIndex } from '../../mime/types.js';
import { StoreError } from '../types.js';

/** Lowercased, trimmed address; INVALID when empty, too long, or containing whitespace/control characters. */
export function normalizeAddress(address: string): string {
  if (typeof address !== 'string') throw new StoreError('INVALID', 'address must be a string');
  const a = address.trim().toLowerCase();
  // eslint-disable-next-line no-control-regex
  if (a.length === 0 || a.length > 320 || /[\s\u0000-\u001f\u007f]/.test(a)) throw new StoreError('INVALID', 'invalid address');
  return a;
}

export function normalizeDomain(domain: string): string {
  const d = normalizeAddress(domain);
  if (d.includes('@')) throw new StoreError('INVALID', 'invalid domain');
  return d;
}

/** Sorted, deduplicated positive integer UIDs (anything else is dropped). */
export function cleanUids(uids: readonly number[]): number[] {
  if (!Array.isArray(uids)) return [];
  const out = Array.from(new Set(uids.filter((u) => Number.isSafeInteger(u) && u > 0)));
  out.sort((a, b) => a - b);
  return out;
}

export function chunks<T>(arr: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < arr.length; i += size) out.push(arr.slice(i, i + size));
  return out;
}

/** PostgreSQL text cannot store NUL: searchable text replaces it with a space (search never needs it). */
export function pgText(s: string): string {
  return s.includes('\u0000') ? s.replace(/\u0000/g, ' ') : s;
}

/**
 * Serialises the MIME index for storage: jsonb when possible; jsonb rejects the escape \u0000, so an index
 * whose strings contain NUL (damaged headers) is kept as JSON text instead, unchanged.
 */
export function encodeIndex(index: MessageIndex): { jsonb: string | null; text: string | null } {
  const json = JSON.stringify(index);
  return json.includes('\\u0000') ? { jsonb: null, text: json } : { jsonb: json, text: null };
}

export function decodeIndex(jsonb: unknown, text: string | null): MessageIndex {
  if (text !== null) return JSON.parse(text) as MessageIndex;
  if (typeof jsonb === 'string') return JSON.parse(jsonb) as MessageIndex;
  return jsonb as MessageIndex;
}

/** Rejects strings PostgreSQL cannot store or we never want in the queue (NUL, CR, LF). */
export function checkEnvelopeString(s: string, what: string): string {
  if (typeof s !== 'string' || /[\u0000\r\n]/.test(s)) throw new StoreError('INVALID', `invalid ${what}`);
  return s;
}

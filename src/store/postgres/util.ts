/**
 * Small pure helpers of the PostgreSQL store (address normalisation and chunking are shared, in
 * ../helpers.ts): uid-list cleaning, message-id extraction for threading, and text sanitising for
 * PostgreSQL (text and jsonb cannot hold U+0000).
 */
import type { MessageIndex } from '../../mime/types.js';
import { StoreError } from '../types.js';

/** Sorted, deduplicated positive integer UIDs (anything else is dropped). */
export function cleanUids(uids: readonly number[]): number[] {
  if (!Array.isArray(uids)) return [];
  const out = Array.from(new Set(uids.filter((u) => Number.isSafeInteger(u) && u > 0)));
  out.sort((a, b) => a - b);
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

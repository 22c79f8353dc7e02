/**
 * Token parts made ahead of the spam check: the SMTP MX has every message's octets on a check-pool thread
 * anyway (mailauth/mx.ts, pool.ts), so when the spam filter has lately needed tokens it asks that thread to
 * tokenize too (one trip to the thread per message instead of two) and leaves the result here, keyed by the
 * Buffer it delivers; the filter's check of that Buffer takes it instead of tokenizing (filter.ts). The
 * filter wants the tokens as strings, or as ids (token-ids.ts) for users whose whole vocabulary it holds;
 * the MX asks for the forms wanted lately.
 *
 * The MX tokenizes the message before it puts its Authentication-Results and Received-SPF fields on top;
 * rememberPrefixed() accepts the parts for the delivered Buffer only where that changes no token: the
 * prefix is whole fields the tokenizer skips, the message after it does not begin with white space (which
 * would continue the prefix's last field), the header section ends where it did, and the whole is within
 * the tokenizer's limits (so the same octets are looked at). Otherwise the filter tokenizes as usual.
 */
import { headerFieldSpans, messageHeaderEnd } from '../mime/index.js';
import { MAX_HEADER_BYTES, MAX_INDEX_BYTES, SKIPPED_FIELDS, type TokenParts } from './tokenize.js';
import type { TokenIdList, TokenIdParts } from './token-ids.js';

/** Tokens are made ahead while the filter needed some within this time. */
export const WANTED_MS = 60_000;

/** Tokens of a message made ahead, in the forms asked for. */
export interface AheadTokens {
  parts?: TokenParts;
  ids?: TokenIdParts;
  /** With ids: the ids of the tokens of the Authentication-Results value the MX added (tokenize.ts authTokenList). */
  auth?: { value: string; ids: TokenIdList };
}

/** The forms of tokens the filter needed lately. */
export type TokenForm = 'strings' | 'ids';

const remembered = new WeakMap<Buffer, AheadTokens>();
const lastWanted: Record<TokenForm, number> = { strings: -Infinity, ids: -Infinity };

/** The filter needed tokens (a trained user's check) in this form (strings by default). */
export function noteTokensWanted(form: TokenForm = 'strings'): void {
  lastWanted[form] = performance.now();
}

/** Whether making tokens ahead is worth it (the filter needed some lately), in each form. */
export function tokensWanted(): Record<TokenForm, boolean> {
  const now = performance.now();
  return { strings: now - lastWanted.strings < WANTED_MS, ids: now - lastWanted.ids < WANTED_MS };
}

/**
 * Remembers `parts` = tokenParts(msg) (and/or their ids) for `out` = prefix + msg, where the prefix is `out`'s first
 * `prefixLength` octets, when they are exactly those of `out` (see above). Returns whether it did.
 */
export function rememberPrefixed(out: Buffer, prefixLength: number, parts: AheadTokens): boolean {
  if (out.length > MAX_INDEX_BYTES || out.length <= prefixLength) return false;
  const first = out[prefixLength];
  if (first === 0x20 || first === 0x09) return false;
  if (out[prefixLength - 2] !== 0x0d || out[prefixLength - 1] !== 0x0a) return false;
  const end = messageHeaderEnd(out);
  if (end > MAX_HEADER_BYTES || end !== messageHeaderEnd(out, prefixLength)) return false;
  let at = 0;
  for (const f of headerFieldSpans(out, 0, prefixLength)) {
    if (f.start !== at || !SKIPPED_FIELDS.has(f.name.toLowerCase())) return false;
    at = f.end;
  }
  if (at !== prefixLength) return false;
  remembered.set(out, parts);
  return true;
}

/** The parts remembered for this Buffer object, if any. */
export function rememberedTokenParts(raw: Buffer): TokenParts | undefined {
  return remembered.get(raw)?.parts;
}

/** The ids of the parts remembered for this Buffer object, if any. */
export function rememberedTokenIds(raw: Buffer): TokenIdParts | undefined {
  return remembered.get(raw)?.ids;
}

/** The ids of the tokens of `authResults` made ahead for this Buffer object, if that is the value they were made of. */
export function rememberedAuthIds(raw: Buffer, authResults: string | null): TokenIdList | undefined {
  const auth = remembered.get(raw)?.auth;
  return auth && auth.value === authResults ? auth.ids : undefined;
}

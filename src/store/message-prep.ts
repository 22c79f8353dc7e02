/**
 * Store-neutral rules every MailStore implementation shares: the mailboxes a new user gets, the special-use
 * values accepted, and the work done once per appended message (line endings, size limit, MIME index,
 * searchable text, thread keys). Implementations store the results; they do not recompute them.
 */
import { MAX_MESSAGE_SIZE } from '../lib/limits.js';
import { contentKeysFor, type ContentKeys } from '../mailsort/index.js';
import { indexMessage, normalizeLineEndings, searchableHeaders, searchableText } from '../mime/index.js';
import { indexOrigin, rememberedIndex } from '../mime/shared.js';
import type { Envelope, MessageIndex } from '../mime/types.js';
import { StoreError, type SpecialUse } from './types.js';

/** Cap on the stored searchable text per part (headers / body), in characters. */
export const MAX_SEARCH_TEXT = 4 * 1024 * 1024;

/** The mailboxes createUser makes, with their special-use attributes (RFC 6154). */
export const DEFAULT_MAILBOXES: ReadonlyArray<readonly [string, SpecialUse | null]> = [
  ['INBOX', null],
  ['Sent', '\\Sent'],
  ['Drafts', '\\Drafts'],
  ['Trash', '\\Trash'],
  ['Junk', '\\Junk'],
  ['Archive', '\\Archive'],
];

/** Every special-use value a mailbox may carry (RFC 6154). */
export const SPECIAL_USE_VALUES: readonly SpecialUse[] = ['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash'];
const SPECIAL_USE_SET: ReadonlySet<string> = new Set(SPECIAL_USE_VALUES);

/** Throws StoreError INVALID unless `su` is null or a known special-use value. */
export function checkSpecialUse(su: SpecialUse | null): void {
  if (su !== null && !SPECIAL_USE_SET.has(su)) throw new StoreError('INVALID', `unknown special-use ${String(su)}`);
}

/**
 * Message-ids found in a header value ("<a@b> <c@d>"), at most `max`. `withoutNul` skips ids containing NUL
 * (PostgreSQL text cannot hold them).
 */
export function msgIds(value: string | null | undefined, max: number, withoutNul = false): string[] {
  if (!value) return [];
  const out: string[] = [];
  const re = withoutNul ? /<([^<>\s\u0000]{1,250})>/g : /<([^<>\s]{1,250})>/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)) && out.length < max) out.push(m[1]!);
  return out;
}

/** The unfolded value of the first References: field of the top-level header (first 256 KiB of it). */
export function referencesHeader(raw: Buffer, index: MessageIndex): string | null {
  return referencesIn(raw.subarray(index.root.headerStart, index.root.headerEnd));
}

/** The unfolded value of the first References: field of a header block (first 256 KiB of it), or null. */
export function referencesIn(header: Buffer): string | null {
  const hdr = header.subarray(0, 256 * 1024).toString('latin1');
  const m = /(?:^|\r\n)references:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)/i.exec(hdr);
  return m ? m[1]!.replace(/\r\n/g, '') : null;
}

export interface PreparedMessage {
  /** The raw message with CRLF line endings: what is stored. */
  data: Buffer;
  index: MessageIndex;
  /** Lowercased, capped at MAX_SEARCH_TEXT characters. */
  headersText: string;
  bodyText: string;
  /** Ids this message refers to: References (up to 50) then In-Reply-To (up to 5). */
  threadKeys: string[];
  /** The message's own Message-ID (zero or one). */
  ownIds: string[];
  /** referencesHeader of the message (the unfolded first References: field of its header), or null. */
  references: string | null;
}

/**
 * Everything computed once per appended message. Throws StoreError TOO_BIG over MAX_MESSAGE_SIZE.
 * `idsWithoutNul`: thread keys never contain NUL (for stores that cannot keep it).
 */
export function prepareMessage(raw: Buffer, opts: { idsWithoutNul?: boolean } = {}): PreparedMessage {
  const noNul = opts.idsWithoutNul ?? false;
  const data = normalizeLineEndings(raw);
  if (data.length > MAX_MESSAGE_SIZE) throw new StoreError('TOO_BIG', `message exceeds ${MAX_MESSAGE_SIZE} octets`);
  // The index delivery already made for these very bytes (mime/shared.ts), else a parse.
  const index = rememberedIndex(data) ?? indexMessage(data);
  const { headersText, bodyText } = searchText(data, index);
  const references = referencesHeader(data, index);
  return {
    data,
    index,
    headersText,
    bodyText,
    threadKeys: [...msgIds(references, 50, noNul), ...msgIds(index.envelope.inReplyTo, 5, noNul)],
    ownIds: msgIds(index.envelope.messageId, 1, noNul),
    references,
  };
}

/** Stored body text by the index of the message it was made for, for copies of that message (searchText). */
const bodyTexts = new WeakMap<MessageIndex, string>();

/**
 * The stored search text of a message. Copies of one message for several users (each with its own trace
 * fields in front: their indexes come from one parse, see indexOrigin) share one body text, decoded and
 * lower-cased once; each copy's header text is its own.
 */
function searchText(data: Buffer, index: MessageIndex): { headersText: string; bodyText: string } {
  const origin = indexOrigin(index);
  const known = origin && bodyTexts.get(origin);
  if (known !== null && known !== undefined) return { headersText: searchableHeaders(data, index).slice(0, MAX_SEARCH_TEXT).toLowerCase(), bodyText: known };
  // Only the text that is kept is decoded: a 60 MB text part costs MAX_SEARCH_TEXT, not 60 MB of strings.
  const text = searchableText(data, index, { maxBodyBytes: MAX_SEARCH_TEXT });
  const bodyText = text.body.slice(0, MAX_SEARCH_TEXT).toLowerCase();
  if (origin) bodyTexts.set(origin, bodyText);
  return { headersText: text.headers.slice(0, MAX_SEARCH_TEXT).toLowerCase(), bodyText };
}

/** Header blocks up to this size are kept beside the MIME index (message lists read them, not the file). */
export const HEADER_ROW_MAX = 16 * 1024;

/** What a store writes for an appended message: PreparedMessage with the index already serialized. */
export interface StoredForm {
  data: Buffer;
  /** JSON of the MIME index. */
  mime: string;
  /** The envelope's protocol text (StoreOptions.envelopeText) when it has one not starting with "{", else its JSON. */
  envelope: string;
  /** Length of the top-level header block (index.root.headerEnd). */
  headerEnd: number;
  headersText: string;
  bodyText: string;
  threadKeys: string[];
  ownIds: string[];
  /** The sort and thread keys that come from the header (persisted per blob for SORT and THREAD). */
  sortKeys: ContentKeys;
}

/**
 * The envelope text as kept: a store tells kept text from the envelope's JSON by the JSON's leading "{", so
 * a rendering that starts with one is not kept (the reader then gets null and renders per session).
 */
function keptText(text: string | null): string | null {
  return text !== null && text.charCodeAt(0) !== 0x7b ? text : null;
}

/**
 * prepareMessage plus the serialization a store needs (MIME index JSON, envelope text, header length).
 * `envelopeText` is the store's StoreOptions.envelopeText; without it (or when it gives null) the envelope
 * is kept as JSON.
 */
export function prepareStoredForm(raw: Buffer, envelopeText?: (envelope: Envelope) => string | null): StoredForm {
  const { data, index, headersText, bodyText, threadKeys, ownIds, references } = prepareMessage(raw);
  return {
    data,
    mime: JSON.stringify(index),
    envelope: keptText(envelopeText?.(index.envelope) ?? null) ?? JSON.stringify(index.envelope),
    headerEnd: index.root.headerEnd,
    headersText,
    bodyText,
    threadKeys,
    ownIds,
    sortKeys: contentKeysFor({ ...index.envelope, references }),
  };
}

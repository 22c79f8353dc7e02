/**
 * The MIME indexer: raw message bytes -> MessageIndex (see types.ts), and the helpers FETCH, SEARCH,
 * the store and the client use with it. Pure functions, no I/O, no module state.
 *
 * Typical use:
 *   const raw = normalizeLineEndings(input);      // the store, before writing the blob
 *   const index = indexMessage(raw);              // once, at delivery; stored as JSON
 *   const loc = findPart(index, '1.2');           // FETCH BODY[1.2], BODY[1.2.MIME], BODY[1.2.HEADER] ...
 *   raw.subarray(loc.body.start, loc.body.end)
 *
 * Section numbers (RFC 9051 6.4.5) are resolved by findPart; the rules are written out in
 * sections.ts. In short: "" is the whole message; a single-part message has exactly one part "1"
 * (its root, whose body is BODY[1]); children of a multipart are 1, 2, ...; under a message/rfc822
 * part N the encapsulated message's children are N.1, N.2 ... when it is multipart, and its body is
 * N.1 when it is not. X.MIME is part X's own header; X.HEADER / X.TEXT exist for "" and for
 * message/rfc822 parts and are the (encapsulated) message's header / body.
 */
export { indexMessage, indexParts, messageHeaderEnd, countLines } from './parser.js';
export { parseHeaderBlock, unfoldHeader, decodeRfc2231Params, parseParameterized, headerFieldSpans, stripComments } from './headers.js';
export type { HeaderFieldSpan } from './headers.js';
export { parseAddressList } from './address.js';
export { findPart, sectionSpan, headerFieldsSlice } from './sections.js';
export type { PartLocation, Span } from './sections.js';
export {
  normalizeLineEndings,
  markCrlfOnly,
  isMarkedCrlfOnly,
  decodePartBody,
  decodeQuotedPrintable,
  decodeMimeWords,
  searchableHeaders,
  searchableText,
  partText,
  htmlToText,
  UnknownTransferEncodingError,
} from './decode.js';
export type { Envelope, EnvelopeAddress, MessageIndex, MimePart, ParameterizedValue } from './types.js';

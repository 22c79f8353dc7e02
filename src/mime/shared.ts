/**
 * One MIME parse per delivered message, shared by its readers: the spam tokenizer indexes the message
 * (sharedIndex), delivery prepends the trace and verdict fields for a copy (prefixedIndex: the same index with
 * every offset moved by the prefix's length, exactly what indexMessage would give for the copy), and the
 * store, given that copy, takes its index (rememberedIndex) instead of parsing it again.
 *
 * Indexes are remembered per Buffer object (a WeakMap, as markCrlfOnly does), together with the length they
 * were made for: a caller that remembers an index must not modify the buffer afterwards.
 */
import { headerFieldSpans } from './headers.js';
import { indexMessage } from './parser.js';
import type { MessageIndex, MimePart } from './types.js';

const remembered = new WeakMap<Buffer, MessageIndex>();
/** Index made by prefixedIndex -> the index it was moved from (the first one, when moved twice). */
const origins = new WeakMap<MessageIndex, MessageIndex>();

/** indexMessage(raw), computed once per Buffer object and remembered for rememberedIndex. */
export function sharedIndex(raw: Buffer): MessageIndex {
  const known = rememberedIndex(raw);
  if (known) return known;
  const index = indexMessage(raw);
  remembered.set(raw, index);
  return index;
}

/** Remembers `index` as indexMessage(raw) (the caller vouches for it; see prefixedIndex). */
export function rememberIndex(raw: Buffer, index: MessageIndex): void {
  if (index.size === raw.length) remembered.set(raw, index);
}

/** The index remembered for this Buffer object (sharedIndex, rememberIndex), or null. */
export function rememberedIndex(raw: Buffer): MessageIndex | null {
  const index = remembered.get(raw);
  return index !== undefined && index.size === raw.length ? index : null;
}

/**
 * Root header fields whose first occurrence the indexer reads (Content-* for the root part, the rest for
 * the envelope): a prefix holding one would change the index beyond its offsets.
 */
const READ_FIELDS = new Set(['date', 'subject', 'from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'in-reply-to', 'message-id']);

/**
 * indexMessage(prefix + raw) computed from `index` = indexMessage(raw), or null when that cannot be done
 * exactly: the prefix must be whole header fields (each ending in CRLF, none of them one the indexer reads:
 * Content-*, the envelope's), and the message must not begin with SP or HTAB (a line that would continue
 * the prefix's last field). The result shares nothing mutable with `index`.
 */
export function prefixedIndex(index: MessageIndex, raw: Buffer, prefix: Buffer): MessageIndex | null {
  if (index.size !== raw.length) return null;
  if (prefix.length === 0) return index;
  if (raw.length > 0 && (raw[0] === 0x20 || raw[0] === 0x09)) return null;
  if (prefix[prefix.length - 2] !== 0x0d || prefix[prefix.length - 1] !== 0x0a) return null;
  let at = 0;
  for (const f of headerFieldSpans(prefix, 0, prefix.length)) {
    if (f.start !== at) return null;
    const name = f.name.toLowerCase();
    if (name.startsWith('content-') || READ_FIELDS.has(name)) return null;
    at = f.end;
  }
  if (at !== prefix.length) return null;
  const by = prefix.length;
  const root = shifted(index.root, by);
  root.headerStart = 0; // the prefix is part of the top-level header
  const moved = { ...index, size: index.size + by, root };
  origins.set(moved, origins.get(index) ?? index);
  return moved;
}

/**
 * The index `index` was moved from by prefixedIndex (copies of one message for several users share it:
 * their bodies are the same bytes), or null for an index made by parsing.
 */
export function indexOrigin(index: MessageIndex): MessageIndex | null {
  return origins.get(index) ?? null;
}

function shifted(p: MimePart, by: number): MimePart {
  return {
    ...p,
    headerStart: p.headerStart + by,
    headerEnd: p.headerEnd + by,
    bodyStart: p.bodyStart + by,
    bodyEnd: p.bodyEnd + by,
    children: p.children.map((c) => shifted(c, by)),
    message: p.message && { ...p.message, root: shifted(p.message.root, by) },
  };
}

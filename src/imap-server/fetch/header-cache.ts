/**
 * Header-field slices kept per session: a client lists its newest messages with the same header fields
 * after every SELECT (BODY.PEEK[HEADER.FIELDS (...)]), and a stored message never changes (a mailbox id
 * and a UID name the same bytes for as long as the message exists; neither is ever reused), so a slice is
 * cut once and reused. Bounded per session (HEADER_SLICES_KEPT, the oldest dropped first) and dropped with
 * the session; never shared between sessions.
 */
import type { Section } from '../../imap/grammar/fetch.js';

/** Slices kept per session: a few message lists' worth (a list is typically 50 to 200 messages). */
export const HEADER_SLICES_KEPT = 512;

const bySession = new WeakMap<object, Map<string, Buffer>>();
const sectionKeys = new WeakMap<Section, string>();

/** The key of a section's field list, made once per parsed section. */
function sectionKey(s: Section): string {
  let k = sectionKeys.get(s);
  if (k === undefined) sectionKeys.set(s, (k = `${s.text} ${s.fields.map((f) => f.toLowerCase()).join(' ')}`));
  return k;
}

function sliceKey(mailboxId: number, uid: number, s: Section): string {
  return `${mailboxId}/${uid}/${sectionKey(s)}`;
}

/**
 * The slice of section `s` of message `uid` in mailbox `mailboxId` when `session` has cut it before, else
 * undefined (nothing is cut or read). A slice found becomes the newest: the next HEADER_SLICES_KEPT - 1
 * slices cut or found push out others first. A message list whose slices are all kept needs no header read.
 */
export function keptHeaderSlice(session: object, mailboxId: number, uid: number, s: Section): Buffer | undefined {
  const cache = bySession.get(session);
  if (!cache) return undefined;
  const key = sliceKey(mailboxId, uid, s);
  const slice = cache.get(key);
  if (slice !== undefined) {
    cache.delete(key);
    cache.set(key, slice);
  }
  return slice;
}

/**
 * The slice of section `s` of message `uid` in mailbox `mailboxId` as `cut` makes it, from `session`'s
 * cache when it has been cut before. The buffer may be shared with later calls: never modify it.
 */
export function cachedHeaderSlice(session: object, mailboxId: number, uid: number, s: Section, cut: () => Buffer): Buffer {
  let cache = bySession.get(session);
  if (!cache) bySession.set(session, (cache = new Map()));
  const key = sliceKey(mailboxId, uid, s);
  let slice = cache.get(key);
  if (slice === undefined) {
    slice = cut();
    if (cache.size >= HEADER_SLICES_KEPT) cache.delete(cache.keys().next().value!);
    cache.set(key, slice);
  }
  return slice;
}

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

/**
 * One session's slices: per field list (its key string, made once per parsed section, so looking it up
 * hashes no new string), per message (mailbox id and uid as one number); `size` counts them all.
 */
interface SessionSlices {
  bySection: Map<string, Map<number, Buffer>>;
  size: number;
}

const bySession = new WeakMap<object, SessionSlices>();
const sectionKeys = new WeakMap<Section, string>();

/** The key of a section's field list, made once per parsed section. */
function sectionKey(s: Section): string {
  let k = sectionKeys.get(s);
  if (k === undefined) sectionKeys.set(s, (k = `${s.text} ${s.fields.map((f) => f.toLowerCase()).join(' ')}`));
  return k;
}

/** A message as one number: mailbox ids and uids are below 2^32 and 2^21 is far above any mailbox id. */
function messageKey(mailboxId: number, uid: number): number {
  return mailboxId * 0x1_0000_0000 + uid;
}

/**
 * The slice of section `s` of message `uid` in mailbox `mailboxId` when `session` has cut it before, else
 * undefined (nothing is cut or read). A message list whose slices are all kept needs no header read; a
 * slice kept a moment ago may have been dropped since (by the cuts of other messages), so callers read
 * the message when this answers undefined.
 */
export function keptHeaderSlice(session: object, mailboxId: number, uid: number, s: Section): Buffer | undefined {
  return bySession.get(session)?.bySection.get(sectionKey(s))?.get(messageKey(mailboxId, uid));
}

/**
 * The slice of section `s` of message `uid` in mailbox `mailboxId` as `cut` makes it, from `session`'s
 * cache when it has been cut before. The buffer may be shared with later calls: never modify it.
 */
export function cachedHeaderSlice(session: object, mailboxId: number, uid: number, s: Section, cut: () => Buffer): Buffer {
  let cache = bySession.get(session);
  if (!cache) bySession.set(session, (cache = { bySection: new Map(), size: 0 }));
  const key = sectionKey(s);
  let slices = cache.bySection.get(key);
  if (!slices) cache.bySection.set(key, (slices = new Map()));
  const m = messageKey(mailboxId, uid);
  let slice = slices.get(m);
  if (slice === undefined) {
    slice = cut();
    if (cache.size >= HEADER_SLICES_KEPT) dropOldest(cache);
    slices.set(m, slice);
    cache.size++;
  }
  return slice;
}

/** Drops the oldest slice of the field list cut first (and that list when it is left empty). */
function dropOldest(cache: SessionSlices): void {
  for (const [key, slices] of cache.bySection) {
    const first = slices.keys().next();
    if (!first.done) {
      slices.delete(first.value);
      cache.size--;
    }
    if (slices.size === 0) cache.bySection.delete(key);
    if (!first.done) return;
  }
}

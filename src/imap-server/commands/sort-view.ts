/**
 * The sort keys SORT and THREAD order by: those of the selected view's messages, including messages another
 * session expunged that this session has not been told about yet. SEARCH matches those (they are still in
 * the view, RFC 2180 4.1.1), and so do SORT and THREAD, as Dovecot's do (they run over the session's view):
 * the three commands answer over the same set of messages.
 *
 * The store's sortKeys leaves expunged messages out; their keys come from the held copy the store keeps for
 * such sessions (readMessages with `expunged`), and when even that is gone, from what the view knows
 * (uid, internal date, size; empty header keys, which sort first), so such a message is never dropped.
 */
import { contentKeysFor, keysWithRow, SortKeyBuilder, type SortKeys, type SortKeyTable } from '../../mailsort/index.js';
import type { MailStore } from '../../store/mail.js';
import { contentKeysOf } from '../../store/sort-keys.js';
import type { MailboxView } from '../view.js';

/** Header keys of a message nothing more is known of. */
const NO_HEADER = contentKeysFor({ date: null, subject: null, from: null, to: null, cc: null, messageId: null, inReplyTo: null, references: null });

/**
 * Keys of `uids` (ascending, as the search evaluator gives them) in uid order. When no message of them was
 * expunged this is the store's frozen table itself, so memoized sorts and threads still apply.
 */
export async function viewSortKeys(store: MailStore, view: MailboxView, uids: readonly number[]): Promise<SortKeyTable> {
  const keys = await store.sortKeys(view.mailbox.id, uids);
  if (keys.length >= uids.length) return keys;
  const have = new Set(keys.uid);
  const missing = uids.filter((u) => !have.has(u));
  const extra = new Map<number, SortKeys>();
  for await (const r of store.readMessages(view.mailbox.id, missing, { meta: true, envelope: true, header: true, expunged: true })) {
    if (!have.has(r.uid)) extra.set(r.uid, keysWithRow(contentKeysOf(r.envelope, r.header), r.uid, r.meta.internalDate, r.meta.size));
  }
  for (const u of missing) {
    if (extra.has(u)) continue;
    const m = view.meta(u);
    extra.set(u, keysWithRow(NO_HEADER, u, m?.internalDate ?? 0, m?.size ?? 0));
  }
  const out = new SortKeyBuilder(keys.pool, keys.ids, uids.length);
  let i = 0;
  for (const u of uids) {
    if (i < keys.length && keys.uid[i] === u) out.addRow(keys, i++);
    else {
      const k = extra.get(u);
      if (k) out.add(k);
    }
  }
  return out.build();
}

/**
 * The spam filter: a per-user statistical filter (tokenize.ts, classify.ts; statistics in store.spam),
 * optionally rspamd instead (rspamd.ts), the delivery stage (stage.ts) and training by moves.
 *
 * Training entry point for every protocol (IMAP COPY/MOVE, JMAP, the web interface):
 *   noteTransfer(store, userId, fromMailboxId, toMailboxId, uids)
 * after messages were copied or moved; `uids` are the messages' UIDs in the destination mailbox. Into Junk
 * trains spam; out of Junk into anything but Trash trains ham (a message trained before as the other class
 * is re-classed; training it again as the same class changes nothing). It resolves once the statistics
 * are written (a transfer of more than TRANSFER_SYNC_MAX = 100 messages resolves at once and is trained in
 * the background) and never rejects (failures are logged).
 *
 * The server attaches its configured SpamFilter to its store with attachSpamFilter (server/stages.ts), so
 * noteTransfer follows the server's settings (filter off, rspamd); on a store without one attached it
 * trains the built-in statistics with the default settings. `store` may be the Store handle (or any object
 * with its `mail` and `spam` parts) or just its mail store (IMAP's view of it): the latter trains only
 * when a filter is attached.
 */
import type { MailStore } from '../store/mail.js';
import type { SpamClass } from '../store/spam.js';
import { SpamFilter, type SpamStoreParts } from './filter.js';

export { SpamFilter, DEFAULT_SPAM_SETTINGS, spamtestScore, type SpamSettings, type SpamVerdict } from './filter.js';
export { spamStage, statusValue, type SpamNote } from './stage.js';
export { tokenize } from './tokenize.js';
export { classify } from './classify.js';
export { messageDigest, renameSpamFields } from './message.js';
export { RspamdClient, RspamdError } from './rspamd.js';

/** Filters attached to open stores, keyed by the store's mail part (one per open store). */
const attached = new WeakMap<MailStore, SpamFilter>();

/** Makes `filter` the one noteTransfer uses for its store. */
export function attachSpamFilter(filter: SpamFilter): void {
  attached.set(filter.store.mail, filter);
}

/** The filter attached to the store of `mail`, if any. */
export function attachedSpamFilter(mail: MailStore): SpamFilter | null {
  return attached.get(mail) ?? null;
}

/** See the header. Returns the class trained, or null when the transfer trains nothing. */
export async function noteTransfer(
  store: SpamStoreParts | MailStore,
  userId: number,
  fromMailboxId: number,
  toMailboxId: number,
  uids: readonly number[],
): Promise<SpamClass | null> {
  const parts = 'mail' in store && 'spam' in store ? store : null;
  const mail = parts ? parts.mail : (store as MailStore);
  const filter = attached.get(mail) ?? (parts ? new SpamFilter(parts) : null);
  if (!filter) return null;
  return filter.transfer(userId, fromMailboxId, toMailboxId, uids);
}

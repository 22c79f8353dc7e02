/**
 * Keeping a copy of submitted mail in the sender's Sent folder, unless the client already appended it
 * (clients such as Thunderbird APPEND to Sent themselves): a copy whose ENVELOPE message-id equals the
 * submitted message's Message-ID means the copy exists.
 */
import type { MailStore } from '../store/mail.js';
import type { Mailbox } from '../store/types.js';

/** The user's \Sent mailbox (special-use), else one named "Sent", else null. */
export async function findSentMailbox(store: MailStore, userId: number): Promise<Mailbox | null> {
  const boxes = await store.listMailboxes(userId);
  return boxes.find((b) => b.specialUse === '\\Sent') ?? boxes.find((b) => b.name.toLowerCase() === 'sent') ?? null;
}

/**
 * How many of the newest Sent messages are searched for the Message-ID: a client appends its copy around the
 * time it submits, so older mail need not be searched (keeps submission cheap with a large Sent folder).
 */
export const SENT_DEDUPE_WINDOW = 500;

/** True when one of the newest `window` messages of `mailbox` has Message-ID `messageId` (exact, with brackets). */
export async function hasMessageId(store: MailStore, mailboxId: number, messageId: string, window = SENT_DEDUPE_WINDOW): Promise<boolean> {
  const all = (await store.listMessages(mailboxId)).slice(-window);
  if (!all.length) return false;
  const needle = messageId.replace(/^<|>$/g, '');
  if (!needle) return false;
  const hits = await store.searchText(
    mailboxId,
    all.map((m) => m.uid),
    needle,
    'header',
  );
  if (!hits.length) return false;
  for await (const rec of store.readMessages(mailboxId, hits, { envelope: true })) {
    const mid = rec.envelope.messageId;
    if (mid && mid.trim() === messageId.trim()) return true;
  }
  return false;
}

/**
 * Appends `raw` to the user's Sent folder with \Seen unless a copy with the same Message-ID is there.
 * Returns 'saved', 'present' or 'no-sent-folder'.
 */
export async function saveToSent(store: MailStore, userId: number, raw: Buffer, messageId: string | null): Promise<'saved' | 'present' | 'no-sent-folder'> {
  const sent = await findSentMailbox(store, userId);
  if (!sent) return 'no-sent-folder';
  if (messageId && (await hasMessageId(store, sent.id, messageId))) return 'present';
  await store.append(sent.id, raw, { flags: ['\\Seen'] });
  return 'saved';
}

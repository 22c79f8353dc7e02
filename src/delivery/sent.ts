/**
 * Keeping a copy of submitted mail in the sender's Sent folder, once.
 * - Whether a copy is kept at all: the user's setting (server annotation SENT_COPY_ENTRY, "on"/"off", set
 *   with `mailroom user set ADDRESS --sent-copy on|off`), else the service default (submission-sent-copy).
 * - A client that appended its copy before submitting (the same Message-ID among the newest Sent messages)
 *   gets no second one.
 * - A client that appends its copy after submitting (Thunderbird, Roundcube): SentCopyWatch watches the Sent
 *   mailbox for SENT_APPEND_WINDOW_MS after the server's copy; a newer message with the same Message-ID makes
 *   the server's copy go (flagged \Deleted and expunged), so the copy the client made and knows stays.
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

export type SentCopyResult = { state: 'present' | 'no-sent-folder' } | { state: 'saved'; mailboxId: number; uid: number; modseq: number };

/**
 * Appends `raw` to the user's Sent folder with \Seen unless a copy with the same Message-ID is there.
 * Returns 'saved' (with where), 'present' or 'no-sent-folder'.
 */
export async function saveToSent(store: MailStore, userId: number, raw: Buffer, messageId: string | null): Promise<SentCopyResult> {
  const sent = await findSentMailbox(store, userId);
  if (!sent) return { state: 'no-sent-folder' };
  if (messageId && (await hasMessageId(store, sent.id, messageId))) return { state: 'present' };
  const r = await store.append(sent.id, raw, { flags: ['\\Seen'] });
  return { state: 'saved', mailboxId: sent.id, uid: r.uid, modseq: r.modseq };
}

/** The user's server annotation (RFC 5464) holding their Sent copy setting: "on" or "off". */
export const SENT_COPY_ENTRY = '/private/vendor/vendor.mailroom/sent-copy';

const NO_LIMITS = { maxEntries: Number.MAX_SAFE_INTEGER, maxTotalSize: Number.MAX_SAFE_INTEGER };

/** Whether the user wants the server to keep a Sent copy: their setting, else `fallback`. */
export async function sentCopyWanted(store: MailStore, userId: number, fallback: boolean): Promise<boolean> {
  const [entry] = await store.getMetadata(userId, null, [SENT_COPY_ENTRY], 0);
  const v = entry?.value.toString('utf8').trim().toLowerCase();
  return v === 'on' ? true : v === 'off' ? false : fallback;
}

/** Sets the user's Sent copy setting; null removes it (the service default applies). */
export async function setSentCopy(store: MailStore, userId: number, on: boolean | null): Promise<void> {
  await store.setMetadata(userId, null, [{ name: SENT_COPY_ENTRY, value: on === null ? null : Buffer.from(on ? 'on' : 'off') }], NO_LIMITS);
}

/** How long after the server's Sent copy a client's own APPEND of the same message replaces it. */
export const SENT_APPEND_WINDOW_MS = 2 * 60 * 1000;

/** The server's Sent copies being watched for a client's own copy (see the module header). */
export class SentCopyWatch {
  readonly #stops = new Set<() => void>();
  readonly #onError: (e: unknown) => void;
  constructor(onError: (e: unknown) => void = () => undefined) {
    this.#onError = onError;
  }

  /** Watches `copy` (the server's copy of message `messageId`) for `windowMs`. */
  watch(store: MailStore, copy: { mailboxId: number; uid: number; modseq: number }, messageId: string, windowMs = SENT_APPEND_WINDOW_MS): void {
    let done = false;
    let seen = copy.modseq;
    let chain = Promise.resolve();
    const stop = (): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      unsubscribe();
      this.#stops.delete(stop);
    };
    const check = async (): Promise<void> => {
      if (done) return;
      const changes = await store.changesSince(copy.mailboxId, seen);
      seen = changes.highestModseq;
      if (changes.expunged.includes(copy.uid)) return stop(); // the user removed it already
      const newer = changes.changed.filter((m) => m.uid > copy.uid).map((m) => m.uid);
      if (!newer.length) return;
      for await (const rec of store.readMessages(copy.mailboxId, newer, { envelope: true })) {
        if (rec.envelope.messageId?.trim() !== messageId.trim()) continue;
        stop();
        await store.storeFlags(copy.mailboxId, [copy.uid], { op: 'add', flags: ['\\Deleted'] });
        await store.expunge(copy.mailboxId, [copy.uid]);
        return;
      }
    };
    const unsubscribe = store.subscribe(copy.mailboxId, () => {
      chain = chain.then(check).catch((e: unknown) => {
        stop();
        this.#onError(e);
      });
    });
    const timer = setTimeout(stop, windowMs);
    timer.unref();
    this.#stops.add(stop);
  }

  /** Stops every watch (the service is closing). */
  stopAll(): void {
    for (const stop of [...this.#stops]) stop();
  }
}

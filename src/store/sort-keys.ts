/**
 * The per-mailbox cache behind MailStore.sortKeys, shared by every backend: the mailsort SortKeys of each
 * message, computed once per message from what the store keeps (the envelope, internal date and size, and
 * the References field of the stored header block) and then held in memory, so SORT and THREAD of a large
 * mailbox read no message data per command.
 *
 * Contract of `SortKeyCache.get(mailboxId, uids?)`:
 * - resolves to the keys of the given uids that exist (every message of the mailbox when `uids` is omitted),
 *   each once, in ascending uid order; neither the array nor the key objects may be changed: while the
 *   mailbox does not change, asking for all of its messages (no uids, or exactly its uids in order) gives
 *   the same frozen array, so callers may memoize what they compute from it by its identity;
 * - a cached mailbox is brought forward through the change log (changesSince from the modseq it was last
 *   read at): expunged messages leave, new ones are listed and their keys computed when first asked for;
 * - keys never go stale for a message: a uid names the same bytes until it is expunged (RFC 9051 2.3.1.1);
 * - at most `maxKeys` keys are held over all mailboxes; the least recently used mailboxes are dropped first;
 * - rejects with the store's StoreError (NOT_FOUND for an unknown or deleted mailbox).
 */
import { sortKeysFor, type SortKeys } from '../mailsort/index.js';
import type { MailStore } from './mail.js';
import { referencesIn } from './message-prep.js';

/** What the cache reads from its store. */
export type SortKeySource = Pick<MailStore, 'changesSince' | 'readMessages'>;

/** Default bound on the keys held per store (about 300 bytes each). */
export const SORT_KEYS_MAX = 1_000_000;

interface Entry {
  /** The mailbox's HIGHESTMODSEQ the uid list was brought forward to. */
  modseq: number;
  /** Existing uids; the value is the keys once computed. */
  keys: Map<number, SortKeys | null>;
  /** Every existing message's keys in uid order, while nothing changed since it was built. */
  all: readonly SortKeys[] | null;
  computed: number;
}

export class SortKeyCache {
  readonly #src: SortKeySource;
  readonly #maxKeys: number;
  /** Least recently used first. */
  readonly #entries = new Map<number, Entry>();
  #held = 0;

  constructor(src: SortKeySource, maxKeys = SORT_KEYS_MAX) {
    this.#src = src;
    this.#maxKeys = maxKeys;
  }

  async get(mailboxId: number, uids?: readonly number[]): Promise<readonly SortKeys[]> {
    const e = await this.#forward(mailboxId);
    let want: number[];
    if (uids === undefined) {
      if (e.all) return e.all;
      want = [...e.keys.keys()].sort((a, b) => a - b);
    } else if (e.all && sameUids(e.all, uids)) {
      return e.all;
    } else {
      want = [];
      for (const u of uids) if (e.keys.has(u)) want.push(u);
      want.sort((a, b) => a - b);
      want = want.filter((u, i) => i === 0 || want[i - 1] !== u);
    }
    const missing = want.filter((u) => e.keys.get(u) === null);
    if (missing.length) await this.#compute(mailboxId, e, missing);
    const out: SortKeys[] = [];
    for (const u of want) {
      const k = e.keys.get(u);
      if (k) out.push(k);
    }
    this.#trim(mailboxId);
    if (out.length === e.keys.size) {
      e.all = Object.freeze(out);
      return e.all;
    }
    return out;
  }

  /** Forgets every cached mailbox (the store closed). */
  clear(): void {
    this.#entries.clear();
    this.#held = 0;
  }

  /** The mailbox's entry brought up to its current HIGHESTMODSEQ through the change log. */
  async #forward(mailboxId: number): Promise<Entry> {
    const before = this.#entries.get(mailboxId);
    let ch;
    try {
      ch = await this.#src.changesSince(mailboxId, before?.modseq ?? 0);
    } catch (err) {
      this.#drop(mailboxId);
      throw err;
    }
    // Taken again after the wait: a concurrent call may have created or advanced the entry meanwhile.
    let e = this.#entries.get(mailboxId);
    if (e) this.#entries.delete(mailboxId);
    else e = { modseq: 0, keys: new Map(), all: null, computed: 0 };
    this.#entries.set(mailboxId, e);
    // An answer older than what was applied meanwhile is covered by it (same or earlier `since`, read
    // earlier); applying it could bring back a uid expunged since. Mailbox ids are never reused.
    if (ch.highestModseq < e.modseq) return e;
    for (const u of ch.expunged) {
      const k = e.keys.get(u);
      if (k === undefined) continue;
      if (k !== null) {
        e.computed--;
        this.#held--;
      }
      e.keys.delete(u);
      e.all = null;
    }
    for (const m of ch.changed) {
      if (e.keys.has(m.uid)) continue;
      e.keys.set(m.uid, null);
      e.all = null;
    }
    e.modseq = ch.highestModseq;
    return e;
  }

  async #compute(mailboxId: number, e: Entry, uids: number[]): Promise<void> {
    for await (const r of this.#src.readMessages(mailboxId, uids, { meta: true, envelope: true, header: true })) {
      if (e.keys.get(r.uid) !== null) continue;
      const keys = sortKeysFor({
        ...r.envelope,
        uid: r.uid,
        internalDate: r.meta.internalDate,
        size: r.meta.size,
        references: referencesIn(r.header),
      });
      e.keys.set(r.uid, keys);
      e.computed++;
      // An entry dropped meanwhile (trimmed, or its mailbox gone) no longer counts towards the bound.
      if (this.#entries.get(mailboxId) === e) this.#held++;
    }
  }

  #drop(mailboxId: number): void {
    const e = this.#entries.get(mailboxId);
    if (!e) return;
    this.#held -= e.computed;
    this.#entries.delete(mailboxId);
  }

  /** Drops least recently used mailboxes (never `keep`) while over the bound. */
  #trim(keep: number): void {
    for (const id of this.#entries.keys()) {
      if (this.#held <= this.#maxKeys) return;
      if (id !== keep) this.#drop(id);
    }
  }
}

/** True when `uids` lists exactly the uids of `keys`, in the same order. */
function sameUids(keys: readonly SortKeys[], uids: readonly number[]): boolean {
  if (keys.length !== uids.length) return false;
  for (let i = 0; i < uids.length; i++) if (keys[i]!.uid !== uids[i]) return false;
  return true;
}

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
 *   read at): expunged messages leave, new ones are listed and their keys loaded when first asked for;
 * - keys are loaded from what the store persisted at append (`PersistedSortKeys`: the content keys per blob,
 *   joined with the message rows), so a cold cache costs one read of small rows, not a parse per message;
 *   a message stored before that (or by older code) has its keys computed from its envelope and header and
 *   then persisted (the backfill happens on first use, one batch per command);
 * - keys never go stale for a message: a uid names the same bytes until it is expunged (RFC 9051 2.3.1.1);
 * - at most `maxKeys` keys are held over all mailboxes; the least recently used mailboxes are dropped first;
 * - rejects with the store's StoreError (NOT_FOUND for an unknown or deleted mailbox).
 */
import { contentKeysFor, keysWithRow, noteSuccessor, SORT_KEYS_VERSION, type ContentKeys, type SortKeys } from '../mailsort/index.js';
import type { Envelope } from '../mime/types.js';
import type { MailStore } from './mail.js';
import { referencesIn } from './message-prep.js';

/** What the cache reads from its store. */
export type SortKeySource = Pick<MailStore, 'changesSince' | 'readMessages'>;

/** One message row as the persisted-keys reader returns it; `keys` is null when none are stored (yet). */
export interface StoredSortRow {
  uid: number;
  arrival: number;
  size: number;
  blobId: string;
  keys: ContentKeys | null;
}

/** A backend's persisted content keys (one row per blob, written at append; see contentKeysOf). */
export interface PersistedSortKeys {
  /** The mailbox's messages with lo <= uid <= hi, ascending by uid. */
  read(mailboxId: number, lo: number, hi: number): Promise<StoredSortRow[]>;
  /**
   * Every message of the mailbox and its HIGHESTMODSEQ, read at one point in time (how a cold cache starts,
   * instead of the whole change log). Rejects NOT_FOUND for an unknown mailbox.
   */
  readAll(mailboxId: number): Promise<{ modseq: number; rows: StoredSortRow[] }>;
  /** Stores computed keys of existing blobs (the backfill); blobs already keyed or gone are left alone. */
  save(rows: ReadonlyArray<readonly [blobId: string, keys: ContentKeys]>): Promise<void>;
}

/** The content keys of a message from its parsed envelope and its header block (for References). */
export function contentKeysOf(envelope: Envelope, header: Buffer): ContentKeys {
  return contentKeysFor({ ...envelope, references: referencesIn(header) });
}

/**
 * Column values of a persisted row, in table order after blob_id: version, sent, subject, from, to, cc,
 * display_from, display_to, reply_fwd, message_id, parents ("" when none, else a JSON array).
 */
export type SortRowValues = [number, number | null, string, string, string, string, string, string, number, string | null, string];

export function encodeContentKeys(c: ContentKeys): SortRowValues {
  return [SORT_KEYS_VERSION, c.sent, c.subject, c.from, c.to, c.cc, c.displayFrom, c.displayTo, c.replyOrForward ? 1 : 0, c.messageId, c.parents.length ? JSON.stringify(c.parents) : ''];
}

/** Content keys from `v` starting at `at` (SortRowValues order); null when absent or of another version. */
export function decodeContentKeys(v: readonly unknown[], at: number): ContentKeys | null {
  if (Number(v[at]) !== SORT_KEYS_VERSION) return null;
  const sent = v[at + 1];
  const parents = v[at + 10] as string;
  return {
    sent: sent === null || sent === undefined ? null : Number(sent),
    subject: v[at + 2] as string,
    from: v[at + 3] as string,
    to: v[at + 4] as string,
    cc: v[at + 5] as string,
    displayFrom: v[at + 6] as string,
    displayTo: v[at + 7] as string,
    replyOrForward: Boolean(v[at + 8]),
    messageId: (v[at + 9] as string | null) ?? null,
    parents: parents ? (JSON.parse(parents) as string[]) : [],
  };
}

/** Uids further apart than this are read as separate uid ranges of persisted rows. */
const RANGE_GAP = 512;

/** Default bound on the keys held per store (about 300 bytes each). */
export const SORT_KEYS_MAX = 1_000_000;

interface Entry {
  /** The mailbox's HIGHESTMODSEQ the uid list was brought forward to. */
  modseq: number;
  /** Existing uids; the value is the keys once computed. */
  keys: Map<number, SortKeys | null>;
  /** Every existing message's keys in uid order, while nothing changed since it was built. */
  all: readonly SortKeys[] | null;
  /** The last such array (kept across changes, so the next one can name it as its predecessor). */
  last: readonly SortKeys[] | null;
  computed: number;
}

export class SortKeyCache {
  readonly #src: SortKeySource;
  readonly #persisted: PersistedSortKeys | null;
  readonly #maxKeys: number;
  /** Least recently used first. */
  readonly #entries = new Map<number, Entry>();
  #held = 0;

  constructor(src: SortKeySource, opts: { persisted?: PersistedSortKeys; maxKeys?: number } = {}) {
    this.#src = src;
    this.#persisted = opts.persisted ?? null;
    this.#maxKeys = opts.maxKeys ?? SORT_KEYS_MAX;
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
      // Threading the new array can start from the old one's threads (mailsort memo.ts).
      if (e.last) noteSuccessor(e.last, e.all);
      e.last = e.all;
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
    if (!before && this.#persisted) {
      const cold = await this.#cold(mailboxId);
      if (cold) return cold;
    }
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
    else e = { modseq: 0, keys: new Map(), all: null, last: null, computed: 0 };
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

  /**
   * A new entry from one read of every row with its persisted keys (null when another call created the
   * entry meanwhile: the change log then brings that one forward).
   */
  async #cold(mailboxId: number): Promise<Entry | null> {
    let all;
    try {
      all = await this.#persisted!.readAll(mailboxId);
    } catch (err) {
      this.#drop(mailboxId);
      throw err;
    }
    if (this.#entries.has(mailboxId)) return null;
    const e: Entry = { modseq: all.modseq, keys: new Map(), all: null, last: null, computed: 0 };
    this.#entries.set(mailboxId, e);
    for (const r of all.rows) {
      if (r.keys) this.#set(mailboxId, e, keysWithRow(r.keys, r.uid, r.arrival, r.size));
      else e.keys.set(r.uid, null);
    }
    return e;
  }

  /** Loads (or, for messages without persisted keys, computes and persists) the keys of `uids` (ascending). */
  async #compute(mailboxId: number, e: Entry, uids: number[]): Promise<void> {
    let rest = uids;
    const blobOf = new Map<number, string>();
    if (this.#persisted) {
      rest = [];
      for (const [lo, hi] of uidRanges(uids)) {
        for (const r of await this.#persisted.read(mailboxId, lo, hi)) {
          if (e.keys.get(r.uid) !== null) continue;
          if (r.keys) this.#set(mailboxId, e, keysWithRow(r.keys, r.uid, r.arrival, r.size));
          else {
            rest.push(r.uid);
            blobOf.set(r.uid, r.blobId);
          }
        }
      }
      if (rest.length === 0) return;
    }
    const fill: Array<[string, ContentKeys]> = [];
    for await (const r of this.#src.readMessages(mailboxId, rest, { meta: true, envelope: true, header: true })) {
      if (e.keys.get(r.uid) !== null) continue;
      const c = contentKeysOf(r.envelope, r.header);
      this.#set(mailboxId, e, keysWithRow(c, r.uid, r.meta.internalDate, r.meta.size));
      const blobId = blobOf.get(r.uid);
      if (blobId !== undefined) fill.push([blobId, c]);
    }
    if (fill.length && this.#persisted) {
      // The backfill is an optimisation for the next cold start; a failure to write it changes no answer.
      await this.#persisted.save(fill).catch(() => undefined);
    }
  }

  #set(mailboxId: number, e: Entry, keys: SortKeys): void {
    e.keys.set(keys.uid, keys);
    e.computed++;
    // An entry dropped meanwhile (trimmed, or its mailbox gone) no longer counts towards the bound.
    if (this.#entries.get(mailboxId) === e) this.#held++;
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

/** Ascending uids as [lo, hi] ranges, split where neighbours are more than RANGE_GAP apart. */
function uidRanges(uids: readonly number[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const u of uids) {
    const last = out[out.length - 1];
    if (last && u - last[1] <= RANGE_GAP) last[1] = u;
    else out.push([u, u]);
  }
  return out;
}

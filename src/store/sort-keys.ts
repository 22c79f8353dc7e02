/**
 * The per-mailbox cache behind MailStore.sortKeys, shared by every backend: the mailsort SortKeys of each
 * message, computed once per message from what the store keeps (the envelope, internal date and size, and
 * the References field of the stored header block) and then held in memory, so SORT and THREAD of a large
 * mailbox read no message data per command.
 *
 * Contract of `SortKeyCache.get(mailboxId, uids?)`:
 * - resolves to a SortKeyTable (mailsort table.ts: columns, no object per message) of the keys of the given
 *   uids that exist (every message of the mailbox when `uids` is omitted), each once, in ascending uid order;
 *   while the mailbox does not change, asking for all of its messages (no uids, or exactly its uids in order)
 *   gives the same frozen table, so callers may memoize what they compute from it by its identity;
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
import { SortKeyBuilder, SortKeyTable, STRING_FIELDS, StringPool } from '../mailsort/table.js';
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
   * Every message of the mailbox, ascending by uid, handed to `onRow` one at a time (how a cold cache starts,
   * instead of the whole change log; rows are not collected), read at one point in time; resolves to the
   * mailbox's HIGHESTMODSEQ at that point. Rejects NOT_FOUND for an unknown mailbox.
   */
  readAll(mailboxId: number, onRow: (row: StoredSortRow) => void): Promise<number>;
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

/** Default bound on the keys held per store (about 100 bytes each, plus the distinct strings). */
export const SORT_KEYS_MAX = 1_000_000;

interface Entry {
  /** The mailbox's HIGHESTMODSEQ the uid list was brought forward to. */
  modseq: number;
  /** The keys loaded so far of existing messages, ascending by uid (frozen once handed out complete). */
  table: SortKeyTable;
  /** Existing uids whose keys are not loaded yet. */
  pending: Set<number>;
  /** The last complete table handed out (kept across changes, so the next one can name it as predecessor). */
  last: SortKeyTable | null;
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

  async get(mailboxId: number, uids?: readonly number[]): Promise<SortKeyTable> {
    const e = await this.#forward(mailboxId);
    if (e.pending.size === 0 && (uids === undefined || e.table.hasUids(uids))) return this.#complete(e);
    let want: number[] | null = null;
    if (uids !== undefined) {
      want = [];
      for (const u of uids) if (e.pending.has(u) || e.table.indexOf(u) >= 0) want.push(u);
      want.sort((a, b) => a - b);
      want = want.filter((u, i) => i === 0 || want![i - 1] !== u);
    }
    const missing = want === null ? [...e.pending].sort((a, b) => a - b) : want.filter((u) => e.pending.has(u));
    if (missing.length) await this.#compute(mailboxId, e, missing);
    this.#trim(mailboxId);
    if (e.pending.size === 0 && (want === null || e.table.hasUids(want))) return this.#complete(e);
    // Some uids could not be loaded (expunged meanwhile): what there is, not as the shared table.
    if (want === null) return e.table.select(Array.from({ length: e.table.length }, (_, i) => i));
    const rows: number[] = [];
    for (const u of want) {
      const i = e.table.indexOf(u);
      if (i >= 0) rows.push(i);
    }
    return e.table.select(rows);
  }

  /** Forgets every cached mailbox (the store closed). */
  clear(): void {
    this.#entries.clear();
    this.#held = 0;
  }

  /** The entry's table as the shared one for the whole mailbox (frozen; linked to the one before). */
  #complete(e: Entry): SortKeyTable {
    const t = e.table;
    if (!Object.isFrozen(t)) {
      Object.freeze(t);
      // Threading the new table can start from the old one's threads (mailsort memo.ts).
      if (e.last) noteSuccessor(e.last, t);
      e.last = t;
    }
    return t;
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
    else e = { modseq: 0, table: emptyTable(), pending: new Set(), last: null };
    this.#entries.set(mailboxId, e);
    // An answer older than what was applied meanwhile is covered by it (same or earlier `since`, read
    // earlier); applying it could bring back a uid expunged since. Mailbox ids are never reused.
    if (ch.highestModseq < e.modseq) return e;
    const gone = new Set<number>();
    for (const u of ch.expunged) {
      if (e.pending.delete(u)) continue;
      if (e.table.indexOf(u) >= 0) gone.add(u);
    }
    if (gone.size) {
      const t = e.table;
      const keep: number[] = [];
      for (let i = 0; i < t.length; i++) if (!gone.has(t.uid[i]!)) keep.push(i);
      e.table = compacted(t.select(keep));
      this.#held -= gone.size;
    }
    for (const m of ch.changed) {
      if (!e.pending.has(m.uid) && e.table.indexOf(m.uid) < 0) e.pending.add(m.uid);
    }
    e.modseq = ch.highestModseq;
    return e;
  }

  /**
   * A new entry from one read of every row with its persisted keys (null when another call created the
   * entry meanwhile: the change log then brings that one forward).
   */
  async #cold(mailboxId: number): Promise<Entry | null> {
    const b = new SortKeyBuilder(new StringPool(), new StringPool(), 1024);
    const pending = new Set<number>();
    let modseq;
    try {
      modseq = await this.#persisted!.readAll(mailboxId, (r) => {
        if (r.keys) b.addContent(r.keys, r.uid, r.arrival, r.size);
        else pending.add(r.uid);
      });
    } catch (err) {
      this.#drop(mailboxId);
      throw err;
    }
    if (this.#entries.has(mailboxId)) return null;
    const e: Entry = { modseq, table: b.build(), pending, last: null };
    this.#entries.set(mailboxId, e);
    this.#held += e.table.length;
    return e;
  }

  /** Loads (or, for messages without persisted keys, computes and persists) the keys of `uids` (ascending). */
  async #compute(mailboxId: number, e: Entry, uids: number[]): Promise<void> {
    const got: SortKeys[] = [];
    let rest = uids;
    const blobOf = new Map<number, string>();
    if (this.#persisted) {
      rest = [];
      for (const [lo, hi] of uidRanges(uids)) {
        for (const r of await this.#persisted.read(mailboxId, lo, hi)) {
          if (!e.pending.has(r.uid)) continue;
          if (r.keys) got.push(keysWithRow(r.keys, r.uid, r.arrival, r.size));
          else {
            rest.push(r.uid);
            blobOf.set(r.uid, r.blobId);
          }
        }
      }
    }
    const fill: Array<[string, ContentKeys]> = [];
    if (rest.length) {
      for await (const r of this.#src.readMessages(mailboxId, rest, { meta: true, envelope: true, header: true })) {
        if (!e.pending.has(r.uid)) continue;
        const c = contentKeysOf(r.envelope, r.header);
        got.push(keysWithRow(c, r.uid, r.meta.internalDate, r.meta.size));
        const blobId = blobOf.get(r.uid);
        if (blobId !== undefined) fill.push([blobId, c]);
      }
    }
    this.#merge(mailboxId, e, got);
    if (fill.length && this.#persisted) {
      // The backfill is an optimisation for the next cold start; a failure to write it changes no answer.
      await this.#persisted.save(fill).catch(() => undefined);
    }
  }

  /** Adds loaded keys (of uids still pending) to the entry's table, keeping it in uid order. */
  #merge(mailboxId: number, e: Entry, got: SortKeys[]): void {
    // Reads may overlap: only keys of uids still pending count (an expunged or already added uid is skipped).
    const fresh = got.filter((k) => e.pending.delete(k.uid)).sort((a, b) => a.uid - b.uid);
    if (fresh.length === 0) return;
    const t = e.table;
    const b = new SortKeyBuilder(t.pool, t.ids, t.length + fresh.length);
    // Runs of old rows between the new ones are copied a column at a time.
    let i = 0;
    for (const k of fresh) {
      let end = i;
      while (end < t.length && t.uid[end]! < k.uid) end++;
      b.addRows(t, i, end);
      b.add(k);
      i = end;
    }
    b.addRows(t, i, t.length);
    e.table = b.build();
    // An entry dropped meanwhile (trimmed, or its mailbox gone) no longer counts towards the bound.
    if (this.#entries.get(mailboxId) === e) this.#held += fresh.length;
  }

  #drop(mailboxId: number): void {
    const e = this.#entries.get(mailboxId);
    if (!e) return;
    this.#held -= e.table.length;
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

function emptyTable(): SortKeyTable {
  return new SortKeyBuilder(new StringPool(), new StringPool(), 1).build();
}

/**
 * `t` itself, or (when most of its pools' strings are no longer used by any row, after expunges) the same
 * rows over fresh pools holding only their strings.
 */
function compacted(t: SortKeyTable): SortKeyTable {
  const used = t.length * STRING_FIELDS.length + t.parents.length + t.length;
  if (t.pool.size + t.ids.size <= 2 * used + 1024) return t;
  return SortKeyTable.fromRecords(t);
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

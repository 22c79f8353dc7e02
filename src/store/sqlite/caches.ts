/**
 * The per-connection read caches of the SQLite core (see core.ts, "Hot paths"): listMessages rows per
 * mailbox, brought forward through the change log, and the last changesSince answer per mailbox. Both are
 * valid for one HIGHESTMODSEQ, which every change bumps in its transaction whichever process commits, and
 * hand out only fresh objects built from the cached rows.
 */
import { StoreError, type MessageMeta } from '../types.js';
import { FLAG_DELETED, FLAG_SEEN } from '../flags.js';
import type { SqliteCore } from './core.js';
import { rawToMeta, sharedMeta, type RawMsgRow } from './rows.js';

/**
 * The listMessages cache keeps mailboxes of at least LIST_CACHE_MIN_ROWS messages (tiny ones are cheaper
 * to read than to bring forward; a 200-message INBOX re-SELECTed between changes is not) and
 * LIST_CACHE_MAX_ROWS rows in all (about 200 bytes each). A stale entry is updated from the
 * change log when the delta is at most an eighth of the mailbox (or LIST_CACHE_DELTA_MIN rows), else reread.
 */
const LIST_CACHE_MIN_ROWS = 64;
const LIST_CACHE_MAX_ROWS = 200_000;
const LIST_CACHE_DELTA_MIN = 256;
/**
 * An entry whose mailbox no session of this process has open (no listener on the store's change bus) is
 * dropped once unused for LIST_CACHE_IDLE_MS: a client that comes back within it (a reconnect, a poll, the
 * next session of a client that logs in per check; connections alternate between the workers of serve
 * --workers N) or a session that keeps the mailbox open keeps it, and a cold SELECT of a big mailbox costs
 * several times a warm one; entries of mailboxes nobody here looks at no longer fill the cache up to
 * LIST_CACHE_MAX_ROWS (with `serve --workers N` every worker ends up with an entry for every mailbox its
 * sessions ever selected, ~400 bytes a message each).
 */
export const LIST_CACHE_IDLE_MS = 30_000;

export interface ListCacheEntry {
  highest: number;
  rows: RawMsgRow[];
  /**
   * The rows as frozen MessageMeta (rows.ts sharedMeta), index for index, made on the first listMessages and
   * carried through deltas (an unchanged row keeps its object): every view of the mailbox shares them
   * instead of building one object per message per SELECT. Null until asked for.
   */
  metas: MessageMeta[] | null;
  /** Date.now() when the entry was last used (see LIST_CACHE_IDLE_MS). */
  used: number;
}

/**
 * Applies a change-log delta to rows in uid order: expunged uids leave, changed rows replace theirs, rows
 * not present yet (new appends, always above the existing uids but merged generally) are inserted in order.
 */
export function applyDelta(rows: readonly RawMsgRow[], changed: readonly RawMsgRow[], gone: readonly number[]): RawMsgRow[] {
  const drop = new Set(gone);
  const upd = new Map<number, RawMsgRow>();
  for (const r of changed) upd.set(r[0], r);
  const out: RawMsgRow[] = [];
  for (const r of rows) {
    if (drop.has(r[0])) continue;
    const u = upd.get(r[0]);
    if (u) {
      out.push(u);
      upd.delete(r[0]);
    } else out.push(r);
  }
  if (upd.size === 0) return out;
  const added = [...upd.values()].filter((r) => !drop.has(r[0]));
  added.sort((a, b) => a[0] - b[0]);
  const last = out.length > 0 ? out[out.length - 1]![0] : 0;
  if (added.length > 0 && added[0]![0] > last) return out.concat(added);
  return out.concat(added).sort((a, b) => a[0] - b[0]);
}

/**
 * The metas of `rows` (applyDelta's result) from those of `prev`: a row applyDelta kept (the same array) keeps
 * its object, a changed or new one gets a new one. Both row lists are in uid order.
 */
export function carryMetas(prev: readonly RawMsgRow[], prevMetas: readonly MessageMeta[], rows: readonly RawMsgRow[]): MessageMeta[] {
  const out: MessageMeta[] = new Array<MessageMeta>(rows.length);
  let j = 0;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    while (j < prev.length && prev[j]![0] < r[0]) j++;
    out[i] = j < prev.length && prev[j] === r ? prevMetas[j]! : sharedMeta(r);
  }
  return out;
}

/** The counts of status() from cached rows (the same sums as the status statement). */
export function statusOf(rows: readonly RawMsgRow[], firstRecent: number): { messages: number; unseen: number; deleted: number; size: number; recent: number } {
  let unseen = 0;
  let deleted = 0;
  let size = 0;
  let recent = 0;
  for (const r of rows) {
    if ((r[3] & FLAG_SEEN) === 0) unseen++;
    if ((r[3] & FLAG_DELETED) !== 0) deleted++;
    size += r[6];
    if (r[0] >= firstRecent) recent++;
  }
  return { messages: rows.length, unseen, deleted, size, recent };
}
/**
 * changesSince answers cached per mailbox for the most recent `since` (10,000 IDLE sessions woken by one
 * append all ask the same question): reused while the mailbox's HIGHESTMODSEQ is unchanged, which is exact
 * because every change bumps it in the same transaction. Deltas above CHANGES_CACHE_ROWS are not cached.
 */
const CHANGES_CACHE_MAILBOXES = 256;
const CHANGES_CACHE_ROWS = 256;

/** The listMessages cache (see cachedList), least recently used first; `rows` counts the rows of all entries. */
export class ListCache {
  readonly entries = new Map<number, ListCacheEntry>();
  rows = 0;
  #sweeper: NodeJS.Timeout | null = null;

  /** `open(mailboxId)`: a session of this process has the mailbox open (its entry is kept while it does). */
  constructor(private readonly open: (mailboxId: number) => boolean = () => false) {}

  get(mailboxId: number): ListCacheEntry | undefined {
    return this.entries.get(mailboxId);
  }

  /**
   * The mailbox's rows in uid order, from the list cache when it is current: an entry is valid for the
   * HIGHESTMODSEQ it was read at (every change bumps it in its transaction, whichever process commits), and
   * a stale entry is brought forward with the change log (changed rows and tombstones since), which costs
   * O(delta) instead of a full read. The returned array belongs to the cache: callers copy what they keep.
   * `known`: the mailbox's HIGHESTMODSEQ as the caller read it just before, synchronously (its lookup is
   * then skipped).
   */
  cachedList(core: SqliteCore, mailboxId: number, known?: number): RawMsgRow[] {
    const hit = this.entries.get(mailboxId);
    if (hit) {
      const h = known ?? (core.st.highestModseq.get(mailboxId) as number | undefined);
      if (h === undefined) {
        this.drop(mailboxId);
        throw new StoreError('NOT_FOUND', 'no such mailbox');
      }
      if (h === hit.highest) return this.touch(mailboxId, hit).rows;
      const delta = core.readTx(() => {
        const b = core.mailboxRow(mailboxId);
        const changed = core.st.changedSinceRaw.all(mailboxId, hit.highest) as RawMsgRow[];
        const gone = core.st.tombstonesSince.all(mailboxId, hit.highest) as number[];
        return { highest: b.highest_modseq, changed, gone };
      });
      if (delta.changed.length + delta.gone.length <= Math.max(LIST_CACHE_DELTA_MIN, hit.rows.length / 8)) {
        const rows = applyDelta(hit.rows, delta.changed, delta.gone);
        this.rows += rows.length - hit.rows.length;
        if (hit.metas) hit.metas = carryMetas(hit.rows, hit.metas, rows);
        hit.rows = rows;
        hit.highest = delta.highest;
        return this.touch(mailboxId, hit).rows;
      }
    }
    const fresh: ListCacheEntry = core.readTx(() => {
      const b = core.mailboxRow(mailboxId);
      return { highest: b.highest_modseq, rows: core.st.listMessagesRaw.all(mailboxId) as RawMsgRow[], metas: null, used: 0 };
    });
    this.drop(mailboxId);
    if (fresh.rows.length >= LIST_CACHE_MIN_ROWS && fresh.rows.length <= LIST_CACHE_MAX_ROWS) {
      this.touch(mailboxId, fresh);
      this.rows += fresh.rows.length;
      for (const [id, e] of this.entries) {
        if (this.rows <= LIST_CACHE_MAX_ROWS) break;
        if (id !== mailboxId) this.drop(id, e);
      }
    }
    return fresh.rows;
  }

  /**
   * listMessages: the mailbox's messages in uid order, a fresh array. For a cached mailbox its objects are
   * the entry's shared frozen ones (see ListCacheEntry.metas), else built for this call.
   */
  listMetas(core: SqliteCore, mailboxId: number): MessageMeta[] {
    const rows = this.cachedList(core, mailboxId);
    const e = this.entries.get(mailboxId);
    if (!e || e.rows !== rows) return rows.map(rawToMeta);
    e.metas ??= rows.map(sharedMeta);
    return e.metas.slice();
  }

  /** Marks an entry most recently used (Map order is the LRU order). */
  private touch(mailboxId: number, e: ListCacheEntry): ListCacheEntry {
    this.entries.delete(mailboxId);
    this.entries.set(mailboxId, e);
    e.used = Date.now();
    if (!this.#sweeper) {
      this.#sweeper = setInterval(() => this.sweep(), LIST_CACHE_IDLE_MS);
      this.#sweeper.unref();
    }
    return e;
  }

  /** Drops the entries unused for LIST_CACHE_IDLE_MS whose mailbox no session here has open (see there). */
  sweep(now = Date.now()): void {
    for (const [id, e] of this.entries) {
      if (now - e.used >= LIST_CACHE_IDLE_MS && !this.open(id)) this.drop(id, e);
    }
    if (this.entries.size === 0) this.close();
  }

  /** Stops the sweep timer (it starts again with the next entry). */
  close(): void {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = null;
  }

  private drop(mailboxId: number, e = this.entries.get(mailboxId)): void {
    if (!e) return;
    this.entries.delete(mailboxId);
    this.rows -= e.rows.length;
  }
}

/** changesSince answers per mailbox for the most recent `since` (see CHANGES_CACHE_MAILBOXES). */
export class ChangesCache {
  readonly entries = new Map<number, { since: number; highest: number; changed: RawMsgRow[]; expunged: number[] }>();

  get(mailboxId: number): { since: number; highest: number; changed: RawMsgRow[]; expunged: number[] } | undefined {
    return this.entries.get(mailboxId);
  }

  /** Keeps an answer when its delta is small enough (CHANGES_CACHE_ROWS), evicting the oldest mailbox. */
  offer(mailboxId: number, r: { since: number; highest: number; changed: RawMsgRow[]; expunged: number[] }): void {
    if (r.changed.length + r.expunged.length > CHANGES_CACHE_ROWS) return;
    this.entries.delete(mailboxId);
    if (this.entries.size >= CHANGES_CACHE_MAILBOXES) this.entries.delete(this.entries.keys().next().value as number);
    this.entries.set(mailboxId, r);
  }
}

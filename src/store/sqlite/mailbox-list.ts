/**
 * Mailbox list events of the SQLite store (MailStore.subscribeMailboxList). A change is written to
 * mailbox_list_log in the transaction that makes it (logListChange); after the commit it is announced to the
 * hub's listeners and handed to the linked processes of `serve --workers N` (emitListChanges). Other
 * processes on the directory (the CLI, a store opened with another hub) find it in the log when the hub's
 * data_version poll sees a commit (pollLists). The log row's seq identifies a change: a hub announces each
 * seq once, whether it arrives from its own commit, from a link, or from the log.
 *
 * Limits: only the newest LIST_LOG_KEEP rows are kept (a poller more than that many changes behind, which at
 * one poll per POLL_MS never happens in practice, misses the older ones); events are read only while
 * someone listens.
 */
import { StoreError, type MailboxListEvent } from '../types.js';
import { KeyedBus, type LoggedListEvent } from '../bus.js';
import { checkListEvent } from '../mailbox-list.js';
import type { SqliteCore } from './core.js';

/** Rows kept in mailbox_list_log. */
export const LIST_LOG_KEEP = 1000;
/** Old rows are deleted by every this-many-th insert (one indexed range delete). */
const PRUNE_EVERY = 64;

interface LogRow {
  seq: number;
  user_id: number;
  kind: string;
  name: string;
  old_name: string | null;
  origin: string | null;
}

/** What one hub keeps for mailbox list events (SqliteHub.lists). */
export class ListFeed {
  readonly bus = new KeyedBus<LoggedListEvent>((ev) => ev.userId);
  /** The highest log seq read or known at subscribe time; null while nobody listens. */
  polled: number | null = null;
  /** Seqs above `polled` already announced (this hub's commits, a link); dropped once the poll passes them. */
  readonly announced = new Set<number>();

  /** Announces a change unless it was already (a change nobody listens to is dropped). */
  announce(ev: LoggedListEvent): void {
    if (this.polled === null || ev.seq <= this.polled || this.announced.has(ev.seq)) return;
    this.announced.add(ev.seq);
    this.bus.emit(ev);
  }

  reset(): void {
    this.polled = null;
    this.announced.clear();
  }
}

/** Inside a write transaction: records a change in the log and returns it with its seq. */
export function logListChange(core: SqliteCore, ev: MailboxListEvent): LoggedListEvent {
  const info = core
    .sql('INSERT INTO mailbox_list_log (user_id, kind, name, old_name, origin) VALUES (?, ?, ?, ?, ?)')
    .run(ev.userId, ev.kind, ev.name, ev.oldName ?? null, ev.origin);
  const seq = Number(info.lastInsertRowid);
  if (seq % PRUNE_EVERY === 0) core.sql('DELETE FROM mailbox_list_log WHERE seq <= ?').run(seq - LIST_LOG_KEEP);
  return { ...ev, seq };
}

/** After the commit of logged changes: announces them here and hands them to the linked processes. */
export function emitListChanges(core: SqliteCore, evs: readonly LoggedListEvent[]): void {
  const feed = core.hub.lists;
  for (const ev of evs) {
    feed.announce(ev);
    core.hub.link?.publishList(ev);
  }
  // Only commits of other connections move data_version: read the log now and then so the set stays small.
  if (feed.announced.size > LIST_LOG_KEEP) pollLists(feed, core);
}

function highestSeq(core: SqliteCore): number {
  return (core.sql('SELECT COALESCE(MAX(seq), 0) FROM mailbox_list_log').pluck().get() as number | null) ?? 0;
}

/** One poll of the log (from SqliteCore.poll after data_version moved): announces changes not heard yet. */
export function pollLists(feed: ListFeed, core: SqliteCore): void {
  if (!feed.bus.active) return feed.reset();
  if (feed.polled === null) {
    feed.polled = highestSeq(core);
    return;
  }
  const rows = core
    .sql('SELECT seq, user_id, kind, name, old_name, origin FROM mailbox_list_log WHERE seq > ? ORDER BY seq LIMIT ?')
    .all(feed.polled, LIST_LOG_KEEP) as LogRow[];
  for (const r of rows) {
    if (feed.announced.delete(r.seq)) continue;
    const ev = checkListEvent({ userId: r.user_id, kind: r.kind, name: r.name, oldName: r.old_name, origin: r.origin });
    if (ev) feed.bus.emit({ ...ev, seq: r.seq });
  }
  const last = rows[rows.length - 1];
  if (last) feed.polled = last.seq;
  for (const s of feed.announced) if (s <= feed.polled) feed.announced.delete(s);
}

/** MailStore.subscribeMailboxList for one core of the hub. */
export function subscribeList(core: SqliteCore, userId: number, listener: (ev: MailboxListEvent) => void): () => void {
  if (core.closed) throw new StoreError('TEMPORARY', 'store is closed');
  const feed = core.hub.lists;
  // The first listener starts from the log as it is now (changes made before it are not its business).
  if (!feed.bus.active || feed.polled === null) {
    feed.reset();
    feed.polled = highestSeq(core);
  }
  const off = feed.bus.subscribe(userId, listener);
  core.ensurePoller();
  const unsub = (): void => {
    off();
    core.unsubscribers.delete(unsub);
  };
  core.unsubscribers.add(unsub);
  return unsub;
}

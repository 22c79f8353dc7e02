/**
 * The PostgreSQL store's log of mailbox list changes, so that none is lost while a node's LISTEN
 * connection is down.
 *
 * A list change (a create, delete, rename, subscription or special use) tells its listeners what changed:
 * unlike a message change, it cannot be found again by re-reading the mailbox. So each one is also written
 * to mailbox_list_log in the transaction that makes it, and its NOTIFY carries the row's seq. A node
 * remembers the seqs it has heard. When its LISTEN connection comes back, it reads the rows written since
 * shortly before the connection was lost and announces those it has not heard (its own changes were
 * announced at their commit). seq is drawn when the row is inserted, not at commit, so a row can commit
 * after a higher one: the read reaches REPLAY_WINDOW seqs below the highest heard, and the remembered seqs
 * keep a row from being announced twice. Rows are pruned to the newest LOG_KEEP as the log grows.
 */
import type { MailboxListEvent } from '../types.js';
import { checkListEvent } from '../mailbox-list.js';
import type pg from 'pg';
import { num } from './db.js';

/** A transaction's client or the pool (Db): what runs one statement. */
interface Runner {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export const LIST_LOG_MIGRATION_SQL = `
CREATE TABLE mailbox_list_log (
  seq bigserial PRIMARY KEY,
  user_id bigint NOT NULL,
  kind text NOT NULL,
  name text NOT NULL,
  old_name text,
  origin text,
  tag text NOT NULL
);
`;

/** Rows kept in the log (older ones are pruned every PRUNE_EVERY inserts). */
export const LOG_KEEP = 10_000;
const PRUNE_EVERY = 1_000;
/** How far below the highest seq heard a replay starts (rows that committed out of seq order). */
export const REPLAY_WINDOW = 1_000;
/** Seqs remembered as heard (the oldest are forgotten first). */
const SEEN_KEEP = 4 * REPLAY_WINDOW;

interface LogRow {
  seq: string | number;
  user_id: string | number;
  kind: string;
  name: string;
  old_name: string | null;
  origin: string | null;
  tag: string;
}

export class ListLog {
  /** Seqs heard or announced here, in the order they were (Set order is the eviction order). */
  readonly #seen = new Set<number>();
  /** Highest seq heard. */
  #high = 0;
  /** The log's end when the node started: rows up to it are never replayed. */
  #floor = 0;

  /** Inside the change's transaction: writes the row and returns its seq. */
  async write(q: Runner, tag: string, ev: MailboxListEvent): Promise<number> {
    const r = await q.query<{ seq: string }>(
      'INSERT INTO mailbox_list_log (user_id, kind, name, old_name, origin, tag) VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq',
      [ev.userId, ev.kind, ev.name, ev.oldName ?? null, ev.origin, tag],
    );
    const seq = num(r.rows[0]!.seq);
    if (seq % PRUNE_EVERY === 0) await q.query('DELETE FROM mailbox_list_log WHERE seq <= $1', [seq - LOG_KEEP]);
    return seq;
  }

  /** Marks `seq` heard; false when it had been already (the event is then not announced again). */
  heard(seq: number): boolean {
    if (this.#seen.has(seq)) return false;
    this.#seen.add(seq);
    if (this.#seen.size > SEEN_KEEP) this.#seen.delete(this.#seen.values().next().value!);
    if (seq > this.#high) this.#high = seq;
    return true;
  }

  /** At start, before anything is heard: the log's end, below which nothing is replayed. */
  async start(q: Runner): Promise<void> {
    const r = await q.query<{ high: string | null }>('SELECT max(seq) AS high FROM mailbox_list_log');
    this.#high = Math.max(this.#high, num(r.rows[0]?.high ?? 0));
    this.#floor = this.#high;
  }

  /**
   * After the LISTEN connection came back: the events of other nodes' rows that this node has not heard,
   * for the users in `userIds`, in seq order. Each is marked heard.
   */
  async missed(q: Runner, ownTag: string, userIds: readonly number[]): Promise<MailboxListEvent[]> {
    if (userIds.length === 0) return [];
    const from = Math.max(this.#floor, this.#high - REPLAY_WINDOW);
    const r = await q.query<LogRow>(
      'SELECT seq, user_id, kind, name, old_name, origin, tag FROM mailbox_list_log WHERE seq > $1 AND user_id = ANY($2::bigint[]) ORDER BY seq',
      [from, userIds],
    );
    const out: MailboxListEvent[] = [];
    for (const row of r.rows) {
      const seq = num(row.seq);
      if (!this.heard(seq) || row.tag === ownTag) continue;
      const ev = checkListEvent({ userId: num(row.user_id), kind: row.kind, name: row.name, oldName: row.old_name, origin: row.origin });
      if (ev) out.push(ev);
    }
    return out;
  }
}

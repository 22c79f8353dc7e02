/**
 * Change wake-ups between the workers of `serve --workers N`, sent only where someone listens. Each worker
 * tells the primary which mailboxes (message wake-ups) and users (mailbox list changes) its sessions watch
 * (mr:watch, the keys that gained their first or lost their last listener, a few milliseconds' worth at a
 * time); the primary keeps every worker's keys (WatchTable) and tells each worker which keys the others
 * watch (mr:watched). A worker sends a commit's wake-up only when another worker watches its mailbox or user
 * (ChangeRelay), and the primary passes it only to those workers, batched per turn of its event loop. A
 * load nobody else watches (LMTP delivery, each IMAP client on its own account) sends nothing at all.
 *
 * A watch and a commit may cross: worker B subscribes and reads the mailbox's HIGHESTMODSEQ, and worker A
 * commits to it before A hears that B watches. So a worker keeps the latest wake-up of each mailbox (and the
 * latest list changes) it committed within RECENT_MS, and sends it again when it hears that another worker
 * started watching that key; the receiver drops what it already knew (SqliteHub.receive compares
 * HIGHESTMODSEQ, ListFeed.announce the log seq). The data_version poll (store/sqlite/core.ts) stays as the
 * fallback for anything missed.
 *
 * Contracts: WatchTable.relay never sends a worker a wake-up of a key it does not watch (as the primary last
 * heard); ChangeRelay never sends a wake-up nobody else watches, except the re-sends above.
 */
import type { ChangeEvent } from '../store/types.js';
import type { LoggedListEvent } from '../store/bus.js';

/** Keys that start (on) and stop (off) being watched. */
export interface WatchDelta {
  on: number[];
  off: number[];
}

/** What a worker watches, or what the other workers watch: mailbox ids and user ids. */
export interface WatchSets {
  mailboxes: number[];
  users: number[];
}

export type WatchToPrimary =
  | { t: 'mr:watch'; mailboxes: WatchDelta; users: WatchDelta }
  | { t: 'mr:events'; evs: ChangeEvent[]; lists: LoggedListEvent[] };

export type WatchToWorker =
  | { t: 'mr:watched'; mailboxes: WatchDelta; users: WatchDelta }
  | { t: 'mr:events'; evs: ChangeEvent[]; lists: LoggedListEvent[] };

/**
 * Wake-ups committed within this long leave in one message: under load that is several commits per pipe
 * write (each write costs both processes a wake-up), and IDLE in another worker still hears of a change
 * a few milliseconds after its commit.
 */
const EVENT_BATCH_MS = 3;
/**
 * A key that lost its last listener is reported off only if it still has none this long after: a client
 * that SELECTs its mailbox again (or a session that closes and reconnects) does not send a watch change
 * to every worker each time. The other workers meanwhile send wake-ups nobody here needs, which costs less:
 * with a linger of 2 s, imaptest's 20 clients logging in and out over 100 accounts kept turning keys on
 * and off, and the primary spent more than it had relaying every wake-up to every worker.
 */
const WATCH_LINGER_MS = 30_000;
/** A commit's wake-up is sent again to a worker that starts watching its key this long after the commit. */
const RECENT_MS = 2_000;
/** The list changes kept for those re-sends (list changes are rare: create, delete, rename, subscribe). */
const RECENT_LISTS = 64;

type Kind = 'mailboxes' | 'users';

/** What ChangeRelay needs of a bus (store/bus.ts KeyedBus): its keys and a word when they change. */
export interface WatchedBus {
  onKeyChange: ((key: number) => void) | null;
  has(key: number): boolean;
  keys(): number[];
}

/** Per-kind key sets. */
function sets(): Record<Kind, Set<number>> {
  return { mailboxes: new Set(), users: new Set() };
}

/**
 * The worker's side: reports what this process watches, keeps what the others watch, and batches the
 * wake-ups of this process's commits that they want.
 */
export class ChangeRelay {
  readonly #send: (m: WatchToPrimary) => void;
  readonly #buses: Record<Kind, WatchedBus>;
  /** Keys as last reported to the primary, and keys whose listeners changed since. */
  readonly #reported = sets();
  readonly #dirty = sets();
  #watchScheduled = false;
  #lingerTimer: NodeJS.Timeout | null = null;
  /** Keys some other worker watches (as the primary last said). */
  readonly #others = sets();
  /** The latest wake-up per mailbox committed here within RECENT_MS, oldest first (see the header). */
  readonly #recent = new Map<number, { ev: ChangeEvent; at: number }>();
  readonly #recentLists: Array<{ ev: LoggedListEvent; at: number }> = [];
  /** Wake-ups waiting to leave together, the latest per mailbox, and list changes in commit order. */
  readonly #events = new Map<number, ChangeEvent>();
  #lists: LoggedListEvent[] = [];
  #flushing = false;
  #closed = false;
  readonly #lingerMs: number;

  /** `lingerMs`: WATCH_LINGER_MS unless given (tests). */
  constructor(send: (m: WatchToPrimary) => void, mailboxes: WatchedBus, users: WatchedBus, lingerMs = WATCH_LINGER_MS) {
    this.#send = send;
    this.#lingerMs = lingerMs;
    this.#buses = { mailboxes, users };
    mailboxes.onKeyChange = (k) => this.#keyChanged('mailboxes', k);
    users.onKeyChange = (k) => this.#keyChanged('users', k);
    for (const kind of ['mailboxes', 'users'] as const) for (const k of this.#buses[kind].keys()) this.#keyChanged(kind, k);
  }

  /** Stops reporting and sending (the store is not SQLite, or the worker stops). */
  close(): void {
    this.#closed = true;
    for (const kind of ['mailboxes', 'users'] as const) this.#buses[kind].onKeyChange = null;
    if (this.#lingerTimer) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = null;
    this.#events.clear();
    this.#lists = [];
    this.#recent.clear();
    this.#recentLists.length = 0;
  }

  /** A commit of this process: queued for the other workers when one of them watches the mailbox. */
  publish(ev: ChangeEvent): void {
    if (this.#closed) return;
    const now = performance.now();
    const prev = this.#recent.get(ev.mailboxId);
    if (!prev || ev.highestModseq > prev.ev.highestModseq) {
      this.#recent.delete(ev.mailboxId);
      this.#recent.set(ev.mailboxId, { ev, at: now });
    }
    this.#pruneRecent(now);
    if (this.#others.mailboxes.has(ev.mailboxId)) this.#queue(ev);
  }

  /** A mailbox list change of this process: queued, in commit order, when another worker watches the user. */
  publishList(ev: LoggedListEvent): void {
    if (this.#closed) return;
    const now = performance.now();
    this.#recentLists.push({ ev, at: now });
    if (this.#recentLists.length > RECENT_LISTS) this.#recentLists.shift();
    if (this.#others.users.has(ev.userId)) {
      this.#lists.push(ev);
      this.#flushSoon();
    }
  }

  /** The primary's word on what the other workers watch: the whole sets (replace) or a change. */
  othersWatch(m: { mailboxes: WatchDelta; users: WatchDelta }, replace = false): void {
    const now = performance.now();
    this.#pruneRecent(now);
    for (const kind of ['mailboxes', 'users'] as const) {
      const set = this.#others[kind];
      if (replace) set.clear();
      for (const k of m[kind].off) set.delete(k);
      for (const k of m[kind].on) {
        set.add(k);
        this.#resend(kind, k, now);
      }
    }
  }

  /** What the other workers watch (for tests). */
  get others(): { mailboxes: ReadonlySet<number>; users: ReadonlySet<number> } {
    return this.#others;
  }

  /** A recent commit of a key another worker just started watching goes out again (see the header). */
  #resend(kind: Kind, k: number, now: number): void {
    if (this.#closed) return;
    if (kind === 'mailboxes') {
      const r = this.#recent.get(k);
      if (r && now - r.at < RECENT_MS) this.#queue(r.ev);
      return;
    }
    let any = false;
    for (const r of this.#recentLists) {
      if (r.ev.userId !== k || now - r.at >= RECENT_MS || this.#lists.includes(r.ev)) continue;
      this.#lists.push(r.ev);
      any = true;
    }
    if (any) {
      this.#lists.sort((a, b) => a.seq - b.seq);
      this.#flushSoon();
    }
  }

  #pruneRecent(now: number): void {
    for (const [k, r] of this.#recent) {
      if (now - r.at < RECENT_MS) break;
      this.#recent.delete(k);
    }
    while (this.#recentLists.length > 0 && now - this.#recentLists[0]!.at >= RECENT_MS) this.#recentLists.shift();
  }

  /** Queues the wake-up; one message per EVENT_BATCH_MS carries the latest per mailbox. */
  #queue(ev: ChangeEvent): void {
    const prev = this.#events.get(ev.mailboxId);
    if (!prev || ev.highestModseq > prev.highestModseq) this.#events.set(ev.mailboxId, ev);
    this.#flushSoon();
  }

  #flushSoon(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    setTimeout(() => {
      this.#flushing = false;
      if (this.#closed || (this.#events.size === 0 && this.#lists.length === 0)) return;
      const evs = [...this.#events.values()];
      const lists = this.#lists;
      this.#events.clear();
      this.#lists = [];
      this.#send({ t: 'mr:events', evs, lists });
    }, EVENT_BATCH_MS);
  }

  #keyChanged(kind: Kind, k: number): void {
    if (this.#closed) return;
    this.#dirty[kind].add(k);
    if (this.#watchScheduled) return;
    this.#watchScheduled = true;
    setTimeout(() => this.#reportWatch(false), EVENT_BATCH_MS);
  }

  /**
   * Reports the keys whose watch changed: new ones at once, lost ones once they have had no listener for
   * WATCH_LINGER_MS (`lingered`: the linger timer fired).
   */
  #reportWatch(lingered: boolean): void {
    this.#watchScheduled = false;
    if (this.#closed) return;
    const m = { t: 'mr:watch' as const, mailboxes: { on: [] as number[], off: [] as number[] }, users: { on: [] as number[], off: [] as number[] } };
    let waiting = false;
    let any = false;
    for (const kind of ['mailboxes', 'users'] as const) {
      const dirty = this.#dirty[kind];
      const reported = this.#reported[kind];
      for (const k of dirty) {
        const watched = this.#buses[kind].has(k);
        if (watched === reported.has(k)) {
          dirty.delete(k);
          continue;
        }
        if (watched) {
          reported.add(k);
          m[kind].on.push(k);
          dirty.delete(k);
          any = true;
        } else if (lingered) {
          reported.delete(k);
          m[kind].off.push(k);
          dirty.delete(k);
          any = true;
        } else waiting = true;
      }
    }
    if (any) this.#send(m);
    if (lingered) this.#lingerTimer = null;
    if (waiting && !this.#lingerTimer) {
      this.#lingerTimer = setTimeout(() => this.#reportWatch(true), this.#lingerMs);
      this.#lingerTimer.unref();
    }
  }
}

/**
 * The primary's side: every worker's watched keys, what each worker is told the others watch, and the relay
 * of wake-ups to the workers that watch them, batched per turn of the event loop.
 */
export class WatchTable {
  /** Keys per worker slot. */
  readonly #bySlot = new Map<number, Record<Kind, Set<number>>>();
  /** How many slots watch each key. */
  readonly #count: Record<Kind, Map<number, number>> = { mailboxes: new Map(), users: new Map() };
  /** Per slot: keys whose "watched by another worker" changed, with the new value, to send this turn. */
  readonly #told = new Map<number, Record<Kind, Map<number, boolean>>>();
  /** Per slot: wake-ups to pass on this turn. */
  readonly #relays = new Map<number, { evs: Map<number, ChangeEvent>; lists: LoggedListEvent[] }>();
  #scheduled = false;

  /**
   * `send` delivers to a slot's live worker (dropped when there is none); `slots` lists the slot numbers
   * that have a worker.
   */
  constructor(
    private readonly send: (n: number, m: WatchToWorker) => void,
    private readonly slots: () => Iterable<number>,
  ) {}

  /** A worker's watch changes. */
  update(n: number, m: { mailboxes: WatchDelta; users: WatchDelta }): void {
    let own = this.#bySlot.get(n);
    if (!own) {
      own = sets();
      this.#bySlot.set(n, own);
    }
    for (const kind of ['mailboxes', 'users'] as const) {
      for (const k of m[kind].on) if (Number.isSafeInteger(k) && !own[kind].has(k)) this.#change(n, kind, k, +1);
      for (const k of m[kind].off) if (own[kind].has(k)) this.#change(n, kind, k, -1);
    }
  }

  /** The worker of slot `n` is gone: its keys are unwatched, the others told. */
  drop(n: number): void {
    const own = this.#bySlot.get(n);
    this.#told.delete(n);
    this.#relays.delete(n);
    if (!own) return;
    for (const kind of ['mailboxes', 'users'] as const) for (const k of [...own[kind]]) this.#change(n, kind, k, -1);
    this.#bySlot.delete(n);
  }

  /** What the workers other than slot `n` watch (for a worker that starts). */
  othersOf(n: number): WatchSets {
    const own = this.#bySlot.get(n);
    const out: WatchSets = { mailboxes: [], users: [] };
    for (const kind of ['mailboxes', 'users'] as const) {
      for (const [k, c] of this.#count[kind]) if (c - (own?.[kind].has(k) ? 1 : 0) > 0) out[kind].push(k);
    }
    return out;
  }

  /** Wake-ups committed by slot `from`: each goes to the other slots that watch its key. */
  relay(from: number, evs: readonly ChangeEvent[], lists: readonly LoggedListEvent[]): void {
    for (const [n, own] of this.#bySlot) {
      if (n === from) continue;
      let r = this.#relays.get(n);
      for (const ev of lists) {
        if (!own.users.has(ev.userId)) continue;
        r ??= this.#relayOf(n);
        r.lists.push(ev);
      }
      for (const ev of evs) {
        if (!own.mailboxes.has(ev.mailboxId)) continue;
        r ??= this.#relayOf(n);
        const prev = r.evs.get(ev.mailboxId);
        if (!prev || ev.highestModseq > prev.highestModseq) r.evs.set(ev.mailboxId, ev);
      }
    }
  }

  #relayOf(n: number): { evs: Map<number, ChangeEvent>; lists: LoggedListEvent[] } {
    const r = { evs: new Map<number, ChangeEvent>(), lists: [] as LoggedListEvent[] };
    this.#relays.set(n, r);
    this.#schedule();
    return r;
  }

  /** Slot `n` starts (+1) or stops (-1) watching `k`: the other slots for which that changes are told. */
  #change(n: number, kind: Kind, k: number, d: 1 | -1): void {
    const own = this.#bySlot.get(n)!;
    const counts = this.#count[kind];
    const before = counts.get(k) ?? 0;
    const after = before + d;
    if (d > 0) own[kind].add(k);
    else own[kind].delete(k);
    if (after === 0) counts.delete(k);
    else counts.set(k, after);
    for (const t of this.slots()) {
      if (t === n) continue;
      const mine = this.#bySlot.get(t)?.[kind].has(k) ? 1 : 0;
      const was = before - mine > 0;
      const is = after - mine > 0;
      if (was === is) continue;
      let told = this.#told.get(t);
      if (!told) {
        told = { mailboxes: new Map(), users: new Map() };
        this.#told.set(t, told);
      }
      told[kind].set(k, is);
      this.#schedule();
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flush());
  }

  /** Sends this turn's watch changes, then the wake-ups (a worker hears that a key is watched first). */
  #flush(): void {
    this.#scheduled = false;
    for (const [n, told] of this.#told) {
      const m = { t: 'mr:watched' as const, mailboxes: { on: [] as number[], off: [] as number[] }, users: { on: [] as number[], off: [] as number[] } };
      for (const kind of ['mailboxes', 'users'] as const) for (const [k, on] of told[kind]) m[kind][on ? 'on' : 'off'].push(k);
      this.send(n, m);
    }
    this.#told.clear();
    for (const [n, r] of this.#relays) this.send(n, { t: 'mr:events', evs: [...r.evs.values()], lists: r.lists });
    this.#relays.clear();
  }
}

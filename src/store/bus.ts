/**
 * In-process change buses: per-mailbox listeners woken after a commit, and per-user listeners of mailbox list
 * changes. Message events are wake-ups only (DESIGN "notifications are wake-ups, the change log is the
 * truth"); mailbox list events say what changed. Listeners run on a microtask, one failing listener never
 * affects the others or the store operation that emitted.
 */
import type { ChangeEvent, MailboxListEvent } from './types.js';

export type ChangeListener = (ev: ChangeEvent) => void;

/** Listeners by a numeric key (a mailbox id, a user id), each event going to the listeners of its key. */
export class KeyedBus<E> {
  private readonly listeners = new Map<number, Set<(ev: E) => void>>();
  /**
   * Called when a key gets its first listener or loses its last one (a linked process reports what this
   * process watches: server/cluster-worker.ts). Runs synchronously inside subscribe / unsubscribe.
   */
  onKeyChange: ((key: number) => void) | null = null;

  constructor(private readonly keyOf: (ev: E) => number) {}

  /** Registers a listener for one key; returns the unsubscribe function (idempotent). */
  subscribe(key: number, listener: (ev: E) => void): () => void {
    let set = this.listeners.get(key);
    if (!set) {
      set = new Set();
      this.listeners.set(key, set);
      this.onKeyChange?.(key);
    }
    // Wrap so the same function subscribed twice gets two independent subscriptions.
    const entry = (ev: E): void => listener(ev);
    set.add(entry);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const s = this.listeners.get(key);
      if (!s) return;
      s.delete(entry);
      if (s.size === 0) {
        this.listeners.delete(key);
        this.onKeyChange?.(key);
      }
    };
  }

  /** Delivers `ev` to its key's listeners on a microtask (call only after the change committed). */
  emit(ev: E): void {
    const set = this.listeners.get(this.keyOf(ev));
    if (!set || set.size === 0) return;
    const targets = [...set];
    queueMicrotask(() => {
      for (const l of targets) {
        try {
          l(ev);
        } catch {
          // A listener's failure is its own business; the change is committed regardless.
        }
      }
    });
  }

  /** Keys that currently have at least one listener. */
  keys(): number[] {
    return [...this.listeners.keys()];
  }

  /** True while some key has a listener. */
  get active(): boolean {
    return this.listeners.size > 0;
  }

  /** True while `key` has a listener. */
  has(key: number): boolean {
    return this.listeners.has(key);
  }

  listenerCount(key: number): number {
    return this.listeners.get(key)?.size ?? 0;
  }
}

/** Per-mailbox message wake-ups. */
export class ChangeBus extends KeyedBus<ChangeEvent> {
  constructor() {
    super((ev) => ev.mailboxId);
  }

  /** Mailboxes that currently have at least one listener. */
  mailboxIds(): number[] {
    return this.keys();
  }
}

/** Per-user mailbox list events (MailStore.subscribeMailboxList). */
export class MailboxListBus extends KeyedBus<MailboxListEvent> {
  constructor() {
    super((ev) => ev.userId);
  }
}

/**
 * A mailbox list event as a SQLite store logged it: `seq` is its row in mailbox_list_log (increasing in
 * commit order), so one change heard twice (from a linked process and from the log) is announced once.
 */
export interface LoggedListEvent extends MailboxListEvent {
  seq: number;
}

/**
 * What a store shares with the other processes serving the same data directory when they know of each other
 * (the workers of `serve --workers N`, server/cluster-worker.ts); a store without one sees other processes
 * only through its backend's own means (SQLite's data_version poll, PostgreSQL's LISTEN/NOTIFY).
 */
export interface ProcessLink {
  /** Hands a committed change's wake-up to the other processes (called after the local emit). */
  publish(ev: ChangeEvent): void;
  /** Hands a committed mailbox list change to the other processes, in commit order (after the local emit). */
  publishList(ev: LoggedListEvent): void;
  /**
   * The POP3 maildrop lock, exclusive across the linked processes: resolves to the release function, or
   * null when a session anywhere holds it. Rejects (StoreError TEMPORARY) when the link is down.
   */
  lockMaildrop(userId: number): Promise<(() => Promise<void>) | null>;
}

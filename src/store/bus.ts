/**
 * In-process change bus: per-mailbox listeners woken after a commit. Events are wake-ups only
 * (DESIGN "notifications are wake-ups, the change log is the truth"). Listeners run on a microtask, one
 * failing listener never affects the others or the store operation that emitted.
 */
import type { ChangeEvent } from './types.js';

export type ChangeListener = (ev: ChangeEvent) => void;

export class ChangeBus {
  private readonly listeners = new Map<number, Set<ChangeListener>>();

  /** Registers a listener for one mailbox; returns the unsubscribe function (idempotent). */
  subscribe(mailboxId: number, listener: ChangeListener): () => void {
    let set = this.listeners.get(mailboxId);
    if (!set) {
      set = new Set();
      this.listeners.set(mailboxId, set);
    }
    // Wrap so the same function subscribed twice gets two independent subscriptions.
    const entry: ChangeListener = (ev) => listener(ev);
    set.add(entry);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const s = this.listeners.get(mailboxId);
      if (!s) return;
      s.delete(entry);
      if (s.size === 0) this.listeners.delete(mailboxId);
    };
  }

  /** Delivers `ev` to the mailbox's listeners on a microtask (call only after the change committed). */
  emit(ev: ChangeEvent): void {
    const set = this.listeners.get(ev.mailboxId);
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

  /** Mailboxes that currently have at least one listener. */
  mailboxIds(): number[] {
    return [...this.listeners.keys()];
  }

  listenerCount(mailboxId: number): number {
    return this.listeners.get(mailboxId)?.size ?? 0;
  }
}

/**
 * What a store shares with the other processes serving the same data directory when they know of each other
 * (the workers of `serve --workers N`, server/cluster-worker.ts); a store without one sees other processes
 * only through its backend's own means (SQLite's data_version poll, PostgreSQL's LISTEN/NOTIFY).
 */
export interface ProcessLink {
  /** Hands a committed change's wake-up to the other processes (called after the local emit). */
  publish(ev: ChangeEvent): void;
  /**
   * The POP3 maildrop lock, exclusive across the linked processes: resolves to the release function, or
   * null when a session anywhere holds it. Rejects (StoreError TEMPORARY) when the link is down.
   */
  lockMaildrop(userId: number): Promise<(() => Promise<void>) | null>;
}

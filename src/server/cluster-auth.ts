/**
 * Failed-login counts for the whole cluster of `serve --workers N` (the throttling itself is
 * auth/authenticator.ts). As Dovecot's anvil keeps auth penalties for every login process, the primary
 * holds the one FailureTable of the cluster:
 * - a worker's failure is counted by the primary (mr:authFail), which answers with the resulting counts
 *   (the throttle's delay grows with them) and sends them to every other worker at once;
 * - each worker keeps a copy of the counts, so checking whether an address is throttled, which every login
 *   does, reads memory and asks nobody; only failures (which are slowed down by seconds anyway) and the
 *   success that clears a pair's count cost a message;
 * - a worker that starts is sent every count.
 * If the primary cannot be asked (it is gone and this worker is stopping) a failure is counted in the
 * worker's copy alone: the throttle then holds per worker (fail open, as for the connection limits, see
 * cluster-leases.ts).
 */
import { FailureTable, type FailureCounts, type FailureEntry } from '../auth/failures.js';

export type AuthToPrimary = { t: 'mr:authFail'; id: number; keys: string[]; windowMs: number } | { t: 'mr:authClear'; key: string };

/** id null: news of another worker's failure (or the whole table for a new worker); n is then 0. */
export type AuthToWorker = { t: 'mr:authCounts'; id: number | null; n: number; entries: FailureEntry[] };

/** The primary's side: the cluster's counts. */
export class FailureHub {
  readonly #table = new FailureTable();

  /**
   * `reply` answers the worker that sent the message, `others` tells every other worker.
   */
  handle(m: AuthToPrimary, reply: (m: AuthToWorker) => void, others: (m: AuthToWorker) => void): void {
    if (m.t === 'mr:authFail') {
      const n = this.#table.add(m.keys, m.windowMs);
      const entries = this.#table.entries(m.keys);
      reply({ t: 'mr:authCounts', id: m.id, n, entries });
      others({ t: 'mr:authCounts', id: null, n: 0, entries });
    } else {
      this.#table.clear(m.key);
      others({ t: 'mr:authCounts', id: null, n: 0, entries: [[m.key, 0, 0]] });
    }
  }

  /** Every count, for a worker that starts (null when there are none). */
  snapshot(): AuthToWorker | null {
    const entries = this.#table.all();
    return entries.length ? { t: 'mr:authCounts', id: null, n: 0, entries } : null;
  }
}

/** The worker's side: a copy of the cluster's counts, failures counted by the primary. */
export class SharedFailures implements FailureCounts {
  readonly #copy = new FailureTable();

  /**
   * `request` sends mr:authFail and resolves with the primary's answer (rejects when the primary cannot be
   * asked); `send` returns false when the primary cannot be reached.
   */
  constructor(
    private readonly request: (make: (id: number) => AuthToPrimary) => Promise<AuthToWorker>,
    private readonly send: (m: AuthToPrimary) => boolean,
  ) {}

  get(key: string, windowMs: number): number {
    return this.#copy.get(key, windowMs);
  }

  async add(keys: readonly string[], windowMs: number): Promise<number> {
    try {
      const r = await this.request((id) => ({ t: 'mr:authFail', id, keys: [...keys], windowMs }));
      this.#copy.set(r.entries);
      return r.n;
    } catch {
      return this.#copy.add(keys, windowMs);
    }
  }

  clear(key: string): void {
    if (this.#copy.get(key, Infinity) === 0) return; // nothing counted anywhere (the copy is current)
    this.#copy.clear(key);
    this.send({ t: 'mr:authClear', key });
  }

  /** Counts as the primary tells them. */
  receive(m: AuthToWorker): void {
    this.#copy.set(m.entries);
  }
}

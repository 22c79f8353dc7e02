/**
 * The admin status page's last hour: a ring buffer sampled every few seconds in the web process.
 *
 * What the store can answer for the whole installation (outbound queue length, storage used) is read from
 * the store, so every worker process samples the same numbers. Connections and deliveries are counters kept
 * per process, read through lib/metrics (serverTotals), which answers with the sum over every worker of
 * `serve --workers N`. Storage is the costliest read (a quota sum per user),
 * so it is refreshed at most once a minute (less often with thousands of users) and repeated in between.
 */
import type { Store } from '../store/handle.js';
import { metrics as processMetrics, serverTotals, type Metrics } from '../lib/metrics.js';

export interface StatusSample {
  /** Milliseconds since the epoch. */
  t: number;
  /** Open connections by protocol. */
  connections: Record<string, number>;
  /** Deliveries since the previous sample. */
  deliveries: number;
  queue: number;
  /** Octets stored, all users. */
  storage: number;
}

export interface StatusHistoryOptions {
  intervalMs?: number;
  /** How long to keep; the buffer holds windowMs / intervalMs samples. */
  windowMs?: number;
  storageEveryMs?: number;
  metrics?: Metrics;
  now?: () => number;
}

export class StatusHistory {
  readonly intervalMs: number;
  readonly size: number;
  readonly #ring: StatusSample[] = [];
  #next = 0;
  #lastDeliveries: number | null = null;
  #storage = 0;
  #storageAt = -Infinity;
  #timer: NodeJS.Timeout | null = null;
  #sampling: Promise<void> | null = null;
  readonly #storageEveryMs: number;
  #storageGapMs: number;
  readonly #m: Metrics;
  readonly #now: () => number;

  constructor(
    readonly store: Store,
    opts: StatusHistoryOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 5000;
    this.size = Math.max(1, Math.ceil((opts.windowMs ?? 3600_000) / this.intervalMs));
    this.#storageEveryMs = opts.storageEveryMs ?? 60_000;
    this.#storageGapMs = this.#storageEveryMs;
    this.#m = opts.metrics ?? processMetrics;
    this.#now = opts.now ?? Date.now;
  }

  /** Samples now and then every interval, until stop(); the timer never keeps the process alive. */
  start(): void {
    if (this.#timer) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), this.intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#sampling;
  }

  /** Takes one sample (a sample still running is not doubled); a failed read skips the sample. */
  sample(): Promise<void> {
    this.#sampling ??= this.#take()
      .catch(() => undefined)
      .finally(() => {
        this.#sampling = null;
      });
    return this.#sampling;
  }

  async #take(): Promise<void> {
    const t = this.#now();
    const totals = await serverTotals(this.#m);
    const deliveries = this.#lastDeliveries === null ? 0 : Math.max(0, totals.deliveries - this.#lastDeliveries);
    this.#lastDeliveries = totals.deliveries;
    const queue = (await this.store.queue.list()).length;
    if (t - this.#storageAt >= this.#storageGapMs) {
      let storage = 0;
      const users = await this.store.directory.listUsers();
      for (const u of users) storage += (await this.store.quota.usage(u.id)).storage;
      this.#storage = storage;
      this.#storageAt = t;
      // Many users: read less often (at most one user's usage per 10 ms of waiting).
      this.#storageGapMs = Math.max(this.#storageEveryMs, users.length * 10);
    }
    const s: StatusSample = { t, connections: totals.connections, deliveries, queue, storage: this.#storage };
    if (this.#ring.length < this.size) this.#ring.push(s);
    else this.#ring[this.#next] = s;
    this.#next = (this.#next + 1) % this.size;
  }

  /** The samples, oldest first. */
  samples(): StatusSample[] {
    return this.#ring.length < this.size ? [...this.#ring] : [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }

  /** Deliveries in the last minute of samples. */
  deliveriesPerMinute(): number {
    const since = this.#now() - 60_000;
    return this.samples()
      .filter((s) => s.t > since)
      .reduce((n, s) => n + s.deliveries, 0);
  }
}

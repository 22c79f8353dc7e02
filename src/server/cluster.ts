/**
 * The primary process of `serve --workers N`: forks N workers (Node's cluster module) that each run the
 * whole server (cluster-worker.ts) over one store, and holds what must be one for all of them. It opens no
 * store itself after `prepare` (the caller's one-time work: schema, first user, certificate) and serves no
 * connection itself: it binds the mail protocols' listeners and passes each connection to the worker with
 * the fewest open ones (cluster-accept.ts; HTTP is shared through the cluster module), so a port 0 is one
 * free port for every worker, and the ports the first ready worker reports are the server's.
 *
 * What the primary keeps (all in memory, from the workers' messages, cluster-messages.ts):
 * - what each worker's sessions watch (mailboxes, users), and relays each worker's change wake-ups to the
 *   workers that watch them (cluster-watch.ts);
 * - the POP3 maildrop locks (user id -> worker), dropped when their worker dies;
 * - each worker's expunge holds, telling every worker the lowest floor of the others;
 * - the leader: the worker that runs the outbound queue and the WAL checkpoints, replaced when it dies;
 * - the connection limits per address and per user, as leases of slots to each worker (cluster-leases.ts),
 *   and the failed-login counts of the throttling (cluster-auth.ts), so both hold for the whole cluster;
 *   a worker's leases are dropped when it dies;
 * - /metrics: aggregates every worker's registry on request (prom-client AggregatorRegistry, loaded then).
 * A worker that dies is forked again in its slot, at once the first time and then with a doubling back-off
 * (up to MAX_BACKOFF_MS) while it keeps dying within STABLE_MS of its start. A worker that fails before the
 * server was ever ready (a port in use) stops them all: run() rejects. SIGTERM/SIGINT: every worker is sent
 * SIGTERM (each drains as a single server does) and run() resolves once all have exited; SIGHUP is passed on.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { AggregatorRegistry, PrometheusContentType } from 'prom-client';
import type { Logger } from '../lib/logger.js';
import { isOurs, WORKER_SLOT_ENV, type ListenerReport, type ToPrimary, type ToWorker } from './cluster-messages.js';
import { LeaseTable } from './cluster-leases.js';
import { FailureHub } from './cluster-auth.js';
import { WatchTable } from './cluster-watch.js';
import { workerHeapArgs, workerHeapEnv } from './heap.js';
import { Acceptor } from './cluster-accept.js';

/** A worker alive this long after its start is stable: its next death restarts it at once. */
const STABLE_MS = 10_000;
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;
/** libuv thread-pool threads per worker (Node's default is 4; see #fork). Idle threads cost a stack each. */
const WORKER_THREADPOOL_SIZE = 16;
/**
 * glibc malloc arenas per worker (see #fork). Its default is 8 per CPU: each thread that allocates (the
 * thread pool's 16, V8's compiler and GC threads) gets an arena of its own and keeps its peak in it, 12-13 MB
 * in all per worker under 50 IMAP clients, where 2 shared arenas held 3-4 MB. One arena: the second one held
 * ~3 MB of free memory after the 50-client IMAP load (malloc_stats: 3.0 MB of it mapped, 70 KB in use) that
 * it never gave back, and the peak of the whole server under that load was 150 MB instead of 162 MB. The
 * threads that share it allocate little: the event loop thread does most of it.
 */
const WORKER_MALLOC_ARENAS = 1;
/**
 * glibc's mmap threshold per worker, bytes (see #fork): allocations this large (message buffers of big
 * mail) get pages of their own, given back when freed. By default glibc raises the threshold to the largest
 * block freed so far (up to 32 MB) and the trim threshold to twice that, so after one 5 MB message every
 * buffer came from the main heap and its top was never trimmed: 15 MB more resident after the bench's POP3
 * download of large mail. POP3 and FETCH read in blocks of 256 KB, below it.
 */
const WORKER_MMAP_THRESHOLD = 1024 * 1024;
/** The environment variable that tells a worker how many argon2 computations it runs at once (auth/hash.ts). */
export const ARGON2_AT_ONCE_ENV = 'MAILROOM_ARGON2_AT_ONCE';

/**
 * Argon2 computations each worker runs at once: the two (one on a single core) that one process runs
 * (auth/hash.ts), shared among the workers, at least one each. Every computation holds its 19 MiB memory
 * cost while it runs; with two each, two workers on two cores ran four at once during a burst of cold logins
 * (a restart), each worker's resident size rising ~38 MB, for no more throughput than the two cores give.
 */
export function workerArgonShare(workers: number, cpus: number = availableParallelism()): number {
  return Math.max(1, Math.floor(Math.min(2, cpus) / Math.max(1, workers)));
}

export interface PrimaryOptions {
  workers: number;
  logger: Logger;
  /** One-time work before any worker starts (open the store once, first user, certificate). */
  prepare(): Promise<void>;
  /** Every worker of the first start is listening; `listeners` as the first one reported them. */
  ready(listeners: readonly ListenerReport[]): Promise<void> | void;
}

interface Slot {
  n: number;
  worker: Worker | null;
  startedAt: number;
  failures: number;
  /** The worker has asked for its role (it can be named leader). */
  greeted: boolean;
  ready: boolean;
  holds: Map<number, number>;
}

/** Runs the cluster until a signal stops it. Rejects when a worker fails before the first ready. */
export async function runPrimary(opts: PrimaryOptions): Promise<void> {
  return new Primary(opts).run();
}

class Primary {
  readonly #opts: PrimaryOptions;
  readonly #log: Logger;
  readonly #slots: Slot[] = [];
  /** POP3 maildrop locks: user id -> the slot number of the worker holding it. */
  readonly #locks = new Map<number, number>();
  #leader: Slot | null = null;
  readonly #leases = new LeaseTable(
    (n, m) => {
      const w = this.#slots[n - 1]?.worker;
      if (w) this.#send(w, m);
    },
    () => this.#slots.length,
  );
  readonly #failures = new FailureHub();
  readonly #watch = new WatchTable(
    (n, m) => {
      const w = this.#slots[n - 1]?.worker;
      if (w) this.#send(w, m);
    },
    () => this.#slots.filter((s) => s.worker !== null).map((s) => s.n),
  );
  #stopping = false;
  /** The mail listeners, bound here and served by the workers (cluster-accept.ts). */
  #acceptor: Acceptor | null = null;
  #everReady = false;
  #failed: Error | null = null;
  #done: () => void = () => undefined;
  #aggregator: AggregatorRegistry<PrometheusContentType> | null = null;
  /** The listeners of the first worker that was ready (logged once). */
  #first: readonly ListenerReport[] | null = null;

  constructor(opts: PrimaryOptions) {
    this.#opts = opts;
    this.#log = opts.logger.child({ role: 'primary' });
  }

  async run(): Promise<void> {
    const finished = new Promise<void>((r) => (this.#done = r));
    const onSignal = (signal: string): void => this.#stop(signal);
    const onInt = (): void => onSignal('SIGINT');
    const onTerm = (): void => onSignal('SIGTERM');
    const onHup = (): void => {
      for (const s of this.#slots) s.worker?.process.kill('SIGHUP');
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
    try {
      await this.#opts.prepare();
      if (!this.#stopping) {
        // Heap flags on each worker's command line, where V8 holds them exactly (see server/heap.ts).
        cluster.setupPrimary({ execArgv: [...process.execArgv, ...workerHeapArgs()] });
        this.#acceptor = new Acceptor(this.#log);
        for (let n = 1; n <= this.#opts.workers; n++) {
          const slot: Slot = { n, worker: null, startedAt: 0, failures: 0, greeted: false, ready: false, holds: new Map() };
          this.#slots.push(slot);
          this.#fork(slot);
        }
        await finished;
      }
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
    }
    if (this.#failed) throw this.#failed;
    this.#log.info({}, 'stopped');
  }

  #fork(slot: Slot): void {
    // A worker's thread pool runs every blob write, file and WAL fsync and file read: with Node's default of 4
    // threads, a few large deliveries' fsyncs held the WAL syncs of all the others behind them. The size is read
    // once, when the pool starts, so it is set in the worker's environment, as are glibc's arena count and
    // mmap threshold, read when the process starts (a value set by the operator wins).
    const w = cluster.fork({
      [WORKER_SLOT_ENV]: String(slot.n),
      UV_THREADPOOL_SIZE: process.env['UV_THREADPOOL_SIZE'] ?? String(WORKER_THREADPOOL_SIZE),
      MALLOC_ARENA_MAX: process.env['MALLOC_ARENA_MAX'] ?? String(WORKER_MALLOC_ARENAS),
      MALLOC_MMAP_THRESHOLD_: process.env['MALLOC_MMAP_THRESHOLD_'] ?? String(WORKER_MMAP_THRESHOLD),
      [ARGON2_AT_ONCE_ENV]: process.env[ARGON2_AT_ONCE_ENV] ?? String(workerArgonShare(this.#opts.workers)),
      ...workerHeapEnv(),
    });
    slot.worker = w;
    slot.startedAt = Date.now();
    slot.ready = false;
    slot.greeted = false;
    slot.holds = new Map();
    w.on('message', (m: unknown) => {
      if (isOurs<ToPrimary>(m)) this.#handle(slot, w, m);
    });
    w.on('exit', (code, signal) => this.#exited(slot, w, code, signal));
    // A send to a worker that has just died fails later, as an 'error' event (EPIPE); unheard it would end the
    // primary. The death itself is handled on 'exit'.
    w.on('error', (e: Error) => this.#log.debug({ worker: slot.n, err: e.message }, 'message to a worker failed'));
  }

  #handle(slot: Slot, w: Worker, m: ToPrimary): void {
    switch (m.t) {
      case 'mr:hello': {
        const lead = this.#leader === null;
        if (lead) this.#leader = slot;
        slot.greeted = true;
        this.#send(w, { t: 'mr:welcome', leader: lead, holds: [...this.#othersFloors(slot)], watched: this.#watch.othersOf(slot.n) });
        const counts = this.#failures.snapshot();
        if (counts) this.#send(w, counts);
        return;
      }
      case 'mr:ready':
        slot.ready = true;
        slot.failures = Date.now() - slot.startedAt > STABLE_MS ? 0 : slot.failures;
        this.#log.info({ worker: slot.n, pid: w.process.pid }, 'worker ready');
        if (!this.#everReady) this.#firstReady(m.listeners);
        return;
      case 'mr:watch':
        this.#watch.update(slot.n, m);
        return;
      case 'mr:events':
        this.#watch.relay(slot.n, m.evs, m.lists);
        return;
      case 'mr:holds':
        slot.holds = new Map(m.floors);
        this.#sendHolds(slot);
        return;
      case 'mr:lock': {
        const holder = this.#locks.get(m.userId);
        const ok = holder === undefined;
        if (ok) this.#locks.set(m.userId, slot.n);
        this.#send(w, { t: 'mr:locked', id: m.id, ok });
        return;
      }
      case 'mr:unlock':
        if (this.#locks.get(m.userId) === slot.n) this.#locks.delete(m.userId);
        return;
      case 'mr:kick':
        if (this.#leader?.worker) this.#send(this.#leader.worker, { t: 'mr:kick' });
        return;
      case 'mr:metrics':
        void this.#metrics(w, m.id);
        return;
      case 'mr:lease':
      case 'mr:return':
        this.#leases.handle(slot.n, m);
        return;
      case 'mr:authFail':
      case 'mr:authClear':
        this.#failures.handle(
          m,
          (r) => this.#send(w, r),
          (r) => {
            for (const s of this.#slots) if (s !== slot && s.worker) this.#send(s.worker, r);
          },
        );
        return;
    }
  }

  /** The first start is complete once every slot has been ready (a slot restarted meanwhile counts too). */
  #firstReady(listeners: readonly ListenerReport[]): void {
    if (!this.#first) {
      this.#first = listeners;
      for (const l of listeners) this.#log.info({ listener: l.name, address: `${l.host}:${l.port}`, tls: l.tls }, 'listening');
    }
    if (this.#slots.some((s) => !s.ready)) return;
    this.#everReady = true;
    void Promise.resolve(this.#opts.ready(this.#first)).then(
      () => this.#log.info({ workers: this.#slots.length }, 'mailroom ready'),
      (e: unknown) => {
        this.#failed = e instanceof Error ? e : new Error(String(e));
        this.#stop('error');
      },
    );
  }

  /** Every other slot's holds merged: the lowest floor per mailbox. */
  #othersFloors(slot: Slot): Map<number, number> {
    const out = new Map<number, number>();
    for (const s of this.#slots) {
      if (s === slot) continue;
      for (const [id, f] of s.holds) out.set(id, Math.min(f, out.get(id) ?? Infinity));
    }
    return out;
  }

  /** Tells every worker but `changed` the others' floors after `changed`'s holds moved (or it died). */
  #sendHolds(changed: Slot): void {
    for (const s of this.#slots) if (s !== changed && s.worker) this.#send(s.worker, { t: 'mr:holds', floors: [...this.#othersFloors(s)] });
  }

  async #metrics(w: Worker, id: number): Promise<void> {
    let text: string | null = null;
    try {
      // prom-client loads on the first request for /metrics: the primary has no metrics of its own.
      this.#aggregator ??= new (await import('prom-client')).AggregatorRegistry();
      text = await this.#aggregator.clusterMetrics();
    } catch (e) {
      this.#log.warn({ err: e }, 'metrics aggregation failed');
    }
    this.#send(w, { t: 'mr:metricsText', id, text });
  }

  #exited(slot: Slot, w: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== w) return;
    slot.worker = null;
    slot.ready = false;
    slot.greeted = false;
    for (const [user, n] of this.#locks) if (n === slot.n) this.#locks.delete(user);
    this.#leases.drop(slot.n);
    this.#watch.drop(slot.n);
    if (slot.holds.size > 0) {
      slot.holds = new Map();
      this.#sendHolds(slot);
    }
    if (this.#leader === slot) {
      // Another live worker that has said hello takes over what runs once.
      this.#leader = this.#slots.find((s) => s !== slot && s.worker && s.greeted) ?? null;
      if (this.#leader?.worker) this.#send(this.#leader.worker, { t: 'mr:leader' });
    }
    if (this.#stopping) {
      if (this.#slots.every((s) => s.worker === null)) this.#done();
      return;
    }
    if (!this.#everReady) {
      this.#failed = new Error(`worker ${slot.n} exited with ${signal ?? `code ${code}`} while starting`);
      this.#stop('error');
      return;
    }
    slot.failures = Date.now() - slot.startedAt > STABLE_MS ? 0 : slot.failures + 1;
    const delay = slot.failures === 0 ? 0 : Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (slot.failures - 1));
    this.#log.warn({ worker: slot.n, pid: w.process.pid, code, signal, restartInMs: delay }, 'worker died; restarting it');
    setTimeout(() => {
      if (!this.#stopping) this.#fork(slot);
    }, delay);
  }

  #stop(signal: string): void {
    if (this.#stopping) return;
    this.#stopping = true;
    if (signal !== 'error') this.#log.info({ signal }, 'stopping');
    // No new connection goes to a draining worker: the listeners close first.
    void this.#acceptor?.close();
    for (const s of this.#slots) s.worker?.process.kill('SIGTERM');
    if (this.#slots.every((s) => s.worker === null)) this.#done();
  }

  #send(w: Worker, m: ToWorker): void {
    try {
      if (w.isConnected()) w.send(m);
    } catch {
      // The worker is going away; its exit is handled in #exited.
    }
  }
}

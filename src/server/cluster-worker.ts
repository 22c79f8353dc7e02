/**
 * One worker of `serve --workers N` (the primary is cluster.ts): the link between this process's server and
 * the primary, over Node's cluster IPC channel.
 *
 * - Change wake-ups: a commit of this worker's SQLite store that another worker watches (a session there
 *   listens to the mailbox or the user) is sent to the primary, which relays it to the workers watching;
 *   the ones it relays to us wake our subscribers (IDLE, NOTIFY, JMAP push) as if the change had been made
 *   here (store/sqlite/core.ts SqliteHub.link and receive). What each worker watches goes through the
 *   primary too (cluster-watch.ts). Mailbox list changes (create, delete, rename, subscriptions) travel the
 *   same way, in commit order (store/sqlite/mailbox-list.ts: a change also found in the log by the poll is
 *   announced once). A PostgreSQL store already pushes changes between processes (LISTEN/NOTIFY) and is
 *   not linked.
 * - POP3 maildrop locks are taken from the primary, which holds them for the whole cluster and drops those
 *   of a worker that dies.
 * - Expunge holds (store/holds.ts) are reported to the primary, which tells every worker the others' floors,
 *   so no worker frees a held message that a view of another still shows.
 * - What runs once runs in the worker the primary names leader: the outbound queue (the others forward
 *   their kicks) and the WAL checkpoints; when the leader dies the primary names another.
 * - /metrics asks the primary, which aggregates every worker's registry (prom-client's AggregatorRegistry).
 * - Connection limits and failed-login counts are the primary's, for the whole cluster: connections are
 *   admitted from slots leased by the primary (cluster-leases.ts), failures counted there and copied to
 *   every worker (cluster-auth.ts).
 * Requests to the primary fail with StoreError TEMPORARY once the channel is gone (the worker is then
 * stopping: the primary has exited or is restarting it).
 */
import cluster from 'node:cluster';
import type { Store } from '../store/handle.js';
import { StoreError, type ChangeEvent } from '../store/types.js';
import type { LoggedListEvent, ProcessLink } from '../store/bus.js';
import { SqliteHub } from '../store/sqlite/core.js';
import type { OutboundQueue } from '../delivery/index.js';
import { metrics, setMetricsSource, type Metrics } from '../lib/metrics.js';
import { isOurs, type ListenerReport, type ToPrimary, type ToWorker } from './cluster-messages.js';
import { LeaseCounter } from './cluster-leases.js';
import { SharedFailures } from './cluster-auth.js';
import { ChangeRelay } from './cluster-watch.js';
import { AcceptLink } from './cluster-accept.js';

/**
 * Expunged messages stay readable this long in a cluster even when no hold was known when they were
 * expunged: it covers the moment a view of another worker takes a hold while the news is on its way.
 */
export const CLUSTER_EXPUNGE_GRACE_MS = 5_000;
/** How long a request to the primary may take before it fails (the primary answers from memory). */
const REQUEST_TIMEOUT_MS = 10_000;
/**
 * This worker's holds are reported at most this often: each IPC message costs a pipe write and a wake-up of
 * two processes, and views move their holds at nearly every command. A new hold reported this late is
 * still covered by CLUSTER_EXPUNGE_GRACE_MS; a release or advance reported late only frees later.
 */
const HOLDS_REPORT_MS = 100;

/** What Mailroom (mailroom.ts) asks of the worker link while it starts. */
export interface WorkerHooks {
  /** Store options of a worker: the linked hub and the expunge grace (SQLite only). */
  readonly storeOptions: { hub: SqliteHub; expungeGraceMs: number };
  /** The store is open. */
  storeOpened(store: Store): void;
  /** Wraps the outbound queue so that only the leader runs it. */
  queue(q: OutboundQueue): OutboundQueue;
  /** Connections per address and per user, counted for the whole cluster. */
  readonly connections: LeaseCounter;
  /** Failed-login counts of the whole cluster. */
  readonly failures: SharedFailures;
}

type Pending = { resolve: (v: ToWorker) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout };

export class WorkerLink implements ProcessLink, WorkerHooks {
  readonly hub = new SqliteHub();
  readonly storeOptions: { hub: SqliteHub; expungeGraceMs: number };
  readonly connections = new LeaseCounter((m) => this.#send(m));
  readonly failures = new SharedFailures(
    async (make) => {
      const r = await this.#request(make);
      if (r.t !== 'mr:authCounts') throw new StoreError('TEMPORARY', 'unexpected answer');
      return r;
    },
    (m) => this.#send(m),
  );
  #leader = false;
  #store: Store | null = null;
  #queue: LeaderQueue | null = null;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #welcome: ((m: Extract<ToWorker, { t: 'mr:welcome' }>) => void) | null = null;
  /** Wake-ups for the other workers, and what they watch (cluster-watch.ts). */
  readonly relay: ChangeRelay;
  /** The connections of the mail listeners, passed by the primary (cluster-accept.ts). */
  readonly #accept = new AcceptLink();
  #holds: { floors: Map<number, number> | null; sent: string; timer: NodeJS.Timeout | null } = { floors: null, sent: '[]', timer: null };
  #onMessage = (m: unknown): void => {
    if (isOurs<ToWorker>(m)) this.#handle(m);
  };
  /** The primary's AggregatorRegistry asking for this worker's metrics (prom-client loads then, not at start). */
  #onMetricsRequest = (m: unknown): void => {
    void answerMetricsRequest(m, metrics, (r) => {
      if (!process.send || !process.connected) return;
      try {
        process.send(r);
      } catch {
        // The primary is gone; its request died with it.
      }
    });
  };

  constructor() {
    this.storeOptions = { hub: this.hub, expungeGraceMs: CLUSTER_EXPUNGE_GRACE_MS };
    this.hub.link = this;
    this.relay = new ChangeRelay((m) => this.#send(m), this.hub.bus, this.hub.lists.bus);
    this.hub.holds.onChange = (floors) => this.#reportHolds(floors);
    process.on('message', this.#onMessage);
    process.on('message', this.#onMetricsRequest);
    setMetricsSource(() => this.#metrics());
  }

  /** True in a process forked by `serve --workers N`. */
  static get isWorker(): boolean {
    return cluster.isWorker;
  }

  /** Asks the primary for this worker's role and the other workers' holds; resolves once answered. */
  async hello(): Promise<void> {
    const m = await new Promise<Extract<ToWorker, { t: 'mr:welcome' }>>((resolve) => {
      this.#welcome = resolve;
      this.#send({ t: 'mr:hello' });
    });
    this.hub.holds.setRemote(new Map(m.holds));
    this.relay.othersWatch({ mailboxes: { on: m.watched.mailboxes, off: [] }, users: { on: m.watched.users, off: [] } }, true);
    this.#leader = m.leader;
  }

  /** Tells the primary this worker's listeners are up. */
  ready(listeners: readonly ListenerReport[]): void {
    this.#send({ t: 'mr:ready', listeners: listeners.map((l) => ({ name: l.name, host: l.host, port: l.port, tls: l.tls })) });
  }

  /** Stops listening to the primary (after the server stopped). */
  close(): void {
    process.off('message', this.#onMessage);
    process.off('message', this.#onMetricsRequest);
    this.#accept.close();
    this.relay.close();
    this.connections.detach();
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(new StoreError('TEMPORARY', 'worker is stopping'));
    }
    this.#pending.clear();
  }

  storeOpened(store: Store): void {
    this.#store = store;
    // A PostgreSQL store shares changes and locks between processes itself.
    if (store.kind !== 'sqlite') {
      this.hub.link = null;
      this.relay.close();
    }
    this.#roleChanged();
  }

  queue(q: OutboundQueue): OutboundQueue {
    this.#queue = new LeaderQueue(q, () => this.#leader, () => this.#send({ t: 'mr:kick' }));
    return this.#queue;
  }

  /** Hands the wake-up to the workers that watch its mailbox (a few milliseconds' worth leave together). */
  publish(ev: ChangeEvent): void {
    this.relay.publish(ev);
  }

  /** Hands a mailbox list change to the workers that watch its user, after those queued before it. */
  publishList(ev: LoggedListEvent): void {
    this.relay.publishList(ev);
  }

  /** Sends this worker's floors when they differ from the last ones sent, at most every HOLDS_REPORT_MS. */
  #reportHolds(floors: Map<number, number>): void {
    const h = this.#holds;
    h.floors = floors;
    if (h.timer) return;
    const flush = (): void => {
      h.timer = null;
      if (!h.floors) return;
      const text = JSON.stringify([...h.floors]);
      h.floors = null;
      if (text === h.sent) return;
      h.sent = text;
      this.#send({ t: 'mr:holds', floors: JSON.parse(text) as Array<[number, number]> });
      h.timer = setTimeout(flush, HOLDS_REPORT_MS);
      h.timer.unref();
    };
    flush();
  }

  async lockMaildrop(userId: number): Promise<(() => Promise<void>) | null> {
    const r = await this.#request((id) => ({ t: 'mr:lock', id, userId }));
    if (r.t !== 'mr:locked' || !r.ok) return null;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      this.#send({ t: 'mr:unlock', userId });
    };
  }

  async #metrics(): Promise<string> {
    const r = await this.#request((id) => ({ t: 'mr:metrics', id }));
    if (r.t !== 'mr:metricsText' || r.text === null) throw new Error('metrics aggregation failed');
    return r.text;
  }

  #handle(m: ToWorker): void {
    switch (m.t) {
      case 'mr:welcome':
        this.#welcome?.(m);
        this.#welcome = null;
        return;
      case 'mr:events':
        for (const ev of m.lists) this.hub.lists.announce(ev);
        for (const ev of m.evs) this.hub.receive(ev);
        return;
      case 'mr:watched':
        this.relay.othersWatch(m);
        return;
      case 'mr:holds':
        this.hub.holds.setRemote(new Map(m.floors));
        return;
      case 'mr:leader':
        this.#leader = true;
        this.#roleChanged();
        return;
      case 'mr:kick':
        this.#queue?.kick();
        return;
      case 'mr:grant':
      case 'mr:reclaim':
        this.connections.handle(m);
        return;
      case 'mr:authCounts':
        if (m.id === null) this.failures.receive(m);
        else this.#answered(m.id, m);
        return;
      case 'mr:locked':
      case 'mr:metricsText':
        this.#answered(m.id, m);
    }
  }

  /** Resolves the request `id` with the primary's answer. */
  #answered(id: number, m: ToWorker): void {
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(m);
  }

  /** The leader checkpoints the WAL for everyone and runs the queue; the others do neither. */
  #roleChanged(): void {
    if (this.#store?.kind === 'sqlite') for (const core of this.hub.cores) core.setCheckpointRole(this.#leader ? 'shared' : 'none');
    if (this.#leader) this.#queue?.lead();
  }

  #request(make: (id: number) => ToPrimary): Promise<ToWorker> {
    const id = this.#nextId++;
    return new Promise<ToWorker>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new StoreError('TEMPORARY', 'the primary process did not answer'));
      }, REQUEST_TIMEOUT_MS);
      this.#pending.set(id, { resolve, reject, timer });
      if (!this.#send(make(id))) {
        this.#pending.delete(id);
        clearTimeout(timer);
        reject(new StoreError('TEMPORARY', 'the primary process is gone'));
      }
    });
  }

  #send(m: ToPrimary): boolean {
    if (!process.send || !process.connected) return false;
    try {
      process.send(m);
      return true;
    } catch {
      return false;
    }
  }
}

/** The request prom-client's AggregatorRegistry sends each worker, and the answer it waits for (prom-client lib/cluster.js). */
export const PROM_METRICS_REQ = 'prom-client:getMetricsReq';
export const PROM_METRICS_RES = 'prom-client:getMetricsRes';

/**
 * Answers the primary's AggregatorRegistry as prom-client's own worker listener does: this worker's registry
 * as JSON, or the error. The registry (and prom-client) is created on the first request, so a worker whose
 * metrics are never read never loads prom-client. Other messages are ignored.
 */
export async function answerMetricsRequest(m: unknown, set: Metrics, send: (reply: object) => void): Promise<void> {
  if (typeof m !== 'object' || m === null || (m as { type?: unknown }).type !== PROM_METRICS_REQ) return;
  const requestId = (m as { requestId?: unknown }).requestId;
  try {
    send({ type: PROM_METRICS_RES, requestId, metrics: [await set.registry.getMetricsAsJSON()] });
  } catch (e) {
    send({ type: PROM_METRICS_RES, requestId, error: e instanceof Error ? e.message : String(e) });
  }
}

/**
 * The outbound queue of a worker: started only while the worker leads (lead() starts it later); kicks of
 * the others go to the leader through the primary. Enqueueing is the store's, so every worker queues.
 */
class LeaderQueue implements OutboundQueue {
  #wanted = false;
  #running = false;
  constructor(
    private readonly inner: OutboundQueue,
    private readonly leading: () => boolean,
    private readonly forward: () => void,
  ) {}

  start(): void {
    this.#wanted = true;
    if (this.leading()) this.lead();
  }

  lead(): void {
    if (!this.#wanted || this.#running) return;
    this.#running = true;
    this.inner.start();
  }

  async stop(): Promise<void> {
    this.#wanted = false;
    this.#running = false;
    await this.inner.stop();
  }

  runOnce(): Promise<void> {
    return this.inner.runOnce();
  }

  kick(): void {
    if (this.#running) this.inner.kick();
    else if (this.#wanted) this.forward();
  }
}

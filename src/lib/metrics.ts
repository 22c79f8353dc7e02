/**
 * Process metrics in Prometheus text format, served at /metrics by the web plugin.
 * Protocol code increments the counters of the process-wide `metrics` set:
 *   metrics.connections.inc({ protocol: 'imap' })                  a connection was accepted
 *   metrics.openConnections.inc/dec({ protocol: 'imap' })          connections open now
 *   metrics.commands.inc({ protocol: 'imap', command: 'FETCH', result: 'ok' })
 *   metrics.deliveries.inc({ via: 'lmtp', result: 'delivered' })
 *   metrics.authFailures.inc()                                     (the Authenticator counts every failure)
 *   metrics.storeLatency.observe({ op: 'append' }, seconds)
 * recentLog keeps the last log lines for the admin page (withRecentLog wraps the server's logger).
 * Label values are bounded by the caller (protocol and command names, never addresses). Tests that need
 * their own numbers create a separate set with createMetrics().
 *
 * The counts are plain numbers here; prom-client (about 1.5 MB of heap, with Node's default process
 * metrics and their event-loop histogram) is loaded only when a registry is first read (`Metrics.registry`,
 * a scrape of /metrics, a cluster primary asking a worker): most servers never serve /metrics, and every
 * worker of `serve --workers N` held it. Node's default metrics (event-loop lag, GC) start with the first read.
 */
import { createRequire } from 'node:module';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';

/** prom-client, loaded on the first read of a registry (synchronously: it is CommonJS). */
let promClient: typeof import('prom-client') | null = null;
export function loadPromClient(): typeof import('prom-client') {
  promClient ??= createRequire(import.meta.url)('prom-client') as typeof import('prom-client');
  return promClient;
}

/** True once prom-client has been loaded in this process. */
export function promClientLoaded(): boolean {
  return promClient !== null;
}

type LabelValues<L extends string> = Partial<Record<L, string | number>>;

/** One metric as prom-client's registry reads it (the shape of its Counter.get() and Gauge.get()). */
interface MetricData {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  aggregator: 'sum' | 'max';
  values: Array<{ metricName?: string; labels: Record<string, string | number>; value: number }>;
}

/**
 * A counter or gauge over a fixed set of label names, kept in plain numbers per label combination and
 * registered in the prom-client registry as a custom metric (read through get(), as prom-client's own
 * metrics are). Without label names it starts at 0, as prom-client's do.
 */
export class Series<L extends string = never> {
  readonly #values = new Map<string, { labels: Record<string, string | number>; value: number }>();
  readonly #collect: (() => void) | undefined;

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    readonly labelNames: readonly L[] = [],
    readonly aggregator: 'sum' | 'max' = 'sum',
    collect?: () => void,
  ) {
    this.#collect = collect;
    if (labelNames.length === 0) this.#values.set('', { labels: {}, value: 0 });
  }

  #entry(values: ReadonlyArray<string | number | undefined>): { labels: Record<string, string | number>; value: number } {
    const key = values.length === 1 ? String(values[0] ?? '') : values.map((v) => String(v ?? '')).join('\u0000');
    let e = this.#values.get(key);
    if (!e) {
      const labels: Record<string, string | number> = {};
      this.labelNames.forEach((n, i) => {
        const v = values[i];
        if (v !== undefined) labels[n] = v;
      });
      this.#values.set(key, (e = { labels, value: 0 }));
    }
    return e;
  }

  #of(labels: LabelValues<L> | undefined): { labels: Record<string, string | number>; value: number } {
    return this.#entry(this.labelNames.map((n) => labels?.[n]));
  }

  /** Adds `by` to one series; a counter only goes up. */
  #bump(e: { value: number }, by: number): void {
    if (this.type === 'counter' && by < 0) throw new Error('It is not possible to decrease a counter');
    e.value += by;
  }

  #gaugeOnly(): void {
    if (this.type !== 'gauge') throw new Error(`${this.name} is a counter`);
  }

  inc(labels?: LabelValues<L> | number, n?: number): void {
    if (typeof labels === 'number') this.#bump(this.#of(undefined), labels);
    else this.#bump(this.#of(labels), n ?? 1);
  }

  /** Gauges only. */
  dec(labels?: LabelValues<L> | number, n?: number): void {
    this.#gaugeOnly();
    if (typeof labels === 'number') this.#bump(this.#of(undefined), -labels);
    else this.#bump(this.#of(labels), -(n ?? 1));
  }

  /** Gauges only. */
  set(labels: LabelValues<L> | number, value?: number): void {
    this.#gaugeOnly();
    if (typeof labels === 'number') this.#of(undefined).value = labels;
    else this.#of(labels).value = value ?? 0;
  }

  /** The series of these label values, in the order of `labelNames`. */
  labels(...values: Array<string | number>): { inc(n?: number): void; dec(n?: number): void; set(v: number): void } {
    const e = this.#entry(values);
    return {
      inc: (n = 1) => this.#bump(e, n),
      dec: (n = 1) => {
        this.#gaugeOnly();
        this.#bump(e, -n);
      },
      set: (v) => {
        this.#gaugeOnly();
        e.value = v;
      },
    };
  }

  async get(): Promise<MetricData> {
    this.#collect?.();
    const values = [...this.#values.values()].map((e) => ({ labels: { ...e.labels }, value: e.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export interface Metrics {
  /** The prom-client registry of these metrics, created (and prom-client loaded) on first read. */
  readonly registry: Registry;
  readonly connections: Series<'protocol'>;
  readonly openConnections: Series<'protocol'>;
  readonly commands: Series<'protocol' | 'command' | 'result'>;
  readonly deliveries: Series<'via' | 'result'>;
  readonly authFailures: Series;
  readonly queueLength: Series;
  readonly storeLatency: LatencyHistogram;
  readonly httpRequests: Series<'route' | 'status'>;
  /** Run when the registry is read: hot-path counts kept in plain numbers (Recorder) are added then. */
  readonly beforeScrape: Array<() => void>;
}

const STORE_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/**
 * A histogram by one label ("op") whose observe() is a Map lookup and a few additions. prom-client's
 * Histogram hashes its label object on every observation (about a microsecond); this one is registered in
 * the same registry and read in the same format (aggregated as a sum across workers).
 */
export class LatencyHistogram {
  readonly aggregator = 'sum' as const;
  readonly #ops = new Map<string, { buckets: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  observe(op: string, seconds: number): void {
    let h = this.#ops.get(op);
    if (!h) this.#ops.set(op, (h = { buckets: this.buckets.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < this.buckets.length; i++) if (seconds <= this.buckets[i]!) h.buckets[i]!++;
    h.sum += seconds;
    h.count++;
  }

  /** The metric as prom-client's registry reads it (Histogram.get's shape). */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> }> {
    const values: Array<{ metricName: string; labels: Record<string, string | number>; value: number }> = [];
    for (const [op, h] of this.#ops) {
      this.buckets.forEach((le, i) => values.push({ metricName: `${this.name}_bucket`, labels: { le, op }, value: h.buckets[i]! }));
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', op }, value: h.count });
      values.push({ metricName: `${this.name}_sum`, labels: { op }, value: h.sum });
      values.push({ metricName: `${this.name}_count`, labels: { op }, value: h.count });
    }
    return { name: this.name, help: this.help, type: 'histogram', aggregator: this.aggregator, values };
  }
}

/** Interval of the event-loop lag sampling behind the nodejs_eventloop_lag metrics, ms. */
export const EVENT_LOOP_SAMPLE_MS = 100;

/** A fresh set of mailroom metrics; `defaults` adds Node's process metrics to its registry (once it exists). */
export function createMetrics(opts: { defaults?: boolean } = {}): Metrics {
  const beforeScrape: Array<() => void> = [];
  const storeLatency = new LatencyHistogram('mailroom_store_latency_seconds', 'Store operation latency, by operation', STORE_BUCKETS);
  const series = {
    connections: new Series('mailroom_connections_total', 'Connections accepted, by protocol', 'counter', ['protocol'] as const),
    openConnections: new Series('mailroom_open_connections', 'Connections open now, by protocol', 'gauge', ['protocol'] as const),
    commands: new Series('mailroom_commands_total', 'Protocol commands handled, by protocol, command and result', 'counter', ['protocol', 'command', 'result'] as const, 'sum', () => {
      for (const f of beforeScrape) f();
    }),
    deliveries: new Series('mailroom_deliveries_total', 'Local deliveries, by path and result', 'counter', ['via', 'result'] as const),
    authFailures: new Series('mailroom_auth_failures_total', 'Failed authentications (every protocol, HTTP tokens too)', 'counter'),
    // Every worker of a cluster reads the one shared queue: the aggregate is the largest reading, not the sum.
    queueLength: new Series('mailroom_outbound_queue_length', 'Messages in the outbound queue (read when scraped)', 'gauge', [], 'max'),
    httpRequests: new Series('mailroom_http_requests_total', 'HTTP requests, by route and status', 'counter', ['route', 'status'] as const),
  };
  let registry: Registry | null = null;
  return {
    ...series,
    storeLatency,
    beforeScrape,
    get registry(): Registry {
      if (registry) return registry;
      const prom = loadPromClient();
      const r = new prom.Registry();
      // The event-loop lag is sampled every EVENT_LOOP_SAMPLE_MS: prom-client's default of 10 ms kept a timer
      // firing 100 times a second in every process (about 2.4 ms of CPU per second each, idle or not).
      if (opts.defaults) prom.collectDefaultMetrics({ register: r, prefix: 'mailroom_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
      // In the order prom-client's own metrics had when they were created with the set.
      for (const m of [series.connections, series.openConnections, series.commands, series.deliveries, series.authFailures, series.queueLength, storeLatency, series.httpRequests]) {
        r.registerMetric(m as unknown as Parameters<Registry['registerMetric']>[0]);
      }
      return (registry = r);
    },
  };
}

/** The process-wide set the protocol code increments. */
export const metrics: Metrics = createMetrics({ defaults: true });

/**
 * Hot-path recorders. prom-client hashes the label object on every inc() (microseconds); a counted command
 * here is three Map lookups and an addition, and the counts reach the prom-client counter when the
 * registry is read (Metrics.beforeScrape). Label values are bounded by the callers (protocol and command
 * names from dispatch tables, fixed results).
 */
export class Recorder {
  /** protocol -> command -> result -> count (nested: no key string is built per command). */
  readonly #commands = new Map<string, Map<string, Map<string, { n: number }>>>();
  constructor(readonly m: Metrics) {
    m.beforeScrape.push(() => this.#flush());
  }

  /** One protocol command handled; `result` is the protocol's own verdict (ok, no, bad, err ...). */
  command(protocol: string, command: string, result: string): void {
    let byCommand = this.#commands.get(protocol);
    if (!byCommand) this.#commands.set(protocol, (byCommand = new Map()));
    let byResult = byCommand.get(command);
    if (!byResult) byCommand.set(command, (byResult = new Map()));
    const c = byResult.get(result);
    if (c) c.n++;
    else byResult.set(result, { n: 1 });
  }

  #flush(): void {
    for (const [protocol, byCommand] of this.#commands) {
      for (const [command, byResult] of byCommand) {
        for (const [result, c] of byResult) {
          if (c.n === 0) continue;
          this.m.commands.labels(protocol, command, result).inc(c.n);
          c.n = 0;
        }
      }
    }
  }

  /** A store operation took `ms` milliseconds. */
  storeLatency(op: string, ms: number): void {
    this.m.storeLatency.observe(op, ms / 1000);
  }

  /** A connection was accepted; call the returned function once when it closes. */
  connection(protocol: string): () => void {
    this.m.connections.inc({ protocol });
    this.m.openConnections.inc({ protocol });
    let open = true;
    return () => {
      if (open) this.m.openConnections.dec({ protocol });
      open = false;
    };
  }

  /** One local delivery to one recipient by `via` (lmtp, smtp). */
  delivery(via: string, ok: boolean): void {
    this.m.deliveries.labels(via, ok ? 'delivered' : 'failed').inc();
  }

}

/** The recorder of the process-wide set. */
export const record = new Recorder(metrics);

/** "ok", "no" or "bye" from the status word of the last line of a ManageSieve reply (RFC 5804 1.2). */
export function lastLineStatus(out: Buffer): string {
  const end = out.length >= 2 && out[out.length - 2] === 0x0d ? out.length - 2 : out.length;
  const start = out.lastIndexOf(0x0a, end - 1) + 1;
  const word = out.subarray(start, Math.min(end, start + 3)).toString('latin1').toLowerCase();
  return word.startsWith('ok') ? 'ok' : word.startsWith('no') ? 'no' : word === 'bye' ? 'bye' : 'other';
}

/** The sum of a counter over all its labels (status history: deliveries so far). */
export async function counterTotal(c: Series<string>): Promise<number> {
  let n = 0;
  for (const v of (await c.get()).values) n += v.value;
  return n;
}

/** The number of open connections per protocol right now (admin status page). */
export async function openConnectionsByProtocol(m: Metrics = metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await m.openConnections.get()).values) {
    const p = v.labels.protocol;
    if (typeof p === 'string') out[p] = v.value;
  }
  return out;
}

/** One line of the server log as the admin page shows it. */
export interface RecentLine {
  time: string;
  level: 'info' | 'warn' | 'error';
  msg: string;
  fields: string;
}

/** The last `size` log lines at info level and above (admin "recent log"), oldest first. */
export class RecentLog {
  readonly #lines: RecentLine[] = [];
  constructor(readonly size = 1000) {}

  add(level: RecentLine['level'], fields: Record<string, unknown>, msg: string | undefined): void {
    let f: string;
    try {
      f = JSON.stringify(fields, (_k, v: unknown) => (v instanceof Error ? v.message : typeof v === 'bigint' ? String(v) : v)) ?? '';
    } catch {
      f = '';
    }
    this.#lines.push({ time: new Date().toISOString(), level, msg: msg ?? '', fields: f.length > 1000 ? f.slice(0, 1000) + '…' : f });
    if (this.#lines.length > this.size) this.#lines.splice(0, this.#lines.length - this.size);
  }

  /** Lines containing `filter` (case-insensitive, message or fields) at `minLevel` or above, at most `limit`, newest last. */
  lines(opts: { filter?: string; minLevel?: RecentLine['level']; limit?: number } = {}): RecentLine[] {
    const rank = { info: 0, warn: 1, error: 2 };
    const min = rank[opts.minLevel ?? 'info'];
    const needle = (opts.filter ?? '').toLowerCase();
    const out = this.#lines.filter((l) => rank[l.level] >= min && (!needle || l.msg.toLowerCase().includes(needle) || l.fields.toLowerCase().includes(needle)));
    return out.slice(-(opts.limit ?? 200));
  }
}

/** The process-wide recent log the server's logger feeds (see withRecentLog). */
export const recentLog = new RecentLog();

/** A logger that also keeps info, warn and error lines (and those of its children, with their fields) in `ring`. */
export function withRecentLog(logger: Logger, ring: RecentLog = recentLog, base: Record<string, unknown> = {}): Logger {
  const keep = (level: RecentLine['level'], f: Record<string, unknown>, m: string | undefined): void => ring.add(level, { ...base, ...f }, m);
  return {
    debug: (f, m) => logger.debug(f, m),
    info: (f, m) => {
      keep('info', f, m);
      logger.info(f, m);
    },
    warn: (f, m) => {
      keep('warn', f, m);
      logger.warn(f, m);
    },
    error: (f, m) => {
      keep('error', f, m);
      logger.error(f, m);
    },
    child: (fields) => withRecentLog(logger.child(fields), ring, { ...base, ...fields }),
  };
}

let source: (() => Promise<string>) | null = null;

/**
 * Where /metrics text comes from: a worker of `serve --workers N` (server/cluster-worker.ts) sets a source
 * that asks the primary for every worker's metrics, aggregated; null goes back to this process's registry.
 */
export function setMetricsSource(fn: (() => Promise<string>) | null): void {
  source = fn;
}

/** The Prometheus text of /metrics: this process's registry, or the cluster's aggregate (setMetricsSource). */
export function metricsText(): Promise<string> {
  return source ? source() : metrics.registry.metrics();
}

/**
 * Open connections by protocol and deliveries so far for the whole server (admin status): from the aggregate
 * of every worker when there is one (setMetricsSource), else from `m`, this process's set.
 */
export async function serverTotals(m: Metrics = metrics): Promise<{ connections: Record<string, number>; deliveries: number }> {
  if (!source || m !== metrics) return { connections: await openConnectionsByProtocol(m), deliveries: await counterTotal(m.deliveries) };
  const connections: Record<string, number> = {};
  let deliveries = 0;
  for (const line of (await source()).split('\n')) {
    const open = /^mailroom_open_connections\{[^}]*protocol="([^"]+)"[^}]*\} (\S+)$/.exec(line);
    if (open) connections[open[1]!] = (connections[open[1]!] ?? 0) + (Number(open[2]) || 0);
    else if (line.startsWith('mailroom_deliveries_total{')) deliveries += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return { connections, deliveries };
}

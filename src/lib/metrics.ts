/**
 * Process metrics in Prometheus text format (prom-client), served at /metrics by the web plugin.
 * Protocol code increments the counters of the process-wide `metrics` set:
 *   metrics.connections.inc({ protocol: 'imap' })                  a connection was accepted
 *   metrics.openConnections.inc/dec({ protocol: 'imap' })          connections open now
 *   metrics.commands.inc({ protocol: 'imap', command: 'FETCH', result: 'ok' })
 *   metrics.deliveries.inc({ via: 'lmtp', result: 'delivered' })
 *   metrics.authFailures.inc()                                     (the Authenticator counts every failure)
 *   metrics.storeLatency.observe({ op: 'append' }, seconds)
 * Label values are bounded by the caller (protocol and command names, never addresses). Tests that need
 * their own numbers create a separate set with createMetrics().
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly connections: Counter<'protocol'>;
  readonly openConnections: Gauge<'protocol'>;
  readonly commands: Counter<'protocol' | 'command' | 'result'>;
  readonly deliveries: Counter<'via' | 'result'>;
  readonly authFailures: Counter<never>;
  readonly queueLength: Gauge<never>;
  readonly storeLatency: Histogram<'op'>;
  readonly httpRequests: Counter<'route' | 'status'>;
}

/** A fresh set of mailroom metrics on its own registry; `defaults` adds Node's process metrics. */
export function createMetrics(opts: { defaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: 'mailroom_' });
  const registers = [registry];
  return {
    registry,
    connections: new Counter({ name: 'mailroom_connections_total', help: 'Connections accepted, by protocol', labelNames: ['protocol'], registers }),
    openConnections: new Gauge({ name: 'mailroom_open_connections', help: 'Connections open now, by protocol', labelNames: ['protocol'], registers }),
    commands: new Counter({
      name: 'mailroom_commands_total',
      help: 'Protocol commands handled, by protocol, command and result',
      labelNames: ['protocol', 'command', 'result'],
      registers,
    }),
    deliveries: new Counter({ name: 'mailroom_deliveries_total', help: 'Local deliveries, by path and result', labelNames: ['via', 'result'], registers }),
    authFailures: new Counter({ name: 'mailroom_auth_failures_total', help: 'Failed authentications (every protocol, HTTP tokens too)', registers }),
    queueLength: new Gauge({ name: 'mailroom_outbound_queue_length', help: 'Messages in the outbound queue (read when scraped)', registers }),
    storeLatency: new Histogram({
      name: 'mailroom_store_latency_seconds',
      help: 'Store operation latency, by operation',
      labelNames: ['op'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers,
    }),
    httpRequests: new Counter({ name: 'mailroom_http_requests_total', help: 'HTTP requests, by route and status', labelNames: ['route', 'status'], registers }),
  };
}

/** The process-wide set the protocol code increments. */
export const metrics: Metrics = createMetrics({ defaults: true });

/** The number of open connections per protocol right now (admin status page). */
export async function openConnectionsByProtocol(m: Metrics = metrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await m.openConnections.get()).values) {
    const p = v.labels.protocol;
    if (typeof p === 'string') out[p] = v.value;
  }
  return out;
}

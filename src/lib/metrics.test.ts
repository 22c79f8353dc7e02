/**
 * Metrics kept in plain numbers until read: prom-client is loaded by the first read of a registry (not by
 * importing or counting), and what the registry then prints and aggregates is what prom-client's own
 * counters and gauges printed. The worker side of the cluster's /metrics (answerMetricsRequest) answers
 * the primary's AggregatorRegistry as prom-client's listener did.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMetrics, promClientLoaded, Recorder, counterTotal, openConnectionsByProtocol } from './metrics.js';
import { answerMetricsRequest, PROM_METRICS_REQ, PROM_METRICS_RES } from '../server/cluster-worker.js';

test('counting loads no prom-client; the first read of the registry does, and prints every count', async () => {
  const m = createMetrics({ defaults: true });
  const rec = new Recorder(m);
  const closeA = rec.connection('imap');
  rec.connection('imap');
  closeA();
  closeA();
  rec.command('imap', 'FETCH', 'ok');
  rec.command('imap', 'FETCH', 'ok');
  rec.command('pop3', 'RETR', 'err');
  rec.delivery('lmtp', true);
  m.authFailures.inc();
  m.authFailures.inc(2);
  m.queueLength.set(7);
  m.httpRequests.labels('/metrics', 200).inc();
  rec.storeLatency('append', 3);
  assert.equal(promClientLoaded(), false, 'prom-client loaded before any registry was read');
  assert.equal(await counterTotal(m.deliveries), 1);
  assert.deepEqual(await openConnectionsByProtocol(m), { imap: 1 });
  assert.equal(promClientLoaded(), false, 'reading a series loaded prom-client');

  const text = await m.registry.metrics();
  assert.equal(promClientLoaded(), true);
  assert.match(m.registry.contentType, /^text\/plain/);
  for (const line of [
    '# TYPE mailroom_connections_total counter',
    'mailroom_connections_total{protocol="imap"} 2',
    '# TYPE mailroom_open_connections gauge',
    'mailroom_open_connections{protocol="imap"} 1',
    'mailroom_commands_total{protocol="imap",command="FETCH",result="ok"} 2',
    'mailroom_commands_total{protocol="pop3",command="RETR",result="err"} 1',
    'mailroom_deliveries_total{via="lmtp",result="delivered"} 1',
    'mailroom_auth_failures_total 3',
    'mailroom_outbound_queue_length 7',
    'mailroom_http_requests_total{route="/metrics",status="200"} 1',
    'mailroom_store_latency_seconds_count{op="append"} 1',
  ]) {
    assert.ok(text.split('\n').includes(line), `missing line ${line} in\n${text}`);
  }
  // Node's default process metrics are in the registry of a set made with defaults.
  assert.match(text, /^mailroom_process_cpu_user_seconds_total /m);
  assert.equal(m.registry, m.registry, 'one registry per set');
  // Counts after the first read still reach the next one (the commands again through the Recorder's flush).
  rec.command('imap', 'FETCH', 'ok');
  assert.ok((await m.registry.metrics()).split('\n').includes('mailroom_commands_total{protocol="imap",command="FETCH",result="ok"} 3'));
});

test('a counter refuses to go down, a gauge does not; unlabelled series start at 0', async () => {
  const m = createMetrics();
  assert.throws(() => m.authFailures.inc(-1), /not possible to decrease/);
  assert.throws(() => m.connections.labels('imap').inc(-2), /not possible to decrease/);
  assert.throws(() => m.connections.dec({ protocol: 'imap' }), /counter/);
  assert.throws(() => m.deliveries.set({ via: 'lmtp' }, 3), /counter/);
  m.openConnections.dec({ protocol: 'pop3' });
  m.openConnections.labels('pop3').dec(2);
  m.queueLength.set(4);
  m.queueLength.dec();
  assert.deepEqual((await m.authFailures.get()).values, [{ labels: {}, value: 0 }]);
  assert.deepEqual((await m.queueLength.get()).values, [{ labels: {}, value: 3 }]);
  assert.deepEqual(await openConnectionsByProtocol(m), { pop3: -3 });
  assert.deepEqual((await m.httpRequests.get()).values, [], 'a labelled series has no value until counted');
  const text = await m.registry.metrics();
  assert.doesNotMatch(text, /process_cpu/, 'no default metrics without defaults');
});

test('answerMetricsRequest answers the primary as prom-client did, and the primary aggregates it', async () => {
  const sent: Array<Record<string, unknown>> = [];
  const a = createMetrics();
  await answerMetricsRequest({ t: 'mr:welcome' }, a, (r) => sent.push(r as Record<string, unknown>));
  await answerMetricsRequest('prom-client:getMetricsReq', a, (r) => sent.push(r as Record<string, unknown>));
  await answerMetricsRequest(null, a, (r) => sent.push(r as Record<string, unknown>));
  assert.equal(sent.length, 0, 'answered a message that was no metrics request');

  a.connections.inc({ protocol: 'imap' });
  a.queueLength.set(5);
  const b = createMetrics();
  b.connections.inc({ protocol: 'imap' }, 2);
  b.queueLength.set(3);
  await answerMetricsRequest({ type: PROM_METRICS_REQ, requestId: 41 }, a, (r) => sent.push(r as Record<string, unknown>));
  await answerMetricsRequest({ type: PROM_METRICS_REQ, requestId: 42 }, b, (r) => sent.push(r as Record<string, unknown>));
  assert.deepEqual(sent.map((r) => [r['type'], r['requestId']]), [[PROM_METRICS_RES, 41], [PROM_METRICS_RES, 42]]);
  const { AggregatorRegistry } = await import('prom-client');
  const merged = AggregatorRegistry.aggregate(sent.map((r) => (r['metrics'] as unknown[][])[0]!) as never);
  const text = await merged.metrics();
  assert.ok(text.split('\n').includes('mailroom_connections_total{protocol="imap"} 3'), text);
  assert.ok(text.split('\n').includes('mailroom_outbound_queue_length 5'), 'the queue length aggregates as the largest reading');

  // A registry that cannot be read: the error goes back instead of metrics.
  const broken = { get registry(): never { throw new Error('no registry here'); } } as unknown as ReturnType<typeof createMetrics>;
  await answerMetricsRequest({ type: PROM_METRICS_REQ, requestId: 43 }, broken, (r) => sent.push(r as Record<string, unknown>));
  assert.deepEqual(sent[2], { type: PROM_METRICS_RES, requestId: 43, error: 'no registry here' });
});

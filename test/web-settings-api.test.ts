/**
 * The web API added for the rule editor, forwarding, the webmail's first request and the admin status
 * history, over raw HTTP, with bad input; the metrics recorder and the status ring buffer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, ADMIN_PASS, ALICE, ALICE_PASS, Client, startWeb } from './web-helpers.js';
import { createMetrics, lastLineStatus, Recorder, serverTotals, setMetricsSource } from '../src/lib/metrics.js';
import { StatusHistory } from '../src/web/status-history.js';

const RULE = { name: 'invoices', match: 'any', conditions: [{ field: 'subject', op: 'contains', value: 'invoice' }, { field: 'header', header: 'X-Billing', op: 'is', value: 'yes' }], actions: [{ type: 'move', folder: 'Archive' }, { type: 'read' }] };

test('filters: rules and forwarding are written as Sieve, read back, validated; raw mode and hand edits', async (t) => {
  const w = await startWeb(t);
  const c = new Client(w.url);
  assert.equal((await c.req('GET', '/api/filters')).status, 401);
  await c.signIn(ALICE, ALICE_PASS);
  const empty = await c.req('GET', '/api/filters');
  assert.equal(empty.status, 200);
  assert.deepEqual({ rules: empty.json.rules, managed: empty.json.managed, handEdited: empty.json.handEdited }, { rules: [], managed: false, handEdited: false });
  assert.ok(empty.json.folders.includes('INBOX') && empty.json.folders.includes('Archive'), 'the folders a rule can move to');

  // Bad input: each refused with 400 and a reason; nothing is saved.
  const bad: unknown[] = [
    'not an object',
    { rules: [{ ...RULE, conditions: [{ field: 'subject', op: 'contains', value: 'a\nb' }] }] },
    { rules: [{ ...RULE, conditions: [{ field: 'header', header: 'No Spaces', op: 'is', value: 'x' }] }] },
    { rules: [{ ...RULE, conditions: [{ field: 'size', op: 'over', value: '10 MB' }] }] },
    { rules: [{ ...RULE, actions: [{ type: 'forward', to: 'nobody' }] }] },
    { rules: [], forwarding: { enabled: true, to: '', keepCopy: false } },
  ];
  for (const b of bad) {
    const r = await c.req('PUT', '/api/filters', b);
    assert.equal(r.status, 400, JSON.stringify(b));
    assert.ok(typeof r.json.error === 'string' && r.json.error.length > 0);
  }
  assert.equal(await w.store.sieve.getActiveScript((await w.store.directory.getUser(ALICE))!.id), null);

  const forwarding = { enabled: true, to: 'alice@elsewhere.test', keepCopy: true };
  const saved = await c.req('PUT', '/api/filters', { rules: [RULE], forwarding });
  assert.equal(saved.status, 200, saved.text);
  assert.match(saved.json.script, /^redirect :copy "alice@elsewhere.test";$/m);
  assert.match(saved.json.script, /^if anyof \(header :contains "subject" "invoice", header :is "X-Billing" "yes"\) \{$/m);
  assert.match(saved.json.script, /fileinto :flags \["\\\\Seen"\] "Archive";/);
  const back = await c.req('GET', '/api/filters');
  assert.deepEqual({ rules: back.json.rules, forwarding: back.json.forwarding, managed: back.json.managed, handEdited: back.json.handEdited }, { rules: [RULE], forwarding, managed: true, handEdited: false });
  assert.equal((await c.req('GET', '/api/sieve')).json.content, saved.json.script, 'raw mode shows the written script');

  // Forwarding without a copy: redirect, then stop; the vacation setting stays apart and untouched.
  assert.equal((await c.req('PUT', '/api/vacation', { enabled: true, subject: 'Away', textBody: 'Back Monday.' })).status, 200);
  const noCopy = await c.req('PUT', '/api/filters', { rules: [RULE], forwarding: { ...forwarding, keepCopy: false } });
  assert.match(noCopy.json.script, /^redirect "alice@elsewhere.test";\nstop;$/m);
  assert.equal((await c.req('GET', '/api/vacation')).json.enabled, true);

  // Raw mode: invalid Sieve is refused by the server's validator; a valid hand edit is kept and noticed.
  const invalid = await c.req('PUT', '/api/sieve', { content: 'if header :contains "subject" { keep; }\n' });
  assert.equal(invalid.status, 400);
  assert.match(invalid.json.error, /line 1/);
  assert.equal((await c.req('PUT', '/api/sieve', { content: 42 })).status, 400);
  assert.equal((await c.req('PUT', '/api/sieve', { content: noCopy.json.script + 'keep;\n' })).status, 200);
  const edited = await c.req('GET', '/api/filters');
  assert.equal(edited.json.handEdited, true);
  assert.deepEqual(edited.json.rules, [RULE], 'the rules still read back from the comment line');
  // CSRF applies to the new endpoints too.
  assert.equal((await c.req('PUT', '/api/filters', { rules: [] }, { csrf: false })).status, 403);
});

test('the sign-in answer carries what the webmail needs for its first request (JMAP API, account, INBOX id)', async (t) => {
  const w = await startWeb(t);
  const c = new Client(w.url);
  const r = await c.signIn(ALICE, ALICE_PASS);
  assert.equal(r.status, 200);
  const session = await c.req('GET', r.json.jmap.sessionUrl);
  assert.equal(session.status, 200);
  assert.equal(session.json.apiUrl, w.url + r.json.jmap.apiUrl);
  assert.equal(session.json.primaryAccounts['urn:ietf:params:jmap:mail'], r.json.jmap.accountId);
  const api = await c.req('POST', r.json.jmap.apiUrl, {
    using: ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail'],
    methodCalls: [['Mailbox/get', { accountId: r.json.jmap.accountId, ids: [r.json.inboxId] }, 'm']],
  });
  assert.equal(api.json.methodResponses[0][1].list[0].role, 'inbox');
  assert.equal((await c.req('GET', '/api/session')).json.inboxId, r.json.inboxId);
});

test('admin status: deliveries per minute and the last hour of samples, administrators only', async (t) => {
  const w = await startWeb(t);
  const alice = new Client(w.url);
  await alice.signIn(ALICE, ALICE_PASS);
  assert.equal((await alice.req('GET', '/api/admin/status')).status, 403);
  const a = new Client(w.url);
  await a.signIn(ADMIN, ADMIN_PASS);
  const s = await a.req('GET', '/api/admin/status');
  assert.equal(s.status, 200);
  assert.equal(typeof s.json.deliveriesPerMinute, 'number');
  assert.equal(s.json.history.intervalSeconds, 5);
  assert.ok(s.json.history.samples.length >= 1, 'sampled when the listener started');
  const x = s.json.history.samples[0];
  assert.deepEqual(Object.keys(x).sort(), ['connections', 'deliveries', 'queue', 'storage', 't']);
});

test('status history: a ring of samples; deliveries are differences of the counter; storage read at most once a minute', async (t) => {
  const w = await startWeb(t);
  const m = createMetrics();
  let now = 1_000_000;
  const h = new StatusHistory(w.store, { intervalMs: 5000, windowMs: 15_000, metrics: m, now: () => now });
  const rec = new Recorder(m);
  const closeImap = rec.connection('imap');
  await h.sample();
  rec.delivery('lmtp', true);
  rec.delivery('lmtp', true);
  rec.delivery('lmtp', false);
  await w.store.queue.enqueue(ALICE, ['x@remote.test'], Buffer.from('Subject: q\r\n\r\nx\r\n'));
  for (let i = 0; i < 3; i++) {
    now += 5000;
    await h.sample();
  }
  const s = h.samples();
  assert.equal(s.length, 3, 'the ring keeps windowMs / intervalMs samples');
  assert.deepEqual(s.map((x) => x.t), [now - 10_000, now - 5000, now], 'oldest first');
  assert.deepEqual(s.map((x) => x.deliveries), [3, 0, 0]);
  assert.deepEqual(s.map((x) => x.queue), [1, 1, 1]);
  assert.equal(s[0]!.connections.imap, 1);
  assert.equal(h.deliveriesPerMinute(), 3);
  closeImap();
  closeImap();
  now += 5000;
  await h.sample();
  assert.equal(h.samples().at(-1)!.connections.imap, 0, 'a closed connection is counted down once');
});

test('metrics recorder: commands by protocol, command and result; ManageSieve reply status; store latency', async () => {
  const m = createMetrics();
  const rec = new Recorder(m);
  for (let i = 0; i < 3; i++) rec.command('imap', 'FETCH', 'OK');
  rec.command('imap', 'FETCH', 'NO');
  rec.command('pop3', 'RETR', 'ok');
  rec.storeLatency('sqlite', 2);
  const text = await m.registry.metrics();
  assert.match(text, /^mailroom_commands_total\{protocol="imap",command="FETCH",result="OK"\} 3$/m);
  assert.match(text, /^mailroom_commands_total\{protocol="imap",command="FETCH",result="NO"\} 1$/m);
  assert.match(text, /^mailroom_commands_total\{protocol="pop3",command="RETR",result="ok"\} 1$/m);
  assert.match(text, /^mailroom_store_latency_seconds_bucket\{le="0.005",op="sqlite"\} 1$/m);
  assert.equal(lastLineStatus(Buffer.from('"a"\r\nOK "done"\r\n')), 'ok');
  assert.equal(lastLineStatus(Buffer.from('NO (NONEXISTENT) "x"\r\n')), 'no');
  assert.equal(lastLineStatus(Buffer.from('BYE "later"\r\n')), 'bye');
  assert.equal(lastLineStatus(Buffer.from('')), 'other');
});

test('server totals come from the aggregate of every worker when there is one', async (t) => {
  t.after(() => setMetricsSource(null));
  setMetricsSource(async () =>
    [
      '# TYPE mailroom_open_connections gauge',
      'mailroom_open_connections{protocol="imap"} 3',
      'mailroom_open_connections{protocol="pop3"} 1',
      'mailroom_deliveries_total{via="lmtp",result="delivered"} 7',
      'mailroom_deliveries_total{via="lmtp",result="failed"} 2',
      'mailroom_connections_total{protocol="imap"} 40',
    ].join('\n'),
  );
  assert.deepEqual(await serverTotals(), { connections: { imap: 3, pop3: 1 }, deliveries: 9 });
  setMetricsSource(null);
  const own = await serverTotals();
  assert.equal(typeof own.deliveries, 'number');
});

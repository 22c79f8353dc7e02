/**
 * Hostile JMAP requests that are well-formed: result references that make the response grow exponentially
 * (each call referencing the previous response twice), EventSource query parameters given twice, and an API
 * request that announces more than maxSizeRequest octets, and Email/get of 100 000 header properties or of
 * one 300 KB Subject in 256 spellings, /query sorts of null comparators or 100 000 of them, and arguments
 * of the wrong type where methods read them without a check (each was a serverFail).
 * Each gets a method or request error; the server keeps serving.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startJmap, type JmapFixture } from './jmap-helpers.js';
import { jsonSizeWithin } from '../src/jmap/api.js';

let f: JmapFixture;
before(async () => {
  f = await startJmap();
});
after(async () => {
  await f.stop();
});

test('32 Core/echo calls, each referencing the previous response twice, stop at the reference budget', async () => {
  const calls: unknown[] = [['Core/echo', { x: 'a'.repeat(20) }, 'c0']];
  for (let i = 1; i < 32; i++) {
    const ref = { resultOf: `c${i - 1}`, name: 'Core/echo', path: '' };
    calls.push(['Core/echo', { '#a': ref, '#b': ref }, `c${i}`]);
  }
  // Unbounded, the last response alone would be 2^31 copies of the first (some 60 GB of JSON).
  const r = await f.api(calls);
  assert.equal(r.status, 200);
  const responses = r.body['methodResponses'] as Array<[string, { type?: string }, string]>;
  assert.equal(responses.length, 32);
  assert.equal(responses[1]![0], 'Core/echo');
  // The first call past the budget is requestTooLarge; the calls after it reference an error response.
  const refused = responses.findIndex((x) => x[0] === 'error');
  assert.ok(refused > 10, String(refused));
  assert.equal(responses[refused]![1].type, 'requestTooLarge');
  assert.ok(responses.slice(refused + 1).every((x) => x[1].type === 'invalidResultReference'));
  const ok = await f.call('Mailbox/get', { accountId: f.accountId });
  assert.ok((ok['list'] as unknown[]).length > 0);
});

test('ordinary references (query ids into /get) still resolve', async () => {
  const r = await f.api([
    ['Mailbox/query', { accountId: f.accountId }, 'q'],
    ['Mailbox/get', { accountId: f.accountId, '#ids': { resultOf: 'q', name: 'Mailbox/query', path: '/ids' } }, 'g'],
  ]);
  const responses = r.body['methodResponses'] as Array<[string, { list?: unknown[] }, string]>;
  assert.equal(responses[1]![0], 'Mailbox/get');
  assert.ok(responses[1]![1].list!.length > 0);
});

test('jsonSizeWithin counts a shared value once per use and stops at the bound', () => {
  let v: unknown = 'x';
  for (let i = 0; i < 60; i++) v = [v, v]; // 2^60 leaves, built in 60 steps
  assert.equal(jsonSizeWithin(v, 1000), Infinity);
  const small = { a: ['b', 1, null], c: { d: 'e' } };
  const n = jsonSizeWithin(small, 1000);
  assert.ok(n >= JSON.stringify(small).length && n < 100, String(n));
});

test('EventSource: types, closeafter or ping given twice is 400, not a server error', async () => {
  for (const q of ['types=Email&types=Mailbox', 'closeafter=state&closeafter=no', 'ping=10&ping=20']) {
    const r = await fetch(`${f.base}/jmap/eventsource?${q}`, { headers: f.auth });
    assert.equal(r.status, 400, q);
    await r.body?.cancel();
  }
  const r = await fetch(`${f.base}/jmap/eventsource?types=Email&closeafter=state`, { headers: f.auth });
  assert.equal(r.status, 200);
  await r.body?.cancel();
});

test('an API request announcing 20 MB is refused with the maxSizeRequest limit before its body is sent', async () => {
  const socket = connect({ host: '127.0.0.1', port: f.m.ports.http! });
  let text = '';
  const answered = new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.includes('maxSizeRequest')) resolve();
    });
  });
  socket.write(`POST /jmap/api HTTP/1.1\r\nHost: x\r\nAuthorization: ${f.auth['Authorization']}\r\nContent-Type: application/json\r\nContent-Length: 20000000\r\n\r\n{"using":`);
  await answered; // the other 19 999 991 octets never come
  socket.destroy();
  assert.match(text, /^HTTP\/1\.1 400 /);
  assert.match(text, /urn:ietf:params:jmap:error:limit/);
  const ok = await f.call('Core/echo', { pad: 'x'.repeat(1000) });
  assert.equal((ok['pad'] as string).length, 1000);
});

test('Email/get: 100 000 header properties are invalidArguments; 256 spellings of a 300 KB Subject are requestTooLarge', async () => {
  const raw = `From: bob@example.net\r\nSubject: ${'s'.repeat(300_000)}\r\n\r\nbody\r\n`;
  const up = (await (await fetch(`${f.base}/jmap/upload/${f.accountId}/`, { method: 'POST', headers: { ...f.auth, 'Content-Type': 'message/rfc822' }, body: raw })).json()) as { blobId: string };
  const boxes = (await f.call('Mailbox/get', { accountId: f.accountId }))['list'] as Array<{ id: string; role: string | null }>;
  const inbox = boxes.find((b) => b.role === 'inbox')!.id;
  const imported = await f.call('Email/import', { accountId: f.accountId, emails: { e: { blobId: up.blobId, mailboxIds: { [inbox]: true } } } });
  const id = (imported['created'] as Record<string, { id: string }>)['e']!.id;
  const errorType = async (args: Record<string, unknown>): Promise<string | undefined> => {
    const r = await f.api([['Email/get', { accountId: f.accountId, ids: [id], ...args }, '0']]);
    const [name, body] = (r.body['methodResponses'] as Array<[string, { type?: string }]>)[0]!;
    return name === 'error' ? body.type : undefined;
  };
  assert.equal(await errorType({ properties: Array.from({ length: 100_000 }, (_, i) => `header:X-H${i}:asText:all`) }), 'invalidArguments');
  assert.equal(await errorType({ properties: ['bodyStructure'], bodyProperties: Array.from({ length: 100_000 }, (_, i) => `header:X-H${i}`) }), 'invalidArguments');
  // 256 distinct spellings (case variants) of one property, each 300 KB: some 77 MB of JSON.
  const spellings = Array.from({ length: 256 }, (_, i) => 'header:' + [...'subject'].map((c, k) => ((i >> k) & 1 ? c.toUpperCase() : c)).join('') + (i & 128 ? ':asRaw' : ''));
  assert.equal(new Set(spellings).size, 256);
  assert.equal(await errorType({ properties: spellings }), 'requestTooLarge');
  // Repeats count once; a few spellings are answered.
  assert.equal(await errorType({ properties: [...Array(1000).fill('subject'), 'header:Subject', 'header:SUBJECT:asRaw'] }), undefined);
});

test('Mailbox/query, Email/query and SieveScript/query: a null comparator or 100 000 comparators are invalidArguments', async () => {
  const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', 'urn:ietf:params:jmap:sieve'];
  const many = Array.from({ length: 100_000 }, (_, i) => ({ property: i % 2 ? 'subject' : 'from' }));
  for (const method of ['Mailbox/query', 'Email/query', 'SieveScript/query']) {
    for (const sort of [[null], 'name', many]) {
      const r = await f.api([[method, { accountId: f.accountId, sort }, '0']], using);
      const [name, body] = (r.body['methodResponses'] as Array<[string, { type?: string }]>)[0]!;
      assert.deepEqual([name, body.type], ['error', 'invalidArguments'], `${method} ${JSON.stringify(sort).slice(0, 40)}`);
    }
  }
  const ok = await f.call('Mailbox/query', { accountId: f.accountId, sort: [{ property: 'name' }, { property: 'sortOrder', isAscending: false }] });
  assert.ok((ok['ids'] as string[]).length > 0);
});

test('arguments of the wrong type are invalidArguments or a SetError, never serverFail', async () => {
  const using = ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:mail', 'urn:ietf:params:jmap:submission', 'urn:ietf:params:jmap:vacationresponse', 'urn:ietf:params:jmap:sieve'];
  const boxes = (await f.call('Mailbox/get', { accountId: f.accountId }))['list'] as Array<{ id: string; role: string | null }>;
  const mailboxIds = { [boxes.find((b) => b.role === 'inbox')!.id]: true };
  const calls: Array<[string, Record<string, unknown>]> = [
    ['VacationResponse/get', { ids: 'x' }],
    ['VacationResponse/get', { ids: { x: 1 } }],
    ['VacationResponse/set', { destroy: 1 }],
    ['VacationResponse/set', { destroy: { x: null } }],
    ['SieveScript/set', { create: { x: null } }],
    ['Mailbox/query', { filter: { operator: 'AND', conditions: [null] } }],
    ['EmailSubmission/set', { onSuccessDestroyEmail: [null] }],
    ['EmailSubmission/set', { onSuccessDestroyEmail: [{}] }],
    ['Email/set', { create: { x: { mailboxIds, attachments: [null] } } }],
    ['Email/set', { create: { x: { mailboxIds, bodyStructure: { type: 'multipart/mixed', subParts: [{ partId: '1', type: 'text/plain' }, null] } } } }],
    ['Email/set', { create: { x: { mailboxIds, bodyStructure: 'text/plain' } } }],
  ];
  const r = await f.api(calls.map(([m, a], i) => [m, { accountId: f.accountId, ...a }, String(i)]), using);
  const responses = r.body['methodResponses'] as Array<[string, { type?: string; notCreated?: Record<string, { type: string }> }, string]>;
  assert.equal(responses.length, calls.length);
  for (const [name, body, id] of responses) {
    const what = JSON.stringify(calls[Number(id)]);
    if (name === 'error') assert.equal(body.type, 'invalidArguments', what);
    else assert.deepEqual([body.notCreated?.['x']?.type, JSON.stringify(body.notCreated?.['x']).includes('internal')], ['invalidProperties', false], what);
  }
});

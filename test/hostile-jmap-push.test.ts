/**
 * Push connections per user are capped (MAX_PUSH_CONNECTIONS_PER_USER, EventSource streams and WebSockets
 * together): past the cap the request gets HTTP 429 with a JMAP "limit" problem before any stream or upgrade,
 * other users are not affected, and a connection that ends (closed by the client, cut, or closeafter=state)
 * gives its place back.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startJmap, type JmapFixture } from './jmap-helpers.js';
import { MAX_PUSH_CONNECTIONS_PER_USER } from '../src/jmap/server.js';

let f: JmapFixture;
let otherAuth: string;

before(async () => {
  f = await startJmap();
  const bob = await f.m.addUser('bob@example.org', 'bob-secret-1');
  otherAuth = `Bearer ${(await f.m.store.tokens.create(bob.id, { name: 't', kind: 'app' })).secret}`;
});
after(async () => {
  await f.stop();
});

/** A raw HTTP/1.1 GET held open; resolves with the status line and what followed it once the head is in. */
async function rawGet(path: string, headers: Record<string, string>): Promise<{ status: number; head: string; body: () => string; socket: Socket }> {
  const socket = connect(f.m.ports.http!, '127.0.0.1');
  socket.on('error', () => undefined);
  let buf = '';
  socket.on('data', (d: Buffer) => (buf += d.toString('latin1')));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  for (let i = 0; i < 500 && !buf.includes('\r\n\r\n'); i++) {
    if (socket.destroyed) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buf)?.[1] ?? 0);
  const end = buf.indexOf('\r\n\r\n');
  return { status, head: buf.slice(0, end), body: () => buf.slice(end + 4), socket };
}

const ES = '/jmap/eventsource?types=*&closeafter=no&ping=0';
const wsHeaders = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Protocol': 'jmap' };

/** Waits until a new EventSource of the user is admitted (the server saw the closes); returns it. */
async function admittedAgain(): Promise<Awaited<ReturnType<typeof rawGet>>> {
  for (let i = 0; i < 200; i++) {
    const r = await rawGet(ES, f.auth);
    if (r.status === 200) return r;
    r.socket.destroy();
    await sleep(25);
  }
  throw new Error('never admitted again');
}

test('EventSource streams past the per-user cap get 429 with a limit problem; WebSocket upgrades too; another user is not affected', async () => {
  const open: Socket[] = [];
  try {
    for (let i = 0; i < MAX_PUSH_CONNECTIONS_PER_USER; i++) {
      const r = await rawGet(ES, f.auth);
      assert.equal(r.status, 200, `stream ${i + 1}`);
      open.push(r.socket);
    }
    const over = await rawGet(ES, f.auth);
    assert.equal(over.status, 429);
    assert.match(over.head, /content-type: application\/problem\+json/i);
    await sleep(50);
    const problem = JSON.parse(over.body().replace(/^[0-9a-f]+\r\n/, '').replace(/\r\n0\r\n\r\n$/, '')) as Record<string, unknown>;
    assert.equal(problem['type'], 'urn:ietf:params:jmap:error:limit');
    assert.equal(problem['status'], 429);
    over.socket.destroy();
    const ws = await rawGet('/jmap/ws', { ...f.auth, ...wsHeaders });
    assert.equal(ws.status, 429, 'the WebSocket upgrade is refused before it happens');
    ws.socket.destroy();
    const bob = await rawGet(ES, { Authorization: otherAuth });
    assert.equal(bob.status, 200, "another user's stream is admitted");
    bob.socket.destroy();
    // API requests are not push connections.
    const api = await fetch(`${f.base}/jmap/session`, { headers: f.auth });
    assert.equal(api.status, 200);
    await api.arrayBuffer();
  } finally {
    for (const s of open) s.destroy();
  }
  (await admittedAgain()).socket.destroy();
});

test('WebSockets count toward the same cap, and a closed one gives its place back', async () => {
  const open: Socket[] = [];
  try {
    for (let i = 0; i < MAX_PUSH_CONNECTIONS_PER_USER; i++) {
      const r = await rawGet('/jmap/ws', { ...f.auth, ...wsHeaders });
      assert.equal(r.status, 101, `websocket ${i + 1}`);
      open.push(r.socket);
    }
    assert.equal((await rawGet(ES, f.auth)).status, 429);
    assert.equal((await rawGet('/jmap/ws', { ...f.auth, ...wsHeaders })).status, 429);
    open.pop()!.destroy();
    const back = await admittedAgain();
    back.socket.destroy();
  } finally {
    for (const s of open) s.destroy();
  }
  (await admittedAgain()).socket.destroy();
});

test('streams that end by closeafter=state or by the client going away, many times over, do not use up the cap', async () => {
  for (let i = 0; i < MAX_PUSH_CONNECTIONS_PER_USER * 3; i++) {
    const r = await admittedAgain();
    r.socket.destroy();
  }
  for (let i = 0; i < MAX_PUSH_CONNECTIONS_PER_USER * 2; i++) {
    const r = await rawGet('/jmap/eventsource?types=*&closeafter=state&ping=0', f.auth);
    assert.equal(r.status, 200);
    // A change ends the stream at once (closeafter=state): the server closes its side.
    await f.call('Mailbox/set', { accountId: f.accountId, create: { [`m${i}`]: { name: `Push ${i}` } } });
    for (let j = 0; j < 500 && !/StateChange/.test(r.body()); j++) await sleep(10);
    assert.match(r.body(), /StateChange/);
  }
  const held: Socket[] = [];
  try {
    for (let i = 0; i < MAX_PUSH_CONNECTIONS_PER_USER; i++) held.push((await admittedAgain()).socket);
  } finally {
    for (const s of held) s.destroy();
  }
});

test('PushSubscriptions per user are capped: past MAX_PUSH_SUBSCRIPTIONS_PER_USER a create is overQuota and sends no verification', async () => {
  const { MAX_PUSH_SUBSCRIPTIONS_PER_USER } = await import('../src/jmap/push.js');
  // Each create POSTs a PushVerification to its URL: unbounded, one API request made a thousand POSTs.
  const hits: string[] = [];
  const { createServer } = await import('node:http');
  const sink = createServer((req, res) => {
    hits.push(req.url ?? '');
    req.resume();
    res.end();
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(sink.address() as { port: number }).port}/push`;
  try {
    const create = (n: number, from: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${from + i}`, { deviceClientId: `d${from + i}`, url }]));
    const first = await f.call('PushSubscription/set', { create: create(MAX_PUSH_SUBSCRIPTIONS_PER_USER, 0) });
    assert.equal(Object.keys(first['created'] as object).length, MAX_PUSH_SUBSCRIPTIONS_PER_USER);
    const more = await f.call('PushSubscription/set', { create: create(500, 1000) });
    assert.deepEqual(more['created'], {});
    const refused = Object.values(more['notCreated'] as Record<string, { type: string }>);
    assert.equal(refused.length, 500);
    assert.ok(refused.every((e) => e.type === 'overQuota'));
    for (let i = 0; i < 500 && hits.length < MAX_PUSH_SUBSCRIPTIONS_PER_USER; i++) await sleep(10);
    await sleep(200);
    assert.equal(hits.length, MAX_PUSH_SUBSCRIPTIONS_PER_USER, 'one verification per subscription made, none for the refused');
    // Destroying one makes room for one.
    const list = (await f.call('PushSubscription/get', {}))['list'] as Array<{ id: string }>;
    const again = await f.call('PushSubscription/set', { destroy: [list[0]!.id], create: create(2, 5000) });
    assert.equal(Object.keys(again['created'] as object).length, 1);
    assert.equal(Object.keys(again['notCreated'] as object).length, 1);
    await f.call('PushSubscription/set', { destroy: ((await f.call('PushSubscription/get', {}))['list'] as Array<{ id: string }>).map((p) => p.id) });
  } finally {
    sink.close();
  }
});

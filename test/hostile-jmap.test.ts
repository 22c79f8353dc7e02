/**
 * Hostile input to the HTTP listener: bad and deeply nested JSON, too many calls, broken result references,
 * unauthenticated uploads, path traversal, and WebSocket frames that arrive early or malformed. Every answer
 * is an HTTP 4xx, a JMAP request or method error, or a WebSocket close code, and the server keeps serving.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { startJmap, USING, type JmapFixture } from './jmap-helpers.js';

let f: JmapFixture;
before(async () => {
  f = await startJmap();
});
after(async () => {
  await f.stop();
});

async function post(body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${f.base}/jmap/api`, { method: 'POST', headers: { ...f.auth, 'Content-Type': 'application/json' }, body });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}

async function stillServes(): Promise<void> {
  const r = await f.call('Mailbox/get', { accountId: f.accountId });
  assert.ok((r['list'] as Array<{ name: string }>).some((m) => m.name === 'INBOX'));
}

test('bad JSON, a non-object and deep nesting are request errors (400), not 500', async () => {
  assert.equal((await post('{"using": [,,,')).json['type'], 'urn:ietf:params:jmap:error:notJSON');
  assert.equal((await post('[1,2,3]')).json['type'], 'urn:ietf:params:jmap:error:notRequest');
  const deepArgs = `{"using":${JSON.stringify(USING)},"methodCalls":[["Core/echo",${'{"a":'.repeat(100000)}1${'}'.repeat(100000)},"0"]]}`;
  const r = await post(deepArgs);
  assert.equal(r.status, 400);
  assert.equal(r.json['type'], 'urn:ietf:params:jmap:error:notRequest');
  const deepArray = await post(`{"using":${JSON.stringify(USING)},"methodCalls":[["Core/echo",{"a":${'['.repeat(200000)}${']'.repeat(200000)}},"0"]]}`);
  assert.equal(deepArray.status, 400);
  // Nesting within the bound still works.
  const ok = await post(`{"using":${JSON.stringify(USING)},"methodCalls":[["Core/echo",${'{"a":'.repeat(100)}1${'}'.repeat(100)},"0"]]}`);
  assert.equal(ok.status, 200);
  await stillServes();
});

test('10 000 method calls are the maxCallsInRequest limit; broken result references are method errors', async () => {
  const many = await post(JSON.stringify({ using: USING, methodCalls: Array.from({ length: 10000 }, (_, i) => ['Core/echo', {}, `c${i}`]) }));
  assert.equal(many.status, 400);
  assert.equal(many.json['limit'], 'maxCallsInRequest');
  const self = await f.api([['Email/get', { accountId: f.accountId, '#ids': { resultOf: '0', name: 'Email/get', path: '/ids' } }, '0']]);
  assert.equal((self.body['methodResponses'] as unknown[][])[0]![0], 'error');
  const longPath = await f.api([
    ['Mailbox/get', { accountId: f.accountId }, '0'],
    ['Email/get', { accountId: f.accountId, '#ids': { resultOf: '0', name: 'Mailbox/get', path: '/list'.repeat(200000) } }, '1'],
  ]);
  assert.equal(longPath.status, 200);
  assert.deepEqual((longPath.body['methodResponses'] as Array<[string, { type?: string }]>)[1]![1].type, 'invalidResultReference');
  await stillServes();
});

test('a filter of 50 000 conditions and a snippet request for 5 000 ids are refused, not run', async () => {
  const conditions = Array.from({ length: 50000 }, () => ({ text: 'a' }));
  const q = await f.api([['Email/query', { accountId: f.accountId, filter: { operator: 'OR', conditions } }, '0']]);
  assert.deepEqual((q.body['methodResponses'] as Array<[string, { type?: string }]>)[0]![1].type, 'invalidArguments');
  const nested = await f.api([['Email/query', { accountId: f.accountId, filter: { operator: 'AND', conditions: [{ operator: 'OR', conditions: conditions.slice(0, 600) }, { operator: 'OR', conditions: conditions.slice(0, 600) }] } }, '0']]);
  assert.deepEqual((nested.body['methodResponses'] as Array<[string, { type?: string }]>)[0]![1].type, 'invalidArguments', 'the bound counts every level');
  const texts = await f.api([['Email/query', { accountId: f.accountId, filter: { operator: 'NOT', conditions: conditions.slice(0, 500) } }, '0']]);
  assert.deepEqual((texts.body['methodResponses'] as Array<[string, { type?: string }]>)[0]![1].type, 'invalidArguments', 'at most 100 text conditions');
  const within = await f.api([['Email/query', { accountId: f.accountId, filter: { operator: 'OR', conditions: conditions.slice(0, 100) } }, '0']]);
  assert.equal((within.body['methodResponses'] as Array<[string]>)[0]![0], 'Email/query');
  const snippets = await f.api([['SearchSnippet/get', { accountId: f.accountId, emailIds: Array.from({ length: 5000 }, (_, i) => `x${i}`), filter: { text: 'a' } }, '0']]);
  assert.deepEqual((snippets.body['methodResponses'] as Array<[string, { type?: string }]>)[0]![1].type, 'requestTooLarge');
  await stillServes();
});

/** Sends raw bytes on a new connection and resolves with what comes back until `done` matches. */
async function raw(bytes: Buffer | string, done: RegExp): Promise<{ text: string; socket: Socket }> {
  const socket = connect({ host: '127.0.0.1', port: f.m.ports.http! });
  let text = '';
  return new Promise((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (done.test(text)) resolve({ text, socket });
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ text, socket }));
    socket.write(bytes);
  });
}

test('an upload without credentials is refused before its body is read', async () => {
  // The 40 MB body is never sent: the 401 must come without it.
  const { text, socket } = await raw(`POST /jmap/upload/${f.accountId}/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 40000000\r\n\r\n`, /\r\n\r\n[\s\S]*\}/);
  socket.destroy();
  assert.match(text, /^HTTP\/1\.1 401 /);
  const api = await raw(`POST /jmap/api HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 9000000\r\n\r\n`, /\r\n\r\n[\s\S]*\}/);
  api.socket.destroy();
  assert.match(api.text, /^HTTP\/1\.1 401 /);
  await stillServes();
});

test('uploads past maxConcurrentUpload are refused before their bodies are read', async () => {
  const head = (n: number): string =>
    `POST /jmap/upload/${f.accountId}/ HTTP/1.1\r\nHost: x\r\nAuthorization: ${f.auth['Authorization']}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${n}\r\n\r\n`;
  // Four uploads that never send their bodies hold the four slots.
  const held: Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = connect({ host: '127.0.0.1', port: f.m.ports.http! });
    await new Promise<void>((r) => s.once('connect', () => r()));
    s.on('error', () => undefined);
    s.write(head(1000));
    held.push(s);
  }
  // Each held upload has reached the server once a later request on the same listener has been answered.
  await stillServes();
  const fifth = await raw(head(40_000_000), /\r\n\r\n[\s\S]*\}/);
  fifth.socket.destroy();
  assert.match(fifth.text, /^HTTP\/1\.1 429 /);
  assert.match(fifth.text, /maxConcurrentUpload/);
  // The first held upload completes: its slot is free again.
  held[0]!.write('x'.repeat(1000));
  for (const s of held.slice(1)) s.destroy();
  let status = 0;
  for (let i = 0; i < 100 && status !== 201; i++) {
    const r = await fetch(`${f.base}/jmap/upload/${f.accountId}/`, { method: 'POST', headers: { ...f.auth, 'Content-Type': 'text/plain' }, body: 'hello' });
    status = r.status;
    await r.text();
    if (status !== 201) await new Promise((res) => setTimeout(res, 20));
  }
  held[0]!.destroy();
  assert.equal(status, 201, 'slots are released when uploads end');
});

test('path traversal in download and static paths finds nothing', async () => {
  for (const path of [`/jmap/download/${f.accountId}/..%2F..%2F..%2Fetc%2Fpasswd/x`, '/jmap/download/../../etc/passwd', '/web/..%2f..%2f..%2fpackage.json', '/web/%2e%2e/%2e%2e/package.json', '/web/index.html%00.js']) {
    const r = await fetch(f.base + path, { headers: f.auth });
    assert.equal(r.status, 404, path);
    assert.doesNotMatch(await r.text(), /root:|"dependencies"/, path);
  }
});

function frame(payload: string): Buffer {
  const p = Buffer.from(payload);
  const key = randomBytes(4);
  const masked = Buffer.from(p.map((b, i) => b ^ key[i % 4]!));
  const len = p.length;
  const head = len < 126 ? Buffer.from([0x81, 0x80 | len]) : Buffer.from([0x81, 0x80 | 126, len >> 8, len & 255]);
  return Buffer.concat([head, key, masked]);
}

function upgrade(): string {
  const headers = [`Host: x`, 'Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Protocol: jmap'];
  for (const [k, v] of Object.entries(f.auth)) headers.push(`${k}: ${v}`);
  return `GET /jmap/ws HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n`;
}

test('WebSocket: requests sent right behind the upgrade are all answered, in order', async () => {
  const req = (id: string): Buffer => frame(JSON.stringify({ '@type': 'Request', id, using: USING, methodCalls: [['Core/echo', { id }, '0']] }));
  const { text, socket } = await raw(Buffer.concat([Buffer.from(upgrade()), req('r1'), req('r2')]), /"requestId":"r2"/);
  socket.destroy();
  assert.match(text, /^HTTP\/1\.1 101 /);
  assert.match(text, /"requestId":"r1"[\s\S]*"requestId":"r2"/);
});

test('WebSocket: malformed frames get a close frame; bad JSON and deep nesting get RequestError', async () => {
  const garbage = await raw(Buffer.concat([Buffer.from(upgrade()), Buffer.from('garbage garbage\r\n\r\n')]), /\x88/);
  garbage.socket.destroy();
  assert.match(garbage.text, /\x88/, 'a close frame');
  const deep = `{"@type":"Request","using":[],"methodCalls":[["Core/echo",${'{"a":'.repeat(10000)}1${'}'.repeat(10000)},"0"]]}`;
  const r = await raw(Buffer.concat([Buffer.from(upgrade()), frame('{{{'), frame(deep)]), /RequestError[\s\S]*RequestError/);
  r.socket.destroy();
  assert.match(r.text, /notJSON[\s\S]*notRequest/);
  await stillServes();
});

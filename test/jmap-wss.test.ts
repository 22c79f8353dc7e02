/**
 * JMAP over WebSocket (RFC 8887) on the HTTPS listener: with plain HTTP off, the session advertises a
 * wss:// URL on the HTTPS port, and a TLS WebSocket with subprotocol "jmap" answers requests and pushes
 * StateChanges; an upgrade without credentials is closed with 1008.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { createMailroom } from '../src/server/mailroom.js';
import { USING } from './jmap-helpers.js';

type R = Record<string, unknown>;
interface Ws {
  on(e: string, fn: (...a: unknown[]) => void): void;
  send(s: string): void;
  close(): void;
}
type WsCtor = new (url: string, proto: string, o: { headers?: Record<string, string>; rejectUnauthorized: boolean }) => Ws;

function getJson(port: number, path: string, headers: Record<string, string>): Promise<R> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as R));
    });
    req.on('error', reject);
    req.end();
  });
}

test('JMAP over WebSocket on the HTTPS port: wss URL in the session, requests and push over TLS', async (t) => {
  const m = createMailroom({ ports: { http: 'off', https: 0 }, hostname: 'mail.test' });
  await m.start();
  t.after(() => m.stop());
  const user = await m.addUser('alice@example.org', 'pw');
  const tok = await m.store.tokens.create(user.id, { name: 't', kind: 'app' });
  const auth = { Authorization: `Bearer ${tok.secret}` };
  const session = await getJson(m.ports.https!, '/jmap/session', auth);
  const wsCap = (session['capabilities'] as R)['urn:ietf:params:jmap:websocket'] as R;
  assert.equal(wsCap['url'], `wss://127.0.0.1:${m.ports.https}/jmap/ws`);
  const specifier: string = 'ws';
  const { WebSocket } = (await import(specifier)) as { WebSocket: WsCtor };

  const ws = new WebSocket(wsCap['url'] as string, 'jmap', { headers: auth, rejectUnauthorized: false });
  const inbox: R[] = [];
  ws.on('message', (d) => inbox.push(JSON.parse(String(d)) as R));
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('close', (code) => reject(new Error(`closed ${String(code)}`)));
  });
  t.after(() => ws.close());
  const next = async (): Promise<R> => {
    for (let i = 0; i < 200 && inbox.length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    const msg = inbox.shift();
    assert.ok(msg, 'a message over wss');
    return msg;
  };
  ws.send(JSON.stringify({ '@type': 'Request', id: 'r1', using: USING, methodCalls: [['Core/echo', { hello: 'tls' }, '0']] }));
  const res = await next();
  assert.equal(res['@type'], 'Response');
  assert.equal(res['requestId'], 'r1');
  assert.deepEqual((res['methodResponses'] as unknown[][])[0], ['Core/echo', { hello: 'tls' }, '0']);
  ws.send(JSON.stringify({ '@type': 'WebSocketPushEnable', dataTypes: ['Mailbox'] }));
  ws.send(JSON.stringify({ '@type': 'Request', id: 'r2', using: USING, methodCalls: [['Mailbox/set', { accountId: `a${user.id}`, create: { n: { name: 'Over TLS' } } }, '0']] }));
  const seen = [await next(), await next()];
  assert.ok(seen.some((x) => x['@type'] === 'StateChange'), JSON.stringify(seen));
  assert.ok(seen.some((x) => x['@type'] === 'Response' && x['requestId'] === 'r2'));

  const code = await new Promise<number>((resolve) => {
    const anon = new WebSocket(wsCap['url'] as string, 'jmap', { rejectUnauthorized: false });
    anon.on('error', () => undefined);
    anon.on('close', (c) => resolve(c as number));
  });
  assert.equal(code, 1008);
});

/**
 * maxConcurrentRequests (RFC 8620 section 2) holds per user across transports: requests in flight over
 * several WebSocket connections and over HTTP count together, the one past the limit gets the "limit"
 * request error at once, and the slots are given back when the requests end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJmap, USING } from './jmap-helpers.js';

type R = Record<string, unknown>;
interface Ws {
  on(e: string, fn: (d: Buffer) => void): void;
  once(e: string, fn: () => void): void;
  send(s: string): void;
  close(): void;
}

test('maxConcurrentRequests counts requests over every WebSocket and HTTP together', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const session = (await (await fetch(`${f.base}/jmap/session`, { headers: f.auth })).json()) as R;
  const caps = session['capabilities'] as R;
  const max = (caps['urn:ietf:params:jmap:core'] as R)['maxConcurrentRequests'] as number;
  const wsUrl = (caps['urn:ietf:params:jmap:websocket'] as R)['url'] as string;
  const specifier: string = 'ws';
  const { WebSocket } = (await import(specifier)) as { WebSocket: new (url: string, proto: string, o: { headers: Record<string, string> }) => Ws };

  // Every request reads the user's shared mailboxes first: hold that read until the gate opens.
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let held = 0;
  const acl = f.m.store.acl;
  const sharedWith = acl.sharedWith.bind(acl);
  acl.sharedWith = async (...args: Parameters<typeof sharedWith>) => {
    held++;
    await gate;
    return sharedWith(...args);
  };

  const sockets: Array<{ ws: Ws; got: R[] }> = [];
  for (let i = 0; i <= max; i++) {
    const ws = new WebSocket(wsUrl, 'jmap', { headers: f.auth });
    t.after(() => ws.close());
    const got: R[] = [];
    ws.on('message', (d) => got.push(JSON.parse(d.toString()) as R));
    await new Promise<void>((r) => ws.once('open', r));
    sockets.push({ ws, got });
  }
  const until = async (cond: () => boolean, what: string): Promise<void> => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
    assert.ok(cond(), what);
  };
  const request = (id: string) => JSON.stringify({ '@type': 'Request', id, using: USING, methodCalls: [['Core/echo', { n: id }, '0']] });

  // One request on each of `max` sockets: all in flight, none answered.
  for (let i = 0; i < max; i++) sockets[i]!.ws.send(request(`r${i}`));
  await until(() => held === max, `${max} requests in flight`);
  // The next one, on another socket, is refused at once; so is one over HTTP.
  sockets[max]!.ws.send(request('over'));
  await until(() => sockets[max]!.got.length === 1, 'the request past the limit is answered');
  const refused = sockets[max]!.got[0]!;
  assert.equal(refused['@type'], 'RequestError');
  assert.equal(refused['requestId'], 'over');
  assert.equal(refused['type'], 'urn:ietf:params:jmap:error:limit');
  assert.equal(refused['limit'], 'maxConcurrentRequests');
  const http = await fetch(`${f.base}/jmap/api`, { method: 'POST', headers: { ...f.auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ using: USING, methodCalls: [['Core/echo', {}, '0']] }) });
  assert.equal(http.status, 400);
  assert.equal(((await http.json()) as R)['limit'], 'maxConcurrentRequests');
  assert.ok(sockets.slice(0, max).every((s) => s.got.length === 0), 'the held requests are still running');

  // The held requests finish; their slots are free again.
  open();
  await until(() => sockets.slice(0, max).every((s) => s.got.length === 1), 'the held requests are answered');
  for (let i = 0; i < max; i++) assert.equal(sockets[i]!.got[0]!['@type'], 'Response');
  sockets[max]!.ws.send(request('after'));
  await until(() => sockets[max]!.got.length === 2, 'a request after the others ended is answered');
  assert.equal(sockets[max]!.got[1]!['@type'], 'Response');
  assert.equal(sockets[max]!.got[1]!['requestId'], 'after');
});

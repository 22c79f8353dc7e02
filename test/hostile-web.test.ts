/**
 * Web sign-ins and app tokens per user are bounded: each sign-in made a session token row that was never
 * removed (expired or not), and POST /api/tokens made app tokens without limit. A sign-in now removes the
 * user's expired sessions and the oldest past MAX_SESSIONS_PER_USER; app tokens past MAX_APP_TOKENS_PER_USER
 * are refused with 409 and a clear error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startWeb, Client, ALICE, ALICE_PASS } from './web-helpers.js';
import { MAX_APP_TOKENS_PER_USER, MAX_SESSIONS_PER_USER } from '../src/web/session.js';

test('sign-ins keep at most MAX_SESSIONS_PER_USER sessions; the oldest ends, the newest work', async (t) => {
  const w = await startWeb(t);
  const alice = (await w.store.directory.getUser(ALICE))!;
  const clients: Client[] = [];
  for (let i = 0; i < MAX_SESSIONS_PER_USER + 5; i++) {
    const c = new Client(w.url);
    assert.equal((await c.signIn(ALICE, ALICE_PASS)).status, 200);
    clients.push(c);
  }
  const sessions = (await w.store.tokens.list(alice.id)).filter((x) => x.kind === 'session');
  assert.equal(sessions.length, MAX_SESSIONS_PER_USER);
  assert.equal((await clients[0]!.req('GET', '/api/session')).status, 401, 'the oldest session was ended');
  assert.equal((await clients.at(-1)!.req('GET', '/api/session')).status, 200);
  // An expired session is removed at the next sign-in.
  await w.store.tokens.create(alice.id, { name: 'old', kind: 'session', expiresAt: new Date(Date.now() - 1000) });
  assert.equal((await new Client(w.url).signIn(ALICE, ALICE_PASS)).status, 200);
  const after = (await w.store.tokens.list(alice.id)).filter((x) => x.kind === 'session');
  assert.equal(after.length, MAX_SESSIONS_PER_USER);
  assert.ok(after.every((x) => x.expiresAt === null || x.expiresAt.getTime() > Date.now()));
});

test('app tokens past MAX_APP_TOKENS_PER_USER are refused with 409; revoking one makes room', async (t) => {
  const w = await startWeb(t);
  const c = new Client(w.url);
  assert.equal((await c.signIn(ALICE, ALICE_PASS)).status, 200);
  let last = '';
  for (let i = 0; i < MAX_APP_TOKENS_PER_USER; i++) {
    const r = await c.req('POST', '/api/tokens', { name: `t${i}` });
    assert.equal(r.status, 200);
    last = r.json.id;
  }
  const over = await c.req('POST', '/api/tokens', { name: 'one more' });
  assert.equal(over.status, 409);
  assert.match(over.json.error, new RegExp(`at most ${MAX_APP_TOKENS_PER_USER} app tokens`));
  assert.equal((await c.req('DELETE', `/api/tokens/${last}`)).status, 200);
  assert.equal((await c.req('POST', '/api/tokens', { name: 'room again' })).status, 200);
});

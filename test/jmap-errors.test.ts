/**
 * JMAP errors over raw HTTP: the request-level problems (unknownCapability, notJSON, notRequest, limit),
 * method-level errors (unknownMethod, invalidArguments, invalidResultReference, accountNotFound,
 * stateMismatch, anchorNotFound, cannotCalculateChanges, unsupportedFilter, unsupportedSort,
 * requestTooLarge), the tooLarge SetError, result references that work, auth throttling and CORS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJmap, rfc822, inboxId, USER, USING } from './jmap-helpers.js';

type R = Record<string, unknown>;

test('request-level errors are RFC 7807 problems with the JMAP error types', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const post = async (body: string | Buffer, headers: Record<string, string> = {}) => {
    const r = await fetch(`${f.base}/jmap/api`, { method: 'POST', headers: { ...f.auth, 'Content-Type': 'application/json', ...headers }, body });
    return { status: r.status, type: r.headers.get('content-type'), body: (await r.json()) as R };
  };
  const nj = await post('{not json');
  assert.equal(nj.status, 400);
  assert.match(nj.type ?? '', /application\/problem\+json/);
  assert.equal(nj.body['type'], 'urn:ietf:params:jmap:error:notJSON');
  const nr = await post(JSON.stringify({ using: [], methodCalls: 'x' }));
  assert.equal(nr.body['type'], 'urn:ietf:params:jmap:error:notRequest');
  const nr2 = await post(JSON.stringify([1, 2]));
  assert.equal(nr2.body['type'], 'urn:ietf:params:jmap:error:notRequest');
  const uc = await post(JSON.stringify({ using: ['urn:ietf:params:jmap:core', 'urn:example:nope'], methodCalls: [] }));
  assert.equal(uc.body['type'], 'urn:ietf:params:jmap:error:unknownCapability');
  const calls = Array.from({ length: 33 }, (_, i) => ['Core/echo', {}, String(i)]);
  const lim = await post(JSON.stringify({ using: USING, methodCalls: calls }));
  assert.equal(lim.body['type'], 'urn:ietf:params:jmap:error:limit');
  assert.equal(lim.body['limit'], 'maxCallsInRequest');
  const big = await post(JSON.stringify({ using: USING, methodCalls: [['Core/echo', { pad: 'x'.repeat(10_000_001) }, '0']] }));
  assert.equal(big.body['type'], 'urn:ietf:params:jmap:error:limit');
  assert.equal(big.body['limit'], 'maxSizeRequest');
});

test('method-level errors, result references and creation ids', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const inbox = await inboxId(f);
  await f.m.store.mail.append(inbox, rfc822('x'));
  const err = async (name: string, args: R, using = USING): Promise<R> => {
    const r = await f.api([[name, args, 'e']], using);
    const [n, a] = (r.body['methodResponses'] as Array<[string, R]>)[0]!;
    assert.equal(n, 'error', `${name} ${JSON.stringify(a)}`);
    return a;
  };
  assert.equal((await err('Email/nope', { accountId: f.accountId }))['type'], 'unknownMethod');
  // a method of a capability not in "using" is unknown
  assert.equal((await err('Email/get', { accountId: f.accountId, ids: [] }, ['urn:ietf:params:jmap:core']))['type'], 'unknownMethod');
  assert.equal((await err('Email/get', { accountId: 'a999', ids: [] }))['type'], 'accountNotFound');
  assert.equal((await err('Email/get', { accountId: f.accountId, ids: 'x' }))['type'], 'invalidArguments');
  assert.equal((await err('Email/get', { accountId: f.accountId, ids: [], properties: ['nope'] }))['type'], 'invalidArguments');
  assert.equal((await err('Email/get', { accountId: f.accountId, ids: Array.from({ length: 1001 }, (_, i) => `M${i}`) }))['type'], 'requestTooLarge');
  assert.equal((await err('Email/query', { accountId: f.accountId, filter: { nope: 1 } }))['type'], 'unsupportedFilter');
  assert.equal((await err('Email/query', { accountId: f.accountId, sort: [{ property: 'nope' }] }))['type'], 'unsupportedSort');
  assert.equal((await err('Email/query', { accountId: f.accountId, anchor: 'Mmissing' }))['type'], 'anchorNotFound');
  assert.equal((await err('Email/query', { accountId: f.accountId, filter: { before: 'yesterday' } }))['type'], 'invalidArguments');
  assert.equal((await err('Email/changes', { accountId: f.accountId, sinceState: 'garbage!' }))['type'], 'cannotCalculateChanges');
  assert.equal((await err('Email/changes', { accountId: f.accountId }))['type'], 'invalidArguments');
  assert.equal((await err('Mailbox/changes', { accountId: f.accountId, sinceState: 'mUnknown' }))['type'], 'cannotCalculateChanges');
  assert.equal((await err('Email/queryChanges', { accountId: f.accountId, sinceQueryState: 'old' }))['type'], 'cannotCalculateChanges');
  assert.equal((await err('Email/set', { accountId: f.accountId, ifInState: 'stale', update: {} }))['type'], 'stateMismatch');
  assert.equal((await err('Mailbox/set', { accountId: f.accountId, ifInState: 'stale' }))['type'], 'stateMismatch');
  assert.equal((await err('Email/get', { accountId: f.accountId, '#ids': { resultOf: 'nope', name: 'Email/query', path: '/ids' } }))['type'], 'invalidResultReference');
  // references: name mismatch and a path that does not resolve
  const r = await f.api([
    ['Email/query', { accountId: f.accountId }, 'q'],
    ['Email/get', { accountId: f.accountId, '#ids': { resultOf: 'q', name: 'Email/get', path: '/ids' } }, 'g1'],
    ['Email/get', { accountId: f.accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/nothing' } }, 'g2'],
    ['Email/get', { accountId: f.accountId, '#ids': { resultOf: 'q', name: 'Email/query', path: '/ids' }, properties: ['subject'] }, 'g3'],
    ['Core/echo', { hello: true }, 'e'],
  ]);
  const rs = r.body['methodResponses'] as Array<[string, R, string]>;
  assert.equal(rs[1]![1]['type'], 'invalidResultReference');
  assert.equal(rs[2]![1]['type'], 'invalidResultReference');
  assert.equal(rs[3]![0], 'Email/get');
  assert.equal((rs[3]![1]['list'] as R[])[0]!['subject'], 'x');
  assert.deepEqual(rs[4], ['Core/echo', { hello: true }, 'e']);
  assert.equal(typeof r.body['sessionState'], 'string');
  // createdIds round trip
  const c = await fetch(`${f.base}/jmap/api`, { method: 'POST', headers: { ...f.auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ using: USING, methodCalls: [['Mailbox/set', { accountId: f.accountId, create: { n: { name: 'New' } } }, '0']], createdIds: { old: 'Fx' } }) });
  const cb = (await c.json()) as R;
  assert.equal((cb['createdIds'] as R)['old'], 'Fx');
  assert.ok((cb['createdIds'] as R)['n']);
});

test('tooLarge for attachments over maxSizeAttachmentsPerEmail; uploads over maxSizeUpload refused', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const chunk = Buffer.alloc(25_500_000, 0x61);
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) {
    const up = await fetch(`${f.base}/jmap/upload/${f.accountId}/`, { method: 'POST', headers: { ...f.auth, 'Content-Type': 'application/octet-stream' }, body: chunk });
    assert.equal(up.status, 201);
    ids.push(((await up.json()) as R)['blobId'] as string);
  }
  const drafts = ((await f.call('Mailbox/query', { accountId: f.accountId, filter: { role: 'drafts' } }))['ids'] as string[])[0]!;
  const r = await f.call('Email/set', { accountId: f.accountId, create: { d: { mailboxIds: { [drafts]: true }, subject: 'big', attachments: ids.map((blobId) => ({ blobId, type: 'application/octet-stream' })) } } });
  assert.equal(((r['notCreated'] as R)['d'] as R)['type'], 'tooLarge');
  const over = await fetch(`${f.base}/jmap/upload/${f.accountId}/`, { method: 'POST', headers: { ...f.auth, 'Content-Type': 'application/octet-stream' }, body: Buffer.alloc(50_000_001) });
  assert.equal(over.status, 413);
  const other = await fetch(`${f.base}/jmap/upload/a999/`, { method: 'POST', headers: f.auth, body: 'x' });
  assert.equal(other.status, 404);
});

test('failed Basic logins are throttled like IMAP; tokens revoked stop working; CORS only for configured origins', async (t) => {
  const f = await startJmap({ corsOrigins: ['https://webmail.example.org'] });
  t.after(() => f.stop());
  let last = 0;
  for (let i = 0; i < 12; i++) {
    const r = await fetch(`${f.base}/jmap/session`, { headers: { Authorization: 'Basic ' + Buffer.from(`${USER}:wrong`).toString('base64') } });
    last = r.status;
    await r.arrayBuffer();
  }
  assert.equal(last, 429);
  const ok = await fetch(`${f.base}/jmap/session`, { headers: f.auth });
  assert.equal(ok.status, 200);
  const list = await f.m.store.tokens.list(f.user.id);
  assert.equal(list.length, 1);
  assert.ok(list[0]!.lastUsedAt);
  assert.equal(await f.m.store.tokens.revoke(f.user.id, list[0]!.id), true);
  const gone = await fetch(`${f.base}/jmap/session`, { headers: f.auth });
  assert.equal(gone.status, 401);
  const pre = await fetch(`${f.base}/jmap/api`, { method: 'OPTIONS', headers: { Origin: 'https://webmail.example.org', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type' } });
  assert.equal(pre.headers.get('access-control-allow-origin'), 'https://webmail.example.org');
  const evil = await fetch(`${f.base}/jmap/api`, { method: 'OPTIONS', headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'POST' } });
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
});

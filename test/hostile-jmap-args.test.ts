/**
 * JMAP methods that took lists of ids without the maxObjectsInGet bound: Email/parse parsed one uploaded
 * blob once per occurrence in blobIds (a 10 MB request can name one blob 400 000 times: as many parses of
 * it), and Thread/get looked up any number of ids. Past maxObjectsInGet each is requestTooLarge; repeated
 * ids are answered once.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startJmap, rfc822, type JmapFixture } from './jmap-helpers.js';
import { LIMITS } from '../src/jmap/api.js';

let f: JmapFixture;
let blobId: string;
before(async () => {
  f = await startJmap();
  const r = await fetch(`${f.base}/jmap/upload/${f.accountId}/`, { method: 'POST', headers: { ...f.auth, 'Content-Type': 'message/rfc822' }, body: rfc822('parse me', { body: 'x'.repeat(200_000) + '\r\n' }) });
  assert.equal(r.status, 201);
  blobId = ((await r.json()) as { blobId: string }).blobId;
});
after(async () => {
  await f.stop();
});

type R = Record<string, unknown>;
async function first(name: string, args: R): Promise<[string, R]> {
  const r = await f.api([[name, args, 'c']]);
  assert.equal(r.status, 200);
  const [n, body] = (r.body['methodResponses'] as Array<[string, R, string]>)[0]!;
  return [n, body];
}

test('Email/parse: more than maxObjectsInGet blobIds is requestTooLarge; one blob named many times is parsed once', async () => {
  const [n, body] = await first('Email/parse', { accountId: f.accountId, blobIds: Array.from({ length: 5000 }, () => blobId) });
  assert.equal(n, 'error');
  assert.equal(body['type'], 'requestTooLarge');
  const [ok, parsed] = await first('Email/parse', { accountId: f.accountId, blobIds: Array.from({ length: LIMITS.maxObjectsInGet }, () => blobId), properties: ['subject'] });
  assert.equal(ok, 'Email/parse');
  assert.deepEqual(parsed['parsed'], { [blobId]: { subject: 'parse me' } });
  assert.deepEqual(parsed['notFound'], []);
});

test('Thread/get: more than maxObjectsInGet ids is requestTooLarge; within it, unknown ids are notFound', async () => {
  const [n, body] = await first('Thread/get', { accountId: f.accountId, ids: Array.from({ length: LIMITS.maxObjectsInGet + 1 }, (_, i) => `T${i}`) });
  assert.equal(n, 'error');
  assert.equal(body['type'], 'requestTooLarge');
  const [ok, got] = await first('Thread/get', { accountId: f.accountId, ids: ['Tnone', 'Tnone'] });
  assert.equal(ok, 'Thread/get');
  assert.deepEqual(got['notFound'], ['Tnone']);
});

test('Quota/get and VacationResponse/get: more than maxObjectsInGet ids is requestTooLarge', async () => {
  const many = Array.from({ length: LIMITS.maxObjectsInGet + 1 }, (_, i) => `q${i}`);
  const quota = await f.api([['Quota/get', { accountId: f.accountId, ids: many }, 'c']], ['urn:ietf:params:jmap:core', 'urn:ietf:params:jmap:quota']);
  assert.deepEqual((quota.body['methodResponses'] as Array<[string, R]>)[0]![1]['type'], 'requestTooLarge');
  const [n, body] = await first('VacationResponse/get', { accountId: f.accountId, ids: many });
  assert.equal(n, 'error');
  assert.equal(body['type'], 'requestTooLarge');
  const [ok, got] = await first('VacationResponse/get', { accountId: f.accountId, ids: ['singleton', 'x'] });
  assert.equal(ok, 'VacationResponse/get');
  assert.deepEqual(got['notFound'], ['x']);
});

test('Mailbox/set: 300 creates read the mailbox list a few times, not once per create; #references to new parents still work', async () => {
  const mail = f.m.store.mail;
  const original = mail.listMailboxes.bind(mail);
  let reads = 0;
  mail.listMailboxes = ((...a: Parameters<typeof original>) => {
    reads++;
    return original(...a);
  }) as typeof mail.listMailboxes;
  try {
    const create: Record<string, unknown> = { top: { name: 'Top' } };
    for (let i = 0; i < 300; i++) create[`c${i}`] = { name: `Child ${i}`, parentId: '#top' };
    create['grand'] = { name: 'Grand', parentId: '#c299' };
    const [n, r] = await first('Mailbox/set', { accountId: f.accountId, create });
    assert.equal(n, 'Mailbox/set');
    assert.deepEqual(r['notCreated'], {});
    assert.equal(Object.keys(r['created'] as object).length, 302);
    assert.equal(((r['created'] as Record<string, R>)['grand']!)['totalEmails'], 0);
    assert.ok(reads <= 5, `${reads} reads of the mailbox list`);
  } finally {
    mail.listMailboxes = original;
  }
  const [, got] = await first('Mailbox/get', { accountId: f.accountId, ids: null, properties: ['name', 'parentId'] });
  const list = got['list'] as Array<{ id: string; name: string; parentId: string | null }>;
  const top = list.find((x) => x.name === 'Top')!;
  const c299 = list.find((x) => x.name === 'Child 299')!;
  assert.equal(c299.parentId, top.id);
  assert.equal(list.find((x) => x.name === 'Grand')!.parentId, c299.id);
});

/**
 * JMAP state that must survive being served by another process: two mailroom instances on one SQLite data
 * directory (as `serve --workers N` runs them) share uploads, Identity settings, EmailSubmission records
 * and Mailbox states; every blobId handed out (Email/parse parts of an upload included) downloads; a
 * submission held by sendAt or the default hold is pending and can be canceled, and then never delivered;
 * a verified push subscription resumes after a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startJmap, USER, type JmapFixture } from './jmap-helpers.js';

type Obj = Record<string, unknown>;

async function upload(f: JmapFixture, body: Buffer | string, type: string): Promise<Obj> {
  const r = await fetch(`${f.base}/jmap/upload/${f.accountId}/`, { method: 'POST', headers: { ...f.auth, 'Content-Type': type }, body });
  assert.equal(r.status, 201);
  return (await r.json()) as Obj;
}

async function download(f: JmapFixture, blobId: string): Promise<{ status: number; body: Buffer; type: string | null }> {
  const r = await fetch(`${f.base}/jmap/download/${f.accountId}/${blobId}/x.bin`, { headers: f.auth });
  return { status: r.status, body: Buffer.from(await r.arrayBuffer()), type: r.headers.get('content-type') };
}

const MULTIPART = [
  'From: Bob <bob@example.net>',
  `To: ${USER}`,
  'Subject: with attachment',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="b1"',
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  '',
  'See attached.',
  '--b1',
  'Content-Type: application/octet-stream; name="data.bin"',
  'Content-Disposition: attachment; filename="data.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  Buffer.from('attachment bytes \u00ff').toString('base64'),
  '--b1--',
  '',
].join('\r\n');

test('two processes on one store: uploads, Email/parse blobs, Identity, EmailSubmission, Mailbox states', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-jmap-workers-'));
  const a = await startJmap({ dataDir: dir });
  const b = await startJmap({ dataDir: dir });
  t.after(async () => {
    await a.stop();
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  assert.equal(a.accountId, b.accountId);

  // An upload made through one process downloads and parses through the other.
  const up = await upload(a, MULTIPART, 'message/rfc822');
  const got = await download(b, up['blobId'] as string);
  assert.equal(got.status, 200);
  assert.equal(got.body.toString(), MULTIPART);
  const parsed = await b.call('Email/parse', { accountId: b.accountId, blobIds: [up['blobId']] });
  const email = (parsed['parsed'] as Record<string, Obj>)[up['blobId'] as string]!;
  assert.equal(email['subject'], 'with attachment');
  const att = (email['attachments'] as Obj[])[0]!;
  assert.equal(att['name'], 'data.bin');
  const part = await download(a, att['blobId'] as string);
  assert.equal(part.status, 200, `attachment ${String(att['blobId'])} of a parsed upload downloads`);
  assert.equal(part.body.toString(), 'attachment bytes \u00ff');
  assert.equal((await download(a, `${String(up['blobId'])}S9`)).status, 404, 'no such part');
  assert.equal((await download(a, 'Udeadbeef')).status, 404, 'no such upload');

  // Identity settings made in one process are what the other answers, and /changes is exact there.
  const ig = await a.call('Identity/get', { accountId: a.accountId, ids: null });
  const primary = (ig['list'] as Obj[])[0]!;
  assert.equal(primary['email'], USER);
  const set = await a.call('Identity/set', { accountId: a.accountId, update: { [primary['id'] as string]: { name: 'Alice A.', textSignature: '-- \nAlice' } }, create: { n: { email: USER, name: 'Second' } } });
  assert.ok(set['updated'] && (set['updated'] as Obj)[primary['id'] as string] === null, JSON.stringify(set));
  const newId = (set['created'] as Record<string, Obj>)['n']!['id'] as string;
  const ig2 = await b.call('Identity/get', { accountId: b.accountId, ids: null });
  const p2 = (ig2['list'] as Obj[]).find((x) => x['id'] === primary['id'])!;
  assert.equal(p2['name'], 'Alice A.');
  assert.equal(p2['textSignature'], '-- \nAlice');
  assert.ok((ig2['list'] as Obj[]).some((x) => x['id'] === newId && x['mayDelete'] === true));
  const ic = await b.call('Identity/changes', { accountId: b.accountId, sinceState: ig['state'] });
  assert.deepEqual(ic['created'], [newId]);
  assert.deepEqual(ic['updated'], [primary['id']]);
  const bad = await b.call('Identity/set', { accountId: b.accountId, create: { x: { email: 'someone@else.example' } }, destroy: [primary['id']], update: { [newId]: { email: 'x@y' } } });
  assert.equal((bad['notCreated'] as Record<string, Obj>)['x']!['type'], 'forbiddenFrom');
  assert.equal((bad['notDestroyed'] as Record<string, Obj>)[primary['id'] as string]!['type'], 'forbidden');
  assert.equal((bad['notUpdated'] as Record<string, Obj>)[newId]!['type'], 'invalidProperties');
  const stale = await b.api([['Identity/set', { accountId: b.accountId, ifInState: ig['state'], destroy: [newId] }, '0']]);
  assert.equal((stale.body['methodResponses'] as Array<[string, Obj]>)[0]![1]['type'], 'stateMismatch');

  // A Mailbox state from one process answers Mailbox/changes in the other.
  const mg = await a.call('Mailbox/get', { accountId: a.accountId, ids: null });
  await b.call('Mailbox/set', { accountId: b.accountId, create: { nb: { name: 'Projects' } } });
  const mc = await a.call('Mailbox/changes', { accountId: a.accountId, sinceState: mg['state'] });
  assert.equal((mc['created'] as string[]).length, 1);
  const mc2 = await b.call('Mailbox/changes', { accountId: b.accountId, sinceState: mg['state'] });
  assert.deepEqual(mc2['created'], mc['created']);

  // An EmailSubmission made in one process is listed, queried and changed in the other.
  const drafts = (mg['list'] as Obj[]).find((m) => m['role'] === 'drafts') ?? (mg['list'] as Obj[]).find((m) => m['role'] === 'inbox')!;
  const sub = await a.api([
    ['Email/set', { accountId: a.accountId, create: { d: { mailboxIds: { [drafts['id'] as string]: true }, from: [{ email: USER }], to: [{ email: USER }], subject: 'to myself', bodyValues: { t: { value: 'hi' } }, textBody: [{ partId: 't', type: 'text/plain' }] } } }, '0'],
    ['EmailSubmission/set', { accountId: a.accountId, create: { s: { identityId: primary['id'], emailId: '#d' } } }, '1'],
  ]);
  const sres = (sub.body['methodResponses'] as Array<[string, Obj]>)[1]![1];
  const subId = (sres['created'] as Record<string, Obj>)['s']!['id'] as string;
  const sg = await b.call('EmailSubmission/get', { accountId: b.accountId, ids: [subId] });
  assert.equal((sg['list'] as Obj[])[0]!['identityId'], primary['id']);
  const sq = await b.call('EmailSubmission/query', { accountId: b.accountId, filter: { identityIds: [primary['id']] } });
  assert.deepEqual(sq['ids'], [subId]);
  const sc = await b.call('EmailSubmission/changes', { accountId: b.accountId, sinceState: '0' });
  assert.deepEqual(sc['created'], [subId]);
  await b.call('EmailSubmission/set', { accountId: b.accountId, destroy: [subId] });
  const sc2 = await a.call('EmailSubmission/changes', { accountId: a.accountId, sinceState: sres['newState'] });
  assert.deepEqual(sc2['destroyed'], [subId]);
});

test('delayed send: sendAt and the default hold give pending submissions that can be canceled', async (t) => {
  const f = await startJmap({ sendDelaySec: 600 });
  t.after(() => f.stop());
  const session = (await (await fetch(`${f.base}/jmap/session`, { headers: f.auth })).json()) as Obj;
  const acct = (session['accounts'] as Record<string, Obj>)[f.accountId]!;
  assert.ok(((acct['accountCapabilities'] as Obj)['urn:ietf:params:jmap:submission'] as Obj)['maxDelayedSend'] as number > 0);
  const mg = await f.call('Mailbox/get', { accountId: f.accountId, ids: null });
  const inbox = (mg['list'] as Obj[]).find((m) => m['role'] === 'inbox')!;
  const ident = ((await f.call('Identity/get', { accountId: f.accountId, ids: null }))['list'] as Obj[])[0]!;
  const mail = (subject: string) => ({ mailboxIds: { [inbox['id'] as string]: true }, from: [{ email: USER }], to: [{ email: USER }], subject, bodyValues: { t: { value: 'body' } }, textBody: [{ partId: 't', type: 'text/plain' }] });
  const later = new Date(Date.now() + 3600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const r = await f.api([
    ['Email/set', { accountId: f.accountId, create: { d1: mail('held by sendAt'), d2: mail('held by default'), d3: mail('too late') } }, '0'],
    ['EmailSubmission/set', {
      accountId: f.accountId,
      create: {
        s1: { identityId: ident['id'], emailId: '#d1', sendAt: later },
        s2: { identityId: ident['id'], emailId: '#d2' },
        s3: { identityId: ident['id'], emailId: '#d3', sendAt: '2099-01-01T00:00:00Z' },
        s4: { identityId: ident['id'], emailId: '#d3', sendAt: 'tomorrow' },
      },
    }, '1'],
  ]);
  const res = (r.body['methodResponses'] as Array<[string, Obj]>)[1]![1];
  const created = res['created'] as Record<string, Obj>;
  assert.equal(created['s1']!['undoStatus'], 'pending', JSON.stringify(res));
  assert.equal(created['s1']!['sendAt'], later);
  assert.equal(created['s2']!['undoStatus'], 'pending');
  assert.equal((res['notCreated'] as Record<string, Obj>)['s3']!['type'], 'invalidProperties', 'beyond maxDelayedSend');
  assert.equal((res['notCreated'] as Record<string, Obj>)['s4']!['type'], 'invalidProperties', 'not a UTCDate');
  const s1 = created['s1']!['id'] as string;
  const s2 = created['s2']!['id'] as string;
  const queue = await f.m.store.queue.list();
  assert.equal(queue.length, 2);
  assert.ok(queue.every((q) => q.nextAttemptAt.getTime() > Date.now() + 60_000), 'both are held in the queue');
  const pendingIds = (await f.call('EmailSubmission/query', { accountId: f.accountId, filter: { undoStatus: 'pending' } }))['ids'] as string[];
  assert.deepEqual([...pendingIds].sort(), [s1, s2].sort());

  const cancel = await f.call('EmailSubmission/set', { accountId: f.accountId, update: { [s1]: { undoStatus: 'canceled' }, [s2]: { undoStatus: 'final' }, nope: { undoStatus: 'canceled' } } });
  assert.deepEqual((cancel['updated'] as Obj)[s1], { undoStatus: 'canceled' });
  assert.equal((cancel['notUpdated'] as Record<string, Obj>)[s2]!['type'], 'invalidProperties');
  assert.equal((cancel['notUpdated'] as Record<string, Obj>)['nope']!['type'], 'notFound');
  const got = await f.call('EmailSubmission/get', { accountId: f.accountId, ids: [s1, s2] });
  const byId = new Map((got['list'] as Obj[]).map((o) => [o['id'], o]));
  assert.equal(byId.get(s1)!['undoStatus'], 'canceled');
  assert.equal((byId.get(s1)!['deliveryStatus'] as Record<string, Obj>)[USER]!['delivered'], 'no');
  assert.equal(byId.get(s2)!['undoStatus'], 'pending');
  assert.equal((byId.get(s2)!['deliveryStatus'] as Record<string, Obj>)[USER]!['delivered'], 'queued');
  assert.equal((await f.m.store.queue.list()).length, 1, 'the canceled message left the queue');
  const again = await f.call('EmailSubmission/set', { accountId: f.accountId, update: { [s1]: { undoStatus: 'canceled' } } });
  assert.equal((again['notUpdated'] as Record<string, Obj>)[s1]!['type'], 'cannotUnsend');
});

test('a verified PushSubscription keeps working after a restart, from the process that opens the account', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-jmap-push-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const got: Obj[] = [];
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push(JSON.parse(body) as Obj);
      res.writeHead(201).end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const url = `http://127.0.0.1:${(srv.address() as AddressInfo).port}/push`;
  const wait = async (type: string): Promise<Obj> => {
    for (let i = 0; i < 200; i++) {
      const k = got.findIndex((m) => m['@type'] === type);
      if (k >= 0) return got.splice(k, 1)[0]!;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no ${type} push`);
  };
  const a = await startJmap({ dataDir: dir });
  const c = await a.call('PushSubscription/set', { create: { p: { deviceClientId: 'dev', url, types: ['Email'] } } });
  const id = ((c['created'] as Record<string, Obj>)['p']!)['id'] as string;
  const ver = await wait('PushVerification');
  await a.call('PushSubscription/set', { update: { [id]: { verificationCode: ver['verificationCode'] } } });
  await a.stop();
  got.length = 0;
  const b = await startJmap({ dataDir: dir });
  t.after(() => b.stop());
  await b.call('Mailbox/get', { accountId: b.accountId, ids: null });
  const inbox = (await b.m.store.mail.getMailbox(b.user.id, 'INBOX'))!;
  await b.m.store.mail.append(inbox.id, Buffer.from(`From: x@example.net\r\nTo: ${USER}\r\nSubject: after restart\r\n\r\nhi\r\n`));
  const sc = await wait('StateChange');
  assert.ok(((sc['changed'] as Record<string, Obj>)[b.accountId]!)['Email']);
  // Destroyed: no more pushes.
  await b.call('PushSubscription/set', { destroy: [id] });
  got.length = 0;
  await b.m.store.mail.append(inbox.id, Buffer.from(`From: x@example.net\r\nTo: ${USER}\r\nSubject: after destroy\r\n\r\nhi\r\n`));
  await b.call('Email/query', { accountId: b.accountId });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(got.filter((m) => m['@type'] === 'StateChange').length, 0);
});

test('serve: --jmap-send-delay / config jmap-send-delay set the default hold; bad values refused', async () => {
  const { buildServeConfig } = await import('../src/cli/serve.js');
  assert.equal(buildServeConfig({ jmapSendDelay: '300' }, {}).jmapSendDelaySec, 300);
  assert.equal(buildServeConfig({}, { 'jmap-send-delay': 60 }).jmapSendDelaySec, 60);
  assert.equal(buildServeConfig({}, {}).jmapSendDelaySec, undefined);
  for (const bad of ['soon', '-1', '1.5', String(31 * 24 * 3600)]) assert.throws(() => buildServeConfig({ jmapSendDelay: bad }, {}), /jmap-send-delay/);
});

test('Email/parse of a message attached to a stored Email: the parts it reports download', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const outer = [
    'From: Carol <carol@example.net>',
    `To: ${USER}`,
    'Subject: forwarded',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="outer"',
    '',
    '--outer',
    'Content-Type: text/plain',
    '',
    'Forwarding this.',
    '--outer',
    'Content-Type: message/rfc822',
    '',
    MULTIPART.trimEnd(),
    '--outer--',
    '',
  ].join('\r\n');
  const inbox = (await f.m.store.mail.getMailbox(f.user.id, 'INBOX'))!;
  const r = await f.m.store.mail.append(inbox.id, Buffer.from(outer));
  const g = await f.call('Email/get', { accountId: f.accountId, ids: [r.emailId], properties: ['attachments'] });
  const att = ((g['list'] as Obj[])[0]!['attachments'] as Obj[])[0]!;
  assert.equal(att['type'], 'message/rfc822');
  const p = await f.call('Email/parse', { accountId: f.accountId, blobIds: [att['blobId']] });
  const inner = (p['parsed'] as Record<string, Obj>)[att['blobId'] as string]!;
  assert.equal(inner['subject'], 'with attachment');
  const innerAtt = (inner['attachments'] as Obj[])[0]!;
  assert.notEqual(innerAtt['blobId'], att['blobId']);
  const d = await download(f, innerAtt['blobId'] as string);
  assert.equal(d.status, 200, String(innerAtt['blobId']));
  assert.equal(d.body.toString(), 'attachment bytes \u00ff');
});

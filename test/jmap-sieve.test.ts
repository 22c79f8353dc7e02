/**
 * JMAP for Sieve Scripts (RFC 9661) end to end: the capability in the session; scripts uploaded as blobs,
 * created, validated, renamed, activated and deactivated through SieveScript/set; the same scripts over
 * ManageSieve (both ways); the active script filters mail delivered afterwards; errors (invalidSieve,
 * alreadyExists, sieveIsActive, unknown capability).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJmap, USER, PASSWORD, USING, type JmapFixture } from './jmap-helpers.js';
import { literal, plain, sieveConnect } from './managesieve-helpers.js';

type Obj = Record<string, unknown>;
const SIEVE = [...USING, 'urn:ietf:params:jmap:sieve'];
const FILTER = 'require ["fileinto", "mailbox"];\r\nif header :contains "subject" "route me" {\r\n  fileinto :create "Filtered";\r\n}\r\n';

async function upload(f: JmapFixture, text: string): Promise<string> {
  const r = await fetch(`${f.base}/jmap/upload/${f.accountId}/`, { method: 'POST', headers: { ...f.auth, 'Content-Type': 'application/sieve' }, body: text });
  assert.equal(r.status, 201);
  return ((await r.json()) as Obj)['blobId'] as string;
}

function responses(r: { body: Obj }): Array<[string, Obj, string]> {
  return r.body['methodResponses'] as Array<[string, Obj, string]>;
}

test('SieveScript get/set/query/validate/changes, activation, ManageSieve sees the same scripts, delivery runs the active one', async (t) => {
  const f = await startJmap({ ports: { managesieve: 0 } });
  t.after(() => f.stop());
  const session = (await (await fetch(`${f.base}/jmap/session`, { headers: f.auth })).json()) as Obj;
  assert.ok('urn:ietf:params:jmap:sieve' in (session['capabilities'] as Obj));
  const acap = ((session['accounts'] as Record<string, Obj>)[f.accountId]!['accountCapabilities'] as Obj)['urn:ietf:params:jmap:sieve'] as Obj;
  assert.ok((acap['sieveExtensions'] as string[]).includes('fileinto'));
  assert.equal(typeof acap['maxSizeScript'], 'number');

  // Without the capability in "using", the methods do not exist.
  const noCap = await f.api([['SieveScript/get', { accountId: f.accountId }, '0']]);
  assert.equal(responses(noCap)[0]![1]['type'], 'unknownMethod');

  const good = await upload(f, FILTER);
  const broken = await upload(f, 'if true { fileinto "x" }');
  const v = await f.call('SieveScript/validate', { accountId: f.accountId, blobId: good }, SIEVE);
  assert.equal(v['error'], null);
  const vb = await f.call('SieveScript/validate', { accountId: f.accountId, blobId: broken }, SIEVE);
  assert.equal((vb['error'] as Obj)['type'], 'invalidSieve');
  const g0 = await f.call('SieveScript/get', { accountId: f.accountId, ids: null }, SIEVE);
  assert.deepEqual(g0['list'], []);

  const r = await f.api(
    [['SieveScript/set', { accountId: f.accountId, create: { a: { name: 'main', blobId: good }, bad: { name: 'bad', blobId: broken } } }, '0']],
    SIEVE,
  );
  const failed = responses(r)[0]![1];
  assert.equal((failed['notCreated'] as Record<string, Obj>)['bad']!['type'], 'invalidSieve');
  const mainId = (failed['created'] as Record<string, Obj>)['a']!['id'] as string;
  assert.equal((failed['created'] as Record<string, Obj>)['a']!['isActive'], false, 'a failure in the same call: no activation asked, none done');
  const act = await f.call('SieveScript/set', { accountId: f.accountId, create: { b: { name: 'second', blobId: good } }, onSuccessActivateScript: mainId }, SIEVE);
  assert.deepEqual((act['updated'] as Obj)[mainId], { isActive: true });
  const secondId = (act['created'] as Record<string, Obj>)['b']!['id'] as string;
  const dup = await f.call('SieveScript/set', { accountId: f.accountId, create: { c: { name: 'main', blobId: good } }, destroy: [mainId] }, SIEVE);
  assert.equal((dup['notCreated'] as Record<string, Obj>)['c']!['type'], 'alreadyExists');
  assert.equal((dup['notDestroyed'] as Record<string, Obj>)[mainId]!['type'], 'sieveIsActive');

  // ManageSieve lists the JMAP scripts, with "main" active, and its content is the uploaded one.
  const { c } = await sieveConnect(f.m.ports.managesieve!);
  t.after(() => c.socket.destroy());
  assert.match((await c.cmd(`AUTHENTICATE "PLAIN" "${plain(USER, PASSWORD)}"`)).status, /^OK/);
  const ls = await c.cmd('LISTSCRIPTS');
  assert.deepEqual(ls.lines.sort(), ['"main" ACTIVE', '"second"']);
  assert.equal((await c.cmd('GETSCRIPT "main"')).lines.join('\r\n').trim(), FILTER.trim());

  // The content blob downloads.
  const g1 = await f.call('SieveScript/get', { accountId: f.accountId, ids: [mainId] }, SIEVE);
  const main = (g1['list'] as Obj[])[0]!;
  const dl = await fetch(`${f.base}/jmap/download/${f.accountId}/${String(main['blobId'])}/main.sieve`, { headers: f.auth });
  assert.equal(dl.status, 200);
  assert.equal(await dl.text(), FILTER);

  // A rename and a new script over ManageSieve show up as changes; the JMAP id of "main" stays.
  assert.match((await c.cmd('PUTSCRIPT "third" ' + literal('keep;\r\n'))).status, /^OK/);
  const ch = await f.call('SieveScript/changes', { accountId: f.accountId, sinceState: g1['state'] }, SIEVE);
  assert.equal((ch['created'] as string[]).length, 1);
  const ren = await f.call('SieveScript/set', { accountId: f.accountId, update: { [mainId]: { name: 'renamed' } } }, SIEVE);
  assert.ok(mainId in (ren['updated'] as Obj));
  assert.deepEqual((await c.cmd('LISTSCRIPTS')).lines.sort(), ['"renamed" ACTIVE', '"second"', '"third"']);
  const q = await f.call('SieveScript/query', { accountId: f.accountId, filter: { isActive: true } }, SIEVE);
  assert.deepEqual(q['ids'], [mainId]);
  const qs = await f.call('SieveScript/query', { accountId: f.accountId, sort: [{ property: 'name', isAscending: false }] }, SIEVE);
  assert.equal((qs['ids'] as string[]).length, 3);
  assert.equal((qs['ids'] as string[])[2], mainId);
  const badq = await f.api([['SieveScript/query', { accountId: f.accountId, sort: [{ property: 'size' }] }, '0']], SIEVE);
  assert.equal(responses(badq)[0]![1]['type'], 'unsupportedSort');

  // The active script files a message delivered now (a submission to oneself goes through delivery).
  const mg = await f.call('Mailbox/get', { accountId: f.accountId, ids: null });
  const inbox = (mg['list'] as Obj[]).find((m) => m['role'] === 'inbox')!;
  const ident = ((await f.call('Identity/get', { accountId: f.accountId, ids: null }))['list'] as Obj[])[0]!;
  await f.api([
    ['Email/set', { accountId: f.accountId, create: { d: { mailboxIds: { [inbox['id'] as string]: true }, keywords: { $seen: true }, from: [{ email: USER }], to: [{ email: USER }], subject: 'please route me', bodyValues: { t: { value: 'x' } }, textBody: [{ partId: 't', type: 'text/plain' }] } } }, '0'],
    ['EmailSubmission/set', { accountId: f.accountId, create: { s: { identityId: ident['id'], emailId: '#d' } } }, '1'],
  ]);
  // fileinto :create makes the mailbox before it stores the copy: wait for the copy, not only the mailbox.
  let filed = null;
  let copies = 0;
  for (let i = 0; i < 100 && copies === 0; i++) {
    filed = await f.m.store.mail.getMailbox(f.user.id, 'Filtered');
    copies = filed ? (await f.m.store.mail.listMessages(filed.id)).length : 0;
    if (copies === 0) await new Promise((res) => setTimeout(res, 50));
  }
  assert.ok(filed, 'the active script filed the delivered copy');
  assert.equal(copies, 1);

  // Deactivate; then the former active script may go.
  const de = await f.call('SieveScript/set', { accountId: f.accountId, onSuccessDeactivateScript: true }, SIEVE);
  assert.deepEqual((de['updated'] as Obj)[mainId], { isActive: false });
  assert.equal(await f.m.store.sieve.getActiveScript(f.user.id), null);
  const gone = await f.call('SieveScript/set', { accountId: f.accountId, destroy: [mainId, secondId] }, SIEVE);
  assert.deepEqual([...(gone['destroyed'] as string[])].sort(), [mainId, secondId].sort());
  assert.deepEqual((await c.cmd('LISTSCRIPTS')).lines, ['"third"']);
  const stale = await fetch(`${f.base}/jmap/download/${f.accountId}/${String(main['blobId'])}/main.sieve`, { headers: f.auth });
  assert.equal(stale.status, 404, 'the content blob of a destroyed script is gone');
});

/**
 * JMAP changes: Email/set (drafts, keywords, mailboxIds moves, destroy) with Email/changes,
 * Email/queryChanges, Thread, Mailbox/set and Mailbox/changes, Email/copy/import/parse, uploads,
 * SearchSnippet, VacationResponse, Identity and EmailSubmission (local delivery through the queue).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJmap, rfc822, inboxId, USING } from './jmap-helpers.js';

type R = Record<string, unknown>;

async function roles(f: Awaited<ReturnType<typeof startJmap>>): Promise<Map<string, string>> {
  const r = await f.call('Mailbox/get', { accountId: f.accountId, ids: null, properties: ['role', 'name'] });
  return new Map((r['list'] as R[]).filter((m) => m['role']).map((m) => [m['role'] as string, m['id'] as string]));
}

test('Email/set keywords and moves show in Email/changes, Mailbox/changes and Email/queryChanges; destroy expunges', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const inbox = await inboxId(f);
  const a = await f.m.store.mail.append(inbox, rfc822('one'));
  const b = await f.m.store.mail.append(inbox, rfc822('two'));
  const role = await roles(f);
  const q0 = await f.call('Email/query', { accountId: f.accountId, filter: { inMailbox: role.get('inbox') }, sort: [{ property: 'receivedAt', isAscending: false }] });
  const mb0 = await f.call('Mailbox/get', { accountId: f.accountId, ids: null, properties: ['id'] });
  const s0 = q0['queryState'] as string;
  const set = await f.call('Email/set', {
    accountId: f.accountId,
    ifInState: s0,
    update: { [a.emailId]: { 'keywords/$seen': true, 'keywords/$flagged': true }, [b.emailId]: { mailboxIds: { [role.get('archive')!]: true } } },
  });
  assert.deepEqual(Object.keys(set['updated'] as R).sort(), [a.emailId, b.emailId].sort());
  const metas = await f.m.store.mail.listMessages(inbox);
  assert.deepEqual(metas.map((m) => m.emailId), [a.emailId]);
  assert.deepEqual(new Set(metas[0]!.flags.map((x) => x.toLowerCase())), new Set(['\\seen', '\\flagged']));
  const ch = await f.call('Email/changes', { accountId: f.accountId, sinceState: s0 });
  assert.deepEqual((ch['updated'] as string[]).sort(), [a.emailId, b.emailId].sort());
  assert.deepEqual(ch['created'], []);
  assert.deepEqual(ch['destroyed'], []);
  assert.equal(ch['newState'], set['newState']);
  const mch = await f.call('Mailbox/changes', { accountId: f.accountId, sinceState: mb0['state'] });
  assert.deepEqual((mch['updated'] as string[]).sort(), [role.get('inbox'), role.get('archive')].sort());
  assert.deepEqual(mch['updatedProperties'], ['totalEmails', 'unreadEmails', 'totalThreads', 'unreadThreads']);
  const qc = await f.call('Email/queryChanges', { accountId: f.accountId, filter: { inMailbox: role.get('inbox') }, sort: [{ property: 'receivedAt', isAscending: false }], sinceQueryState: s0 });
  assert.deepEqual(qc['removed'], [b.emailId]);
  assert.deepEqual(qc['added'], []);
  // stateMismatch for the old state now
  const mm = await f.api([['Email/set', { accountId: f.accountId, ifInState: s0, update: { [a.emailId]: { 'keywords/$seen': null } } }, 'x']]);
  assert.equal(((mm.body['methodResponses'] as unknown[][])[0]![1] as R)['type'], 'stateMismatch');
  // destroy
  const s1 = set['newState'] as string;
  const d = await f.call('Email/set', { accountId: f.accountId, destroy: [a.emailId, 'Mnope'] });
  assert.deepEqual(d['destroyed'], [a.emailId]);
  assert.equal(((d['notDestroyed'] as R)['Mnope'] as R)['type'], 'notFound');
  assert.equal((await f.m.store.mail.listMessages(inbox)).length, 0);
  const ch2 = await f.call('Email/changes', { accountId: f.accountId, sinceState: s1 });
  assert.deepEqual(ch2['destroyed'], [a.emailId]);
  // tooManyMailboxes and an empty mailboxIds
  const bad = await f.call('Email/set', { accountId: f.accountId, update: { [b.emailId]: { mailboxIds: { [role.get('inbox')!]: true, [role.get('trash')!]: true } } } });
  assert.equal(((bad['notUpdated'] as R)[b.emailId] as R)['type'], 'tooManyMailboxes');
  const bad2 = await f.call('Email/set', { accountId: f.accountId, update: { [b.emailId]: { subject: 'x' } } });
  assert.equal(((bad2['notUpdated'] as R)[b.emailId] as R)['type'], 'invalidProperties');
});

test('Email/set creates a draft with attachment from an upload; Thread/get; Email/copy, import and parse; SearchSnippet', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const role = await roles(f);
  const up = await fetch(`${f.base}/jmap/upload/${f.accountId}/`, { method: 'POST', headers: { ...f.auth, 'Content-Type': 'text/csv' }, body: 'a,b\n1,2\n' });
  assert.equal(up.status, 201);
  const blob = (await up.json()) as R;
  assert.equal(blob['size'], 8);
  const res = await f.api([
    ['Email/set', {
      accountId: f.accountId,
      create: {
        d1: {
          mailboxIds: { [role.get('drafts')!]: true },
          keywords: { $draft: true, $seen: true },
          from: [{ name: 'Alice', email: 'alice@example.org' }],
          to: [{ name: 'Bob', email: 'bob@example.org' }],
          subject: 'Draft ünïcode',
          textBody: [{ partId: 't', type: 'text/plain' }],
          bodyValues: { t: { value: 'The body text with needle inside.' } },
          attachments: [{ blobId: blob['blobId'], type: 'text/csv', name: 'data.csv' }],
          'header:X-Custom': ' custom value',
        },
      },
    }, 's'],
    ['Email/get', { accountId: f.accountId, ids: ['#d1'], properties: ['subject', 'keywords', 'attachments', 'textBody', 'bodyValues', 'header:X-Custom:asText', 'threadId', 'to'], fetchTextBodyValues: true }, 'g'],
  ]);
  const rs = res.body['methodResponses'] as Array<[string, R, string]>;
  const created = (rs[0]![1]['created'] as R)['d1'] as R;
  assert.ok(created['id'], JSON.stringify(rs[0]));
  const e = (rs[1]![1]['list'] as R[])[0]!;
  assert.ok(e, JSON.stringify(rs));
  assert.equal(e['subject'], 'Draft ünïcode');
  assert.deepEqual(e['keywords'], { $draft: true, $seen: true });
  assert.equal(e['header:X-Custom:asText'], 'custom value');
  assert.equal((e['attachments'] as R[])[0]!['name'], 'data.csv');
  assert.equal(Object.values(e['bodyValues'] as Record<string, { value: string }>)[0]!.value, 'The body text with needle inside.');
  const th = await f.call('Thread/get', { accountId: f.accountId, ids: [e['threadId']] });
  assert.deepEqual((th['list'] as R[])[0]!['emailIds'], [created['id']]);
  // download of the attachment gives the uploaded bytes
  const att = (e['attachments'] as R[])[0]!;
  const dl = await fetch(`${f.base}/jmap/download/${f.accountId}/${String(att['blobId'])}/data.csv?accept=text/csv`, { headers: f.auth });
  assert.equal(await dl.text(), 'a,b\n1,2\n');
  // SearchSnippet
  const sn = await f.call('SearchSnippet/get', { accountId: f.accountId, filter: { text: 'needle' }, emailIds: [created['id']] });
  assert.match(String((sn['list'] as R[])[0]!['preview']), /<mark>needle<\/mark>/);
  // text search finds it, a miss does not
  const hit = await f.call('Email/query', { accountId: f.accountId, filter: { body: 'needle' } });
  assert.deepEqual(hit['ids'], [created['id']]);
  const miss = await f.call('Email/query', { accountId: f.accountId, filter: { operator: 'AND', conditions: [{ body: 'needle' }, { subject: 'nothing-like-this' }] } });
  assert.deepEqual(miss['ids'], []);
  const fromq = await f.call('Email/query', { accountId: f.accountId, filter: { to: 'bob@example' } });
  assert.deepEqual(fromq['ids'], [created['id']]);
  // copy into Archive: a new Email with a new id, same thread
  const cp = await f.call('Email/copy', { fromAccountId: f.accountId, accountId: f.accountId, create: { c1: { id: created['id'], mailboxIds: { [role.get('archive')!]: true } } } });
  const copied = (cp['created'] as R)['c1'] as R;
  assert.notEqual(copied['id'], created['id']);
  assert.equal(copied['threadId'], e['threadId']);
  const cpBad = await f.api([['Email/copy', { fromAccountId: 'a999', accountId: f.accountId, create: {} }, 'x']]);
  assert.equal(((cpBad.body['methodResponses'] as unknown[][])[0]![1] as R)['type'], 'fromAccountNotFound');
  // import an uploaded message, parse it
  const msg = rfc822('imported one', { body: 'imported body\r\n' });
  const up2 = (await (await fetch(`${f.base}/jmap/upload/${f.accountId}/`, { method: 'POST', headers: { ...f.auth, 'Content-Type': 'message/rfc822' }, body: msg })).json()) as R;
  const parsed = await f.call('Email/parse', { accountId: f.accountId, blobIds: [up2['blobId'], 'Unope'], fetchTextBodyValues: true });
  assert.equal(((parsed['parsed'] as R)[up2['blobId'] as string] as R)['subject'], 'imported one');
  assert.deepEqual(parsed['notFound'], ['Unope']);
  const imp = await f.call('Email/import', { accountId: f.accountId, emails: { i1: { blobId: up2['blobId'], mailboxIds: { [role.get('inbox')!]: true }, keywords: { $seen: true }, receivedAt: '2026-01-02T03:04:05Z' } } });
  const impId = ((imp['created'] as R)['i1'] as R)['id'] as string;
  const g = await f.call('Email/get', { accountId: f.accountId, ids: [impId], properties: ['receivedAt', 'keywords', 'size'] });
  assert.equal((g['list'] as R[])[0]!['receivedAt'], '2026-01-02T03:04:05Z');
  assert.equal((g['list'] as R[])[0]!['size'], msg.length);
  const impBad = await f.call('Email/import', { accountId: f.accountId, emails: { i2: { blobId: 'Uabsent', mailboxIds: { [role.get('inbox')!]: true } } } });
  assert.equal(((impBad['notCreated'] as R)['i2'] as R)['type'], 'blobNotFound');
});

test('Mailbox/set create, rename, subscribe, destroy; errors for INBOX and mailboxes with mail', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const role = await roles(f);
  const s0 = (await f.call('Mailbox/get', { accountId: f.accountId, ids: [] }))['state'];
  const c = await f.call('Mailbox/set', { accountId: f.accountId, create: { p: { name: 'Projects' }, k: { name: 'Kid', parentId: '#p' } } });
  const pid = ((c['created'] as R)['p'] as R)['id'] as string;
  const kid = ((c['created'] as R)['k'] as R)['id'] as string;
  assert.ok((await f.m.store.mail.getMailbox(f.user.id, 'Projects/Kid')));
  const g = await f.call('Mailbox/get', { accountId: f.accountId, ids: [kid] });
  assert.equal((g['list'] as R[])[0]!['parentId'], pid);
  assert.equal((g['list'] as R[])[0]!['name'], 'Kid');
  const ch = await f.call('Mailbox/changes', { accountId: f.accountId, sinceState: s0 });
  assert.deepEqual((ch['created'] as string[]).sort(), [pid, kid].sort());
  const u = await f.call('Mailbox/set', { accountId: f.accountId, update: { [kid]: { name: 'Child', isSubscribed: false }, [role.get('inbox')!]: { name: 'Renamed' } } });
  assert.ok((u['updated'] as R)[kid] === null);
  assert.equal(((u['notUpdated'] as R)[role.get('inbox')!] as R)['type'], 'forbidden');
  assert.ok(await f.m.store.mail.getMailbox(f.user.id, 'Projects/Child'));
  assert.ok(!(await f.m.store.mail.listSubscriptions(f.user.id)).includes('Projects/Child'));
  const child = (await f.m.store.mail.getMailbox(f.user.id, 'Projects/Child'))!;
  await f.m.store.mail.append(child.id, rfc822('in child'));
  const d = await f.call('Mailbox/set', { accountId: f.accountId, destroy: [pid, kid] });
  assert.equal(((d['notDestroyed'] as R)[pid] as R)['type'], 'mailboxHasChild');
  assert.equal(((d['notDestroyed'] as R)[kid] as R)['type'], 'mailboxHasEmail');
  const d2 = await f.call('Mailbox/set', { accountId: f.accountId, destroy: [kid], onDestroyRemoveEmails: true });
  assert.deepEqual(d2['destroyed'], [kid]);
  const q = await f.call('Mailbox/query', { accountId: f.accountId, filter: { hasAnyRole: true }, sort: [{ property: 'sortOrder' }] });
  assert.equal((q['ids'] as string[])[0], role.get('inbox'));
});

test('VacationResponse is the Sieve vacation setting; Identity; EmailSubmission delivers locally and files the draft', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const v = await f.call('VacationResponse/get', { accountId: f.accountId });
  assert.equal(((v['list'] as R[])[0]!)['isEnabled'], false);
  const vs = await f.call('VacationResponse/set', { accountId: f.accountId, update: { singleton: { isEnabled: true, subject: 'Away', textBody: 'Back Monday', toDate: '2030-01-01T00:00:00Z' } } });
  assert.ok('singleton' in (vs['updated'] as R));
  const stored = await f.m.store.sieve.getVacation(f.user.id);
  assert.equal(stored.enabled, true);
  assert.equal(stored.subject, 'Away');
  assert.equal(stored.toDate?.toISOString(), '2030-01-01T00:00:00.000Z');
  const vbad = await f.call('VacationResponse/set', { accountId: f.accountId, create: { x: {} }, update: { singleton: { isEnabled: 'yes' } } });
  assert.equal(((vbad['notCreated'] as R)['x'] as R)['type'], 'singleton');
  assert.equal(((vbad['notUpdated'] as R)['singleton'] as R)['type'], 'invalidProperties');

  const bob = await f.m.addUser('bob@example.org', 'pw-bob');
  const ids = await f.call('Identity/get', { accountId: f.accountId, ids: null });
  const ident = (ids['list'] as R[])[0]!;
  assert.equal(ident['email'], 'alice@example.org');
  const role = await roles(f);
  const res = await f.api([
    ['Email/set', { accountId: f.accountId, create: { d: { mailboxIds: { [role.get('drafts')!]: true }, keywords: { $draft: true }, from: [{ email: 'alice@example.org' }], to: [{ email: 'bob@example.org' }], bcc: [{ email: 'bob@example.org' }], subject: 'Hi Bob', textBody: [{ partId: '1' }], bodyValues: { '1': { value: 'hello bob' } } } } }, '0'],
    ['EmailSubmission/set', {
      accountId: f.accountId,
      create: { s: { identityId: ident['id'], emailId: '#d' } },
      onSuccessUpdateEmail: { '#s': { [`mailboxIds/${role.get('drafts')}`]: null, [`mailboxIds/${role.get('sent')}`]: true, 'keywords/$draft': null } },
    }, '1'],
  ], [...USING]);
  const rs = res.body['methodResponses'] as Array<[string, R, string]>;
  assert.equal(rs[1]![0], 'EmailSubmission/set', JSON.stringify(rs[1]));
  assert.ok((rs[1]![1]['created'] as R)['s'], JSON.stringify(rs[1]));
  assert.equal(rs[2]![0], 'Email/set');
  assert.equal(Object.keys(rs[2]![1]['updated'] as R).length, 1);
  const sent = (await f.m.store.mail.getMailbox(f.user.id, 'Sent'))!;
  assert.equal((await f.m.store.mail.listMessages(sent.id)).length, 1, 'the draft moved to Sent, no second copy');
  // Bob gets it through the queue (local delivery), without the Bcc field.
  const bobInbox = (await f.m.store.mail.getMailbox(bob.id, 'INBOX'))!;
  let got: Buffer | null = null;
  for (let i = 0; i < 100 && !got; i++) {
    const l = await f.m.store.mail.listMessages(bobInbox.id);
    if (l.length) got = await f.m.store.mail.readBytes(bobInbox.id, l[0]!.uid);
    else await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(got, 'delivered to bob');
  assert.match(got.toString(), /Subject: Hi Bob/);
  assert.doesNotMatch(got.toString(), /^Bcc:/im);
  const subId = ((rs[1]![1]['created'] as R)['s'] as R)['id'] as string;
  let sub: R = {};
  for (let i = 0; i < 100; i++) {
    const sg = await f.call('EmailSubmission/get', { accountId: f.accountId, ids: [subId] });
    sub = (sg['list'] as R[])[0]!;
    if (((sub['deliveryStatus'] as R)['bob@example.org'] as R)['delivered'] === 'yes') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(sub['undoStatus'], 'final');
  assert.equal(((sub['deliveryStatus'] as R)['bob@example.org'] as R)['delivered'], 'yes');
  // a From that is not the user's is refused
  const forged = await f.api([
    ['Email/set', { accountId: f.accountId, create: { d: { mailboxIds: { [role.get('drafts')!]: true }, from: [{ email: 'bob@example.org' }], to: [{ email: 'bob@example.org' }], subject: 'forged' } } }, '0'],
    ['EmailSubmission/set', { accountId: f.accountId, create: { s: { identityId: ident['id'], emailId: '#d' } } }, '1'],
  ]);
  const fr = (forged.body['methodResponses'] as Array<[string, R, string]>)[1]![1];
  assert.equal(((fr['notCreated'] as R)['s'] as R)['type'], 'forbiddenFrom');
});

test('moves into and out of Junk train the spam filter; Quota/get shows usage against the limits', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const inbox = await inboxId(f);
  const m = await f.m.store.mail.append(inbox, rfc822('cheap pills', { body: 'buy cheap pills now, limited offer, click here\r\n' }));
  const role = await roles(f);
  const stats = async () => (await f.m.store.spam.stats(f.user.id))[0] ?? { spamMessages: 0, hamMessages: 0 };
  await f.call('Email/set', { accountId: f.accountId, update: { [m.emailId]: { mailboxIds: { [role.get('junk')!]: true } } } });
  assert.equal((await stats()).spamMessages, 1);
  await f.call('Email/set', { accountId: f.accountId, update: { [m.emailId]: { mailboxIds: { [role.get('inbox')!]: true } } } });
  const after = await stats();
  assert.equal(after.spamMessages, 0);
  assert.equal(after.hamMessages, 1);

  await f.m.store.quota.setLimits(f.user.id, { storage: 1_000_000, messages: 50 });
  const q = await f.call('Quota/get', { accountId: f.accountId, ids: null }, [...USING, 'urn:ietf:params:jmap:quota']);
  const byId = new Map((q['list'] as R[]).map((x) => [x['id'], x]));
  assert.equal(byId.get('messages')!['used'], 1);
  assert.equal(byId.get('messages')!['hardLimit'], 50);
  assert.equal(byId.get('storage')!['resourceType'], 'octets');
  assert.equal(byId.get('storage')!['used'], (await f.m.store.quota.usage(f.user.id)).storage);
  const qc = await f.call('Quota/changes', { accountId: f.accountId, sinceState: q['state'] }, [...USING, 'urn:ietf:params:jmap:quota']);
  assert.deepEqual(qc['updated'], []);
});

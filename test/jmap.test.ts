/**
 * JMAP end to end through jmap-jam (a JMAP client library) and raw fetch: session, Mailbox, Email
 * get/query/changes/set/copy/import/parse, Thread, SearchSnippet, Identity, EmailSubmission,
 * VacationResponse, upload/download.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJmap, rfc822, inboxId, jam, USER, PASSWORD } from './jmap-helpers.js';

type R = Record<string, unknown>;

test('session via /.well-known/jmap, Basic and Bearer auth, jmap-jam reads mailboxes and mail', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const r = await fetch(`${f.base}/.well-known/jmap`, { redirect: 'manual' });
  assert.equal(r.status, 307);
  assert.equal(r.headers.get('location'), '/jmap/session');
  const noAuth = await fetch(`${f.base}/jmap/session`);
  assert.equal(noAuth.status, 401);
  assert.match(noAuth.headers.get('www-authenticate') ?? '', /Basic realm="mailroom"/);
  const basic = await fetch(`${f.base}/jmap/session`, { headers: { Authorization: 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } });
  assert.equal(basic.status, 200);
  const session = (await basic.json()) as R;
  assert.equal(session['username'], USER);
  assert.equal(session['apiUrl'], `${f.base}/jmap/api`);
  assert.ok((session['capabilities'] as R)['urn:ietf:params:jmap:mail']);
  const bad = await fetch(`${f.base}/jmap/session`, { headers: { Authorization: 'Bearer mrt_k000000000000000000_' + 'x'.repeat(43) } });
  assert.equal(bad.status, 401);

  const inbox = await inboxId(f);
  await f.m.store.mail.append(inbox, rfc822('first message', { body: 'Lorem ipsum dolor.\r\n' }));
  await f.m.store.mail.append(inbox, rfc822('second message'), { flags: ['\\Seen', '$Label1'] });

  const client = await jam(f);
  const accountId = await client.getPrimaryAccount();
  assert.equal(accountId, f.accountId);
  const [mbs] = await client.api['Mailbox']!['get']!({ accountId, ids: null });
  const byRole = new Map((mbs['list'] as R[]).map((m) => [m['role'], m]));
  for (const role of ['inbox', 'sent', 'drafts', 'trash', 'junk', 'archive']) assert.ok(byRole.get(role), `role ${role}`);
  const inboxObj = byRole.get('inbox')!;
  assert.equal(inboxObj['totalEmails'], 2);
  assert.equal(inboxObj['unreadEmails'], 1);
  assert.equal(inboxObj['totalThreads'], 2);
  assert.equal((inboxObj['myRights'] as R)['mayDelete'], false);
  assert.equal(inboxObj['isSubscribed'], true);

  const [q] = await client.api['Email']!['query']!({ accountId, filter: { inMailbox: inboxObj['id'] }, sort: [{ property: 'receivedAt', isAscending: false }], calculateTotal: true });
  assert.equal(q['total'], 2);
  const [got] = await client.api['Email']!['get']!({ accountId, ids: q['ids'], properties: ['subject', 'from', 'keywords', 'mailboxIds', 'preview', 'threadId', 'header:Subject:asText', 'header:From:asAddresses'] });
  const list = got['list'] as R[];
  assert.deepEqual(list.map((e) => e['subject']).sort(), ['first message', 'second message']);
  const second = list.find((e) => e['subject'] === 'second message')!;
  assert.deepEqual(second['keywords'], { $seen: true, $label1: true });
  assert.deepEqual(second['from'], [{ name: 'Bob', email: 'bob@example.net' }]);
  assert.deepEqual(second['header:From:asAddresses'], [{ name: 'Bob', email: 'bob@example.net' }]);
  assert.equal(second['header:Subject:asText'], 'second message');
  const first = list.find((e) => e['subject'] === 'first message')!;
  assert.equal(first['preview'], 'Lorem ipsum dolor.');
  assert.deepEqual(first['mailboxIds'], { [inboxObj['id'] as string]: true });
  // EMAILID is the Email id, MAILBOXID the Mailbox id.
  const metas = await f.m.store.mail.listMessages(inbox);
  assert.deepEqual(new Set(q['ids'] as string[]), new Set(metas.map((m) => m.emailId)));
  assert.equal(inboxObj['id'], (await f.m.store.mail.getMailboxById(inbox))!.mailboxObjectId);
});

test('Email/get body structure, body values, header forms; download of the message and a part', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const inbox = await inboxId(f);
  const raw = Buffer.from(
    'From: =?utf-8?q?J=C3=B6rg?= <jorg@example.net>\r\nTo: a@example.org, Friends: b@example.org, c@example.org;\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n' +
      'Date: Tue, 1 Dec 2026 08:30:00 -0500\r\nMessage-ID: <abc@example.net>\r\nReferences: <x@y> <z@w>\r\nList-Unsubscribe: <mailto:u@example.net>, <https://example.net/u>\r\n' +
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: multipart/alternative; boundary="b2"\r\n\r\n' +
      '--b2\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHall=C3=B6 Welt, this is the plain text.\r\n' +
      '--b2\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Hallo <b>Welt</b></p>\r\n--b2--\r\n' +
      '--b1\r\nContent-Type: application/pdf; name="doc.pdf"\r\nContent-Disposition: attachment; filename="doc.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n',
  );
  const ar = await f.m.store.mail.append(inbox, raw);
  const res = await f.call('Email/get', {
    accountId: f.accountId,
    ids: [ar.emailId],
    properties: ['bodyStructure', 'bodyValues', 'textBody', 'htmlBody', 'attachments', 'hasAttachment', 'subject', 'from', 'to', 'sentAt', 'messageId', 'references',
      'header:To:asGroupedAddresses', 'header:List-Unsubscribe:asURLs', 'header:Date:asDate', 'header:Subject', 'size', 'blobId'],
    fetchTextBodyValues: true,
    fetchHTMLBodyValues: true,
    maxBodyValueBytes: 10,
  });
  const e = (res['list'] as R[])[0]!;
  assert.equal(e['subject'], 'Grüße');
  assert.deepEqual(e['from'], [{ name: 'Jörg', email: 'jorg@example.net' }]);
  assert.equal(e['sentAt'], '2026-12-01T08:30:00-05:00');
  assert.equal(e['header:Date:asDate'], '2026-12-01T08:30:00-05:00');
  assert.deepEqual(e['messageId'], ['abc@example.net']);
  assert.deepEqual(e['references'], ['x@y', 'z@w']);
  assert.deepEqual(e['header:List-Unsubscribe:asURLs'], ['mailto:u@example.net', 'https://example.net/u']);
  assert.equal(e['header:Subject'], ' =?utf-8?q?Gr=C3=BC=C3=9Fe?=');
  assert.deepEqual(e['header:To:asGroupedAddresses'], [
    { name: null, addresses: [{ name: null, email: 'a@example.org' }] },
    { name: 'Friends', addresses: [{ name: null, email: 'b@example.org' }, { name: null, email: 'c@example.org' }] },
  ]);
  assert.equal(e['hasAttachment'], true);
  const bs = e['bodyStructure'] as R;
  assert.equal(bs['type'], 'multipart/mixed');
  assert.equal(bs['partId'], null);
  const sub = bs['subParts'] as R[];
  assert.equal((sub[0]!['subParts'] as R[])[0]!['partId'], '1.1');
  assert.deepEqual((e['textBody'] as R[]).map((p) => p['partId']), ['1.1']);
  assert.deepEqual((e['htmlBody'] as R[]).map((p) => p['partId']), ['1.2']);
  const att = (e['attachments'] as R[])[0]!;
  assert.equal(att['name'], 'doc.pdf');
  assert.equal(att['type'], 'application/pdf');
  assert.equal(att['size'], 9);
  const bv = e['bodyValues'] as Record<string, { value: string; isTruncated: boolean }>;
  assert.equal(bv['1.1']!.value, 'Hallö Wel');
  assert.equal(bv['1.1']!.isTruncated, true);
  assert.equal(Buffer.byteLength(bv['1.1']!.value), 10);
  const all = await f.call('Email/get', { accountId: f.accountId, ids: [ar.emailId], properties: ['bodyValues'], fetchAllBodyValues: true });
  assert.deepEqual(Object.keys(((all['list'] as R[])[0]!['bodyValues']) as R).sort(), ['1.1', '1.2']);

  const dl = await fetch(`${f.base}/jmap/download/${f.accountId}/${String(e['blobId'])}/m.eml?accept=message/rfc822`, { headers: f.auth });
  assert.equal(dl.status, 200);
  assert.deepEqual(Buffer.from(await dl.arrayBuffer()), raw);
  const dp = await fetch(`${f.base}/jmap/download/${f.accountId}/${String(att['blobId'])}/doc.pdf?accept=application/pdf`, { headers: f.auth });
  assert.equal(dp.status, 200);
  assert.equal(Buffer.from(await dp.arrayBuffer()).toString(), '%PDF-1.4\n');
  assert.match(dp.headers.get('content-disposition') ?? '', /doc\.pdf/);
  const missing = await fetch(`${f.base}/jmap/download/${f.accountId}/Bxxnope/x?accept=a/b`, { headers: f.auth });
  assert.equal(missing.status, 404);
});

test('Email/query sorts, filters, collapseThreads, position and anchor; queryChanges adds; Thread/changes; closeafter=state', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const inbox = await inboxId(f);
  const day = (d: number) => new Date(Date.UTC(2026, 0, d));
  await f.m.store.mail.append(inbox, Buffer.from('From: Zed <zed@example.net>\r\nTo: alice@example.org\r\nSubject: Alpha topic\r\nMessage-ID: <root@x>\r\nDate: Thu, 1 Jan 2026 10:00:00 +0000\r\n\r\nroot\r\n'), { internalDate: day(1) });
  const reply = await f.m.store.mail.append(inbox, Buffer.from('From: Amy <amy@example.net>\r\nTo: alice@example.org\r\nSubject: Re: Alpha topic\r\nMessage-ID: <reply@x>\r\nIn-Reply-To: <root@x>\r\nReferences: <root@x>\r\nDate: Fri, 2 Jan 2026 10:00:00 +0000\r\n\r\nreply body that is a bit longer than the others\r\n'), { internalDate: day(2) });
  const other = await f.m.store.mail.append(inbox, rfc822('Beta', { from: 'Mia <mia@example.net>' }), { internalDate: day(3), flags: ['\\Flagged'] });
  const ids = (args: Record<string, unknown>) => f.call('Email/query', { accountId: f.accountId, ...args }).then((r) => r['ids'] as string[]);
  const all = await ids({ sort: [{ property: 'receivedAt', isAscending: false }] });
  assert.equal(all[0], other.emailId);
  assert.equal(all.length, 3);
  const collapsed = await ids({ sort: [{ property: 'receivedAt', isAscending: false }], collapseThreads: true });
  assert.deepEqual(collapsed, [other.emailId, reply.emailId]);
  assert.deepEqual(await ids({ sort: [{ property: 'from', isAscending: true }] }), [reply.emailId, other.emailId, all[2]]);
  assert.deepEqual(await ids({ sort: [{ property: 'subject', isAscending: true }, { property: 'receivedAt', isAscending: true }] }), [all[2], reply.emailId, other.emailId]);
  assert.deepEqual(await ids({ filter: { hasKeyword: '$flagged' } }), [other.emailId]);
  assert.deepEqual(await ids({ filter: { from: 'amy' } }), [reply.emailId]);
  assert.deepEqual(await ids({ filter: { after: '2026-01-02T00:00:00Z', before: '2026-01-03T00:00:00Z' } }), [reply.emailId]);
  assert.deepEqual(await ids({ filter: { operator: 'NOT', conditions: [{ subject: 'alpha' }] } }), [other.emailId]);
  assert.deepEqual(await ids({ filter: { header: ['In-Reply-To'] } }), [reply.emailId]);
  assert.deepEqual(await ids({ sort: [{ property: 'hasKeyword', keyword: '$flagged', isAscending: false }, { property: 'receivedAt', isAscending: true }] }), [other.emailId, all[2], reply.emailId]);
  assert.deepEqual(await ids({ position: 1, limit: 1 }), [all[1]]);
  assert.deepEqual(await ids({ position: -1 }), [all[2]]);
  const anchored = await f.call('Email/query', { accountId: f.accountId, anchor: all[1], anchorOffset: -1, limit: 2 });
  assert.equal(anchored['position'], 0);
  assert.deepEqual(anchored['ids'], all.slice(0, 2));
  const q = await f.call('Email/query', { accountId: f.accountId, sort: [{ property: 'receivedAt', isAscending: false }], calculateTotal: true });
  const threadState = (await f.call('Thread/get', { accountId: f.accountId, ids: [] }))['state'];
  // closeafter=state: the stream ends after the first change
  const es = await fetch(`${f.base}/jmap/eventsource?types=Email&closeafter=state&ping=0`, { headers: f.auth });
  const text = es.text();
  const fresh = await f.m.store.mail.append(inbox, rfc822('Gamma'), { internalDate: day(4) });
  const body = await text;
  assert.match(body, /event: state\ndata: \{"@type":"StateChange"/);
  const qc = await f.call('Email/queryChanges', { accountId: f.accountId, sort: [{ property: 'receivedAt', isAscending: false }], sinceQueryState: q['queryState'], calculateTotal: true });
  assert.deepEqual(qc['added'], [{ id: fresh.emailId, index: 0 }]);
  assert.deepEqual(qc['removed'], []);
  assert.equal(qc['total'], 4);
  const tc = await f.call('Thread/changes', { accountId: f.accountId, sinceState: threadState });
  const freshThread = ((await f.call('Email/get', { accountId: f.accountId, ids: [fresh.emailId], properties: ['threadId'] }))['list'] as R[])[0]!['threadId'];
  assert.deepEqual(tc['created'], [freshThread]);
  const th = await f.call('Thread/get', { accountId: f.accountId, ids: [((await f.call('Email/get', { accountId: f.accountId, ids: [reply.emailId], properties: ['threadId'] }))['list'] as R[])[0]!['threadId']] });
  assert.deepEqual((th['list'] as R[])[0]!['emailIds'], [all[2], reply.emailId]);
});

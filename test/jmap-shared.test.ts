/**
 * Shared accounts (RFC 8620 2, RFC 8621): mailboxes another user shares through the ACL appear to the user
 * as that owner's account (isPersonal false, mail capability only, mayCreateTopLevelMailbox false);
 * Mailbox, Email get/query/set follow the rights; Email/copy works between the accounts; errors for what
 * the rights or the account do not allow; removing the ACL removes the account.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJmap, rfc822, jam, USING } from './jmap-helpers.js';

type Obj = Record<string, unknown>;

test('a mailbox shared through the ACL is an account of the session, limited by the rights', async (t) => {
  const f = await startJmap();
  t.after(() => f.stop());
  const bob = await f.m.addUser('bob@example.org', 'pw');
  const team = await f.m.store.mail.createMailbox(bob.id, 'Team');
  const drop = await f.m.store.mail.createMailbox(bob.id, 'Drop');
  await f.m.store.mail.append(team.id, rfc822('team news', { to: 'bob@example.org' }));
  await f.m.store.mail.append((await f.m.store.mail.getMailbox(bob.id, 'INBOX'))!.id, rfc822('private to bob', { to: 'bob@example.org' }));
  await f.m.store.acl.set(team.id, 'alice@example.org', 'lrs');
  await f.m.store.acl.set(drop.id, 'alice@example.org', 'li');
  const bobAcct = `a${bob.id}`;

  const session = (await (await fetch(`${f.base}/jmap/session`, { headers: f.auth })).json()) as Obj;
  const acct = (session['accounts'] as Record<string, Obj>)[bobAcct]!;
  assert.equal(acct['name'], 'bob@example.org');
  assert.equal(acct['isPersonal'], false);
  assert.equal(acct['isReadOnly'], false, 'alice may insert into Drop');
  const caps = acct['accountCapabilities'] as Record<string, Obj>;
  assert.deepEqual(Object.keys(caps), ['urn:ietf:params:jmap:mail']);
  assert.equal(caps['urn:ietf:params:jmap:mail']!['mayCreateTopLevelMailbox'], false);
  assert.equal(caps['urn:ietf:params:jmap:mail']!['maxMailboxesPerEmail'], 1);
  assert.equal((session['primaryAccounts'] as Obj)['urn:ietf:params:jmap:mail'], f.accountId);

  // jmap-jam reads the shared account's mailboxes: Team and Drop, never bob's INBOX.
  const client = await jam(f);
  const [mg] = await client.api['Mailbox']!['get']!({ accountId: bobAcct, ids: null });
  const boxes = mg['list'] as Obj[];
  assert.deepEqual(boxes.map((b) => b['name']).sort(), ['Drop', 'Team']);
  const teamBox = boxes.find((b) => b['name'] === 'Team')!;
  const dropBox = boxes.find((b) => b['name'] === 'Drop')!;
  const rights = teamBox['myRights'] as Obj;
  assert.equal(rights['mayReadItems'], true);
  assert.equal(rights['maySetSeen'], true);
  assert.equal(rights['maySetKeywords'], false);
  assert.equal(rights['mayAddItems'], false);
  assert.equal(rights['mayDelete'], false);
  assert.equal(rights['maySubmit'], false);

  const q = await f.call('Email/query', { accountId: bobAcct });
  assert.equal((q['ids'] as string[]).length, 1, 'only the readable mailbox: Drop has no r right');
  const id = (q['ids'] as string[])[0]!;
  const g = await f.call('Email/get', { accountId: bobAcct, ids: [id], properties: ['subject', 'mailboxIds'] });
  assert.equal((g['list'] as Obj[])[0]!['subject'], 'team news');

  const set = await f.call('Email/set', {
    accountId: bobAcct,
    update: { [id]: { 'keywords/$flagged': true } },
    destroy: [id],
    create: { top: { mailboxIds: { [teamBox['id'] as string]: true }, subject: 'x', bodyValues: { b: { value: 'x' } }, textBody: [{ partId: 'b', type: 'text/plain' }] } },
  });
  assert.equal((set['notUpdated'] as Record<string, Obj>)[id]!['type'], 'forbidden');
  assert.equal((set['notDestroyed'] as Record<string, Obj>)[id]!['type'], 'forbidden');
  assert.equal((set['notCreated'] as Record<string, Obj>)['top']!['type'], 'forbidden');
  const seen = await f.call('Email/set', { accountId: bobAcct, update: { [id]: { 'keywords/$seen': true } } });
  assert.ok(id in (seen['updated'] as Obj), JSON.stringify(seen));
  // $seen is alice's own, as over IMAP: bob's message stays unread for bob.
  const kw = await f.call('Email/get', { accountId: bobAcct, ids: [id], properties: ['keywords'] });
  assert.deepEqual((kw['list'] as Obj[])[0]!['keywords'], { $seen: true });
  const bobFlags = (await f.m.store.mail.listMessages(team.id))[0]!.flags;
  assert.ok(!bobFlags.some((x) => x.toLowerCase() === '\\seen'), JSON.stringify(bobFlags));
  assert.deepEqual(await f.m.store.acl.seenUids(team.id, f.user.id), [(await f.m.store.mail.listMessages(team.id))[0]!.uid]);
  const teamNow = ((await f.call('Mailbox/get', { accountId: bobAcct, ids: [teamBox['id']] }))['list'] as Obj[])[0]!;
  assert.equal(teamNow['unreadEmails'], 0);
  const mset = await f.call('Mailbox/set', { accountId: bobAcct, create: { m: { name: 'Mine' } }, destroy: [teamBox['id']] });
  assert.equal((mset['notCreated'] as Record<string, Obj>)['m']!['type'], 'forbidden');
  assert.equal((mset['notDestroyed'] as Record<string, Obj>)[teamBox['id'] as string]!['type'], 'forbidden');

  // Email/copy from the shared account into alice's own, and from alice's into Drop ("i"), not into Team.
  const mine = ((await f.call('Mailbox/get', { accountId: f.accountId, ids: null }))['list'] as Obj[]).find((b) => b['role'] === 'inbox')!;
  const c1 = await f.call('Email/copy', { fromAccountId: bobAcct, accountId: f.accountId, create: { k: { id, mailboxIds: { [mine['id'] as string]: true } } } });
  const copied = (c1['created'] as Record<string, Obj>)['k']!;
  assert.ok(copied['id'] && copied['id'] !== id);
  const c2 = await f.call('Email/copy', {
    fromAccountId: f.accountId,
    accountId: bobAcct,
    create: { ok: { id: copied['id'], mailboxIds: { [dropBox['id'] as string]: true } }, no: { id: copied['id'], mailboxIds: { [teamBox['id'] as string]: true } } },
  });
  assert.ok((c2["created"] as Record<string, Obj>)["ok"], JSON.stringify(c2));
  assert.equal((c2['notCreated'] as Record<string, Obj>)['no']!['type'], 'forbidden');
  assert.equal((await f.m.store.mail.listMessages(drop.id)).length, 1, 'the copy landed in bob\'s Drop');

  // Methods of other capabilities and unknown accounts.
  const errs = await f.api([
    ['Identity/get', { accountId: bobAcct }, '0'],
    ['Mailbox/get', { accountId: 'a999999' }, '1'],
    ['Email/copy', { fromAccountId: 'a999999', accountId: f.accountId, create: {} }, '2'],
  ], USING);
  const rs = errs.body['methodResponses'] as Array<[string, Obj]>;
  assert.equal(rs[0]![1]['type'], 'accountNotSupportedByMethod');
  assert.equal(rs[1]![1]['type'], 'accountNotFound');
  assert.equal(rs[2]![1]['type'], 'fromAccountNotFound');

  // Taking the rights away takes the account away (and changes the session state).
  const before = session['state'];
  await f.m.store.acl.remove(team.id, 'alice@example.org');
  await f.m.store.acl.remove(drop.id, 'alice@example.org');
  const after = (await (await fetch(`${f.base}/jmap/session`, { headers: f.auth })).json()) as Obj;
  assert.ok(!(bobAcct in (after['accounts'] as Obj)));
  assert.notEqual(after['state'], before);
  const gone = await f.api([['Mailbox/get', { accountId: bobAcct }, '0']], USING);
  assert.equal((gone.body['methodResponses'] as Array<[string, Obj]>)[0]![1]['type'], 'accountNotFound');
});

/**
 * Shared mailboxes and access control over raw sockets (RFC 4314 ACL, RFC 2342 NAMESPACE, RFC 8440
 * LIST-MYRIGHTS): alice owns "Projects" and grants bob rights step by step; each step is checked as bob
 * sees it (LIST under "shared/alice@example.org/", SELECT, STATUS, STORE, EXPUNGE, APPEND, CREATE, DELETE)
 * with the refusals RFC 4314 section 4 asks for: NO [NONEXISTENT] without "l", NO [NOPERM] with it,
 * READ-ONLY without any of i, e, w, s, t. Also the ACL commands' bad input, `anyone`, public folders,
 * private \Seen, and revoking.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword } from '../src/auth/index.js';
import { RawClient, startImap, PASSWORD, message, type ImapFixture } from './imap-helpers.js';

const SHARED = 'shared/alice@example.org/Projects';

describe('IMAP ACL and shared mailboxes (raw)', () => {
  let f: ImapFixture;
  let a: RawClient;
  let b: RawClient;
  let projectsId = 0;

  before(async () => {
    f = await startImap();
    const hash = await hashPassword(PASSWORD);
    await f.store.directory.createUser('bob@example.org', hash);
    await f.store.directory.createUser('carol@example.org', hash);
    projectsId = (await f.store.mail.createMailbox(f.user.id, 'Projects')).id;
    await f.append(message('Plan', 'first'), [], 'Projects');
    await f.append(message('Budget', 'second'), ['\\Flagged'], 'Projects');
    a = await RawClient.connect(f.port);
    await a.login();
    b = await RawClient.connect(f.port);
    await b.login('bob@example.org');
  });
  after(async () => {
    a.close();
    b.close();
    await f.close();
  });

  test('capabilities, NAMESPACE, the owner\'s rights', async () => {
    const caps = await a.cmd('CAPABILITY');
    for (const c of ['ACL', 'RIGHTS=texk', 'LIST-MYRIGHTS', 'NAMESPACE']) assert.match(caps, new RegExp(` ${c}( |\\r)`), c);
    assert.equal(await a.cmd('NAMESPACE', 'n'), '* NAMESPACE (("" "/")) (("shared/" "/")) (("Public/" "/"))\r\nn OK NAMESPACE completed\r\n');
    assert.equal(await a.cmd('MYRIGHTS INBOX', 'm'), '* MYRIGHTS INBOX lrwstipekxacd\r\nm OK Myrights completed.\r\n');
    assert.equal(
      await a.cmd('LIST "" INBOX RETURN (MYRIGHTS)', 'lm'),
      '* LIST (\\HasNoChildren) "/" "INBOX"\r\n* MYRIGHTS INBOX lrwstipekxacd\r\nlm OK LIST completed\r\n',
    );
    assert.match(await a.cmd('LIST "" INBOX RETURN (BOGUS)', 'lb'), /^lb BAD/);
    assert.equal(await a.cmd('GETACL Projects', 'g'), '* ACL Projects alice@example.org lrwstipekxacd\r\ng OK Getacl completed.\r\n');
    assert.equal(await a.cmd('LISTRIGHTS Projects bob@example.org', 'l'), '* LISTRIGHTS Projects bob@example.org "" l r w s t p i e k x a c d\r\nl OK Listrights completed.\r\n');
  });

  test('no rights: the mailbox does not exist for bob', async () => {
    assert.doesNotMatch(await b.cmd('LIST "" "*"'), /shared/);
    assert.equal(await b.cmd(`SELECT "${SHARED}"`, 's'), 's NO [NONEXISTENT] Mailbox does not exist\r\n');
    assert.equal(await b.cmd(`MYRIGHTS "${SHARED}"`, 'm'), 'm NO [NONEXISTENT] Mailbox does not exist\r\n');
    assert.equal(await b.cmd(`GETACL "${SHARED}"`, 'g'), 'g NO [NONEXISTENT] Mailbox does not exist\r\n');
    assert.equal(await b.cmd('SELECT "shared/nobody@example.org/INBOX"', 'x'), 'x NO [NONEXISTENT] Mailbox does not exist\r\n');
    assert.equal(await b.cmd('SELECT shared', 'r'), 'r NO [NONEXISTENT] Mailbox does not exist\r\n');
  });

  test('SETACL bad input: rights letters, identifiers, mailboxes, who may', async () => {
    assert.equal(await a.cmd('SETACL Projects bob@example.org lrz', 'b1'), 'b1 BAD Invalid ACL right: z\r\n');
    assert.equal(await a.cmd('SETACL Projects "" lr', 'b2'), 'b2 BAD Invalid arguments.\r\n');
    assert.equal(await a.cmd('SETACL Projects', 'b3').then((r) => r.startsWith('b3 BAD')), true);
    assert.equal(await a.cmd('SETACL Nope bob@example.org lr', 'b4'), 'b4 NO [NONEXISTENT] Mailbox does not exist\r\n');
    assert.equal(await a.cmd('SETACL Projects -bob@example.org r', 'b5'), 'b5 NO Negative rights are not supported\r\n');
    assert.equal(await a.cmd('SETACL Projects alice@example.org lr', 'b6'), "b6 NO The owner's rights cannot be changed\r\n");
    // Identifiers of users that do not exist are kept (Dovecot does not check them either).
    assert.equal(await a.cmd('SETACL Projects ghost@nowhere.example lr', 'b7'), 'b7 OK Setacl complete.\r\n');
    assert.equal(await a.cmd('GETACL Projects', 'g'), '* ACL Projects alice@example.org lrwstipekxacd ghost@nowhere.example lr\r\ng OK Getacl completed.\r\n');
    assert.equal(await a.cmd('DELETEACL Projects ghost@nowhere.example', 'd'), 'd OK Deleteacl complete.\r\n');
    assert.equal(await a.cmd('DELETEACL Projects ""', 'd2'), 'd2 BAD Invalid arguments.\r\n');
  });

  test('"l" only: listed, but SELECT and STATUS are NO [NOPERM]; no admin right', async () => {
    assert.equal(await a.cmd('SETACL Projects bob@example.org l', 's'), 's OK Setacl complete.\r\n');
    assert.equal(
      await b.cmd('LIST "" "shared*"', 'l'),
      '* LIST (\\Noselect \\HasChildren) "/" "shared"\r\n' +
        '* LIST (\\Noselect \\HasChildren) "/" "shared/alice@example.org"\r\n' +
        `* LIST (\\HasNoChildren) "/" "${SHARED}"\r\n` +
        'l OK LIST completed\r\n',
    );
    assert.equal(await b.cmd(`MYRIGHTS "${SHARED}"`, 'm'), `* MYRIGHTS ${SHARED} l\r\nm OK Myrights completed.\r\n`);
    assert.equal(await b.cmd(`SELECT "${SHARED}"`, 's'), 's NO [NOPERM] Permission denied\r\n');
    assert.equal(await b.cmd(`EXAMINE "${SHARED}"`, 'e'), 'e NO [NOPERM] Permission denied\r\n');
    assert.equal(await b.cmd(`STATUS "${SHARED}" (MESSAGES)`, 'st'), 'st NO [NOPERM] Permission denied\r\n');
    assert.equal(await b.cmd(`GETACL "${SHARED}"`, 'g'), 'g NO [NOPERM] Permission denied\r\n');
    assert.equal(await b.cmd(`SETACL "${SHARED}" bob@example.org lrswipkxtea`, 'sa'), 'sa NO [NOPERM] Permission denied\r\n');
    assert.equal(await b.cmd(`APPEND "${SHARED}" {5+}\r\nHi!\r\n`, 'ap'), 'ap NO [NOPERM] Permission denied\r\n');
  });

  test('"lr": SELECT comes back READ-ONLY, nothing changes, reading sets no \\Seen', async () => {
    assert.equal(await a.cmd('SETACL Projects bob@example.org +r', 's'), 's OK Setacl complete.\r\n');
    const sel = await b.cmd(`SELECT "${SHARED}"`, 's');
    assert.match(sel, /\* 2 EXISTS\r\n/);
    assert.match(sel, /s OK \[READ-ONLY\] SELECT completed\r\n$/);
    assert.equal(await b.cmd('STORE 1 +FLAGS (\\Seen)', 'w'), 'w NO [CANNOT] Mailbox is read-only\r\n');
    assert.match(await b.cmd('FETCH 1 (FLAGS BODY[TEXT])', 'f'), /\* 1 FETCH \(FLAGS \(\\Recent\) BODY\[TEXT\] \{\d+\}\r\nfirst\r\n\)\r\nf OK/);
    assert.equal(await b.cmd('FETCH 1 FLAGS', 'f2'), '* 1 FETCH (FLAGS (\\Recent))\r\nf2 OK Fetch completed\r\n');
    assert.equal(await b.cmd(`STATUS "${SHARED}" (MESSAGES UNSEEN)`, 'st'), `* STATUS "${SHARED}" (MESSAGES 2 UNSEEN 2)\r\nst OK STATUS completed\r\n`);
    assert.match(await b.cmd(`LIST "" "${SHARED}" RETURN (MYRIGHTS)`, 'lm'), new RegExp(`\\* MYRIGHTS ${SHARED} lr\\r\\nlm OK`));
    // What Thunderbird asks when it opens a shared folder: its quota root (the owner's, not shown) and MYRIGHTS.
    await f.store.quota.setLimits(f.user.id, { messages: 1000 });
    assert.equal(await b.cmd(`GETQUOTAROOT "${SHARED}"`, 'q'), `* QUOTAROOT ${SHARED}\r\nq OK Getquotaroot completed\r\n`);
    assert.match(await a.cmd('GETQUOTAROOT Projects', 'qa'), /^\* QUOTAROOT Projects ""\r\n\* QUOTA "" \(MESSAGE \d+ 1000\)\r\nqa OK/);
    await f.store.quota.setLimits(f.user.id, { messages: null });
    await b.cmd('UNSELECT');
  });

  test('"lrs": private \\Seen; STORE of other flags, EXPUNGE and MOVE are NO [NOPERM]', async () => {
    assert.equal(await a.cmd('SETACL Projects bob@example.org lrs', 's'), 's OK Setacl complete.\r\n');
    const sel = await b.cmd(`SELECT "${SHARED}"`, 's');
    assert.match(sel, /s OK \[READ-WRITE\] SELECT completed\r\n$/);
    // Only \Seen may be changed: PERMANENTFLAGS says so, without \* (no new keywords without "w").
    assert.match(sel, /\* OK \[PERMANENTFLAGS \(\\Seen\)\] Flags permitted\.\r\n/);
    assert.equal(await b.cmd('STORE 1 +FLAGS (\\Flagged)', 'w1'), 'w1 NO [NOPERM] Permission denied\r\n');
    assert.equal(await b.cmd('STORE 1 +FLAGS (\\Deleted)', 'w2'), 'w2 NO [NOPERM] Permission denied\r\n');
    const b2 = await RawClient.connect(f.port);
    await b2.login('bob@example.org');
    await b2.cmd(`EXAMINE "${SHARED}"`);
    assert.equal(await b.cmd('STORE 1 +FLAGS (\\Seen)', 'w3'), '* 1 FETCH (FLAGS (\\Seen \\Recent))\r\nw3 OK Store completed\r\n');
    // bob's other session learns of his private \Seen at its next command.
    assert.equal(await b2.cmd('NOOP', 'n'), '* 1 FETCH (UID 1 FLAGS (\\Seen))\r\nn OK NOOP completed\r\n');
    b2.close();
    // Flags without the right are left alone, the others set: \Flagged of message 2 stays alice's.
    assert.equal(await b.cmd('STORE 2 FLAGS (\\Seen \\Answered)', 'w4'), '* 2 FETCH (FLAGS (\\Flagged \\Seen \\Recent))\r\nw4 OK Store completed\r\n');
    assert.equal(await b.cmd('EXPUNGE', 'x'), 'x NO [NOPERM] Permission denied\r\n');
    assert.equal(await b.cmd('MOVE 1 INBOX', 'mv'), 'mv NO [NOPERM] Permission denied\r\n');
    assert.equal(await b.cmd('SEARCH UNSEEN', 'se'), '* SEARCH\r\nse OK Search completed\r\n');
    // alice's \Seen is hers: both messages are still unseen for her.
    assert.match(await a.cmd('SELECT Projects', 'as'), /as OK \[READ-WRITE\]/);
    assert.equal(await a.cmd('FETCH 1:2 FLAGS', 'af'), '* 1 FETCH (FLAGS ())\r\n* 2 FETCH (FLAGS (\\Flagged))\r\naf OK Fetch completed\r\n');
    assert.equal(await a.cmd('STORE 1 +FLAGS.SILENT (\\Seen)', 'a2'), 'a2 OK Store completed\r\n');
    await a.cmd('UNSELECT');
    assert.equal(await b.cmd('STORE 1 -FLAGS (\\Seen)', 'w5'), '* 1 FETCH (FLAGS (\\Recent))\r\nw5 OK Store completed\r\n');
    assert.equal(await b.cmd(`STATUS "${SHARED}" (UNSEEN)`, 'st'), `* STATUS "${SHARED}" (UNSEEN 1)\r\nst OK STATUS completed\r\n`);
    assert.equal(await a.cmd('STATUS Projects (UNSEEN)', 'ast'), '* STATUS "Projects" (UNSEEN 1)\r\nast OK STATUS completed\r\n');
    await b.cmd('UNSELECT');
  });

  test('"i" lets bob APPEND (into alice\'s store); "k" CREATE below; "x" DELETE; "te" EXPUNGE', async () => {
    assert.equal(await a.cmd('SETACL Projects bob@example.org lrswi', 's'), 's OK Setacl complete.\r\n');
    assert.match(await b.cmd(`APPEND "${SHARED}" (\\Seen) {5+}\r\nHi!\r\n`, 'ap'), /^ap OK \[APPENDUID \d+ 3\] Append completed\r\n$/);
    const own = await f.store.mail.listMessages(projectsId);
    assert.equal(own.length, 3);
    assert.deepEqual(own[2]!.flags, [], 'bob\'s \\Seen is not alice\'s');
    // Charged to the owner: alice at her message limit refuses bob's APPEND; bob's own INBOX is not affected.
    await f.store.quota.setLimits(f.user.id, { messages: (await f.store.quota.usage(f.user.id)).messages });
    assert.equal(await b.cmd(`APPEND "${SHARED}" {5+}\r\nHi!\r\n`, 'oq'), 'oq NO [OVERQUOTA] Quota exceeded\r\n');
    assert.match(await b.cmd('APPEND INBOX {5+}\r\nHi!\r\n', 'ob'), /^ob OK \[APPENDUID/);
    await f.store.quota.setLimits(f.user.id, { messages: null });
    assert.equal(await b.cmd(`CREATE "${SHARED}/Sub"`, 'c1'), 'c1 NO [NOPERM] Permission denied\r\n');
    assert.equal(await b.cmd('CREATE "shared/alice@example.org/Top"', 'c2'), 'c2 NO [NOPERM] Permission denied\r\n');
    assert.equal(await a.cmd('SETACL Projects bob@example.org +k', 's2'), 's2 OK Setacl complete.\r\n');
    assert.match(await b.cmd(`CREATE "${SHARED}/Sub"`, 'c3'), /^c3 OK \[MAILBOXID/);
    assert.ok(await f.store.mail.getMailbox(f.user.id, 'Projects/Sub'));
    assert.equal(await b.cmd(`DELETE "${SHARED}"`, 'd1'), 'd1 NO [NOPERM] Permission denied\r\n');
    assert.equal(await b.cmd(`DELETE "${SHARED}/Sub"`, 'd2'), 'd2 NO [NONEXISTENT] Mailbox does not exist\r\n');
    assert.equal(await a.cmd('SETACL Projects/Sub bob@example.org lx', 's3'), 's3 OK Setacl complete.\r\n');
    assert.equal(await b.cmd(`DELETE "${SHARED}/Sub"`, 'd3'), 'd3 OK Delete completed\r\n');
    assert.equal(await f.store.mail.getMailbox(f.user.id, 'Projects/Sub'), null);
    assert.equal(await a.cmd('SETACL Projects bob@example.org lrstie', 's4'), 's4 OK Setacl complete.\r\n');
    await b.cmd(`SELECT "${SHARED}"`);
    assert.equal(await b.cmd('UID STORE 3 +FLAGS.SILENT (\\Deleted)', 'u'), 'u OK Store completed\r\n');
    assert.equal(await b.cmd('UID EXPUNGE 3', 'x'), '* 3 EXPUNGE\r\n* 0 RECENT\r\nx OK Expunge completed\r\n');
    await b.cmd('UNSELECT');
  });

  test('COPY out of a shared mailbox, SUBSCRIBE and LSUB, RENAME only within the owner\'s mailboxes', async () => {
    // NOTIFY on another owner's mailbox: a STATUS when alice's mailbox changes ("personal" would not name it).
    const set = await b.cmd(`NOTIFY SET STATUS (mailboxes "${SHARED}" (MessageNew MessageExpunge))`, 'ns');
    const before = /\* STATUS "shared\/alice@example\.org\/Projects" \(MESSAGES (\d+) /.exec(set);
    assert.ok(before, set);
    await f.append(message('Later', 'more'), [], 'Projects');
    assert.match(await b.cmd('NOOP', 'nn'), new RegExp(`\\* STATUS "${SHARED}" \\(MESSAGES ${Number(before[1]) + 1} `));
    assert.equal(await b.cmd('NOTIFY NONE', 'n0'), 'n0 OK NOTIFY completed\r\n');
    assert.doesNotMatch(await b.cmd('NOTIFY SET STATUS (personal (MessageNew))', 'np'), /shared/);
    await b.cmd('NOTIFY NONE');
    await b.cmd(`SELECT "${SHARED}"`);
    assert.match(await b.cmd('COPY 1 INBOX', 'cp'), /^cp OK \[COPYUID \d+ 1 \d+\] Copy completed\r\n$/);
    await b.cmd('UNSELECT');
    assert.equal(await b.cmd(`SUBSCRIBE "${SHARED}"`, 'sb'), 'sb OK Subscribe completed\r\n');
    assert.equal(await b.cmd('LSUB "" "shared/*"', 'ls'), `* LSUB () "/" "${SHARED}"\r\nls OK LSUB completed\r\n`);
    assert.match(await b.cmd(`LIST (SUBSCRIBED) "" "shared/*"`, 'lsb'), new RegExp(`\\* LIST \\(\\\\HasNoChildren \\\\Subscribed\\) "/" "${SHARED}"\\r\\n`));
    assert.match(await a.cmd('CREATE Projects/Old', 'c'), /^c OK/);
    assert.equal(await a.cmd('SETACL Projects/Old bob@example.org lx', 's1'), 's1 OK Setacl complete.\r\n');
    assert.equal(await b.cmd(`RENAME "${SHARED}/Old" "${SHARED}/New"`, 'r1'), 'r1 NO [NOPERM] Permission denied\r\n');
    assert.equal(await a.cmd('SETACL Projects bob@example.org +k', 's2'), 's2 OK Setacl complete.\r\n');
    assert.equal(await b.cmd(`RENAME "${SHARED}/Old" "${SHARED}/New"`, 'r2'), 'r2 OK Rename completed\r\n');
    assert.ok(await f.store.mail.getMailbox(f.user.id, 'Projects/New'));
    assert.equal(await b.cmd(`RENAME "${SHARED}/New" Mine`, 'r3'), 'r3 NO [CANNOT] Cannot rename a mailbox to another owner\r\n');
    assert.equal(await b.cmd('RENAME Projects Mine', 'r4'), 'r4 NO [NONEXISTENT] Mailbox does not exist\r\n');
    assert.equal(await a.cmd('SETACL Projects bob@example.org -k', 's3'), 's3 OK Setacl complete.\r\n');
    // The entries went with the mailbox: bob still sees it under its new name until alice deletes it.
    assert.match(await b.cmd('LIST "" "shared/*/Projects/*"', 'l'), new RegExp(`\\* LIST \\(\\\\HasNoChildren\\) "/" "${SHARED}/New"\\r\\n`));
    assert.equal(await a.cmd('DELETE Projects/New', 'd'), 'd OK Delete completed\r\n');
  });

  test('anyone, public folders, and revoking', async () => {
    const c = await RawClient.connect(f.port);
    await c.login('carol@example.org');
    assert.doesNotMatch(await c.cmd('LIST "" "*"'), /shared/);
    assert.equal(await a.cmd('SETACL Projects anyone lr', 's'), 's OK Setacl complete.\r\n');
    assert.match(await c.cmd('LIST "" "shared/*"'), new RegExp(`\\* LIST \\(\\\\HasNoChildren\\) "/" "${SHARED}"\\r\\n`));
    assert.equal(await c.cmd(`MYRIGHTS "${SHARED}"`, 'm'), `* MYRIGHTS ${SHARED} lr\r\nm OK Myrights completed.\r\n`);
    // bob's own entry overrides anyone's.
    assert.equal(await b.cmd(`MYRIGHTS "${SHARED}"`, 'mb'), `* MYRIGHTS ${SHARED} lrstiedc\r\nmb OK Myrights completed.\r\n`.replace('lrstiedc', 'lrstied'));
    assert.equal(await a.cmd('DELETEACL Projects anyone', 'd'), 'd OK Deleteacl complete.\r\n');
    assert.doesNotMatch(await c.cmd('LIST "" "*"'), /Projects/);

    const pubOwner = await f.store.acl.publicOwner();
    const news = await f.store.mail.createMailbox(pubOwner, 'News');
    await f.store.mail.append(news.id, Buffer.from(message('Welcome', 'hello all')));
    await f.store.acl.set(news.id, 'anyone', 'lr');
    assert.match(await c.cmd('LIST "" "Public/*" RETURN (MYRIGHTS)', 'p'), /\* LIST \(\\HasNoChildren\) "\/" "Public\/News"\r\n\* MYRIGHTS Public\/News lr\r\np OK/);
    assert.match(await c.cmd('SELECT Public/News', 'ps'), /\* 1 EXISTS\r\n[\s\S]*ps OK \[READ-ONLY\] SELECT completed\r\n$/);
    assert.equal(await c.cmd('GETACL Public/News', 'pg'), 'pg NO [NOPERM] Permission denied\r\n');
    // The public owner never logs in.
    const x = await RawClient.connect(f.port);
    assert.match(await x.cmd('LOGIN "#public" "!disabled"', 'lg'), /^lg NO/);
    x.close();
    c.close();

    assert.equal(await a.cmd('DELETEACL Projects bob@example.org', 'r'), 'r OK Deleteacl complete.\r\n');
    assert.doesNotMatch(await b.cmd('LIST "" "*"'), /Projects/);
    assert.equal(await b.cmd(`SELECT "${SHARED}"`, 's'), 's NO [NONEXISTENT] Mailbox does not exist\r\n');
  });
});

/**
 * Raw-socket transcripts of NOTIFY (RFC 5465): the STATUS indicator's initial STATUS per event set, STATUS
 * of a watched mailbox after a change (at the next command and during IDLE), MailboxName and
 * SubscriptionChange LIST responses from another session, NOTIFY NONE, BADEVENT and malformed commands;
 * changes made through another store on the same data directory (as another process makes them) arrive
 * through the store: STATUS for new messages, LIST for created and deleted mailboxes. A rename out of a
 * filter is reported once and the mailbox is no longer watched, one into it is watched from then on; a
 * session that never reads its notifications overflows (NOTIFICATIONOVERFLOW) instead of growing.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, message, useTranscriptImap } from '../../../test/imap-helpers.js';
import { openSqliteStore } from '../../store/sqlite/index.js';
import { MAX_PENDING_LISTS } from './notify.js';

describe('NOTIFY raw transcripts', () => {
  const f = useTranscriptImap();

  test('STATUS indicator, changes at the next command and in IDLE, NOTIFY NONE', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd('CAPABILITY', 'cap'), / NOTIFY[ \r]/);
    const mb = await f.store.mail.createMailbox(f.user.id, 'Watch');
    const v = mb.uidValidity;
    assert.equal(await c.cmd('NOTIFY SET STATUS (mailboxes Watch (MessageExpunge))', 'n1'), '* STATUS "Watch" (MESSAGES 0)\r\nn1 OK NOTIFY completed\r\n');
    assert.equal(
      await c.cmd('NOTIFY SET STATUS (mailboxes Watch (MessageNew))', 'n2'),
      `* STATUS "Watch" (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ${v})\r\nn2 OK NOTIFY completed\r\n`,
    );
    const hms = (await f.store.mail.status(mb.id)).highestModseq;
    assert.equal(
      await c.cmd('NOTIFY SET STATUS (subtree Watch (FlagChange))', 'n3'),
      `* STATUS "Watch" (UIDVALIDITY ${v} HIGHESTMODSEQ ${hms})\r\nn3 OK NOTIFY completed\r\n`,
    );
    assert.equal(await c.cmd('NOTIFY SET (mailboxes Watch (MessageNew MessageExpunge)) (personal NONE)', 'n4'), 'n4 OK NOTIFY completed\r\n');
    await f.append(message('one'), [], 'Watch');
    assert.equal(await c.cmd('NOOP', 'p1'), `* STATUS "Watch" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ${v})\r\np1 OK NOOP completed\r\n`);
    assert.equal(await c.cmd('NOOP', 'p2'), 'p2 OK NOOP completed\r\n');
    c.write('i1 IDLE\r\n');
    await c.readUntil((s) => s.includes('+ idling'));
    c.take();
    await f.append(message('two'), [], 'Watch');
    assert.equal(await c.readUntil((s) => s.includes('\r\n')), `* STATUS "Watch" (MESSAGES 2 UIDNEXT 3 UIDVALIDITY ${v})\r\n`);
    c.take();
    c.write('DONE\r\n');
    assert.equal(await c.waitTagged('i1'), 'i1 OK IDLE terminated\r\n');
    // The selected mailbox reports through EXISTS, not STATUS.
    await c.cmd('SELECT Watch');
    await f.append(message('three'), [], 'Watch');
    assert.match(await c.cmd('NOOP', 'p3'), /^\* 3 EXISTS\r\n\* \d+ RECENT\r\np3 OK NOOP completed\r\n$/);
    await c.cmd('UNSELECT');
    assert.equal(await c.cmd('NOTIFY NONE', 'nn'), 'nn OK NOTIFY completed\r\n');
    await f.append(message('four'), [], 'Watch');
    assert.equal(await c.cmd('NOOP', 'p4'), 'p4 OK NOOP completed\r\n');
    c.close();
  });

  test('MailboxName and SubscriptionChange from another session; BADEVENT; malformed commands', async () => {
    const c = await RawClient.connect(f.port);
    const d = await RawClient.connect(f.port);
    await c.login();
    await d.login();
    assert.equal(await c.cmd('NOTIFY SET (personal (MailboxName SubscriptionChange))', 'n1'), 'n1 OK NOTIFY completed\r\n');
    assert.equal(await d.cmd('CREATE Fresh', 'c1').then((r) => r.replace(/\[MAILBOXID \([^)]*\)\] /, '')), 'c1 OK Create completed\r\n');
    await d.cmd('SUBSCRIBE Fresh');
    await d.cmd('RENAME Fresh Fresher');
    await d.cmd('DELETE Fresher');
    assert.equal(
      await c.cmd('NOOP', 'p1'),
      '* LIST () "/" "Fresh"\r\n* LIST (\\Subscribed) "/" "Fresh"\r\n* LIST () "/" "Fresher" ("OLDNAME" ("Fresh"))\r\n* LIST (\\NonExistent) "/" "Fresher"\r\np1 OK NOOP completed\r\n',
    );
    // A mailbox created later (matched by "personal") is watched from then on.
    assert.equal(await c.cmd('NOTIFY SET (personal (MessageNew MessageExpunge))', 'n2'), 'n2 OK NOTIFY completed\r\n');
    await d.cmd('CREATE Later');
    await d.cmd('NOOP');
    assert.equal(await c.cmd('NOOP', 'p0'), 'p0 OK NOOP completed\r\n');
    await f.append(message('later'), [], 'Later');
    const later = (await f.store.mail.getMailbox(f.user.id, 'Later'))!;
    assert.equal(await c.cmd('NOOP', 'p00'), `* STATUS "Later" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ${later.uidValidity})\r\np00 OK NOOP completed\r\n`);
    // Its own changes are not announced back.
    await c.cmd('CREATE Mine');
    assert.equal(await c.cmd('NOOP', 'p2'), 'p2 OK NOOP completed\r\n');
    assert.equal(
      await c.cmd('NOTIFY SET (personal (MessageNew MessageExpunge AnnotationChange))', 'e1'),
      'e1 NO [BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)] Unsupported NOTIFY event\r\n',
    );
    for (const [tag, cmd] of [
      ['b1', 'NOTIFY'],
      ['b2', 'NOTIFY SET'],
      ['b3', 'NOTIFY FOO'],
      ['b4', 'NOTIFY SET (bogus (MessageNew))'],
      ['b5', 'NOTIFY SET (mailboxes (MessageNew))'],
      ['b6', 'NOTIFY SET (personal ())'],
      ['b7', 'NOTIFY SET personal (MessageNew)'],
      ['b8', 'NOTIFY NONE extra'],
    ] as const) {
      assert.match(await c.cmd(cmd, tag), new RegExp(`^${tag} BAD `), cmd);
    }
    assert.equal(await c.cmd('NOOP', 'z'), 'z OK NOOP completed\r\n');
    c.close();
    d.close();
  });

  test('changes made by another process arrive through the store bus, in IDLE', async () => {
    // A second store on the same directory with its own hub: it is seen only as another process is.
    const other = await openSqliteStore({ dataDir: f.dataDir, fsync: false });
    const c = await RawClient.connect(f.port);
    try {
      await c.login();
      const far = await other.mail.createMailbox(f.user.id, 'Far');
      await other.mail.createMailbox(f.user.id, 'Gone');
      assert.equal(await c.cmd('NOTIFY SET (personal (MessageNew MessageExpunge MailboxName))', 'n'), 'n OK NOTIFY completed\r\n');
      c.write('i IDLE\r\n');
      await c.readUntil((x) => x.includes('+ idling'));
      c.take();
      await other.mail.append(far.id, Buffer.from(message('far away')));
      assert.equal(await c.readUntil((x) => x.includes('\r\n')), `* STATUS "Far" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ${far.uidValidity})\r\n`);
      c.take();
      await other.mail.deleteMailbox(f.user.id, 'Gone');
      assert.equal(await c.readUntil((x) => x.includes('\r\n')), '* LIST (\\NonExistent) "/" "Gone"\r\n');
      c.take();
      // A create there (no wake-up of any existing mailbox) is heard too, and the new mailbox is watched.
      const near = await other.mail.createMailbox(f.user.id, 'Near');
      assert.equal(await c.readUntil((x) => x.includes('\r\n')), '* LIST () "/" "Near"\r\n');
      c.take();
      await new Promise((r) => setTimeout(r, 300));
      await other.mail.append(near.id, Buffer.from(message('near by')));
      assert.equal(await c.readUntil((x) => x.includes('\r\n')), `* STATUS "Near" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ${near.uidValidity})\r\n`);
      c.take();
      c.write('DONE\r\n');
      assert.equal(await c.waitTagged('i'), 'i OK IDLE terminated\r\n');
      // Reported once: nothing more is pending.
      assert.equal(await c.cmd('NOOP', 'z'), 'z OK NOOP completed\r\n');
    } finally {
      c.close();
      await other.close();
    }
  });

  test('a rename out of the filter is reported once, then nothing of that mailbox; a rename into it is watched', async () => {
    await f.store.mail.createMailbox(f.user.id, 'Proj');
    await f.store.mail.createMailbox(f.user.id, 'Proj/a');
    await f.store.mail.createMailbox(f.user.id, 'Outside');
    const c = await RawClient.connect(f.port);
    const d = await RawClient.connect(f.port);
    try {
      await c.login();
      await d.login();
      assert.equal(await c.cmd('NOTIFY SET (subtree Proj (MessageNew MailboxName SubscriptionChange))', 'n'), 'n OK NOTIFY completed\r\n');
      await d.cmd('RENAME Proj/a Elsewhere');
      assert.equal(await c.cmd('NOOP', 'p1'), '* LIST () "/" "Elsewhere" ("OLDNAME" ("Proj/a"))\r\np1 OK NOOP completed\r\n');
      // Out of the filter now: its messages, subscription and deletion are not reported.
      await f.append(message('elsewhere'), [], 'Elsewhere');
      await d.cmd('SUBSCRIBE Elsewhere');
      await d.cmd('DELETE Elsewhere');
      assert.equal(await c.cmd('NOOP', 'p2'), 'p2 OK NOOP completed\r\n');
      // Renamed into the filter: reported, and its messages from then on.
      await d.cmd('RENAME Outside Proj/b');
      assert.equal(await c.cmd('NOOP', 'p3'), '* LIST () "/" "Proj/b" ("OLDNAME" ("Outside"))\r\np3 OK NOOP completed\r\n');
      await f.append(message('inside'), [], 'Proj/b');
      const b = (await f.store.mail.getMailbox(f.user.id, 'Proj/b'))!;
      assert.equal(await c.cmd('NOOP', 'p4'), `* STATUS "Proj/b" (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ${b.uidValidity})\r\np4 OK NOOP completed\r\n`);
      // Renaming the filter's root itself: reported under both names, once.
      await d.cmd('RENAME Proj Gone');
      assert.equal(await c.cmd('NOOP', 'p5'), '* LIST () "/" "Gone" ("OLDNAME" ("Proj"))\r\np5 OK NOOP completed\r\n');
      await f.append(message('gone'), [], 'Gone/b');
      assert.equal(await c.cmd('NOOP', 'p6'), 'p6 OK NOOP completed\r\n');
    } finally {
      c.close();
      d.close();
    }
  });

  test('a session that reads no notifications overflows (NOTIFICATIONOVERFLOW) and NOTIFY is off', async () => {
    const c = await RawClient.connect(f.port);
    try {
      await c.login();
      assert.equal(await c.cmd('NOTIFY SET (personal (SubscriptionChange))', 'n'), 'n OK NOTIFY completed\r\n');
      for (let i = 0; i <= MAX_PENDING_LISTS; i++) await f.store.mail.setSubscribed(f.user.id, `Flood${i % 2}`, i % 4 < 2);
      assert.equal(await c.cmd('NOOP', 'p1'), '* OK [NOTIFICATIONOVERFLOW] Too many notifications; NOTIFY is off\r\np1 OK NOOP completed\r\n');
      await f.store.mail.setSubscribed(f.user.id, 'Flood9', true);
      assert.equal(await c.cmd('NOOP', 'p2'), 'p2 OK NOOP completed\r\n');
    } finally {
      c.close();
    }
  });
});

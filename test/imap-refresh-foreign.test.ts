/**
 * The refresh after a command reads the change log unless a store operation of that command found the
 * mailbox at what the view has seen (MailboxView.noteHighest, the open): then it reads nothing. These tests
 * make changes through a second store instance on the same SQLite file (its own hub: no wake-up reaches
 * this process except through the data_version poll, like a change by another process) and check that the
 * next command still reports them (EXISTS, FETCH FLAGS, EXPUNGE), whether it is a STORE that changes a
 * message, a STORE that changes nothing, a FETCH that sets \Seen, a SELECT or IDLE; and that the read is
 * skipped only when nothing can be new.
 */
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { openServerStore } from '../src/server/store.js';
import type { MailStore } from '../src/store/mail.js';
import type { ExpungeHold } from '../src/store/holds.js';
import { MailboxView } from '../src/imap-server/view.js';
import { startImap, RawClient, message, type ImapFixture } from './imap-helpers.js';

describe('IMAP refresh: changes by another store instance on the same SQLite file', () => {
  let f: ImapFixture;
  let other: Awaited<ReturnType<typeof openServerStore>>;
  let reads = 0;
  let otherInbox = 0;

  before(async () => {
    f = await startImap();
    for (let i = 1; i <= 6; i++) await f.append(message(`m${i}`));
    other = await openServerStore({ dataDir: f.dataDir, fsync: false });
    otherInbox = (await other.mail.getMailbox(f.user.id, 'INBOX'))!.id;
    // Counts the change-log reads of the server's store (the refresh after each command makes them).
    const mail = f.store.mail as MailStore;
    const changesSince = mail.changesSince.bind(mail);
    mail.changesSince = (mailboxId, modseq) => {
      reads++;
      return changesSince(mailboxId, modseq);
    };
  });
  after(async () => {
    await other.close();
    await f.close();
  });
  beforeEach(() => {
    reads = 0;
  });

  /** Another instance appends one message, adds `flag` to `flagUid` and expunges `goneUid`. */
  async function foreignChanges(flagUid: number, goneUid: number, flag = '\\Flagged'): Promise<void> {
    await other.mail.append(otherInbox, Buffer.from(message('foreign')));
    await other.mail.storeFlags(otherInbox, [flagUid], { op: 'add', flags: [flag] });
    await other.mail.storeFlags(otherInbox, [goneUid], { op: 'add', flags: ['\\Deleted'] });
    await other.mail.expunge(otherInbox, [goneUid]);
  }

  async function selected(): Promise<{ c: RawClient; exists: number }> {
    const c = await RawClient.connect(f.port);
    await c.login();
    const sel = await c.cmd('SELECT INBOX');
    return { c, exists: Number(/\* (\d+) EXISTS/.exec(sel)![1]) };
  }

  test('a STORE with nothing new reads nothing; one after foreign changes reports all of them', async () => {
    const { c, exists } = await selected();
    reads = 0;
    // The view has seen everything: the STORE's own change is the next modseq, no read after it.
    assert.equal(await c.cmd('UID STORE 1 +FLAGS.SILENT (\\Answered)', 's1'), 's1 OK Store completed\r\n');
    assert.equal(reads, 0, 'a STORE that is the only change since the view read nothing more');
    await foreignChanges(2, 3);
    const r = await c.cmd('UID STORE 1 +FLAGS.SILENT (\\Seen)', 's2');
    assert.ok(reads >= 1, 'the STORE after a foreign change reads the change log');
    assert.match(r, /\* 2 FETCH \(UID 2 FLAGS \(\\Flagged( \\Recent)?\)\)\r\n/);
    assert.match(r, /\* 3 EXPUNGE\r\n/);
    assert.match(r, new RegExp(`\\* ${exists} EXISTS\\r\\n`), 'one appended, one expunged: the count is back');
    assert.match(r, /s2 OK Store completed\r\n$/);
    c.close();
  });

  test('a STORE that changes nothing reports foreign changes committed before it', async () => {
    const { c, exists } = await selected();
    await c.cmd('UID STORE 1 +FLAGS.SILENT (\\Seen)');
    reads = 0;
    // Already \Seen: no write; the store's read of HIGHESTMODSEQ is all the refresh needs.
    assert.equal(await c.cmd('UID STORE 1 +FLAGS.SILENT (\\Seen)', 'n1'), 'n1 OK Store completed\r\n');
    assert.equal(reads, 0, 'a STORE that changed nothing and found nothing new reads nothing more');
    await foreignChanges(4, 5);
    const r = await c.cmd('UID STORE 1 +FLAGS.SILENT (\\Seen)', 'n2');
    assert.match(r, /\* \d+ FETCH \(UID 4 FLAGS \(\\Flagged( \\Recent)?\)\)\r\n/);
    assert.match(r, /\* \d+ EXPUNGE\r\n/);
    assert.match(r, new RegExp(`\\* ${exists} EXISTS\\r\\n`));
    c.close();
  });

  test('a FETCH that sets \\Seen reports foreign changes (but holds the EXPUNGE back)', async () => {
    const { c, exists } = await selected();
    const uids = [...(await c.cmd('UID SEARCH ALL')).matchAll(/ (\d+)/g)].map((m) => Number(m[1]));
    const [first, second, third] = uids as [number, number, number];
    await c.cmd(`UID STORE ${first} -FLAGS.SILENT (\\Seen)`);
    await foreignChanges(second, third, '\\Draft');
    // FETCH uses sequence numbers: the EXPUNGE waits for the NOOP (RFC 9051 7.5.1), the rest goes out now.
    const r = await c.cmd('FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])', 'f1');
    assert.match(r, /\* 1 FETCH \(BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: m1\r\n\r\n FLAGS \([^)]*\\Seen/);
    assert.match(r, new RegExp(`\\* 2 FETCH \\(UID ${second} FLAGS \\([^)]*\\\\Draft[^)]*\\)\\)\\r\\n`));
    assert.match(r, new RegExp(`\\* ${exists + 1} EXISTS\\r\\n`));
    assert.doesNotMatch(r, /EXPUNGE/);
    const n = await c.cmd('NOOP', 'f2');
    assert.match(n, /\* 3 EXPUNGE\r\n/);
    c.close();
  });

  test('after a SELECT that read nothing more, NOOP and a later STORE still report foreign changes', async () => {
    const { c, exists } = await selected();
    await other.mail.append(otherInbox, Buffer.from(message('foreign after select')));
    const r = await c.cmd('NOOP', 'p1');
    assert.match(r, new RegExp(`\\* ${exists + 1} EXISTS\\r\\n`));
    // A change by another session of this server (same store) wakes the view: no stale answer either.
    const b = await RawClient.connect(f.port);
    await b.login();
    await b.cmd('SELECT INBOX');
    const uids = [...(await c.cmd('UID SEARCH ALL')).matchAll(/ (\d+)/g)].map((m) => Number(m[1]));
    const last = uids[uids.length - 1]!;
    await b.cmd(`UID STORE ${last} +FLAGS.SILENT (\\Draft)`);
    const s = await c.cmd(`UID STORE ${uids[0]} +FLAGS.SILENT (\\Answered)`, 'p2');
    assert.match(s, new RegExp(`\\* ${exists + 1} FETCH \\(UID ${last} FLAGS \\([^)]*\\\\Draft[^)]*\\)\\)\\r\\n`));
    b.close();
    c.close();
  });

  test('IDLE reads nothing more at its start, and reports a change another instance made just before it', async () => {
    const { c, exists } = await selected();
    reads = 0;
    c.write('i1 IDLE\r\n');
    await c.readUntil((s) => s.includes('+ idling\r\n'));
    c.take();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(reads, 0, 'nothing new since the refresh after SELECT');
    c.write('DONE\r\n');
    assert.match(await c.waitTagged('i1'), /^i1 OK IDLE terminated\r\n$/);
    assert.equal(reads, 1, 'the refresh after IDLE reads');
    // Committed by the other instance after the last read and before IDLE: its wake-up (the data_version
    // poll) reports it during IDLE.
    await other.mail.append(otherInbox, Buffer.from(message('before idle')));
    c.write('i2 IDLE\r\n');
    const got = await c.readUntil((s) => new RegExp(`\\* ${exists + 1} EXISTS\\r\\n`).test(s), 3000);
    assert.match(got, /^\+ idling\r\n/);
    c.take();
    c.write('DONE\r\n');
    assert.match(await c.waitTagged('i2'), /i2 OK IDLE terminated\r\n$/);
    c.close();
  });

  test('the view moves its expunge hold after an expunge is reported, not for flag changes and appends', async () => {
    const mail = f.store.mail as MailStore;
    const moves: number[] = [];
    // The server's store, with the holds it hands out counting their moves.
    const store = Object.create(mail, {
      holdExpunged: {
        value: (id: number, modseq: number): ExpungeHold => {
          const h = mail.holdExpunged(id, modseq);
          return { advance: (m) => (moves.push(m), h.advance(m)), release: () => h.release(), exempt: (fn) => h.exempt(fn) };
        },
      },
    }) as MailStore;
    const view = await MailboxView.open(store, f.inbox, { readOnly: false, trackRecent: false });
    const sent: string[] = [];
    const sink = { send: (b: Buffer) => void sent.push(b.toString('latin1')), condstore: false, qresync: false, rev2: false };
    try {
      // The refresh that ends the command that opened the view (as the dispatcher runs it).
      await view.refresh();
      moves.length = 0;
      await other.mail.append(otherInbox, Buffer.from(message('appended')));
      await other.mail.storeFlags(otherInbox, [view.uids[0]!], { op: 'add', flags: ['\\Flagged'] });
      await view.refresh();
      view.flush(sink, true);
      assert.equal(moves.length, 0, 'an append and a flag change do not move the hold');
      assert.ok(sent.join('').includes('EXISTS'));
      const victim = view.uids[1]!;
      await other.mail.storeFlags(otherInbox, [victim], { op: 'add', flags: ['\\Deleted'] });
      await other.mail.expunge(otherInbox, [victim]);
      await view.refresh();
      view.flush(sink, false);
      assert.equal(moves.length, 0, 'not while the expunge is not reported');
      assert.ok(view.meta(victim), 'the view still shows the expunged message');
      view.flush(sink, true);
      assert.deepEqual(moves, [view.highestModseq], 'reported: the hold moves to what the view has seen');
      assert.equal(view.meta(victim), undefined);
    } finally {
      view.close();
    }
  });

  /** APPEND of `msg` into INBOX with `flags`, as a non-synchronizing literal. */
  function appendCmd(msg: string, flags: string): string {
    return `APPEND INBOX (${flags}) {${Buffer.byteLength(msg)}+}\r\n${msg}`;
  }

  test('an own APPEND and EXPUNGE read nothing when they are the only change since; the client sees them', async () => {
    const { c, exists } = await selected();
    reads = 0;
    const a = await c.cmd(appendCmd(message('own append'), '\\Seen $Own'), 'a1');
    const uid = Number(/\[APPENDUID \d+ (\d+)\]/.exec(a)![1]);
    assert.equal(reads, 0, 'the view took the appended message from the append itself');
    assert.match(a, new RegExp(`\\* ${exists + 1} EXISTS\\r\\n`));
    assert.match(a, /\* FLAGS \([^)]*\$Own/, 'a new keyword is announced');
    const f1 = await c.cmd(`UID FETCH ${uid} (FLAGS RFC822.SIZE INTERNALDATE)`, 'a2');
    assert.match(f1, new RegExp(`\\* ${exists + 1} FETCH \\(UID ${uid} FLAGS \\(\\\\Seen \\$Own \\\\Recent\\) RFC822\\.SIZE ${Buffer.byteLength(message('own append'))} INTERNALDATE "`));
    await c.cmd(`UID STORE ${uid} +FLAGS.SILENT (\\Deleted)`);
    reads = 0;
    const e = await c.cmd('EXPUNGE', 'e1');
    // The expunged message was \Recent here: the new RECENT count follows (as from Dovecot).
    assert.match(e, new RegExp(`^\\* ${exists + 1} EXPUNGE\\r\\n\\* \\d+ RECENT\\r\\ne1 OK Expunge completed\\r\\n$`));
    assert.equal(reads, 0, 'an expunge that is the only change since reads nothing more');
    assert.match(await c.cmd('NOOP', 'e2'), /^e2 OK /);
    c.close();
  });

  test('an own APPEND and EXPUNGE after foreign changes report those too', async () => {
    const { c, exists } = await selected();
    const uids = [...(await c.cmd('UID SEARCH ALL')).matchAll(/ (\d+)/g)].map((m) => Number(m[1]));
    await foreignChanges(uids[0]!, uids[1]!, '$Foreign');
    reads = 0;
    const a = await c.cmd(appendCmd(message('own after foreign'), '\\Seen'), 'a3');
    assert.ok(reads >= 1, 'the APPEND after a foreign change reads the change log');
    assert.match(a, /\* 2 EXPUNGE\r\n/);
    assert.match(a, new RegExp(`\\* ${exists + 1} EXISTS\\r\\n`), 'the foreign append and this one, less the expunged one');
    assert.match(a, new RegExp(`\\* 1 FETCH \\(UID ${uids[0]} FLAGS \\([^)]*\\$Foreign`));
    const own = Number(/\[APPENDUID \d+ (\d+)\]/.exec(a)![1]);
    await c.cmd(`UID STORE ${own} +FLAGS.SILENT (\\Deleted)`);
    await other.mail.storeFlags(otherInbox, [uids[2]!], { op: 'add', flags: ['\\Draft'] });
    reads = 0;
    const e = await c.cmd('EXPUNGE', 'e3');
    assert.ok(reads >= 1, 'the EXPUNGE after a foreign change reads the change log');
    assert.match(e, new RegExp(`\\* ${exists + 1} EXPUNGE\\r\\n`));
    assert.match(e, new RegExp(`\\* 2 FETCH \\(UID ${uids[2]} FLAGS \\([^)]*\\\\Draft`));
    c.close();
  });

  test('an own append expunged elsewhere before the client was told of it is never announced', async () => {
    const mail = f.store.mail as MailStore;
    const view = await MailboxView.open(mail, f.inbox, { readOnly: false, trackRecent: true });
    const sent: string[] = [];
    const sink = { send: (b: Buffer) => void sent.push(b.toString('latin1')), condstore: false, qresync: false, rev2: false };
    try {
      await view.refresh();
      view.flush(sink, true);
      sent.length = 0;
      const exists = view.exists;
      const r = await mail.append(f.inbox.id, Buffer.from(message('own, soon gone')), { flags: [], claimRecent: true });
      assert.equal(view.applyOwnAppend([r]), true);
      await other.mail.storeFlags(otherInbox, [r.uid], { op: 'add', flags: ['\\Deleted'] });
      await other.mail.expunge(otherInbox, [r.uid]);
      await view.refresh(); // proven by the append: reads nothing
      await view.refresh(); // the next one reads the expunge (as after a wake-up)
      view.flush(sink, true);
      assert.equal(sent.join(''), '', 'no EXPUNGE for a message the client never saw, and no EXISTS change');
      assert.equal(view.exists, exists);
      assert.equal(view.meta(r.uid), undefined);
    } finally {
      view.close();
    }
  });

  test('bad input still gets BAD and leaves the view working', async () => {
    const { c } = await selected();
    assert.match(await c.cmd('UID STORE 1 +FLAGS.SILENT', 'b1'), /^b1 BAD /m);
    assert.match(await c.cmd('STORE 999 +FLAGS (\\Seen)', 'b2'), /^b2 BAD /m);
    await other.mail.append(otherInbox, Buffer.from(message('after bad')));
    assert.match(await c.cmd('NOOP', 'b3'), /\* \d+ EXISTS\r\n/);
    c.close();
  });
});

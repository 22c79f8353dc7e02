/**
 * Several sessions on one store: updates caused by other sessions, by delivery (store.append) and by
 * POP3 (store.commitMaildrop) reach a session in IDLE and at NOOP; expunges are held back during
 * FETCH/STORE/SEARCH (RFC 9051 7.5.1) and reported as VANISHED under QRESYNC.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startImap, RawClient, message, type ImapFixture } from './imap-helpers.js';

describe('IMAP concurrent sessions', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
    for (let i = 1; i <= 4; i++) await f.append(message(`m${i}`));
  });
  after(async () => {
    await f.close();
  });

  test('IDLE sees EXISTS, FETCH FLAGS (with MODSEQ) and EXPUNGE from another session and from delivery', async () => {
    const a = await RawClient.connect(f.port);
    const b = await RawClient.connect(f.port);
    await a.login();
    await b.login();
    await a.cmd('ENABLE CONDSTORE');
    await a.cmd('SELECT INBOX');
    await b.cmd('SELECT INBOX');
    a.write('i1 IDLE\r\n');
    await a.readUntil((s) => s.includes('+ idling\r\n'));
    a.take();

    await f.append(message('delivered'));
    assert.match(await a.readUntil((s) => /\* 5 EXISTS\r\n/.test(s), 2000), /\* 5 EXISTS\r\n\* 5 RECENT\r\n/);
    a.take();

    await b.cmd('STORE 2 +FLAGS (\\Flagged)');
    assert.match(await a.readUntil((s) => s.includes('FETCH'), 2000), /^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged \\Recent\) MODSEQ \(\d+\)\)\r\n$/);
    a.take();

    await b.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await a.readUntil((s) => s.includes('FETCH'), 2000);
    a.take();
    await b.cmd('EXPUNGE');
    // \Recent (a's) was expunged: the new RECENT count follows, as from Dovecot.
    assert.equal(await a.readUntil((s) => s.includes('RECENT'), 2000), '* 1 EXPUNGE\r\n* 4 RECENT\r\n');
    a.take();

    a.write('DONE\r\n');
    assert.equal(await a.waitTagged('i1'), 'i1 OK IDLE terminated\r\n');
    a.close();
    b.close();
  });

  test('NOOP reports pending changes; FETCH/STORE/SEARCH hold EXPUNGE back, UID FETCH does not', async () => {
    const a = await RawClient.connect(f.port);
    const b = await RawClient.connect(f.port);
    await a.login();
    await b.login();
    const sel = await a.cmd('SELECT INBOX');
    const exists = Number(/\* (\d+) EXISTS/.exec(sel)![1]);
    await b.cmd('SELECT INBOX');
    await b.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.cmd('EXPUNGE');
    // FETCH must not report the expunge; sequence numbers stay as the client knows them.
    const r1 = await a.cmd('FETCH 1:* (UID)', 'f');
    assert.doesNotMatch(r1, /EXPUNGE/);
    assert.equal([...r1.matchAll(/FETCH \(UID/g)].length, exists);
    const search = await a.cmd('SEARCH ALL');
    assert.doesNotMatch(search, /\* \d+ EXPUNGE/);
    assert.match(search, / OK \[EXPUNGEISSUED\] /, 'a SEARCH over a held-back expunge says so (RFC 5530)');
    assert.doesNotMatch(await a.cmd('STORE 1 -FLAGS (\\Flagged)'), /EXPUNGE/);
    // NOOP delivers it.
    assert.match(await a.cmd('NOOP', 'n'), /^\* 1 EXPUNGE\r\n(\* \d+ FETCH .*\r\n)*n OK NOOP completed\r\n$/);
    // UID FETCH may report expunges directly.
    await b.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.cmd('EXPUNGE');
    assert.match(await a.cmd('UID FETCH 1:* (FLAGS)', 'u'), /\* 1 EXPUNGE\r\nu OK/);
    // New mail appears at NOOP.
    await b.cmd(`APPEND INBOX {${message('x').length}+}\r\n${message('x')}`);
    assert.match(await a.cmd('NOOP'), /\* \d+ EXISTS\r\n/);
    a.close();
    b.close();
  });

  test('QRESYNC sessions get VANISHED; POP3-style maildrop commits reach IMAP sessions', async () => {
    const a = await RawClient.connect(f.port);
    await a.login();
    await a.cmd('SELECT INBOX');
    assert.match(await a.cmd('ENABLE QRESYNC', 'e'), /^\* OK \[HIGHESTMODSEQ \d+\] Highest\r\n\* ENABLED QRESYNC\r\ne OK Enabled\r\n$/);
    const uids = (await f.store.mail.listMessages(f.inbox.id)).map((m) => m.uid);
    a.write('i IDLE\r\n');
    await a.readUntil((s) => s.includes('+ idling'));
    a.take();
    await f.store.maildrop.commit(f.inbox.id, { expunge: [uids[0]!], seen: [uids[1]!], retrieved: [uids[0]!, uids[1]!] });
    const got = await a.readUntil((s) => s.includes('VANISHED') && s.includes('FETCH'), 2000);
    assert.match(got, new RegExp(`\\* VANISHED ${uids[0]}\\r\\n`));
    assert.match(got, new RegExp(`\\* \\d+ FETCH \\(UID ${uids[1]} FLAGS \\(\\\\Seen\\) MODSEQ \\(\\d+\\)\\)`));
    a.take();
    a.write('DONE\r\n');
    await a.waitTagged('i');
    // UID FETCH ... (CHANGEDSINCE m VANISHED) reports earlier expunges.
    const r = await a.cmd('UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)', 'v');
    assert.match(r, /^\* VANISHED \(EARLIER\) [\d:,]+\r\n/);
    a.close();
  });
});

describe('selected mailbox deleted by another session', () => {
  test('an idling session and a session at its next command both get BYE', async () => {
    const f = await startImap();
    try {
      await f.store.mail.createMailbox(f.user.id, 'Tmp');
      await f.append(message('x'), [], 'Tmp');
      const a = await RawClient.connect(f.port);
      const b = await RawClient.connect(f.port);
      const c = await RawClient.connect(f.port);
      await a.login();
      await b.login();
      await c.login();
      await a.cmd('SELECT Tmp');
      await c.cmd('SELECT Tmp');
      a.write('i IDLE\r\n');
      await a.readUntil((s) => s.includes('+ idling'));
      a.take();
      assert.equal(await b.cmd('DELETE Tmp', 'd'), 'd OK Delete completed\r\n');
      assert.equal(await a.readUntil((s) => s.includes('\r\n'), 2000), '* BYE Selected mailbox was deleted, have to disconnect.\r\n');
      assert.equal(await c.cmd('NOOP', 'n'), '* BYE Selected mailbox was deleted, have to disconnect.\r\nn OK NOOP completed\r\n');
      await c.readUntil(() => c.closed, 2000).catch(() => undefined);
      assert.ok(c.closed);
      a.close();
      b.close();
      c.close();
    } finally {
      await f.close();
    }
  });
});

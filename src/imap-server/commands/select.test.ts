/**
 * SELECT grammar table tests and the SELECT/EXAMINE raw-socket transcripts.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { args } from './testing/grammar.js';
import { parseSelect } from './select.js';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('SELECT grammar', () => {
  test('SELECT with QRESYNC', () => {
    const s = parseSelect(args('INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1:5 4:8)))'));
    assert.equal(s.qresync?.uidValidity, 67890007);
    assert.equal(s.qresync?.modseq, Number.MAX_SAFE_INTEGER); // clamped: beyond any modseq the store produces
    assert.ok(s.qresync?.knownUids && s.qresync.seqMatch);
  });
});

describe('SELECT and EXAMINE raw transcripts', () => {
  const f = useTranscriptImap();

  test('SELECT response and EXAMINE read-only', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const r = await c.cmd('EXAMINE INBOX', 's');
    const st = await f.store.mail.status(f.inbox.id);
    const mb = (await f.store.mail.getMailbox(f.user.id, 'INBOX'))!;
    assert.equal(
      r,
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label)\r\n' +
        '* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n' +
        '* 3 EXISTS\r\n' +
        '* 3 RECENT\r\n' + // unclaimed: EXAMINE shows \Recent without taking it
        '* OK [UNSEEN 2] First unseen.\r\n' +
        `* OK [UIDVALIDITY ${mb.uidValidity}] UIDs valid\r\n` +
        `* OK [UIDNEXT ${st.uidNext}] Predicted next UID\r\n` +
        `* OK [HIGHESTMODSEQ ${st.highestModseq}] Highest\r\n` +
        `* OK [MAILBOXID (${mb.mailboxObjectId})] Ok\r\n` +
        '* OK [URLMECH INTERNAL] Ok\r\n' +
        's OK [READ-ONLY] EXAMINE completed\r\n',
    );
    // EXAMINE never sets \Seen and refuses changes.
    await c.cmd('FETCH 2 BODY[TEXT]');
    assert.match(await c.cmd('FETCH 2 FLAGS'), /\* 2 FETCH \(FLAGS \(\\Recent\)\)/);
    assert.equal(await c.cmd('STORE 1 +FLAGS (\\Deleted)', 'ro'), 'ro NO [CANNOT] Mailbox is read-only\r\n');
    assert.equal(await c.cmd('SELECT Nope', 'nx'), 'nx NO [NONEXISTENT] Mailbox does not exist\r\n');
    // A failed SELECT leaves no mailbox selected.
    assert.equal(await c.cmd('FETCH 1 FLAGS', 'after'), 'after BAD No mailbox selected\r\n');
    c.close();
  });
});

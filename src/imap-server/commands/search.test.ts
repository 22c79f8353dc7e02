/**
 * Raw-socket transcripts of SEARCH, ESEARCH and SEARCHRES.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('SEARCH raw transcripts', () => {
  const f = useTranscriptImap(async (fx) => {
    // The state the STORE transcript left behind when these ran after it: message 2 flagged.
    await fx.store.mail.storeFlags(fx.inbox.id, [2], { op: 'add', flags: ['\\Answered', '\\Flagged', '\\Draft'] });
  });

  test('SEARCH, ESEARCH and SEARCHRES', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('EXAMINE INBOX');
    assert.equal(await c.cmd('SEARCH FROM alice NOT SUBJECT hello', 'a'), '* SEARCH 3\r\na OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH OR SUBJECT "café" TEXT "third body"', 'b'), '* SEARCH 2 3\r\nb OK Search completed\r\n');
    assert.equal(await c.cmd('UID SEARCH CHARSET UTF-8 BODY "AU LAIT"', 'c'), '* SEARCH 2\r\nc OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH HEADER Cc d@e.f', 'd'), '* SEARCH 2\r\nd OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH KEYWORD $Label 1:3', 'e'), '* SEARCH 3\r\ne OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH SENTON 7-Feb-1994 SMALLER 100000', 'f'), '* SEARCH 1 3\r\nf OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH BEFORE 1-Jan-2000', 'g'), '* SEARCH\r\ng OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH RETURN (MIN MAX COUNT ALL) ALL', 'h'), '* ESEARCH (TAG "h") MIN 1 MAX 3 COUNT 3 ALL 1:3\r\nh OK Search completed\r\n');
    assert.equal(await c.cmd('UID SEARCH RETURN () UNFLAGGED', 'i'), '* ESEARCH (TAG "i") UID ALL 1\r\ni OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH RETURN (COUNT) BEFORE 1-Jan-2000', 'j'), '* ESEARCH (TAG "j") COUNT 0\r\nj OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH RETURN (SAVE) FROM john', 'k'), 'k OK Search completed (result saved)\r\n');
    assert.match(await c.cmd('FETCH $ (UID)', 'l'), /^\* 2 FETCH \(UID 2\)\r\nl OK/);
    assert.equal(await c.cmd('SEARCH UID $', 'm'), '* SEARCH 2\r\nm OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH CHARSET X-BOGUS-9 ALL', 'n'), 'n NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n');
    assert.match(await c.cmd('SEARCH EMAILID nonexistent'), /^\* SEARCH\r\n/);
    c.close();
  });

  test('rev2 sessions get ESEARCH for plain SEARCH and no RECENT', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.equal(await c.cmd('ENABLE IMAP4rev2 CONDSTORE', 'e'), '* ENABLED IMAP4rev2 CONDSTORE\r\ne OK Enabled\r\n');
    const sel = await c.cmd('EXAMINE INBOX');
    assert.doesNotMatch(sel, /RECENT/);
    assert.match(sel, /\* LIST \(\\HasNoChildren\) "\/" "INBOX"\r\n/);
    assert.equal(await c.cmd('SEARCH ALL', 's'), '* ESEARCH (TAG "s") ALL 1:3\r\ns OK Search completed\r\n');
    c.close();
  });
});

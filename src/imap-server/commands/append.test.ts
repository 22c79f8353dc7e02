/**
 * APPEND grammar table tests and the APPEND/STATUS raw-socket transcripts.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError } from '../../imap/grammar/args.js';
import { args } from './testing/grammar.js';
import { parseAppend } from './append.js';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('APPEND grammar', () => {
  test('APPEND variants', () => {
    const a = parseAppend(args('Drafts (\\Seen $X) " 7-Feb-1994 21:52:25 -0800" {3}\r\nabc')).messages[0]!;
    assert.deepEqual(a.flags, ['\\Seen', '$X']);
    assert.equal(a.date?.toISOString(), '1994-02-08T05:52:25.000Z');
    assert.equal(a.message?.toString(), 'abc');
    assert.equal(parseAppend(args('INBOX UTF8 (~{2}\r\nhi)')).messages[0]!.binary, true);
    assert.throws(() => parseAppend(args('INBOX "not a literal"')), ParseError);
  });
});

describe('APPEND and STATUS raw transcripts', () => {
  const f = useTranscriptImap();

  test('APPEND: flags, date, LITERAL+, APPENDUID, TRYCREATE; STATUS items', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const msg = 'Subject: appended\r\n\r\nhi\r\n';
    const r = await c.cmd(`APPEND Drafts (\\Draft \\Seen) " 1-Feb-2020 10:00:00 +0100" {${msg.length}+}\r\n${msg}`, 'a');
    const drafts = (await f.store.mail.getMailbox(f.user.id, 'Drafts'))!;
    assert.equal(r, `a OK [APPENDUID ${drafts.uidValidity} 1] Append completed\r\n`);
    c.write(`b APPEND Drafts {${msg.length}}\r\n`);
    assert.equal(await c.readUntil((s) => s.endsWith('\r\n')), '+ Ready for literal data\r\n');
    c.take();
    c.write(msg + '\r\n');
    assert.match(await c.waitTagged('b'), /^b OK \[APPENDUID \d+ 2\]/);
    assert.equal(await c.cmd(`APPEND Nope {${msg.length}+}\r\n${msg}`, 'c'), 'c NO [TRYCREATE] Mailbox does not exist\r\n');
    const st = await c.cmd('STATUS Drafts (MESSAGES UNSEEN DELETED SIZE UIDNEXT RECENT APPENDLIMIT)', 'd');
    assert.equal(st, `* STATUS "Drafts" (MESSAGES 2 UNSEEN 1 DELETED 0 SIZE ${msg.length * 2} UIDNEXT 3 RECENT 2 APPENDLIMIT 10000)\r\nd OK STATUS completed\r\n`);
    await c.cmd('EXAMINE Drafts');
    // Nobody selected Drafts yet: EXAMINE shows the appended messages as \Recent (without claiming them).
    assert.match(await c.cmd('FETCH 1 (FLAGS INTERNALDATE)'), /^\* 1 FETCH \(FLAGS \(\\Seen \\Draft \\Recent\) INTERNALDATE " 1-Feb-2020 09:00:00 \+0000"\)/);
    c.close();
  });
});

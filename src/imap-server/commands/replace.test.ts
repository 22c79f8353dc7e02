/**
 * REPLACE / UID REPLACE (RFC 8508) raw-socket transcripts, incl. bad input (the old message stays).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError } from '../../imap/grammar/args.js';
import { args } from './testing/grammar.js';
import { parseReplace } from './replace.js';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

const lit = (s: string): string => `{${Buffer.byteLength(s)}+}\r\n${s}`;

describe('REPLACE grammar', () => {
  test('number, mailbox, one append-message', () => {
    const r = parseReplace(args('4 Drafts (\\Seen) {3}\r\nabc'));
    assert.equal(r.n, 4);
    assert.equal(r.mailbox, 'Drafts');
    assert.equal(r.message.message?.toString(), 'abc');
    assert.deepEqual(parseReplace(args('1 Drafts CATENATE (URL "/INBOX/;UID=1")')).message.parts, [{ kind: 'url', url: '/INBOX/;UID=1' }]);
    for (const bad of ['0 Drafts {1}\r\na', 'x Drafts {1}\r\na', '1 Drafts', '1 Drafts {1}\r\na {1}\r\nb', '1:2 Drafts {1}\r\na']) {
      assert.throws(() => parseReplace(args(bad)), ParseError, bad);
    }
  });
});

describe('REPLACE raw transcripts', () => {
  const f = useTranscriptImap();

  test('REPLACE and UID REPLACE: APPENDUID, then the old message expunged; another session sees one change', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd('CAPABILITY'), / REPLACE /);
    const drafts = (await f.store.mail.getMailbox(f.user.id, 'Drafts'))!;
    await c.cmd(`APPEND Drafts (\\Draft) ${lit('Subject: v1\r\n\r\none\r\n')}`);
    await c.cmd(`APPEND Drafts (\\Draft) ${lit('Subject: w1\r\n\r\nother\r\n')}`);
    await c.cmd('SELECT Drafts');
    const other = await RawClient.connect(f.port);
    await other.login();
    await other.cmd('SELECT Drafts');
    const r = await c.cmd(`REPLACE 1 Drafts (\\Draft \\Seen) ${lit('Subject: v2\r\n\r\ntwo\r\n')}`, 'a');
    assert.match(r, new RegExp(`^\\* OK \\[APPENDUID ${drafts.uidValidity} 3\\] Replacement Message ready\\r\\n(\\* 3 EXISTS\\r\\n)?\\* 1 EXPUNGE\\r\\n(\\* 2 EXISTS\\r\\n)?(\\* \\d+ RECENT\\r\\n)?a OK REPLACE completed\\r\\n$`));
    const seen = await other.cmd('NOOP', 'n');
    assert.match(seen, /\* 1 EXPUNGE\r\n/);
    assert.match(seen, /\* 2 EXISTS\r\n/);
    assert.equal(await c.cmd('UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])', 'b').then((x) => (x.match(/Subject: \w+/g) ?? []).join(',')), 'Subject: w1,Subject: v2');
    // UID REPLACE into another mailbox: the old draft leaves Drafts, the new message lands in Archive.
    const u = await c.cmd(`UID REPLACE 3 Archive ${lit('Subject: sent\r\n\r\nsent\r\n')}`, 'c');
    assert.match(u, /^\* OK \[APPENDUID \d+ 1\] Replacement Message ready\r\n\* 2 EXPUNGE\r\n\* 1 RECENT\r\nc OK REPLACE completed\r\n$/);
    assert.match(await c.cmd('STATUS Archive (MESSAGES)', 'd'), /MESSAGES 1\)/);
    other.close();
    c.close();
  });

  test('bad input: out of range, gone UID, missing mailbox, empty message, read-only; the old message stays', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.equal(await c.cmd(`REPLACE 1 INBOX ${lit('x: y\r\n\r\n')}`, 'a'), 'a BAD No mailbox selected\r\n');
    await c.cmd('SELECT INBOX');
    assert.equal(await c.cmd(`REPLACE 99 INBOX ${lit('x: y\r\n\r\n')}`, 'b'), 'b BAD Invalid message sequence number\r\n');
    assert.equal(await c.cmd(`UID REPLACE 99 INBOX ${lit('x: y\r\n\r\n')}`, 'c'), 'c NO No such message\r\n');
    assert.equal(await c.cmd(`REPLACE 1 Nope ${lit('x: y\r\n\r\n')}`, 'd'), 'd NO [TRYCREATE] Mailbox does not exist\r\n');
    assert.equal(await c.cmd('REPLACE 1 INBOX {0+}\r\n', 'e'), "e NO [CANNOT] Can't save a zero byte message\r\n");
    assert.equal(await c.cmd('REPLACE 1 INBOX CATENATE (URL "/INBOX/;UID=99")', 'f'), 'f NO [BADURL /INBOX/;UID=99] Bad URL\r\n');
    await c.cmd('EXAMINE INBOX');
    assert.equal(await c.cmd(`REPLACE 1 INBOX ${lit('x: y\r\n\r\n')}`, 'g'), 'g NO [CANNOT] Mailbox is read-only\r\n');
    assert.match(await c.cmd('STATUS INBOX (MESSAGES)', 'h'), /MESSAGES 3\)/);
    c.close();
  });
});

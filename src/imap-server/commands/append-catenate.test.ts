/**
 * MULTIAPPEND (RFC 3502) and CATENATE (RFC 4469) raw-socket transcripts, incl. bad input: grammar
 * errors answered BAD, unresolvable URLs NO [BADURL], all-or-nothing multi-message appends.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError } from '../../imap/grammar/args.js';
import { args } from './testing/grammar.js';
import { parseAppend } from './append.js';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

const lit = (s: string): string => `{${Buffer.byteLength(s)}+}\r\n${s}`;

describe('MULTIAPPEND and CATENATE grammar', () => {
  test('several messages, CATENATE parts, bad forms', () => {
    const a = parseAppend(args('INBOX (\\Seen) {1}\r\na " 7-Feb-1994 21:52:25 -0800" {1}\r\nb CATENATE (TEXT {1}\r\nc URL "/INBOX/;UID=1")'));
    assert.equal(a.messages.length, 3);
    assert.deepEqual(a.messages[0]!.flags, ['\\Seen']);
    assert.equal(a.messages[1]!.message?.toString(), 'b');
    assert.deepEqual(a.messages[2]!.parts, [
      { kind: 'text', data: Buffer.from('c') },
      { kind: 'url', url: '/INBOX/;UID=1' },
    ]);
    assert.throws(() => parseAppend(args('INBOX CATENATE ()')), ParseError);
    assert.throws(() => parseAppend(args('INBOX CATENATE (TEXT "quoted")')), ParseError);
    assert.throws(() => parseAppend(args('INBOX CATENATE (URL)')), ParseError);
    assert.throws(() => parseAppend(args('INBOX CATENATE (BODY {1}\r\nx)')), ParseError);
    assert.throws(() => parseAppend(args('INBOX {1}\r\na (\\Seen)')), ParseError);
  });
});

describe('MULTIAPPEND and CATENATE raw transcripts', () => {
  const f = useTranscriptImap();

  test('MULTIAPPEND stores every message with one APPENDUID uid set, or none', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const box = (await f.store.mail.getMailbox(f.user.id, 'Archive'))!;
    const r = await c.cmd(`APPEND Archive (\\Seen) ${lit('Subject: one\r\n\r\n1\r\n')} ${lit('Subject: two\r\n\r\n2\r\n')}`, 'a');
    assert.equal(r, `a OK [APPENDUID ${box.uidValidity} 1:2] Append completed\r\n`);
    // The second message is empty: nothing is stored (CANNOT), the mailbox is unchanged.
    assert.equal(await c.cmd(`APPEND Archive ${lit('Subject: three\r\n\r\n3\r\n')} {0+}\r\n`, 'b'), "b NO [CANNOT] Can't save a zero byte message\r\n");
    // The second message's URL does not resolve: BADURL, nothing stored.
    assert.equal(
      await c.cmd(`APPEND Archive ${lit('Subject: four\r\n\r\n4\r\n')} CATENATE (URL "/INBOX/;UID=99")`, 'c'),
      'c NO [BADURL /INBOX/;UID=99] Bad URL\r\n',
    );
    assert.match(await c.cmd('STATUS Archive (MESSAGES UIDNEXT)'), /\* STATUS "?Archive"? \(MESSAGES 2 UIDNEXT 3\)/);
    assert.equal(await c.cmd('APPEND Archive {1+}\r\na BOGUS', 'd'), 'd BAD Message must be sent as a literal\r\n');
    assert.match(await c.cmd('NOOP', 'e'), /^e OK/);
    c.close();
  });

  test('CATENATE joins text and URL parts (sections, partial, UIDVALIDITY); bad URLs are BADURL', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const validity = f.inbox.uidValidity;
    const r = await c.cmd(
      `APPEND Drafts CATENATE (URL "/INBOX/;UID=1/;SECTION=HEADER" TEXT ${lit('New body\r\n')} URL "/INBOX;UIDVALIDITY=${validity}/;UID=2/;SECTION=1.MIME" URL "/INBOX/;UID=3/;SECTION=TEXT/;PARTIAL=0.5")`,
      'a',
    );
    assert.match(r, /^a OK \[APPENDUID \d+ 1\] Append completed\r\n$/);
    await c.cmd('EXAMINE Drafts');
    const body = await c.cmd('FETCH 1 BODY.PEEK[]');
    const hdr = (await f.store.mail.readBytes(f.inbox.id, 1)).toString('latin1').split('\r\n\r\n')[0];
    const expected = `${hdr}\r\n\r\nNew body\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nthird`;
    assert.ok(body.includes(`{${expected.length}}\r\n${expected})`), body);
    await c.cmd('UNSELECT');
    // Imap URL with the user and host of this session works too; another user's message does not.
    assert.match(await c.cmd(`APPEND Drafts CATENATE (URL "imap://alice%40example.org@imap.test/INBOX/;UID=1")`, 'b'), /^b OK \[APPENDUID \d+ 2\]/);
    for (const bad of [
      `/INBOX;UIDVALIDITY=${validity + 1}/;UID=1`,
      '/INBOX/;UID=1/;SECTION=9',
      '/INBOX/;UID=1/;SECTION=BOGUS',
      '/Nope/;UID=1',
      '/INBOX',
      'imap://bob@imap.test/INBOX/;UID=1',
      'http://example.org/',
    ]) {
      assert.equal(await c.cmd(`APPEND Drafts CATENATE (TEXT ${lit('X: y\r\n\r\n')} URL "${bad}")`, 'c'), `c NO [BADURL ${bad}] Bad URL\r\n`, bad);
    }
    assert.equal(await c.cmd(`APPEND Nope CATENATE (URL "/INBOX/;UID=99")`, 'd'), 'd NO [TRYCREATE] Mailbox does not exist\r\n');
    // Over APPENDLIMIT (10000 here) once joined: TOOBIG.
    const big = 'x'.repeat(6000);
    assert.equal(await c.cmd(`APPEND Drafts CATENATE (TEXT ${lit(big)} TEXT ${lit(big)})`, 'e'), 'e NO [TOOBIG] Message too large\r\n');
    assert.match(await c.cmd('STATUS Drafts (MESSAGES)', 'f'), /MESSAGES 2\)/);
    c.close();
  });
});

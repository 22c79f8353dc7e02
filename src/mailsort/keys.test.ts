import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { indexMessage, messageHeaderEnd, parseHeaderBlock, unfoldHeader } from '../mime/index.js';
import { casemap, compareCodePoints } from './casemap.js';
import { parseMessageDate } from './date.js';
import { parseMessageIds, firstMessageId } from './msgid.js';
import { sortKeysFor, type SortInput } from './keys.js';

const utc = (s: string): number => Date.parse(s);

test('parseMessageDate: RFC 5322 dates to UTC, with zones', () => {
  assert.equal(parseMessageDate('Fri, 21 Nov 1997 09:55:06 -0600'), utc('1997-11-21T15:55:06Z'));
  assert.equal(parseMessageDate('21 Nov 1997 09:55:06 +0130'), utc('1997-11-21T08:25:06Z'));
  assert.equal(parseMessageDate('Tue, 1 Jul 2003 10:52:37 +0200'), utc('2003-07-01T08:52:37Z'));
  assert.equal(parseMessageDate('Thu, 13 Feb 1969 23:32 -0330'), utc('1969-02-14T03:02:00Z'));
  assert.equal(parseMessageDate('Mon, 2 Jan 2006 15:04:05 +0000'), utc('2006-01-02T15:04:05Z'));
});

test('parseMessageDate: obsolete forms (RFC 5322 section 4.3) and common sloppiness', () => {
  assert.equal(parseMessageDate('Fri, 21 Nov 97 09:55:06 GMT'), utc('1997-11-21T09:55:06Z'));
  assert.equal(parseMessageDate('21 Nov 03 09:55:06 EST'), utc('2003-11-21T14:55:06Z'));
  assert.equal(parseMessageDate('21 Nov 103 09:55:06 PDT'), utc('2003-11-21T16:55:06Z'));
  assert.equal(parseMessageDate('Fri 21 NOV 1997 09:55:06 -0600 (CST)'), utc('1997-11-21T15:55:06Z'));
  assert.equal(parseMessageDate('  Friday,  21  November  1997  09 : 55 : 06  UT '), utc('1997-11-21T09:55:06Z'));
  assert.equal(parseMessageDate('21 Nov 1997 09:55:06 A'), utc('1997-11-21T09:55:06Z'));
  assert.equal(parseMessageDate('21 Nov 1997 09:55:06'), utc('1997-11-21T09:55:06Z'));
  assert.equal(parseMessageDate('21-Nov-1997 09:55:06 +0000'), utc('1997-11-21T09:55:06Z'));
  assert.equal(parseMessageDate('21 Nov 1997 09:55'), utc('1997-11-21T09:55:00Z'));
  assert.equal(parseMessageDate('Sat, 31 Dec 2016 23:59:60 +0000'), utc('2016-12-31T23:59:59Z'));
});

test('parseMessageDate: garbage and out-of-range fields give null', () => {
  for (const s of [null, '', 'yesterday', '2024-01-02T03:04:05Z', '32 Jan 2020 00:00:00 +0000', '30 Feb 2020 00:00:00 +0000',
    '1 Jan 2020 24:00:00 +0000', '1 Jan 2020 10:60:00 +0000', '1 Foo 2020 10:00:00 +0000', 'Xyz, 1 Jan 2020 10:00 +0000',
    '1 Jan 2020 10:00 +0099', '1 Jan 2020']) {
    assert.equal(parseMessageDate(s), null, String(s));
  }
});

test('parseMessageDate: agrees with a formatted date for any instant and offset (property)', () => {
  const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const pad = (n: number): string => String(n).padStart(2, '0');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4102444800 }), fc.integer({ min: -12 * 60, max: 14 * 60 }), (secs, off) => {
      const local = new Date((secs + off * 60) * 1000);
      const sign = off < 0 ? '-' : '+';
      const a = Math.abs(off);
      const s = `${local.getUTCDate()} ${MON[local.getUTCMonth()]} ${local.getUTCFullYear()} ${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())} ${sign}${pad(Math.floor(a / 60))}${pad(a % 60)}`;
      assert.equal(parseMessageDate(s), secs * 1000, s);
    }),
  );
});

test('parseMessageIds: normalization, garbage skipped, order kept, case kept', () => {
  assert.deepEqual(parseMessageIds('<"01KF8JCEOCBS0045PS"@xxx.yyy.com>'), ['01KF8JCEOCBS0045PS@xxx.yyy.com']);
  assert.deepEqual(parseMessageIds('<01KF8JCEOCBS0045PS@xxx.yyy.com>'), ['01KF8JCEOCBS0045PS@xxx.yyy.com']);
  assert.deepEqual(parseMessageIds(' <a@b>\r\n\t<C@D> (comment <x@y>) <nohost> <e@f'), ['a@b', 'C@D']);
  assert.deepEqual(parseMessageIds('<a (c) @ b>'), ['a@b']);
  assert.deepEqual(parseMessageIds('<"a\\"q"@b>'), ['a"q@b']);
  assert.deepEqual(parseMessageIds('<<a@b>'), ['a@b']);
  assert.deepEqual(parseMessageIds('"<x@y>" <a@b>'), ['a@b']);
  assert.deepEqual(parseMessageIds('<@b> <a@> <>'), []);
  assert.deepEqual(parseMessageIds(null), []);
  assert.equal(firstMessageId('Your message of Tue <a@b> and <c@d>'), 'a@b');
  assert.equal(firstMessageId('none here'), null);
});

test('casemap: i;unicode-casemap keys (titlecase then NFKD)', () => {
  assert.equal(casemap('hello World'), 'HELLO WORLD');
  assert.equal(casemap('héllo'), casemap('HÉLLO'));
  assert.equal(casemap('héllo'), 'HE\u0301LLO');
  assert.equal(casemap('ǆemal'), casemap('Ǆemal'));
  assert.equal(casemap('ǆ'), 'Dz\u030c'); // titlecase ǅ, decomposed
  assert.equal(casemap('ﬁ'), 'fi'); // no simple titlecase; NFKD gives the letters
  assert.equal(casemap('ß'), 'ß');
  assert.equal(casemap('ᾳ'), 'Α\u0345');
  assert.equal(casemap('Ａｂｃ'), 'ABC');
  assert.equal(casemap('ა'), 'ა');
});

test('compareCodePoints: code-point (UTF-8) order, not UTF-16 order', () => {
  assert.ok(compareCodePoints('\uffff', '\u{10000}') < 0); // '<' says the opposite
  assert.ok('\uffff' > '\u{10000}');
  assert.ok(compareCodePoints('a', 'b') < 0);
  assert.ok(compareCodePoints('ab', 'a') > 0);
  assert.equal(compareCodePoints('x', 'x'), 0);
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
      const bytes = Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.equal(Math.sign(compareCodePoints(a, b)), bytes);
    }),
  );
});

const input = (over: Partial<SortInput>): SortInput => ({
  uid: 1, internalDate: 1000, size: 10, date: null, subject: null, from: null, to: null, cc: null,
  messageId: null, inReplyTo: null, references: null, ...over,
});

test('sortKeysFor: dates, sizes and the sent-date fallback', () => {
  const k = sortKeysFor(input({ uid: 7, internalDate: new Date(5000), size: 42, date: 'Thu, 1 Jan 1970 00:00:02 +0000' }));
  assert.equal(k.uid, 7);
  assert.equal(k.arrival, 5000);
  assert.equal(k.sent, 2000);
  assert.equal(k.size, 42);
  assert.equal(sortKeysFor(input({ internalDate: 5000, date: 'garbage' })).sent, 5000);
  assert.equal(sortKeysFor(input({ internalDate: 5000 })).sent, 5000);
  assert.equal(sortKeysFor(input({ internalDate: Number.NaN })).arrival, 0);
});

test('sortKeysFor: address keys, display names and groups (RFC 5256 section 3, RFC 5957)', () => {
  const k = sortKeysFor(input({
    from: [{ name: '=?utf-8?q?J=C3=B6rg?=', mailbox: 'joerg', host: 'example.org' }, { name: null, mailbox: 'z', host: 'z' }],
    to: [{ name: null, mailbox: 'Alice', host: 'Example.COM' }],
    cc: [{ name: 'Team', mailbox: 'team', host: null }, { name: 'Bob', mailbox: 'bob', host: 'b.example' }, { name: null, mailbox: null, host: null }],
  }));
  assert.equal(k.from, 'JOERG');
  assert.equal(k.displayFrom, casemap('Jörg'));
  assert.equal(k.to, 'ALICE');
  assert.equal(k.displayTo, 'ALICE@EXAMPLE.COM');
  assert.equal(k.cc, 'TEAM'); // the group name is the first address's addr-mailbox
  const empty = sortKeysFor(input({ to: [], from: [{ name: '', mailbox: 'x', host: null }] }));
  assert.equal(empty.to, '');
  assert.equal(empty.displayTo, '');
  assert.equal(empty.cc, '');
  assert.equal(empty.displayFrom, 'X');
  const group = sortKeysFor(input({ to: [{ name: null, mailbox: 'undisclosed-recipients', host: null }, { name: null, mailbox: null, host: null }] }));
  assert.equal(group.displayTo, 'UNDISCLOSED-RECIPIENTS');
});

test('sortKeysFor: subject, reply flag, Message-ID and parents from References, else In-Reply-To', () => {
  const k = sortKeysFor(input({
    subject: 'Re: [list] Hello', messageId: '<m1@x>', references: '<r1@x> <r2@x>', inReplyTo: '<r9@x>',
  }));
  assert.equal(k.subject, 'HELLO');
  assert.equal(k.replyOrForward, true);
  assert.equal(k.messageId, 'm1@x');
  assert.deepEqual(k.parents, ['r1@x', 'r2@x']);
  assert.deepEqual(sortKeysFor(input({ references: 'junk', inReplyTo: 'x <a@b> <c@d>' })).parents, ['a@b']);
  assert.deepEqual(sortKeysFor(input({ inReplyTo: 'no ids' })).parents, []);
  assert.equal(sortKeysFor(input({ messageId: 'not-an-id' })).messageId, null);
  // Plain JSON data: a cached copy works the same.
  assert.deepEqual(JSON.parse(JSON.stringify(k)), k);
});

test('sortKeysFor: from a raw message through the MIME layer\'s Envelope (the shape the IMAP layer has)', () => {
  const raw = Buffer.from([
    'Date: Tue, 1 Jul 2003 10:52:37 +0200',
    'From: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>',
    'To: Undisclosed recipients:;',
    'Subject: =?UTF-8?Q?Re:_[list]_Caf=C3=A9?= (fwd)',
    'Message-ID: <"quoted"@example.com>',
    'In-Reply-To: <parent@example.com>',
    'References: <root@example.com>',
    '\t<parent@example.com>',
    '',
    'body',
    '',
  ].join('\r\n'));
  const index = indexMessage(raw);
  const references = parseHeaderBlock(raw.subarray(0, messageHeaderEnd(raw)))
    .filter((f) => f.name.toLowerCase() === 'references')
    .map((f) => unfoldHeader(f.value))[0] ?? null;
  const k = sortKeysFor({ uid: 9, internalDate: 0, size: index.size, references, ...index.envelope });
  assert.equal(k.sent, Date.parse('2003-07-01T08:52:37Z'));
  assert.equal(k.subject, 'CAFE\u0301');
  assert.equal(k.replyOrForward, true);
  assert.equal(k.from, 'PIRARD');
  assert.equal(k.displayFrom, casemap('André Pirard'));
  assert.equal(k.to, 'UNDISCLOSED RECIPIENTS');
  assert.equal(k.messageId, 'quoted@example.com');
  assert.deepEqual(k.parents, ['root@example.com', 'parent@example.com']);
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { tokenize } from '../wire/tokenizer.js';
import { Args, ParseError, parseDate, parseDateTime } from './args.js';
import { parseFetch, parseFetchAtt } from './fetch.js';
import { parseSearch, searchCharsetDecoder } from './search.js';
import { parseSequenceSet, resolveRanges } from './sequence.js';

const args = (s: string): Args => new Args(tokenize(Buffer.from(s)));

describe('sequence sets', () => {
  test('parse and resolve', () => {
    const s = parseSequenceSet('1:3,5,7:*');
    assert.equal(s.kind, 'ranges');
    if (s.kind === 'ranges') assert.deepEqual(resolveRanges(s.ranges, [1, 2, 3, 4, 5, 6, 9, 12]), [1, 2, 3, 5, 9, 12]);
    const r = parseSequenceSet('5:2');
    if (r.kind === 'ranges') assert.deepEqual(resolveRanges(r.ranges, [1, 2, 3, 4, 5, 6]), [2, 3, 4, 5]);
    const star = parseSequenceSet('100:*');
    if (star.kind === 'ranges') assert.deepEqual(resolveRanges(star.ranges, [3, 7]), [7]);
    assert.deepEqual(parseSequenceSet('$'), { kind: 'saved' });
    for (const bad of ['0', '1:', ',1', '1,,2', 'a', '-1', '99999999999']) assert.throws(() => parseSequenceSet(bad), ParseError, bad);
  });
});

describe('FETCH', () => {
  test('macros, sections and partials', () => {
    const f = parseFetch(args('1:* (UID FLAGS BODY.PEEK[1.2.HEADER.FIELDS.NOT (X-A "X-B")]<10.20> BINARY[2] BINARY.SIZE[1] RFC822.SIZE) (CHANGEDSINCE 12345)'));
    assert.equal(f.changedSince, 12345);
    assert.deepEqual(
      f.items.map((i) => ('name' in i ? i.name : i.kind)),
      ['UID', 'FLAGS', 'BODY[1.2.HEADER.FIELDS.NOT (X-A "X-B")]', 'BINARY[2]', 'BINARY.SIZE[1]', 'RFC822.SIZE'],
    );
    const b = f.items[2]!;
    assert.ok(b.kind === 'BODY[]' && b.peek && b.partial?.start === 10 && b.partial.length === 20);
    assert.deepEqual(
      parseFetch(args('2 ALL')).items.map((i) => i.kind),
      ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
    );
    const t = parseFetchAtt('body[3.mime]');
    assert.ok(t.kind === 'BODY[]' && !t.peek && t.section.text === 'MIME' && t.section.part.join('.') === '3');
  });
  for (const bad of ['1 BODY[MIME]', '1 BODY[0]', '1 BODY[1.]X', '1 BODY[]<5>', '1 FOO', '1 ()', '1 BODY[HEADER.FIELDS ()]', '1 BINARY[TEXT]', '1 FLAGS (VANISHED)', 'x FLAGS']) {
    test(`rejects ${bad}`, () => assert.throws(() => parseFetch(args(bad)), ParseError));
  }
});

describe('SEARCH', () => {
  test('full key set with OR/NOT, dates, sizes, MODSEQ and RETURN', () => {
    const s = parseSearch(
      args('RETURN (MIN COUNT SAVE) CHARSET UTF-8 OR FROM "alice" NOT SUBJECT hello 1:5 UID 3:* SINCE 1-Feb-1994 LARGER 100 MODSEQ "/flags/\\\\draft" all 5 HEADER X-Spam yes KEYWORD $Junk UNSEEN (BODY foo TEXT bar)'),
    );
    assert.deepEqual(s.returns, ['MIN', 'COUNT', 'SAVE']);
    assert.equal(s.charset, 'UTF-8');
    assert.equal(s.key.k, 'and');
    if (s.key.k === 'and') {
      assert.deepEqual(
        s.key.keys.map((k) => k.k),
        ['or', 'seq', 'uid', 'date', 'size', 'modseq', 'header', 'flag', 'flag', 'and'],
      );
    }
  });
  for (const bad of ['', 'FOO', 'OR SEEN', 'SINCE 32-Jan-2000', 'LARGER x', 'RETURN (BOGUS) ALL', 'HEADER', 'MODSEQ', 'NOT']) {
    test(`rejects "${bad}"`, () => assert.throws(() => parseSearch(args(bad)), ParseError));
  }
});

describe('date-time', () => {
  test('date-time', () => {
    assert.throws(() => parseDateTime('31-Foo-2000 00:00:00 +0000'), ParseError);
  });
  test('a year below 100 is taken literally, not as 19xx', () => {
    const d = parseDateTime(' 1-Jan-0050 12:00:00 +0100');
    assert.equal(d.getUTCFullYear(), 50);
    assert.equal(d.toISOString(), '0050-01-01T11:00:00.000Z');
    assert.equal(parseDateTime('17-Jul-1996 02:44:25 -0700').toISOString(), '1996-07-17T09:44:25.000Z');
    assert.equal(parseDate('1-Feb-0099').toISOString(), '0099-02-01T00:00:00.000Z');
  });
});

describe('SEARCH charsets and nesting', () => {
  test('strings are decoded in the charset named; an unknown or UTF-16 charset has no decoder', () => {
    const latin = parseSearch(new Args(tokenize(Buffer.from('CHARSET ISO-8859-1 SUBJECT "caf\xe9"', 'latin1'))));
    assert.deepEqual(latin.key, { k: 'header', field: 'Subject', value: 'caf\u00e9' });
    const koi = parseSearch(new Args(tokenize(Buffer.from('CHARSET KOI8-R BODY {1}\r\n\xc1', 'latin1'))));
    assert.deepEqual(koi.key, { k: 'text', scope: 'body', value: '\u0430' });
    assert.throws(() => parseSearch(new Args(tokenize(Buffer.from('CHARSET UTF-8 SUBJECT "caf\xe9"', 'latin1')))), /not UTF-8/);
    for (const cs of ['UTF-16', 'utf-16be', 'X-BOGUS', 'UTF-7', 'a b']) assert.equal(searchCharsetDecoder(cs), null, cs);
    for (const cs of ['utf-8', 'US-ASCII', 'windows-1252', 'Shift_JIS']) assert.notEqual(searchCharsetDecoder(cs), null, cs);
    // an unknown charset still parses: the command answers NO [BADCHARSET]
    assert.equal(parseSearch(args('CHARSET X-BOGUS SUBJECT "x"')).charset, 'X-BOGUS');
  });

  test('OR chains, NOT chains and parentheses nest up to 1000 levels', () => {
    assert.doesNotThrow(() => parseSearch(args('OR SEEN '.repeat(999) + 'ALL')));
    assert.doesNotThrow(() => parseSearch(args('('.repeat(999) + 'ALL' + ')'.repeat(999))));
    assert.throws(() => parseSearch(args('NOT '.repeat(1001) + 'ALL')), /nested too deeply/);
  });
});

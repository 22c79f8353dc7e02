import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { tokenize, TokenizeError } from '../wire/tokenizer.js';
import { Args, ParseError, parseDateTime } from './args.js';
import { parseFetch, parseFetchAtt } from './fetch.js';
import { parseSearch } from './search.js';
import { parseSequenceSet, resolveRanges } from './sequence.js';
import * as cmd from './commands.js';

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
      ['UID', 'FLAGS', 'BODY[1.2.HEADER.FIELDS.NOT (X-A X-B)]', 'BINARY[2]', 'BINARY.SIZE[1]', 'RFC822.SIZE'],
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

describe('other commands', () => {
  test('SELECT with QRESYNC', () => {
    const s = cmd.parseSelect(args('INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1:5 4:8)))'));
    assert.equal(s.qresync?.uidValidity, 67890007);
    assert.equal(s.qresync?.modseq, Number.MAX_SAFE_INTEGER); // clamped: beyond any modseq the store produces
    assert.ok(s.qresync?.knownUids && s.qresync.seqMatch);
  });
  test('LIST-EXTENDED', () => {
    const l = cmd.parseList(args('(SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "%") RETURN (CHILDREN STATUS (MESSAGES SIZE))'));
    assert.deepEqual(l.selection, ['SUBSCRIBED', 'RECURSIVEMATCH']);
    assert.deepEqual(l.patterns, ['INBOX', '%']);
    assert.deepEqual(l.statusItems, ['MESSAGES', 'SIZE']);
    assert.throws(() => cmd.parseList(args('(RECURSIVEMATCH) "" *')), ParseError);
  });
  test('APPEND variants', () => {
    const a = cmd.parseAppend(args('Drafts (\\Seen $X) " 7-Feb-1994 21:52:25 -0800" {3}\r\nabc'));
    assert.deepEqual(a.flags, ['\\Seen', '$X']);
    assert.equal(a.date?.toISOString(), '1994-02-08T05:52:25.000Z');
    assert.equal(a.message.toString(), 'abc');
    assert.equal(cmd.parseAppend(args('INBOX UTF8 (~{2}\r\nhi)')).binary, true);
    assert.throws(() => cmd.parseAppend(args('INBOX "not a literal"')), ParseError);
  });
  test('STORE', () => {
    const s = cmd.parseStore(args('1:3 (UNCHANGEDSINCE 5) -FLAGS.SILENT (\\Seen \\Deleted)'));
    assert.deepEqual(s, { set: parseSequenceSet('1:3'), unchangedSince: 5, op: 'remove', silent: true, flags: ['\\Seen', '\\Deleted'] });
    assert.throws(() => cmd.parseStore(args('1 FLAGZ (\\Seen)')), ParseError);
  });
  test('date-time', () => {
    assert.throws(() => parseDateTime('31-Foo-2000 00:00:00 +0000'), ParseError);
  });
});

/** Command names and argument fragments used to build random and mutated commands. */
const FRAGMENTS = ['1', '1:*', '$', '*', '(', ')', 'FLAGS', 'BODY[]', 'BODY.PEEK[HEADER.FIELDS (A)]', '"q"', '{3+}\r\nabc', 'NIL', 'OR', 'NOT', 'UID', '(CHANGEDSINCE 1)', 'RETURN', '(MIN)', 'INBOX', '\\Seen', '+FLAGS', '"', '[', ']', '<0.1>', '~{1}\r\n\0'];
const PARSERS = [parseFetch, parseSearch, cmd.parseSelect, cmd.parseList, cmd.parseAppend, cmd.parseStore, cmd.parseStatus, cmd.parseCopy, cmd.parseId, cmd.parseCreate, cmd.parseEnable, cmd.parseLogin, cmd.parseAuthenticate];

describe('fuzz', () => {
  test('random fragment sequences only ever fail with TokenizeError/ParseError', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 12 }), fc.integer({ min: 0, max: PARSERS.length - 1 }), (frags, p) => {
        try {
          PARSERS[p]!(args(frags.join(' ')));
        } catch (e) {
          assert.ok(e instanceof ParseError || e instanceof TokenizeError, String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('mutated valid commands only ever fail with TokenizeError/ParseError', () => {
    const valid = ['1:* (UID FLAGS BODY.PEEK[1.HEADER.FIELDS (From)]<0.10>)', 'RETURN (ALL) OR FROM a NOT SEEN', 'INBOX (QRESYNC (1 2 1:5))', '"" "*" RETURN (STATUS (MESSAGES))', 'INBOX (\\Seen) {3+}\r\nabc', '1 +FLAGS (\\Seen)'];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: valid.length - 1 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), (vi, muts) => {
        const b = Buffer.from(valid[vi]!);
        for (const [pos, byte] of muts) b[pos % b.length] = byte;
        for (const p of PARSERS) {
          try {
            p(new Args(tokenize(b)));
          } catch (e) {
            assert.ok(e instanceof ParseError || e instanceof TokenizeError, String(e));
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});

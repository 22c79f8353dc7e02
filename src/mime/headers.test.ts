import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseHeaderBlock, unfoldHeader, decodeRfc2231Params, parseParameterized, headerFieldsSlice, headerFieldSpans, indexMessage, parseAddressList } from './index.js';
import { headerFields } from './headers.js';
import { headersOf } from './parser.js';

describe('parseHeaderBlock', () => {
  test('fields in order, values raw with folding, final CRLF excluded', () => {
    const block = Buffer.from('Subject: a\r\n b\r\nX-Empty:\r\nTo : c@d\r\n\r\n');
    const f = parseHeaderBlock(block);
    assert.deepEqual(
      f.map((x) => [x.name, x.value.toString()]),
      [
        ['Subject', ' a\r\n b'],
        ['X-Empty', ''],
        ['To', ' c@d'],
      ],
    );
  });

  test('garbage lines without a colon are skipped; last field without CRLF kept', () => {
    const f = parseHeaderBlock(Buffer.from('garbage line\r\nA: 1\r\n\tcont\r\nno colon\r\nB:2'));
    assert.deepEqual(
      f.map((x) => [x.name, x.value.toString()]),
      [
        ['A', ' 1\r\n\tcont'],
        ['B', '2'],
      ],
    );
    assert.deepEqual(parseHeaderBlock(Buffer.alloc(0)), []);
    assert.deepEqual(parseHeaderBlock(Buffer.from(':x\r\n')), []);
  });

  test('8-bit bytes in a value are kept raw', () => {
    const f = parseHeaderBlock(Buffer.from([0x41, 0x3a, 0x20, 0xe9, 0x0d, 0x0a]));
    assert.deepEqual([...f[0]!.value], [0x20, 0xe9]);
  });
});

describe('unfoldHeader', () => {
  test('removes CRLF before WSP, keeps the WSP, trims, decodes UTF-8', () => {
    assert.equal(unfoldHeader(Buffer.from(' a\r\n b\r\n\tc ')), 'a b\tc');
    assert.equal(unfoldHeader(Buffer.from(' caf\u00e9')), 'café');
    assert.equal(unfoldHeader(Buffer.from([0x20, 0xff, 0x41])), '\ufffdA');
    assert.equal(unfoldHeader(Buffer.from('a\rb\0c')), 'a b\ufffdc');
  });
});

describe('parameters', () => {
  test('RFC 2231 continuations in numeric order, charset decoding, language ignored', () => {
    const v = parseParameterized("attachment; filename*1*=%E9.txt; filename*0*=iso-8859-1'fr'caf; size=3");
    assert.deepEqual(v.params, [
      ['filename', 'café.txt'],
      ['size', '3'],
    ]);
    assert.deepEqual(v.rawParams, [
      ['filename*', "iso-8859-1'fr'caf%E9.txt"],
      ['size', '3'],
    ]);
  });

  test('plain continuations and the RFC 2231 form winning over a plain duplicate', () => {
    assert.deepEqual(
      decodeRfc2231Params([
        { name: 'name', value: 'fallback.txt' },
        { name: 'title*0', value: 'a ' },
        { name: 'title*1', value: 'b' },
        { name: 'name*', value: "utf-8''%C3%BC.txt" },
      ]),
      [
        ['name', 'ü.txt'],
        ['title', 'a b'],
      ],
    );
  });

  test('unknown charset falls back to UTF-8; bad escapes kept', () => {
    assert.deepEqual(parseParameterized("x; a*=bogus-cs''%C3%A9%zz").params, [['a', 'é%zz']]);
  });

  test('garbage parameters do not throw', () => {
    for (const s of [';;;', 'a/b; =x; y; z="unterminated', 'a; b*99999=1', '"q"; (c']) parseParameterized(s);
    assert.deepEqual(parseParameterized('text/plain; charset').params, []);
  });
});

describe('headerFieldsSlice (BODY[HEADER.FIELDS])', () => {
  const raw = Buffer.from('Subject: s\r\nX-A: 1\r\n 2\r\nsubject: again\r\nTo: t@x\r\n\r\nbody');
  const root = indexMessage(raw).root;

  test('matching fields byte-exact, in order, case-insensitive, then the blank line', () => {
    assert.equal(headerFieldsSlice(raw, root, ['SUBJECT', 'x-a'], false).toString(), 'Subject: s\r\nX-A: 1\r\n 2\r\nsubject: again\r\n\r\n');
  });

  test('.NOT gives the other fields', () => {
    assert.equal(headerFieldsSlice(raw, root, ['subject', 'X-A'], true).toString(), 'To: t@x\r\n\r\n');
  });

  test('no match: just the blank line; header without final CRLF is completed', () => {
    assert.equal(headerFieldsSlice(raw, root, ['cc'], false).toString(), '\r\n');
    const r2 = Buffer.from('A: 1\r\nB: 2');
    assert.equal(headerFieldsSlice(r2, indexMessage(r2).root, ['b'], false).toString(), 'B: 2\r\n\r\n');
  });
});

describe('address lists for ENVELOPE', () => {
  const a = (s: string) => parseAddressList(s)?.map((x) => [x.name, x.adl, x.mailbox, x.host]) ?? null;

  test('names raw (encoded words kept), quoted names unquoted, whitespace collapsed', () => {
    assert.deepEqual(a('"Doe, John" <j@x.org>, =?utf-8?q?J=C3=B6rg?=  Smith <js@y.org>'), [
      ['Doe, John', null, 'j', 'x.org'],
      ['=?utf-8?q?J=C3=B6rg?= Smith', null, 'js', 'y.org'],
    ]);
    assert.deepEqual(a('"a \\"q\\" b" <c@d>'), [['a "q" b', null, 'c', 'd']]);
  });

  test('comments: dropped inside, used as the name when there is no phrase', () => {
    assert.deepEqual(a('j@x.org (Jay)'), [['Jay', null, 'j', 'x.org']]);
    assert.deepEqual(a('Name (c) <j (c) @ x.org (c)>'), [['Name', null, 'j', 'x.org']]);
  });

  test('groups with start and end markers; empty group', () => {
    assert.deepEqual(a('G: a@b, c@d;, e@f'), [
      [null, null, 'G', null],
      [null, null, 'a', 'b'],
      [null, null, 'c', 'd'],
      [null, null, null, null],
      [null, null, 'e', 'f'],
    ]);
    assert.deepEqual(a('undisclosed-recipients:;'), [
      [null, null, 'undisclosed-recipients', null],
      [null, null, null, null],
    ]);
    assert.deepEqual(a('Open: a@b'), [
      [null, null, 'Open', null],
      [null, null, 'a', 'b'],
      [null, null, null, null],
    ], 'an unclosed group is closed');
  });

  test('no domain gives host "" (NIL is reserved for groups); empty lists are NIL', () => {
    assert.deepEqual(a('postmaster'), [[null, null, 'postmaster', '']]);
    assert.deepEqual(a('<>'), [[null, null, '', '']]);
    assert.equal(a(''), null);
    assert.equal(a(' , ,'), null);
    assert.equal(a('(just a comment)'), null);
  });

  test('unterminated quotes, comments and angle brackets do not throw', () => {
    for (const s of ['"unterminated', '(open', '<a@b', 'a@b>', '@@@', ':;:;', '<<>>', '\\']) parseAddressList(s);
    assert.deepEqual(a('Name <a@b'), [['Name', null, 'a', 'b']]);
  });
});

describe('headerFieldsSlice agrees with the field spans', () => {
  test('generated header blocks: the chosen fields byte-exact, in order, each CRLF-terminated, then CRLF', () => {
    const line = fc.oneof(
      fc.constantFrom('Subject: hi', 'subject:x', 'From : a@b', 'X-A: 1', 'To:', ' folded', '\tfolded', 'garbage line', ': no name', 'Bad Name: v', '', 'caf\u00e9: v'),
      fc.string({ maxLength: 12, unit: fc.constantFrom('a', ':', ' ', '\t', '\r', '\n', 'S', '\u00ff') }),
    );
    const names = fc.array(fc.constantFrom('subject', 'FROM', 'to', 'x-a', 'bad name', 'caf\u00e9', 'nothere'), { maxLength: 4 });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), fc.constantFrom('\r\n', '\n'), names, fc.boolean(), (lines, eol, wanted, not) => {
        const raw = Buffer.from(lines.join(eol), 'latin1');
        const want = new Set(wanted.map((n) => n.toLowerCase()));
        const pieces: Buffer[] = [];
        for (const f of headerFieldSpans(raw, 0, raw.length)) {
          if (want.has(f.name.toLowerCase()) === not) continue;
          pieces.push(raw.subarray(f.start, f.end));
          if (f.end === f.valueEnd) pieces.push(Buffer.from('\r\n'));
        }
        pieces.push(Buffer.from('\r\n'));
        const got = headerFieldsSlice(raw, { headerStart: 0, headerEnd: raw.length }, wanted, not);
        assert.ok(got.equals(Buffer.concat(pieces)));
      }),
      { numRuns: 400 },
    );
  });
});

test('headerFields gives the spans of headerFieldSpans and the values of unfoldHeader, ASCII or not', () => {
  const blocks = [
    'Subject: plain\r\n folded\r\nTo: a@b\r\n\r\n',
    'Subject: caf\u00e9 \u65e5\u672c\r\nX-Nul: a\0b\r\nX-Cr: a\rb\r\nbad line\r\nFrom:  x@y  \r\n\r\n',
    'Subject: \xff\xfe latin1 bytes\r\n\r\n',
    'X-Empty:\r\n',
  ];
  for (const [i, text] of blocks.entries()) {
    const raw = Buffer.concat([Buffer.from('junk'), Buffer.from(text, i === 2 ? 'latin1' : 'utf8')]);
    const h = headerFields(raw, 4, raw.length);
    assert.deepEqual(h.fields, headerFieldSpans(raw, 4, raw.length));
    h.fields.forEach((f, k) => assert.equal(h.value(k), unfoldHeader(raw.subarray(f.valueStart, f.valueEnd)), `${text} field ${k}`));
  }
});

test('headersOf reuses the fields indexMessage read only for the same part of the same bytes', () => {
  const raw = Buffer.from('Subject: s\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n');
  const index = indexMessage(raw);
  const inner = index.root.message!.root;
  assert.deepEqual(headersOf(raw, index.root).fields.map((f) => f.name), ['Subject', 'Content-Type']);
  assert.equal(headersOf(raw, inner).value(0), 'inner');
  // Other bytes with the same offsets: read from those bytes, not taken from the index's memo.
  const other = Buffer.from(raw.toString().replace('Subject: s', 'Subject: t'));
  assert.equal(headersOf(other, index.root).value(0), 't');
  const fromJson = JSON.parse(JSON.stringify(index)) as typeof index;
  assert.equal(headersOf(raw, fromJson.root).value(0), 's');
});

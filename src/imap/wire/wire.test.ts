import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Framer, LITERAL_MINUS_MAX, type FrameEvent } from './framer.js';
import { MemoryBudget } from '../../lib/memory-budget.js';
import { tokenize, TokenizeError, type Token } from './tokenizer.js';
import { decodeMailboxUtf7, encodeMailboxUtf7, Utf7Error } from './utf7.js';
import { WireWriter, formatDateTime, formatSequenceSet } from './encode.js';

const opts = { maxLineLength: 100, maxLiteralSize: 1000 };

function feedAll(f: Framer, data: Buffer, chunk: (i: number) => number): FrameEvent[] {
  const out: FrameEvent[] = [];
  let i = 0;
  let k = 0;
  while (i < data.length) {
    const n = Math.max(1, chunk(k++));
    out.push(...f.push(data.subarray(i, i + n)));
    i += n;
  }
  return out;
}

describe('framer', () => {
  test('splits pipelined commands and keeps literals inline', () => {
    const f = new Framer(opts);
    const ev = f.push(Buffer.from('a NOOP\r\nb APPEND INBOX {5+}\r\nhello\r\nc LOGOUT\r\n'));
    assert.deepEqual(
      ev.map((e) => (e.kind === 'command' ? e.data.toString() : e.kind)),
      ['a NOOP', 'b APPEND INBOX {5+}\r\nhello', 'c LOGOUT'],
    );
  });

  test('synchronizing literal asks for continuation', () => {
    const f = new Framer(opts);
    const ev = f.push(Buffer.from('a LOGIN {5}\r\n'));
    assert.deepEqual(ev, [{ kind: 'continue', size: 5 }]);
    assert.equal(f.inLiteral, true);
    const ev2 = f.push(Buffer.from('alice "pw"\r\n'));
    assert.equal(ev2.length, 1);
    assert.equal(ev2[0]!.kind === 'command' && ev2[0]!.data.toString(), 'a LOGIN {5}\r\nalice "pw"');
  });

  test('accepts bare LF line endings', () => {
    const f = new Framer(opts);
    const ev = f.push(Buffer.from('a NOOP\n'));
    assert.equal(ev[0]!.kind === 'command' && ev[0]!.data.toString(), 'a NOOP');
  });

  test('too-long line is discarded with its tag and the stream resyncs', () => {
    const f = new Framer(opts);
    const ev = f.push(Buffer.from(`x1 ${'A'.repeat(150)}\r\nx2 NOOP\r\n`));
    assert.deepEqual(ev[0], { kind: 'too-long', tag: 'x1' });
    assert.equal(ev[1]!.kind === 'command' && ev[1]!.data.toString(), 'x2 NOOP');
  });

  test('too-long line arriving in pieces is discarded without buffering', () => {
    const f = new Framer(opts);
    const ev: FrameEvent[] = [];
    ev.push(...f.push(Buffer.from('x1 ')));
    for (let i = 0; i < 50; i++) ev.push(...f.push(Buffer.from('B'.repeat(40))));
    ev.push(...f.push(Buffer.from('\r\nx2 NOOP\r\n')));
    assert.deepEqual(ev[0], { kind: 'too-long', tag: 'x1' });
    assert.equal(ev[1]!.kind === 'command' && ev[1]!.data.toString(), 'x2 NOOP');
  });

  test('oversized synchronizing literal is refused before it is sent', () => {
    const f = new Framer(opts);
    const ev = f.push(Buffer.from('a APPEND INBOX {5000}\r\nb NOOP\r\n'));
    assert.deepEqual(ev[0], { kind: 'literal-too-big', tag: 'a', size: 5000 });
    assert.equal(ev[1]!.kind === 'command' && ev[1]!.data.toString(), 'b NOOP');
  });

  test('oversized non-synchronizing literal is fatal', () => {
    const f = new Framer(opts);
    const ev = f.push(Buffer.from('a APPEND INBOX {5000+}\r\nxxxx'));
    assert.equal(ev[0]!.kind, 'fatal');
    assert.deepEqual(f.push(Buffer.from('b NOOP\r\n')), []);
  });

  test('LITERAL-: a non-synchronizing literal over 4096 octets is refused; it and the rest of its command are skipped', () => {
    const big = { maxLineLength: 100, maxLiteralSize: 10_000, nonSyncLimit: LITERAL_MINUS_MAX };
    const lit = 'x'.repeat(5000);
    const data = Buffer.from(`a LOGIN {4096+}\r\n${'y'.repeat(4096)} p\r\nb LOGIN {5000+}\r\n${lit} {3+}\r\nabc {7}\r\nc NOOP\r\nd APPEND X {5000+}\r\n${lit}\r\ne NOOP\r\n`);
    const norm = (e: FrameEvent[]): unknown[] => e.map((x) => (x.kind === 'command' ? x.data.toString('latin1').slice(0, 20) : x));
    const expected = ['a LOGIN {4096+}\r\nyyy', { kind: 'non-sync-too-big', tag: 'b', size: 5000 }, 'c NOOP', { kind: 'non-sync-too-big', tag: 'd', size: 5000 }, 'e NOOP'];
    assert.deepEqual(norm(new Framer(big).push(data)), expected);
    assert.deepEqual(norm(feedAll(new Framer(big), data, () => 7)), expected);
    assert.deepEqual(norm(feedAll(new Framer(big), data, () => 1)), expected);
    // Over the literal cap it stays fatal; LITERAL+ (the default) takes what the cap allows.
    assert.equal(new Framer(big).push(Buffer.from('a X {20000+}\r\n'))[0]!.kind, 'fatal');
    const plus = new Framer({ ...big, nonSyncLimit: Infinity });
    assert.equal(plus.push(Buffer.from(`a X {5000+}\r\n${lit}\r\n`))[0]!.kind, 'command');
    plus.setNonSyncLimit(LITERAL_MINUS_MAX);
    assert.equal(plus.push(Buffer.from(`a X {5000+}\r\n${lit}\r\n`))[0]!.kind, 'non-sync-too-big');
  });

  test('a shared budget: literals reserve their size; one it cannot hold is refused, and the stream goes on', () => {
    const budget = new MemoryBudget(1000);
    const a = new Framer({ ...opts, budget });
    const b = new Framer({ ...opts, budget });
    // a's synchronizing literal reserves its 600 octets as soon as it is announced.
    assert.deepEqual(a.push(Buffer.from('a1 APPEND INBOX {600}\r\n')), [{ kind: 'continue', size: 600 }]);
    assert.equal(budget.used, 600);
    // b's would pass the limit: refused before it is sent (no "+"); the next line is a new command.
    assert.deepEqual(b.push(Buffer.from('b1 APPEND INBOX {500}\r\nb2 NOOP\r\n')).map((e) => (e.kind === 'command' ? e.data.toString() : e)), [
      { kind: 'literal-busy', tag: 'b1', size: 500 },
      'b2 NOOP',
    ]);
    // A non-synchronizing one: its octets and the rest of its command are skipped.
    const lit = 'z'.repeat(500);
    const skipped = b.push(Buffer.from(`b3 APPEND INBOX {500+}\r\n${lit} {3+}\r\nabc\r\nb4 NOOP\r\n`));
    assert.deepEqual(skipped.map((e) => (e.kind === 'command' ? e.data.toString() : e)), [{ kind: 'literal-busy', tag: 'b3', size: 500 }, 'b4 NOOP']);
    assert.equal(budget.used, 600);
    // a's command carries what it reserved; its consumer gives it back when done.
    const done = a.push(Buffer.from(`${'x'.repeat(600)}\r\n`));
    assert.equal(done.length, 1);
    assert.ok(done[0]!.kind === 'command' && done[0]!.held === 600);
    budget.give(600);
    const again = b.push(Buffer.from(`b5 APPEND INBOX {500+}\r\n${lit}\r\n`));
    assert.ok(again[0]!.kind === 'command' && again[0]!.held === 500);
    assert.equal(budget.used, 500);
    budget.give(500);
    // A partial command that is dropped (reset, a too-long line, a refused second literal) gives back its part.
    a.push(Buffer.from('a2 APPEND INBOX {300+}\r\n'));
    assert.equal(budget.used, 300);
    a.reset();
    assert.equal(budget.used, 0);
    a.push(Buffer.from(`a3 APPEND INBOX {300+}\r\n${'y'.repeat(300)} ${'q'.repeat(50)}`));
    assert.equal(budget.used, 300);
    assert.equal(a.push(Buffer.from('q'.repeat(100)))[0]!.kind, 'too-long');
    assert.equal(budget.used, 0);
    assert.deepEqual(a.push(Buffer.from('qq\r\n')), []);
    const twoLits = a.push(Buffer.from(`a4 APPEND INBOX {600+}\r\n${'y'.repeat(600)} {500}\r\na5 NOOP\r\n`));
    assert.deepEqual(twoLits.map((e) => (e.kind === 'command' ? e.data.toString() : e)), [{ kind: 'literal-busy', tag: 'a4', size: 500 }, 'a5 NOOP']);
    assert.equal(budget.used, 0);
    // Without a budget nothing is reserved.
    const free = new Framer(opts).push(Buffer.from('c APPEND INBOX {3+}\r\nabc\r\n'));
    assert.ok(free[0]!.kind === 'command' && free[0]!.held === 0);
  });

  test('byte-by-byte and random chunking give the same commands', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a NOOP\r\n', 'b LOGIN {3+}\r\nabc "x"\r\n', 'c SELECT "IN BOX"\r\n', 'd X {0}\r\n\r\n', 'e FETCH 1 BODY[]\r\n'), { maxLength: 10 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1 }),
        (cmds, sizes) => {
          const data = Buffer.from(cmds.join(''));
          const whole = new Framer(opts).push(data);
          const chunked = feedAll(new Framer(opts), data, (k) => sizes[k % sizes.length]!);
          const bytewise = feedAll(new Framer(opts), data, () => 1);
          const norm = (e: FrameEvent[]): string[] => e.map((x) => (x.kind === 'command' ? x.data.toString('latin1') : x.kind));
          assert.deepEqual(norm(chunked), norm(whole));
          assert.deepEqual(norm(bytewise), norm(whole));
          assert.equal(whole.filter((e) => e.kind === 'command').length, cmds.length);
        },
      ),
    );
  });

  test('random bytes never throw and never buffer beyond the limits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 1, max: 64 }), (bytes, chunk) => {
        const f = new Framer(opts);
        const ev = feedAll(f, Buffer.from(bytes), () => chunk);
        for (const e of ev) {
          if (e.kind === 'command') assert.ok(e.data.length <= opts.maxLiteralSize + 4 * opts.maxLineLength);
        }
      }),
    );
  });
});

function simplify(t: Token): unknown {
  if (t.t === 'atom') return t.v;
  if (t.t === 'string') return { s: t.v.toString('latin1'), lit: t.literal };
  return t.v.map(simplify);
}

describe('tokenizer', () => {
  test('atoms, quoted strings, literals, nested lists and bracketed sections', () => {
    const toks = tokenize(Buffer.from('FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>) "a \\"q\\" \\\\" {3}\r\nx y ((a) NIL)'));
    assert.deepEqual(toks.map(simplify), [
      'FETCH',
      '1:*',
      ['FLAGS', 'BODY.PEEK[HEADER.FIELDS (From To)]<0.100>'],
      { s: 'a "q" \\', lit: false },
      { s: 'x y', lit: true },
      [['a'], 'NIL'],
    ]);
  });

  test('a "[" without its "]" is an ordinary atom character (ASTRING-CHAR), in linear time', () => {
    assert.deepEqual(tokenize(Buffer.from("SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}")).map(simplify), ['SELECT', "!#$&'+,-.0123456789:;<=>?@^_`|[}"]);
    assert.deepEqual(tokenize(Buffer.from('LIST "" a[b%* (c)')).map(simplify), ['LIST', { s: '', lit: false }, 'a[b%*', ['c']]);
    assert.deepEqual(tokenize(Buffer.from('a[b {1}\r\n] c]')).map(simplify), ['a[b', { s: ']', lit: true }, 'c]']);
    assert.deepEqual(tokenize(Buffer.from('x[[y] (z)')).map(simplify), ['x[[y]', ['z']]);
    const many = Buffer.from('a['.repeat(30000).split('a').join(' a').slice(1));
    const t0 = performance.now();
    assert.equal(tokenize(many).length, 30000);
    assert.ok(performance.now() - t0 < 1000);
  });

  test('a HEADER.FIELDS list holds astrings: literals and quoted names stay in the one atom, quoted', () => {
    const one = (s: string): unknown => tokenize(Buffer.from(s, 'latin1')).map(simplify);
    assert.deepEqual(one('BODY[HEADER.FIELDS ({7}\r\nSubject)]'), ['BODY[HEADER.FIELDS ("Subject")]']);
    assert.deepEqual(one('(BODY.PEEK[1.2.header.fields.not  ( {7+}\r\nSubject  "a\\"]b" To )]<0.5> FLAGS)'), [['BODY.PEEK[1.2.header.fields.not ("Subject" "a\\"]b" To)]<0.5>', 'FLAGS']]);
    assert.deepEqual(one('BODY[HEADER.FIELDS ({0}\r\n)]'), ['BODY[HEADER.FIELDS ("")]']);
    // Not a header-list section: the "[" is an ordinary character and the list a list.
    assert.throws(() => tokenize(Buffer.from('BODY[TEXT ({1}\r\nx)]')), TokenizeError);
  });

  for (const bad of ['BODY[HEADER.FIELDS (~{1}\r\nx)]', 'BODY[HEADER.FIELDS ({3}\r\na\r\n)]', 'BODY[HEADER.FIELDS (\xe9)]', 'BODY[HEADER.FIELDS ("a\\q")]']) {
    test(`rejects the header list of ${JSON.stringify(bad)}`, () => {
      assert.throws(() => tokenize(Buffer.from(bad, 'latin1')), TokenizeError);
    });
  }

  test('header-list sections in adversarial runs tokenize in linear time', () => {
    for (const unit of ['x[HEADER.FIELDS (', 'x[HEADER.FIELDS ("a" {1}\r\nb ', '[HEADER.FIELDS ([', 'a[b (']) {
      const big = Buffer.from(unit.repeat(20000));
      const t0 = performance.now();
      try {
        tokenize(big);
      } catch (e) {
        assert.ok(e instanceof TokenizeError, String(e));
      }
      assert.ok(performance.now() - t0 < 1000, unit);
    }
  });

  test('atoms are 7-bit and "{n-}" is no literal header (RFC 7888 uses "{n+}")', () => {
    assert.throws(() => tokenize(Buffer.from('SUBJECT caf\xc3\xa9', 'latin1')), /8bit data in atom/);
    assert.deepEqual(tokenize(Buffer.from('"caf\xc3\xa9"', 'latin1')).map((t) => (t.t === 'string' ? t.v.toString('utf8') : null)), ['caf\u00e9']);
    assert.throws(() => tokenize(Buffer.from('{3-}\r\nabc')), /literal header/);
    assert.deepEqual(tokenize(Buffer.from('{3+}\r\nabc')).map(simplify), [{ s: 'abc', lit: true }]);
    // The framer does not wait for the octets of a "{n-}": the line is a whole (bad) command.
    const fr = new Framer({ maxLineLength: 100, maxLiteralSize: 100 });
    assert.deepEqual(fr.push(Buffer.from('a LOGIN u {3-}\r\nabc\r\n')).map((e) => e.kind), ['command', 'command']);
  });

  test('literal8 is marked binary and may contain NUL', () => {
    const t = tokenize(Buffer.from('~{3}\r\na\0b'));
    assert.equal(t[0]!.t === 'string' && t[0]!.binary, true);
    assert.throws(() => tokenize(Buffer.from('{3}\r\na\0b')), TokenizeError);
  });

  for (const bad of ['"unterminated', '(a b', 'a)', '"bad \\q escape"', '{x}\r\nabc', '{10}\r\nshort', 'a\x01b', 'BODY[HEAD\x01ER]', '"nul\0"']) {
    test(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => tokenize(Buffer.from(bad)), TokenizeError);
    });
  }

  test('deep nesting is bounded', () => {
    assert.throws(() => tokenize(Buffer.from('('.repeat(1001) + ')'.repeat(1001))), /nested/);
    assert.doesNotThrow(() => tokenize(Buffer.from('('.repeat(10) + ')'.repeat(10))));
  });

  test('never throws anything but TokenizeError on random input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          tokenize(Buffer.from(bytes));
        } catch (e) {
          assert.ok(e instanceof TokenizeError, String(e));
        }
      }),
    );
  });
});

describe('modified UTF-7', () => {
  const cases: Array<[string, string]> = [
    ['INBOX', 'INBOX'],
    ['Entw\u00fcrfe', 'Entw&APw-rfe'],
    ['~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
    ['a&b', 'a&-b'],
    ['\u{1F600}', '&2D3eAA-'],
  ];
  for (const [plain, enc] of cases) {
    test(`${plain} <-> ${enc}`, () => {
      assert.equal(encodeMailboxUtf7(plain), enc);
      assert.equal(decodeMailboxUtf7(enc), plain);
    });
  }
  test('rejects malformed input', () => {
    for (const bad of ['&Jjo', '&Jj!-', 'caf\u00e9', '&AGE-', '&AOk-&AOk-']) assert.throws(() => decodeMailboxUtf7(bad), Utf7Error);
  });
  test('round-trips any string', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => assert.equal(decodeMailboxUtf7(encodeMailboxUtf7(s)), s)));
  });
});

describe('encoder', () => {
  test('quotes when lossless, literal otherwise', () => {
    const w = new WireWriter(false);
    w.string('plain').sp().string('with "q"').sp().string('two\r\nlines').sp().nstring(null).sp().string('caf\u00e9');
    assert.equal(w.toBuffer().toString('utf8'), '"plain" "with \\"q\\"" {10}\r\ntwo\r\nlines NIL {5}\r\ncaf\u00e9');
    assert.equal(new WireWriter(true).string('caf\u00e9').toBuffer().toString('utf8'), '"caf\u00e9"');
  });
  test('a JS string is encoded exactly as its UTF-8 bytes would be (quoting fast path)', () => {
    const edge = fc.constantFrom('', '"', '\\', 'a\\"b', '\u00e9', '\ud800', 'x\u0000y', 'a\rb', 'a\nb', '\u00e9'.repeat(600), 'z'.repeat(1024), 'z'.repeat(1025));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' }), edge), fc.boolean(), (s, utf8) => {
        const fast = new WireWriter(utf8).string(s).toBuffer();
        const slow = new WireWriter(utf8).string(Buffer.from(s, 'utf8')).toBuffer();
        assert.deepEqual(fast, slow);
      }),
      { numRuns: 2000 },
    );
  });
  test('astring prefers atoms', () => {
    assert.equal(new WireWriter().astring('INBOX').sp().astring('a b').sp().astring('NIL').toBuffer().toString(), 'INBOX "a b" "NIL"');
  });
  test('date-time and sequence sets', () => {
    assert.equal(formatDateTime(new Date(Date.UTC(1996, 6, 7, 2, 4, 5))), ' 7-Jul-1996 02:04:05 +0000');
    assert.equal(formatSequenceSet([1, 2, 3, 5, 7, 8]), '1:3,5,7:8');
    assert.equal(formatSequenceSet([]), '');
  });
});

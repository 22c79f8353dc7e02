/**
 * safeDecode's fast paths (UTF-8 via Buffer#toString, ISO-8859-1 as latin1, all-ASCII input in an
 * ASCII-transparent charset returned as is, single-byte text of self-mapping bytes as latin1) must give exactly what the reference decoder
 * (slowSafeDecode: libmime/iconv-lite for every input) gives, for any bytes and any charset name.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { safeDecode, slowSafeDecode } from './headers.js';

const CHARSETS = [
  'us-ascii', 'US-ASCII', 'ascii', '7bit', 'utf-8', 'UTF8', ' utf-8 ', 'utf_8', 'iso-8859-1', 'latin1', 'ISO_8859-1',
  'windows-1252', 'cp1252', 'iso-8859-2', 'iso-8859-5', 'iso-8859-15', 'koi8-r', 'koi8-u', 'windows-1251', 'tis-620',
  'gbk', 'gb2312', 'gb18030', 'big5', 'euc-kr', 'shift_jis', 'euc-jp', 'iso-2022-jp', 'ISO-2022-JP', 'jis',
  'hz-gb-2312', 'utf-16', 'utf-16le', 'utf-16be', 'utf-32', 'ucs-2', 'utf-7', 'unicode-1-1-utf-7', 'cesu-8',
  'base64', 'hex', 'binary', 'x-unknown', 'foo', '', '__proto__', 'constructor', 'win-1257', 'l2', 'latin',
];

const charsetArb = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...CHARSETS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
);

const bytesArb = fc.oneof(
  // pure ASCII, including control bytes and escape/shift sequences of stateful charsets
  fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 200 }).map((s) => Buffer.from(s, 'latin1')),
  fc.constantFrom('\x1b$B$"\x1b(B', '~{<:Ky2;S{#,~}', '+AGEAYgBj-', 'plain text\r\nline two\r\n').map((s) => Buffer.from(s, 'latin1')),
  // UTF-8 text (BOMs and astral characters included)
  fc.string({ unit: 'binary', maxLength: 100 }).map((s) => Buffer.from(s, 'utf8')),
  fc.string({ unit: 'binary', maxLength: 60 }).map((s) => Buffer.from('\ufeff' + s, 'utf8')),
  // latin1 bytes: any byte value
  fc.string({ unit: fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c)), maxLength: 200 }).map((s) => Buffer.from(s, 'latin1')),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  // bytes most single-byte charsets (windows-1252 included) map to themselves, with a rare exception
  fc.array(fc.oneof({ weight: 20, arbitrary: fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff })) }, { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0x9f }) }), { maxLength: 200 }).map((a) => Buffer.from(a)),
  // RFC 2047 encoded words as they appear in raw headers
  fc.tuple(fc.constantFrom('utf-8', 'iso-8859-1', 'koi8-r', 'x-bad'), fc.constantFrom('B', 'Q', 'b', 'q'), fc.string({ unit: 'binary', maxLength: 30 })).map(([cs, enc, text]) => {
    const bytes = Buffer.from(text, 'utf8');
    const payload = enc.toUpperCase() === 'B' ? bytes.toString('base64') : [...bytes].map((b) => '=' + b.toString(16).toUpperCase().padStart(2, '0')).join('');
    return Buffer.from(`Subject: =?${cs}?${enc}?${payload}?= tail`, 'latin1');
  }),
);

describe('safeDecode fast paths', () => {
  test('equal to the reference decoder on random bytes and charset names', () => {
    fc.assert(
      fc.property(bytesArb, charsetArb, (buf, cs) => {
        assert.equal(safeDecode(buf, cs), slowSafeDecode(buf, cs));
      }),
      { numRuns: 3000 },
    );
  });

  test('every listed charset on every single byte and on all 256 bytes at once', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    for (const cs of CHARSETS) {
      assert.equal(safeDecode(all, cs), slowSafeDecode(all, cs), cs);
      for (let b = 0; b < 256; b++) {
        const one = Buffer.from([b]);
        assert.equal(safeDecode(one, cs), slowSafeDecode(one, cs), `${cs} byte ${b}`);
      }
    }
  });

  test('known answers: legacy bytes still go through the charset, ASCII stays as is', () => {
    assert.equal(safeDecode(Buffer.from([0x63, 0x61, 0x66, 0xe9]), 'iso-8859-1'), 'café');
    assert.equal(safeDecode(Buffer.from([0x80]), 'windows-1252'), '€');
    assert.equal(safeDecode(Buffer.from([0x63, 0xe9, 0x80]), 'iso-8859-1'), 'cé€');
    assert.equal(safeDecode(Buffer.from([0x63, 0xe9, 0xa0]), 'iso-8859-1'), 'cé\u00a0');
    assert.equal(safeDecode(Buffer.from([0xa1]), 'iso-8859-2'), 'Ą');
    assert.equal(safeDecode(Buffer.from([0xc1, 0xc2]), 'koi8-r'), 'аб');
    assert.equal(safeDecode(Buffer.from('caf\u00e9', 'utf8'), 'utf-8'), 'café');
    assert.equal(safeDecode(Buffer.from('hello'), 'us-ascii'), 'hello');
    assert.equal(safeDecode(Buffer.from([0x61, 0x00]), 'utf-16le'), 'a');
    // Unknown and refused charsets decode as UTF-8.
    assert.equal(safeDecode(Buffer.from('caf\u00e9', 'utf8'), 'x-no-such-charset'), 'café');
    assert.equal(safeDecode(Buffer.from('+ADw-', 'latin1'), 'utf-7'), '+ADw-');
  });

  test('many distinct charset names (cache bound) keep giving the reference result', () => {
    const buf = Buffer.from([0x41, 0xe9, 0x42]);
    for (let i = 0; i < 700; i++) {
      const cs = i % 2 ? `x-made-up-${i}` : 'iso-8859-2';
      assert.equal(safeDecode(buf, cs), slowSafeDecode(buf, cs));
    }
    assert.equal(safeDecode(buf, 'iso-8859-2'), slowSafeDecode(buf, 'iso-8859-2'));
  });
});

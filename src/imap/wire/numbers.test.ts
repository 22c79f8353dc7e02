import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { AsciiWriter, numberList } from './numbers.js';

test('numberList: head, " n" per number in order, tail', () => {
  assert.equal(numberList('* SORT', [3, 10, 0, 99, 100, 4294967295], '\r\n').toString('latin1'), '* SORT 3 10 0 99 100 4294967295\r\n');
  assert.equal(numberList('* SORT', [], '\r\n').toString('latin1'), '* SORT\r\n');
  assert.equal(numberList('* SEARCH', new Uint32Array([7, 1]), ' (MODSEQ 12)\r\n').toString('latin1'), '* SEARCH 7 1 (MODSEQ 12)\r\n');
  assert.equal(numberList('', [Number.MAX_SAFE_INTEGER], '').toString('latin1'), ` ${Number.MAX_SAFE_INTEGER}`);
});

test('numberList: the same bytes as joining the decimal strings', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.nat(20), fc.nat(), fc.maxSafeNat())), (nums) => {
      assert.equal(numberList('*', nums, '\r\n').toString('latin1'), `*${nums.map((n) => ' ' + n).join('')}\r\n`);
    }),
  );
});

test('AsciiWriter: text, bytes and numbers, growing past its first buffer', () => {
  const w = new AsciiWriter(1);
  w.text('* THREAD ').byte(0x28).number(0).byte(0x20).number(Number.MAX_SAFE_INTEGER).byte(0x29);
  for (let i = 0; i < 1000; i++) w.byte(0x20).number(i);
  const want = `* THREAD (0 ${Number.MAX_SAFE_INTEGER})` + Array.from({ length: 1000 }, (_, i) => ` ${i}`).join('');
  assert.equal(w.bytes().toString('latin1'), want);
  assert.equal(new AsciiWriter().bytes().length, 0);
});

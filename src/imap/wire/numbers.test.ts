import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { numberList } from './numbers.js';

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

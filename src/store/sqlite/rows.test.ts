/**
 * cleanUids: what every uid list passed to the SQLite store is turned into before a query.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanUids } from './rows.js';

test('an ascending list comes back as a copy; anything else sorted, deduplicated, without bad values', () => {
  const asc = [1, 2, 5, 9];
  const out = cleanUids(asc);
  assert.deepEqual(out, [1, 2, 5, 9]);
  assert.notEqual(out, asc);
  out.push(10);
  assert.deepEqual(asc, [1, 2, 5, 9]);
  assert.deepEqual(cleanUids([]), []);
  assert.deepEqual(cleanUids([5, 1, 3, 1]), [1, 3, 5]);
  assert.deepEqual(cleanUids([1, 2, 2, 3]), [1, 2, 3]);
  assert.deepEqual(cleanUids([0, 1, 2]), [1, 2]);
  assert.deepEqual(cleanUids([-1, 4]), [4]);
  assert.deepEqual(cleanUids([1, 2.5, 3]), [1, 3]);
  assert.deepEqual(cleanUids([1, NaN, 3]), [1, 3]);
  assert.deepEqual(cleanUids([1, Infinity]), [1]);
  assert.deepEqual(cleanUids([1, 2 ** 53, 7]), [1, 7]);
  assert.deepEqual(cleanUids([10, 2, 30]), [2, 10, 30]);
});

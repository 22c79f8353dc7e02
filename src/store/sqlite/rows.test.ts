/**
 * Row helpers of the SQLite store: cleanUids (what every uid list passed to it is turned into before a
 * query) and the message metadata built from rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanUids, rawToMeta, sharedMeta, type RawMsgRow } from './rows.js';
import { FLAG_DELETED, FLAG_SEEN } from '../flags.js';

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

test('shared metas of messages with the same flags share one frozen list; rawToMeta gives each its own', () => {
  const row = (uid: number, mask: number, keywords: string): RawMsgRow => [uid, `M${uid}`, `T${uid}`, mask, keywords, 1_000_000 + uid, 100 + uid, uid, null];
  const a = sharedMeta(row(1, FLAG_SEEN, ''));
  const b = sharedMeta(row(2, FLAG_SEEN, ''));
  const c = sharedMeta(row(3, FLAG_SEEN, '$Label'));
  const d = sharedMeta(row(4, FLAG_SEEN | FLAG_DELETED, ''));
  assert.deepEqual(a.flags, ['\\Seen']);
  assert.equal(a.flags, b.flags);
  assert.deepEqual(c.flags, ['\\Seen', '$Label']);
  assert.notEqual(c.flags, a.flags);
  assert.deepEqual(d.flags.slice().sort(), ['\\Deleted', '\\Seen']);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.flags));
  assert.throws(() => (a.flags as string[]).push('\\Flagged'), TypeError);
  assert.deepEqual([a.uid, a.emailId, a.threadId, a.size, a.modseq, a.internalDate.getTime(), a.savedDate], [1, 'M1', 'T1', 101, 1, 1_000_001, undefined]);
  const own = rawToMeta(row(5, FLAG_SEEN, ''));
  assert.deepEqual(own.flags, ['\\Seen']);
  assert.notEqual(own.flags, a.flags);
  assert.ok(!Object.isFrozen(own.flags));
  assert.equal(sharedMeta(row(6, 0, '')).flags.length, 0);
  assert.equal(sharedMeta([7, 'M7', 'T7', 0, '', 1, 1, 1, 5]).savedDate?.getTime(), 5);
});

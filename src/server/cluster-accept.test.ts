import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pickWorker } from './cluster-accept.js';

test('pickWorker: the worker with the fewest open connections', () => {
  assert.equal(pickWorker([1, 2, 3], new Map([[1, 4], [2, 1], [3, 2]]), 0), 2);
  assert.equal(pickWorker([1, 2], new Map([[1, 0], [2, 7]]), 1), 1);
});

test('pickWorker: equals take turns after the last choice, wrapping to the lowest id', () => {
  const open = new Map([[1, 3], [2, 3], [3, 3]]);
  assert.equal(pickWorker([1, 2, 3], open, 0), 1);
  assert.equal(pickWorker([1, 2, 3], open, 1), 2);
  assert.equal(pickWorker([1, 2, 3], open, 2), 3);
  assert.equal(pickWorker([1, 2, 3], open, 3), 1);
  // Insertion order of the takers does not matter.
  assert.equal(pickWorker([3, 1, 2], open, 1), 2);
});

test('pickWorker: a worker with no count yet counts as idle; no takers, no worker', () => {
  assert.equal(pickWorker([5, 6], new Map([[5, 2]]), 0), 6);
  assert.equal(pickWorker([], new Map(), 0), null);
});

test('pickWorker: a burst spreads evenly when each pick is counted', () => {
  const open = new Map<number, number>();
  let last = 0;
  for (let i = 0; i < 10; i++) {
    const id = pickWorker([1, 2], open, last)!;
    open.set(id, (open.get(id) ?? 0) + 1);
    last = id;
  }
  assert.deepEqual([open.get(1), open.get(2)], [5, 5]);
});

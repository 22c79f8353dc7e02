import { test } from 'node:test';
import assert from 'node:assert/strict';
import { workerArgonShare } from './cluster.js';

test('workerArgonShare: the two argon2 computations of one process are shared among the workers, one at least', () => {
  // Two workers on two cores: one each, two in the cluster (as one process on two cores runs).
  assert.equal(workerArgonShare(2, 2), 1);
  // One worker keeps what a single process runs.
  assert.equal(workerArgonShare(1, 2), 2);
  assert.equal(workerArgonShare(1, 8), 2);
  // A single core: one at a time, however many workers.
  assert.equal(workerArgonShare(1, 1), 1);
  assert.equal(workerArgonShare(3, 1), 1);
  // More workers than the share: each still runs one (a login never waits for another worker).
  assert.equal(workerArgonShare(8, 8), 1);
});

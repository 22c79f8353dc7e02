import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { tuneHeap, HEAP_GROWING_PERCENT, YOUNG_GENERATION_CAP } from './heap.js';
import { heldAcrossWorker, keepHeapSettings } from '../lib/heap-flags.js';

const newSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

test('tuneHeap leaves alone what node was given on its command line or in NODE_OPTIONS', () => {
  assert.deepEqual(tuneHeap(['--heap-growing-percent=0', '--max-semi-space-size=16'], ''), []);
  assert.deepEqual(tuneHeap([], '--max_semi_space_size=16 --heap_growing_percent=100'), []);
  assert.deepEqual(tuneHeap(['--semi-space-growth-factor=2'], '--heap-growing-percent=0'), []);
});

test('tuneHeap sets the old-generation growth when node was not given one', (t) => {
  const set = tuneHeap(['--semi-space-growth-factor=2'], '');
  assert.deepEqual(set, [`heap-growing-percent=${HEAP_GROWING_PERCENT}`]);
  t.after(() => keepHeapSettings({ growingPercent: 0 })()); // V8's own heuristics again for the other tests
});

test('keepHeapSettings keeps the new space at the cap under a burst of allocation, also after a worker thread starts', async () => {
  const start = newSpace();
  const cap = Math.max(start, 4 * 1024 * 1024);
  const stop = keepHeapSettings({ youngCap: cap });
  try {
    // Starting a worker thread resets V8's flags to the command line's; its creator sets them again.
    const w = new Worker('setTimeout(() => undefined, 10)', { eval: true });
    heldAcrossWorker(w);
    await new Promise((resolve) => w.once('exit', resolve));
    // Survivors in every scavenge: V8 doubles the semi-spaces under this (up to 32 MB) unless capped.
    let keep: Array<{ i: number; s: string }> = [];
    for (let round = 0; round < 40; round++) {
      for (let i = 0; i < 100_000; i++) {
        keep.push({ i, s: `v${i}` });
        if (keep.length > 60_000) keep = [];
      }
      await new Promise((resolve) => setImmediate(resolve)); // the gc observer runs between rounds
    }
    assert.ok(keep.length > 0);
    assert.ok(newSpace() <= Math.max(cap, YOUNG_GENERATION_CAP), `new space ${newSpace()} bytes, cap ${cap}`);
    assert.ok(newSpace() < 32 * 1024 * 1024);
  } finally {
    stop();
  }
});

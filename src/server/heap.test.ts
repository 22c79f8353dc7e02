import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { execFileSync } from 'node:child_process';
import { tuneHeap, workerHeapArgs, workerHeapEnv, HEAP_GROWING_PERCENT, PRIMARY_YOUNG_GENERATION_CAP, WORKER_YOUNG_CAP_ENV, WORKER_YOUNG_GENERATION_CAP, YOUNG_GENERATION_CAP } from './heap.js';
import { growthFactor, heldAcrossWorker, keepHeapSettings } from '../lib/heap-flags.js';

const newSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

test('tuneHeap leaves alone what node was given on its command line or in NODE_OPTIONS', () => {
  assert.deepEqual(tuneHeap(['--heap-growing-percent=0', '--max-semi-space-size=16'], ''), []);
  assert.deepEqual(tuneHeap([], '--max_semi_space_size=16 --heap_growing_percent=100'), []);
  assert.deepEqual(tuneHeap(['--semi-space-growth-factor=2'], '--heap-growing-percent=0'), []);
});

test('tuneHeap holds the young-generation cap it is given; a later call replaces it', (t) => {
  t.after(() => keepHeapSettings({ growingPercent: 0 })());
  assert.deepEqual(tuneHeap(['--heap-growing-percent=50'], '', PRIMARY_YOUNG_GENERATION_CAP), [`young-generation-cap=${PRIMARY_YOUNG_GENERATION_CAP / 1048576}MB`]);
  assert.deepEqual(tuneHeap(['--heap-growing-percent=50'], ''), [`young-generation-cap=${YOUNG_GENERATION_CAP / 1048576}MB`]);
  // The primary's young generation is V8's smallest growth step, below a serving process's.
  assert.ok(PRIMARY_YOUNG_GENERATION_CAP < YOUNG_GENERATION_CAP);
});

test('tuneHeap sets the old-generation growth when node was not given one', (t) => {
  const set = tuneHeap(['--semi-space-growth-factor=2'], '');
  assert.deepEqual(set, [`heap-growing-percent=${HEAP_GROWING_PERCENT}`]);
  t.after(() => keepHeapSettings({ growingPercent: 0 })()); // V8's own heuristics again for the other tests
});

/** Lets the event loop turn `n` times: a collection's gc entry reaches its observer within two. */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

test('keepHeapSettings keeps the new space at the cap under sustained allocation, also after a worker thread starts', async () => {
  const start = newSpace();
  const cap = Math.max(start, 4 * 1024 * 1024);
  const stop = keepHeapSettings({ youngCap: cap });
  try {
    // Starting a worker thread resets V8's flags to the command line's; its creator sets them again.
    const w = new Worker('setTimeout(() => undefined, 10)', { eval: true });
    heldAcrossWorker(w);
    await new Promise((resolve) => w.once('exit', resolve));
    // Survivors in every scavenge: V8 doubles the semi-spaces under this (up to 32 MB) unless capped. Each
    // round allocates less than one semi-space, so at most one collection runs before the check after it.
    let keep: Array<{ i: number; s: string }> = [];
    let most = 0;
    for (let round = 0; round < 400; round++) {
      for (let i = 0; i < 10_000; i++) {
        keep.push({ i, s: `v${i}` });
        if (keep.length > 60_000) keep = [];
      }
      most = Math.max(most, newSpace());
      await turns(3);
    }
    assert.ok(keep.length > 0);
    assert.ok(most <= cap, `new space reached ${most} bytes, cap ${cap}`);
  } finally {
    stop();
  }
});

test('workerHeapArgs gives a worker process the held settings as node flags, unless node was given its own', () => {
  assert.deepEqual(workerHeapArgs([], ''), [
    `--heap-growing-percent=${HEAP_GROWING_PERCENT}`,
    // V8's limit: the power of two at or above the cap's semi-space (6 MB); the cap is held at run time.
    '--max-semi-space-size=8',
  ]);
  assert.deepEqual(workerHeapEnv([], ''), { [WORKER_YOUNG_CAP_ENV]: String(WORKER_YOUNG_GENERATION_CAP) });
  assert.deepEqual(workerHeapEnv(['--max-semi-space-size=16'], ''), {});
  assert.deepEqual(workerHeapArgs(['--max-semi-space-size=16'], '--heap_growing_percent=0'), []);
  assert.deepEqual(workerHeapArgs([], '--semi-space-growth-factor=2'), [`--heap-growing-percent=${HEAP_GROWING_PERCENT}`]);
});

test('growthFactor reaches a cap that is not a power of two without passing it', () => {
  const MB = 1024 * 1024;
  const steps = (from: number, cap: number): number[] => {
    const out = [from];
    for (let size = from, f = growthFactor(size, cap); f > 1; f = growthFactor(size, cap)) out.push((size *= f));
    return out.map((b) => b / MB);
  };
  assert.deepEqual(steps(1 * MB, 12 * MB), [1, 2, 4, 12]);
  assert.deepEqual(steps(2 * MB, 12 * MB), [2, 4, 12]);
  assert.deepEqual(steps(1 * MB, 16 * MB), [1, 2, 4, 16]);
  assert.deepEqual(steps(5 * MB, 12 * MB), [5, 10]);
  assert.equal(growthFactor(12 * MB, 12 * MB), 1);
  assert.equal(growthFactor(16 * MB, 12 * MB), 1);
});

test('a worker started with workerHeapArgs and workerHeapEnv keeps its young generation within the cap under sustained allocation', () => {
  const burst = [
    "import { getHeapSpaceStatistics } from 'node:v8';",
    `import { tuneWorkerHeap } from ${JSON.stringify(new URL('./heap.ts', import.meta.url).pathname)};`,
    'tuneWorkerHeap();',
    "const size = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;",
    'let keep = []; let most = 0;',
    'for (let r = 0; r < 300; r++) {',
    "  for (let i = 0; i < 10000; i++) { keep.push({ i, s: 'v' + i }); if (keep.length > 60000) keep = []; }",
    '  most = Math.max(most, size());',
    '  for (let t = 0; t < 3; t++) await new Promise((resolve) => setImmediate(resolve));',
    '}',
    'process.stdout.write(String(most));',
  ].join('\n');
  const out = execFileSync(process.execPath, [...workerHeapArgs([], ''), '--import', 'tsx', '--input-type=module', '-e', burst], {
    encoding: 'utf8',
    env: { ...process.env, ...workerHeapEnv([], '') },
  });
  assert.ok(Number(out) > 4 * 1024 * 1024 && Number(out) <= WORKER_YOUNG_GENERATION_CAP, `new space reached ${out} bytes, cap ${WORKER_YOUNG_GENERATION_CAP}`);
});

/**
 * flattenBatches (helpers.ts) and mergeHeld (holds.ts): the iterables every readMessages returns. Items come
 * out in order across empty and full batches, an early break ends the batch generator, a failing batch
 * rejects the loop, held rows merge into the live ones by uid, and inBatches gives the same items as arrays.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flattenBatches, inBatches } from './helpers.js';
import { mergeHeld } from './holds.js';

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

test('flattenBatches yields every item in order, across empty batches', async () => {
  const it = flattenBatches(async function* () {
    yield [];
    yield [1, 2];
    yield [];
    yield [3];
  });
  assert.deepEqual(await collect(it), [1, 2, 3]);
  // Each iteration starts the batches again.
  assert.deepEqual(await collect(it), [1, 2, 3]);
  assert.deepEqual(await collect(flattenBatches(async function* (): AsyncGenerator<number[]> {})), []);
});

test('flattenBatches: breaking out of the loop ends the batch generator', async () => {
  let finished = false;
  let batchesRead = 0;
  const it = flattenBatches(async function* () {
    try {
      for (let b = 0; b < 10; b++) {
        batchesRead++;
        yield [b * 2, b * 2 + 1];
      }
    } finally {
      finished = true;
    }
  });
  const seen: number[] = [];
  for await (const x of it) {
    seen.push(x);
    if (x === 2) break;
  }
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(finished, true);
  assert.equal(batchesRead, 2);
});

test('flattenBatches: a failing batch rejects the loop after the items before it', async () => {
  const it = flattenBatches(async function* () {
    yield ['a'];
    throw new Error('disk on fire');
  });
  const seen: string[] = [];
  await assert.rejects(async () => {
    for await (const x of it) seen.push(x);
  }, /disk on fire/);
  assert.deepEqual(seen, ['a']);
});

test('mergeHeld: held rows go between live ones by uid; without held rows the live ones pass as they are', async () => {
  const live = flattenBatches(async function* () {
    yield [{ uid: 2 }, { uid: 5 }];
    yield [{ uid: 9 }];
  });
  const uids = async (held: Array<{ uid: number }>): Promise<number[]> => (await collect(mergeHeld(live, async () => held))).map((r) => r.uid);
  assert.deepEqual(await uids([]), [2, 5, 9]);
  assert.deepEqual(await uids([{ uid: 1 }, { uid: 3 }, { uid: 12 }]), [1, 2, 3, 5, 9, 12]);
  await assert.rejects(collect(mergeHeld(live, () => Promise.reject(new Error('no held rows')))), /no held rows/);
});

test('mergeHeld: breaking out early ends the live iterator', async () => {
  let finished = false;
  const live = flattenBatches(async function* () {
    try {
      yield [{ uid: 1 }, { uid: 2 }];
      yield [{ uid: 3 }];
    } finally {
      finished = true;
    }
  });
  for await (const r of mergeHeld(live, async () => [])) if (r.uid === 1) break;
  assert.equal(finished, true);
});

test('inBatches: the batches of a store iterable, one-item arrays of any other, the same items either way', async () => {
  const batched = flattenBatches(async function* () {
    yield [{ uid: 1 }, { uid: 2 }];
    yield [];
    yield [{ uid: 4 }];
  });
  assert.deepEqual(await collect(inBatches(batched)), [[{ uid: 1 }, { uid: 2 }], [], [{ uid: 4 }]]);
  async function* plain(): AsyncGenerator<{ uid: number }> {
    yield { uid: 7 };
    yield { uid: 8 };
  }
  assert.deepEqual(await collect(inBatches(plain())), [[{ uid: 7 }], [{ uid: 8 }]]);
  // Through mergeHeld: without held rows the live batches pass whole; with them, every row comes out once, in uid order.
  assert.deepEqual(await collect(inBatches(mergeHeld(batched, async () => []))), [[{ uid: 1 }, { uid: 2 }], [], [{ uid: 4 }]]);
  const merged = (await collect(inBatches(mergeHeld(batched, async () => [{ uid: 3 }, { uid: 9 }])))).flat();
  assert.deepEqual(merged.map((r) => r.uid), [1, 2, 3, 4, 9]);
  await assert.rejects(collect(inBatches(mergeHeld(batched, () => Promise.reject(new Error('held read failed'))))), /held read failed/);
});

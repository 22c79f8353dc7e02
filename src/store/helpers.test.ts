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

/** A held-rows reader over `rows` that records the uids it was asked for. */
function heldOf(rows: Array<{ uid: number }>): { read: (uids: number[]) => Promise<Array<{ uid: number }>>; asked: number[][] } {
  const asked: number[][] = [];
  return { asked, read: async (uids) => (asked.push(uids), rows.filter((r) => uids.includes(r.uid))) };
}

test('mergeHeld: held rows of asked uids go between live ones by uid; when every asked uid is live none are read', async () => {
  const live = flattenBatches(async function* () {
    yield [{ uid: 2 }, { uid: 5 }];
    yield [{ uid: 9 }];
  });
  const none = heldOf([{ uid: 3 }]);
  assert.deepEqual((await collect(mergeHeld(live, [2, 5, 9], none.read))).map((r) => r.uid), [2, 5, 9]);
  assert.deepEqual(none.asked, []);
  const some = heldOf([{ uid: 1 }, { uid: 3 }, { uid: 12 }, { uid: 20 }]);
  assert.deepEqual((await collect(mergeHeld(live, [1, 2, 3, 5, 9, 12, 13], some.read))).map((r) => r.uid), [1, 2, 3, 5, 9, 12]);
  // Asked per live batch, for the uids up to its last one that it lacked; the rest after the last batch.
  assert.deepEqual(some.asked, [[1, 3], [12, 13]]);
  await assert.rejects(collect(mergeHeld(live, [2, 4], () => Promise.reject(new Error('no held rows')))), /no held rows/);
});

test('mergeHeld: a message expunged while the live rows are read (gone from a later batch, held by then) is still returned', async () => {
  const heldRows: Array<{ uid: number }> = [];
  const live = flattenBatches(async function* () {
    yield [{ uid: 1 }, { uid: 2 }];
    // Another process expunges uid 3 between the two batches: its row moves to the held rows.
    heldRows.push({ uid: 3 });
    yield [{ uid: 4 }];
  });
  const uids = (await collect(mergeHeld(live, [1, 2, 3, 4], async (want) => heldRows.filter((r) => want.includes(r.uid))))).map((r) => r.uid);
  assert.deepEqual(uids, [1, 2, 3, 4]);
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
  for await (const r of mergeHeld(live, [1, 2, 3], async () => [])) if (r.uid === 1) break;
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
  assert.deepEqual(await collect(inBatches(mergeHeld(batched, [1, 2, 4], async () => []))), [[{ uid: 1 }, { uid: 2 }], [{ uid: 4 }]]);
  const merged = (await collect(inBatches(mergeHeld(batched, [1, 2, 3, 4, 9], heldOf([{ uid: 3 }, { uid: 9 }]).read)))).flat();
  assert.deepEqual(merged.map((r) => r.uid), [1, 2, 3, 4, 9]);
  await assert.rejects(collect(inBatches(mergeHeld(batched, [1, 3], () => Promise.reject(new Error('held read failed'))))), /held read failed/);
});

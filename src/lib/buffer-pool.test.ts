import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferPool } from './buffer-pool.js';

test('BufferPool hands a returned buffer out again, once, and ignores foreign memory', () => {
  const pool = new BufferPool(1024, 2);
  const a = pool.take();
  const b = pool.take();
  assert.equal(a.length, 1024);
  assert.notEqual(a.buffer, b.buffer, 'two takes without a give are distinct buffers');
  assert.ok(pool.owns(a.subarray(10, 20)));
  assert.equal(pool.owns(Buffer.alloc(1024)), false);

  pool.give(a.subarray(0, 100)); // a view returns the whole buffer
  pool.give(a); // a second give of the same buffer is ignored
  pool.give(Buffer.allocUnsafeSlow(1024)); // not the pool's
  const c = pool.take();
  assert.equal(c.buffer, a.buffer);
  assert.equal(c.length, 1024);
  assert.notEqual(pool.take().buffer, a.buffer, 'a was in the free list once only');
});

test('BufferPool keeps at most maxFree idle buffers', () => {
  const pool = new BufferPool(64, 1);
  const a = pool.take();
  const b = pool.take();
  pool.give(a);
  pool.give(b); // over the limit: left to the garbage collector
  assert.equal(pool.take().buffer, a.buffer);
  const fresh = pool.take();
  assert.notEqual(fresh.buffer, b.buffer);
  assert.notEqual(fresh.buffer, a.buffer);
});

test('BufferPool: memory of the pool size that the pool did not make is never taken for its own', () => {
  const pool = new BufferPool(256, 4);
  const foreign = Buffer.allocUnsafeSlow(256); // same size, other memory
  assert.equal(pool.owns(foreign), false);
  pool.give(foreign);
  const t = pool.take();
  assert.notEqual(t.buffer, foreign.buffer, 'a foreign buffer given back is not handed out');
  pool.give(t.subarray(5, 9));
  pool.give(t.subarray(0, 1)); // the same buffer again, through another view
  assert.equal(pool.take().buffer, t.buffer);
  assert.notEqual(pool.take().buffer, t.buffer, 'listed once only, whatever view came back');
});

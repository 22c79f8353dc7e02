import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomString } from './random.js';

test('randomString encodes the requested number of bytes and never repeats across pool refills', () => {
  const seen = new Set<string>();
  // 12-byte ids: 4096 / 12 is not whole, so this crosses many refills, including partial tails.
  for (let i = 0; i < 5000; i++) {
    const id = randomString(12, 'base64url');
    assert.match(id, /^[A-Za-z0-9_-]{16}$/);
    assert.ok(!seen.has(id), 'duplicate id');
    seen.add(id);
  }
  assert.match(randomString(11, 'hex'), /^[0-9a-f]{22}$/);
  assert.match(randomString(1, 'hex'), /^[0-9a-f]{2}$/);
  // Larger than the pool: still the right length.
  assert.equal(randomString(5000, 'hex').length, 10000);
});

test('randomString output is not biased towards a constant (all 256 byte values show up)', () => {
  const hex = Array.from({ length: 400 }, () => randomString(11, 'hex')).join('');
  const values = new Set<string>();
  for (let i = 0; i < hex.length; i += 2) values.add(hex.slice(i, i + 2));
  assert.equal(values.size, 256);
});

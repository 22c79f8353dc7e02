import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEADROOM, hasHeadroom, headed, prefixed, withHeadroom } from './headroom.js';

/** True when `copy` ends with the very bytes of `raw` (a view over them, not a copy). */
function overMessage(copy: Buffer, raw: Buffer): boolean {
  return copy.buffer === raw.buffer && copy.byteOffset + copy.length === raw.byteOffset + raw.length;
}

test('withHeadroom joins the chunks, and the first copy is written into the room in front', () => {
  const raw = withHeadroom([Buffer.from('Subject: a\r\n'), Buffer.from('\r\nbody\r\n')], 20);
  assert.equal(raw.toString(), 'Subject: a\r\n\r\nbody\r\n');
  assert.equal(hasHeadroom(raw), true);
  const first = prefixed('Delivered-To: b@example.org\r\n', raw);
  assert.equal(first.toString(), 'Delivered-To: b@example.org\r\nSubject: a\r\n\r\nbody\r\n');
  assert.equal(overMessage(first, raw), true, 'the copy shares the message bytes');
  assert.equal(hasHeadroom(raw), false);
  // A second copy (another user) gets its own Buffer; the first one is left as it was.
  const second = prefixed('Delivered-To: c@example.org\r\n', raw);
  assert.equal(second.toString(), 'Delivered-To: c@example.org\r\nSubject: a\r\n\r\nbody\r\n');
  assert.equal(overMessage(second, raw), false);
  assert.equal(first.toString(), 'Delivered-To: b@example.org\r\nSubject: a\r\n\r\nbody\r\n');
  assert.equal(raw.toString(), 'Subject: a\r\n\r\nbody\r\n');
});

test('prefixed copies when there is no room, or not enough, and counts UTF-8 bytes', () => {
  const plain = Buffer.from('x\r\n');
  assert.equal(prefixed('A: 1\r\n', plain).toString(), 'A: 1\r\nx\r\n');
  const raw = withHeadroom([Buffer.from('x\r\n')], 3);
  const long = `X-Long: ${'y'.repeat(HEADROOM)}\r\n`;
  const copy = prefixed(long, raw);
  assert.equal(copy.toString(), long + 'x\r\n');
  assert.equal(hasHeadroom(raw), true, 'a prefix that does not fit leaves the room for the next copy');
  const utf8 = prefixed('Delivered-To: jürgen@example.org\r\n', raw);
  assert.equal(utf8.toString('utf8'), 'Delivered-To: jürgen@example.org\r\nx\r\n');
  assert.equal(utf8.length, Buffer.byteLength('Delivered-To: jürgen@example.org\r\n') + 3);
});

test('an empty message and empty prefix work', () => {
  const raw = withHeadroom([], 0);
  assert.equal(raw.length, 0);
  assert.equal(prefixed('', raw).length, 0);
  const again = withHeadroom([Buffer.alloc(0)], 0);
  assert.equal(prefixed('A: b\r\n', again).toString(), 'A: b\r\n');
});

test('headed writes fields of the message into the room and keeps the rest of it for the first copy', () => {
  const raw = withHeadroom([Buffer.from('Subject: a\r\n\r\nbody\r\n')], 20);
  const auth = Buffer.from('Authentication-Results: mx.example.org; spf=pass\r\n', 'latin1');
  const checked = headed(auth, raw);
  assert.equal(checked.toString(), 'Authentication-Results: mx.example.org; spf=pass\r\nSubject: a\r\n\r\nbody\r\n');
  assert.equal(overMessage(checked, raw), true, 'no copy of the message');
  assert.equal(hasHeadroom(raw), false);
  assert.equal(hasHeadroom(checked), true, 'the rest of the room stays in front of the longer message');
  const stored = prefixed('Delivered-To: b@example.org\r\n', checked);
  assert.equal(stored.toString(), 'Delivered-To: b@example.org\r\n' + checked.toString());
  assert.equal(overMessage(stored, raw), true);
  // Without room, or with too little left: a new Buffer, the message unchanged.
  const plain = Buffer.from('x\r\n');
  const copied = headed(auth, plain);
  assert.equal(copied.toString(), auth.toString() + 'x\r\n');
  assert.equal(hasHeadroom(copied), false);
  const small = withHeadroom([plain], 3);
  const big = Buffer.from(`X-Big: ${'z'.repeat(HEADROOM)}\r\n`);
  assert.equal(headed(big, small).toString(), big.toString() + 'x\r\n');
  assert.equal(hasHeadroom(small), true, 'a head that does not fit leaves the room alone');
  assert.equal(small.toString(), 'x\r\n');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { unstuff, dotStuff } from './client.js';

test('dot-unstuffing removes one leading dot per line, bytes untouched', () => {
  const stuffed = Buffer.from('..leading\r\nmid.dle\r\n...\r\n\xff\xfe\r\n', 'latin1');
  assert.deepEqual(unstuff(stuffed), Buffer.from('.leading\r\nmid.dle\r\n..\r\n\xff\xfe\r\n', 'latin1'));
  assert.deepEqual(unstuff(Buffer.alloc(0)), Buffer.alloc(0));
});

test('stuff/unstuff round-trip on arbitrary CRLF-line bytes, and stuffed data never contains CRLF.CRLF', () => {
  const line = fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a.filter((b) => b !== 0x0d && b !== 0x0a)));
  fc.assert(
    fc.property(fc.array(fc.oneof(line, fc.constant(Buffer.from('.')), fc.constant(Buffer.from('..x')))), (lines) => {
      const msg = Buffer.concat(lines.map((l) => Buffer.concat([l, Buffer.from('\r\n')])));
      const stuffed = dotStuff(msg);
      assert.equal(stuffed.indexOf('\r\n.\r\n'), -1);
      assert.ok(!stuffed.subarray(0, 3).equals(Buffer.from('.\r\n')));
      assert.deepEqual(unstuff(stuffed), msg);
    }),
  );
});

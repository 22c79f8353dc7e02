import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DotStuffer, dotStuffAll, unstuff } from './dotstuff.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Reference: the RFC 1939 rule applied to the whole message at once. */
function reference(msg: Buffer): Buffer {
  const lines = msg.toString('latin1').split('\r\n');
  let out = lines.map((l) => (l.startsWith('.') ? '.' + l : l)).join('\r\n');
  out += msg.length === 0 || out.endsWith('\r\n') ? '.\r\n' : '\r\n.\r\n';
  return b(out);
}

/** What a client does: check and strip the terminating "." line, then undo the stuffing. */
function receive(wire: Buffer): Buffer {
  const text = wire.toString('latin1');
  assert.ok(text.endsWith('\r\n.\r\n') || text === '.\r\n', 'terminated by CRLF.CRLF');
  return unstuff(wire.subarray(0, wire.length - 3));
}

test('dot-stuffing: lines starting with "." get one more, terminator after CRLF', () => {
  assert.equal(dotStuffAll([b('.hidden\r\nok\r\n..two\r\n.\r\n')]).toString('latin1'), '..hidden\r\nok\r\n...two\r\n..\r\n.\r\n');
  assert.equal(dotStuffAll([b('a.b\r\n')]).toString('latin1'), 'a.b\r\n.\r\n');
});

test('dot-stuffing: a message without a final CRLF gets one before the "." line', () => {
  assert.equal(dotStuffAll([b('Subject: x\r\n\r\nno newline')]).toString('latin1'), 'Subject: x\r\n\r\nno newline\r\n.\r\n');
  assert.equal(dotStuffAll([b('ends in CR\r')]).toString('latin1'), 'ends in CR\r\r\n.\r\n');
  assert.equal(dotStuffAll([]).toString('latin1'), '.\r\n');
});

test('dot-stuffing: a "." at a chunk boundary, and a CRLF split across chunks', () => {
  assert.equal(dotStuffAll([b('a\r\n'), b('.b\r\n')]).toString('latin1'), 'a\r\n..b\r\n.\r\n');
  assert.equal(dotStuffAll([b('a\r'), b('\n'), b('.'), b('b\r'), b('\n')]).toString('latin1'), 'a\r\n..b\r\n.\r\n');
  // A lone "\r\n" chunk after text still counts as ending with CRLF.
  assert.equal(dotStuffAll([b('x'), b('\r'), b('\n')]).toString('latin1'), 'x\r\n.\r\n');
});

test('dot-stuffing: returns the same buffer when nothing needs stuffing', () => {
  const chunk = b('plain\r\ntext\r\n');
  assert.equal(new DotStuffer().stuff(chunk), chunk);
});

test('dot-stuffing: any chunking equals the reference and round-trips (fast-check)', () => {
  const bytes = fc.array(fc.oneof(fc.constantFrom(0x2e, 0x0d, 0x0a, 0x41, 0xff, 0x00), fc.integer({ min: 0, max: 255 })), { maxLength: 200 });
  fc.assert(
    fc.property(bytes, fc.array(fc.nat({ max: 40 }), { maxLength: 12 }), (arr, cuts) => {
      // The store keeps CRLF line ends: build CRLF-only messages from the random bytes.
      const msg = b(Buffer.from(arr).toString('latin1').replace(/\r\n|\r|\n/g, '\r\n'));
      const chunks: Buffer[] = [];
      let pos = 0;
      for (const c of cuts) {
        chunks.push(msg.subarray(pos, pos + c));
        pos = Math.min(msg.length, pos + c);
      }
      chunks.push(msg.subarray(pos));
      const wire = dotStuffAll(chunks);
      assert.deepEqual(wire, reference(msg));
      const back = receive(wire);
      const expected = msg.length === 0 || msg.toString('latin1').endsWith('\r\n') ? msg : Buffer.concat([msg, b('\r\n')]);
      assert.deepEqual(back, expected);
    }),
    { numRuns: 500 },
  );
});

test('dot-unstuffing removes one leading dot per line, bytes untouched', () => {
  const stuffed = b('..leading\r\nmid.dle\r\n...\r\n\xff\xfe\r\n');
  assert.deepEqual(unstuff(stuffed), b('.leading\r\nmid.dle\r\n..\r\n\xff\xfe\r\n'));
  assert.deepEqual(unstuff(Buffer.alloc(0)), Buffer.alloc(0));
  const plain = b('no dots at line starts\r\na.b\r\n');
  assert.equal(unstuff(plain), plain);
});

test('stuff/unstuff round-trip on arbitrary CRLF-line bytes, and stuffed data never contains CRLF.CRLF', () => {
  const line = fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a.filter((x) => x !== 0x0d && x !== 0x0a)));
  fc.assert(
    fc.property(fc.array(fc.oneof(line, fc.constant(b('.')), fc.constant(b('..x')))), (lines) => {
      const msg = Buffer.concat(lines.map((l) => Buffer.concat([l, b('\r\n')])));
      const wire = dotStuffAll([msg]);
      const body = wire.subarray(0, wire.length - 3);
      assert.equal(body.indexOf('\r\n.\r\n'), -1);
      assert.ok(!body.subarray(0, 3).equals(b('.\r\n')));
      assert.deepEqual(unstuff(body), msg);
    }),
  );
});

test('parts: views of the chunk with the stuffing dots between them, no copy, same bytes as stuff', () => {
  const chunk = Buffer.from('.a\r\nb\r\n..c\r\nd.e\r\n.');
  const parts = new DotStuffer().parts(chunk);
  assert.equal(Buffer.concat(parts).toString(), new DotStuffer().stuff(chunk).toString());
  assert.equal(Buffer.concat(parts).toString(), '..a\r\nb\r\n...c\r\nd.e\r\n..');
  const views = parts.filter((p) => p.buffer === chunk.buffer);
  assert.equal(views.reduce((n, p) => n + p.length, 0), chunk.length, 'every byte of the chunk is a view, not a copy');
  assert.deepEqual(new DotStuffer().parts(Buffer.from('no dots\r\n')).length, 1);
  // across chunks: a line start at the end of one chunk is stuffed at the start of the next
  const st = new DotStuffer();
  st.parts(Buffer.from('x\r\n'));
  assert.equal(Buffer.concat(st.parts(Buffer.from('.y'))).toString(), '..y');
});

test('stuffed: null exactly when a chunk needs nothing, else the same bytes as parts, under any chunking (fast-check)', () => {
  const bytes = fc.array(fc.constantFrom(0x2e, 0x0d, 0x0a, 0x41), { maxLength: 120 });
  fc.assert(
    fc.property(bytes, fc.array(fc.nat({ max: 20 }), { maxLength: 8 }), (arr, cuts) => {
      const msg = Buffer.from(arr);
      const viaStuffed = new DotStuffer();
      const viaParts = new DotStuffer();
      const wire: Buffer[] = [];
      let pos = 0;
      for (const c of [...cuts, msg.length]) {
        const chunk = msg.subarray(pos, Math.min(msg.length, pos + c));
        pos += chunk.length;
        const s = viaStuffed.stuffed(chunk);
        const p = Buffer.concat(viaParts.parts(chunk));
        if (s === null) assert.deepEqual(p, chunk, 'null only when the chunk goes out unchanged');
        else assert.deepEqual(Buffer.concat(s), p);
        wire.push(s === null ? chunk : Buffer.concat(s));
      }
      wire.push(viaStuffed.terminator());
      assert.deepEqual(viaStuffed.terminator(), viaParts.terminator());
      assert.deepEqual(Buffer.concat(wire), dotStuffAll([msg]));
    }),
    { numRuns: 500 },
  );
  assert.equal(new DotStuffer().stuffed(Buffer.alloc(0)), null);
  assert.equal(new DotStuffer().stuffed(Buffer.from('a.b\r\nc\r\n')), null);
  assert.notEqual(new DotStuffer().stuffed(Buffer.from('.')), null);
});

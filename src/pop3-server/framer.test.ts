import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LineFramer, type FramedLine } from './framer.js';

function show(items: FramedLine[]): string[] {
  return items.map((i) => (i.kind === 'line' ? i.line.toString('latin1') : '<too-long>'));
}

function feed(framer: LineFramer, chunks: Buffer[]): string[] {
  return chunks.flatMap((c) => show(framer.push(c)));
}

test('framer: CRLF and bare LF lines, one trailing CR removed', () => {
  const f = new LineFramer(255);
  assert.deepEqual(show(f.push(Buffer.from('USER a\r\nPASS b c\nSTAT\r\r\n'))), ['USER a', 'PASS b c', 'STAT\r']);
  assert.equal(f.buffered, 0);
});

test('framer: a partial line waits for its LF, even one byte at a time', () => {
  const f = new LineFramer(255);
  const input = Buffer.from('LIST 1\r\nUIDL\r\n');
  const out: string[] = [];
  for (const b of input) out.push(...show(f.push(Buffer.from([b]))));
  assert.deepEqual(out, ['LIST 1', 'UIDL']);
});

test('framer: the limit counts the CRLF; a longer line becomes one too-long item and framing resumes', () => {
  const f = new LineFramer(10);
  // 8 octets + CRLF = 10: accepted. 9 octets + CRLF: too long.
  assert.deepEqual(show(f.push(Buffer.from('12345678\r\n'))), ['12345678']);
  assert.deepEqual(show(f.push(Buffer.from('123456789\r\nNOOP\r\n'))), ['<too-long>', 'NOOP']);
  // A very long line arriving in pieces is not buffered, and is reported before it ends.
  assert.deepEqual(show(f.push(Buffer.alloc(1000, 0x41))), ['<too-long>']);
  assert.equal(f.buffered, 0);
  assert.deepEqual(show(f.push(Buffer.alloc(1000, 0x41))), []);
  assert.deepEqual(show(f.push(Buffer.from('AAAA\r\nQUIT\r\n'))), ['QUIT']);
});

test('framer: reset drops a partial line', () => {
  const f = new LineFramer(255);
  f.push(Buffer.from('STA'));
  f.reset();
  assert.deepEqual(show(f.push(Buffer.from('T\r\n'))), ['T']);
});

test('framer: rejects a silly limit', () => {
  assert.throws(() => new LineFramer(2), RangeError);
});

test('framer: any chunking of the input yields the same items (fast-check)', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.constantFrom('\r\n', '\n', '\r', 'X', ' ', '.', 'é'), fc.string({ maxLength: 30 })), { maxLength: 40 }), fc.array(fc.nat({ max: 50 }), { maxLength: 20 }), (pieces, cuts) => {
      const input = Buffer.from(pieces.join(''), 'utf8');
      const whole = feed(new LineFramer(40), [input]);
      const chunks: Buffer[] = [];
      let pos = 0;
      for (const c of cuts) {
        if (pos >= input.length) break;
        chunks.push(input.subarray(pos, pos + c));
        pos += c;
      }
      chunks.push(input.subarray(pos));
      assert.deepEqual(feed(new LineFramer(40), chunks), whole);
      for (const line of whole) assert.ok(line === '<too-long>' || Buffer.byteLength(line, 'latin1') <= 38);
    }),
    { numRuns: 300 },
  );
});

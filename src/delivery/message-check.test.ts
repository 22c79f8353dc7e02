import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isMarkedCrlfOnly, normalizeLineEndings } from '../mime/index.js';
import { checkMessage, countReceived, findBareLineEnd, headerSection, headerValue, MAX_HOPS } from './message-check.js';

test('checkMessage: NUL refused, bare line ends refused or normalised, clean input untouched', () => {
  const clean = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  const ok = checkMessage(clean, 'reject');
  assert.ok(ok.ok && ok.raw === clean);
  const nul = checkMessage(Buffer.from('Subject: x\r\n\r\na\x00\r\n', 'latin1'), 'normalize');
  assert.deepEqual(nul, { ok: false, code: 554, enhanced: '5.6.0', message: 'Message contains NUL octets' });
  assert.equal(checkMessage(Buffer.from('a\nb\r\n'), 'reject').ok, false);
  assert.equal(checkMessage(Buffer.from('a\rb\r\n'), 'reject').ok, false);
  const n = checkMessage(Buffer.from('a\nb\rc\r\n'), 'normalize');
  assert.ok(n.ok);
  assert.equal(n.raw.toString(), 'a\r\nb\r\nc\r\n');
  // header only, no header at all: both fine
  assert.ok(checkMessage(Buffer.from('Subject: only\r\n'), 'reject').ok);
  assert.ok(checkMessage(Buffer.from('\r\nbody\r\n'), 'reject').ok);
});

test('normalizeLineEndings (as checkMessage applies it) leaves no bare CR or LF and keeps every other byte (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (arr) => {
      const input = Buffer.from(arr);
      const out = normalizeLineEndings(input);
      assert.equal(findBareLineEnd(out), -1);
      const strip = (b: Buffer) => Buffer.from([...b].filter((x) => x !== 0x0d && x !== 0x0a));
      assert.ok(strip(out).equals(strip(input)));
      assert.ok(normalizeLineEndings(out).equals(out), 'idempotent');
    }),
  );
});

test('headerSection and headerValue (unfolding, case-insensitive, header only)', () => {
  const raw = Buffer.from('Subject: a\r\n b\r\nMessage-ID:  <x@y>\r\n\r\nMessage-ID: <body@z>\r\n');
  assert.equal(headerSection(raw).toString(), 'Subject: a\r\n b\r\nMessage-ID:  <x@y>\r\n\r\n');
  assert.equal(headerValue(raw, 'subject'), 'a b');
  assert.equal(headerValue(raw, 'MESSAGE-ID'), '<x@y>');
  assert.equal(headerValue(raw, 'date'), null);
  assert.equal(headerValue(Buffer.from('\r\nMessage-ID: <b@z>\r\n'), 'message-id'), null);
});

test('loop detection: MAX_HOPS Received fields are refused, fewer pass, body lines do not count', () => {
  const hops = (n: number) => 'Received: from a by b; Mon, 5 Jan 2026 03:04:05 +0000\r\n'.repeat(n);
  assert.equal(countReceived(Buffer.from(hops(3) + 'Subject: x\r\n\r\nReceived: not a header\r\n')), 3);
  assert.ok(checkMessage(Buffer.from(hops(MAX_HOPS - 1) + '\r\nbody\r\n'), 'reject').ok);
  const r = checkMessage(Buffer.from(hops(MAX_HOPS) + '\r\nbody\r\n'), 'reject');
  assert.deepEqual(r, { ok: false, code: 554, enhanced: '5.4.6', message: 'Too many hops (mail loop?)' });
});

test('checkMessage marks what it passes as CRLF-only, so the store skips its own scan', () => {
  const bare = Buffer.from('Subject: x\nFrom: a@b\r\n\r\nline one\nline two\r\n');
  const r = checkMessage(bare, 'normalize');
  assert.ok(r.ok);
  assert.equal(findBareLineEnd(r.raw), -1);
  assert.ok(isMarkedCrlfOnly(r.raw));
  assert.equal(normalizeLineEndings(r.raw), r.raw);
  // A buffer nobody vouched for is still scanned and rewritten.
  assert.ok(!isMarkedCrlfOnly(bare));
  assert.equal(normalizeLineEndings(bare).toString(), r.raw.toString());
  // A refused message is not marked.
  const refused = Buffer.from('Subject: x\n\nbody\n');
  assert.equal(checkMessage(refused, 'reject').ok, false);
  assert.ok(!isMarkedCrlfOnly(refused));
});

test('findBareLineEnd finds what a byte-by-byte reading finds: the first bare LF, else the first bare CR (property)', () => {
  const reference = (b: Buffer): number => {
    for (let i = 0; i < b.length; i++) if (b[i] === 0x0a && (i === 0 || b[i - 1] !== 0x0d)) return i;
    for (let i = 0; i < b.length; i++) if (b[i] === 0x0d && b[i + 1] !== 0x0a) return i;
    return -1;
  };
  const piece = fc.constantFrom('\r\n', '\r', '\n', 'a', 'bc ', '\r\r\n', '\n\r');
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 40 }), (parts) => {
      const b = Buffer.from(parts.join(''), 'latin1');
      assert.equal(findBareLineEnd(b), reference(b), JSON.stringify(parts.join('')));
    }),
    { numRuns: 2000 },
  );
  assert.equal(findBareLineEnd(Buffer.from('a\r\nb\r\nc\r\n')), -1);
  assert.equal(findBareLineEnd(Buffer.from('a\r\nb\r\nc\r')), 7);
  assert.equal(findBareLineEnd(Buffer.from('a\r\nb\rx\nc\r\n')), 6);
  assert.equal(findBareLineEnd(Buffer.alloc(0)), -1);
});

/**
 * The shared parse (shared.ts): an index moved past a prepended header block is exactly the index of the
 * whole copy (fixtures, edge cases, random messages), and prefixes it cannot handle exactly are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { indexMessage, normalizeLineEndings } from './index.js';
import { prefixedIndex, rememberedIndex, rememberIndex, sharedIndex } from './shared.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'mime');
const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');
const TRACE = crlf(
  'Return-Path: <a@b.example>\nDelivered-To: bob@example.org\nReceived: from mx.example (mx.example [192.0.2.1])\n\tby here with ESMTP; Mon, 7 Dec 2026 08:00:00 +0000\nX-Spam-Status: No, score=1.0 required=9.0 engine=bayes clues=3\nX-Spam: Yes\n',
);

/** prefixedIndex agrees with parsing the copy, to the byte of its JSON. */
function same(body: Buffer, prefix: Buffer): void {
  const moved = prefixedIndex(indexMessage(body), body, prefix);
  assert.ok(moved, 'a trace prefix is handled');
  const copy = Buffer.concat([prefix, body]);
  assert.equal(JSON.stringify(moved), JSON.stringify(indexMessage(copy)));
}

test('prefixedIndex equals indexMessage of the copy for every fixture and edge case', () => {
  const bodies = readdirSync(FIXTURES).map((f) => normalizeLineEndings(readFileSync(join(FIXTURES, f))));
  bodies.push(
    Buffer.alloc(0),
    crlf('\nbody only, empty header\n'),
    crlf('Subject: header only, no blank line'),
    crlf('garbage line without a colon\nSubject: x\n\nbody\n'),
    crlf('Content-Type: message/rfc822\n\nSubject: inner\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\nContent-Type: text/html\n\n<p>two</p>\n--b--\n'),
  );
  assert.ok(bodies.length > 15);
  for (const body of bodies) {
    same(body, TRACE);
    same(body, crlf('Return-Path: <>\n'));
  }
});

test('prefixedIndex refuses what it cannot do exactly', () => {
  const body = crlf('From: a@b.example\nSubject: hi\n\nhello\n');
  const index = indexMessage(body);
  assert.equal(prefixedIndex(index, body, crlf('Content-Type: text/html\n')), null, 'a Content-* field');
  assert.equal(prefixedIndex(index, body, crlf('X-A: 1\nsubject: other\n')), null, 'an envelope field');
  assert.equal(prefixedIndex(index, body, Buffer.from('X-A: 1')), null, 'no final CRLF');
  assert.equal(prefixedIndex(index, body, crlf('X-A: 1\n\n')), null, 'a blank line');
  assert.equal(prefixedIndex(index, body, crlf('garbage\n')), null, 'a line without a colon');
  const folded = crlf(' continued: x\nSubject: hi\n\nhello\n');
  assert.equal(prefixedIndex(indexMessage(folded), folded, TRACE), null, 'a message that would continue the last field');
  assert.equal(prefixedIndex(index, crlf('other bytes\n'), TRACE), null, 'an index of other bytes');
});

test('prefixedIndex equals indexMessage of the copy for random messages', () => {
  const line = fc.stringMatching(/^[ -~\t]{0,30}$/);
  const piece = fc.oneof(line, fc.constantFrom('Content-Type: multipart/mixed; boundary=q', '--q', '--q--', '', 'Subject: s', 'Content-Type: message/rfc822', ' folded'));
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 25 }), (lines) => {
      const body = Buffer.from(lines.join('\r\n'), 'latin1');
      const moved = prefixedIndex(indexMessage(body), body, TRACE);
      if (body[0] === 0x20 || body[0] === 0x09) return moved === null;
      return JSON.stringify(moved) === JSON.stringify(indexMessage(Buffer.concat([TRACE, body])));
    }),
    { numRuns: 300 },
  );
});

test('indexes are remembered per Buffer object and only for their length', () => {
  const a = crlf('Subject: a\n\nbody\n');
  const b = Buffer.from(a);
  const index = sharedIndex(a);
  assert.equal(sharedIndex(a), index, 'parsed once');
  assert.equal(rememberedIndex(a), index);
  assert.equal(rememberedIndex(b), null, 'the same bytes in another Buffer are not known');
  rememberIndex(b, indexMessage(crlf('Subject: longer\n\nbody\n')));
  assert.equal(rememberedIndex(b), null, 'an index of another length is not kept');
});

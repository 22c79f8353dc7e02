/** Status lines (reply.ts): control characters never reach the wire; clean text passes unchanged. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dotStuffAll } from '../lib/dotstuff.js';
import { formatLines, formatStatus, sanitizeText } from './reply.js';

test('sanitizeText replaces every control character and DEL with a space, call after call', () => {
  for (let i = 0; i < 3; i++) {
    assert.equal(sanitizeText('a\r\nb\x00c\x7fd\te'), 'a  b c d e');
    assert.equal(sanitizeText('1 1234 octets'), '1 1234 octets');
  }
  assert.equal(sanitizeText(''), '');
  assert.equal(sanitizeText('\x1f'), ' ');
});

test('formatStatus and formatLines keep one reply one line per text', () => {
  assert.equal(formatStatus({ ok: true, text: '2 octets\r\n+OK injected' }), '+OK 2 octets  +OK injected\r\n');
  assert.equal(formatStatus({ ok: false, text: 'no', code: 'IN-USE' }), '-ERR [IN-USE] no\r\n');
  assert.equal(formatLines(['1 abc', '.2 x\n']), '1 abc\r\n..2 x \r\n.\r\n');
  assert.equal(formatLines([]), '.\r\n');
  assert.equal(formatLines(['', '.', '..', 'a.b', '\n.x']), '\r\n..\r\n...\r\na.b\r\n .x\r\n.\r\n');
  // The same as stuffing the joined lines as bytes.
  const lines = ['.a', 'b', '.', 'c.d', '\u00e9t\u00e9'];
  assert.equal(formatLines(lines), dotStuffAll([Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'utf8')]).toString('utf8'));
});

/** The benchmark corpus: deterministic, CRLF-only, within its size bounds, every kind of message. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEEDLE, bodyOf, generateMessage, sha256, sizeStats } from './corpus.js';

test('bench corpus is deterministic, CRLF, within its size bounds and covers every kind', () => {
  const opts = { seed: 7, maxSize: 256 * 1024, bigEvery: 50 };
  const a = Array.from({ length: 200 }, (_, i) => generateMessage(opts, i));
  const again = generateMessage(opts, 123);
  assert.ok(again.raw.equals(a[123]!.raw), 'same seed and index give the same bytes');
  assert.ok(!generateMessage({ ...opts, seed: 8 }, 123).raw.equals(a[123]!.raw), 'another seed gives other bytes');
  const kinds = new Set(a.map((m) => m.info.kind));
  assert.deepEqual([...kinds].sort(), ['alternative', 'attachment', 'forward', 'plain']);
  for (const m of a) {
    assert.ok(m.info.size >= 1024 && m.info.size <= opts.maxSize, `message ${m.info.index} size ${m.info.size}`);
    assert.equal(m.info.size, m.raw.length);
    const text = m.raw.toString('latin1');
    assert.equal(text.replace(/\r\n/g, '').includes('\n'), false, `message ${m.info.index} has a bare LF`);
    assert.ok(text.split('\r\n').every((l) => l.length <= 998), `message ${m.info.index} has a line over 998 octets`);
    assert.equal(sha256(bodyOf(m.raw)), m.info.bodySha256);
    assert.ok(text.includes(`Message-ID: ${m.info.messageId}\r\n`));
    // The needle is in the decoded body exactly when the info says so (never in headers).
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    assert.equal(head.includes(NEEDLE), false);
  }
  assert.equal(a[49]!.info.size > 200 * 1024, true, 'every bigEvery-th message is near maxSize');
  assert.ok(a.some((m) => /=\?UTF-8\?[BQ]\?/.test(m.raw.toString('latin1'))), 'some RFC 2047 encoded words');
  assert.ok(a.some((m) => m.raw.includes('message/rfc822')), 'some nested messages');
  assert.ok(a.some((m) => m.info.needle) && a.some((m) => !m.info.needle));
  const med = sizeStats(Array.from({ length: 400 }, (_, i) => generateMessage({ seed: 1 }, i).info.size)).median;
  assert.ok(med > 4000 && med < 16000, `median size ${med} is near 8 KB`);
});

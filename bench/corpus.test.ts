/** The benchmark corpus: deterministic, CRLF-only, within its size bounds, every kind of message. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NEEDLE, VARIED_BASE, bodyOf, generateMessage, sha256, sizeStats } from './corpus.js';

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

test('varied corpus: deterministic, CRLF, every shape, charsets, threads and odd dates', () => {
  const opts = { seed: 11, maxSize: 512 * 1024, bigEvery: 100 };
  const a = Array.from({ length: 300 }, (_, i) => generateMessage(opts, VARIED_BASE + i));
  assert.ok(generateMessage(opts, VARIED_BASE + 77).raw.equals(a[77]!.raw), 'same seed and index give the same bytes');
  assert.ok(generateMessage({ ...opts, variety: 'varied' }, 77).raw.length > 0, 'the option selects the profile for any index');
  assert.ok(['plain', 'alternative', 'attachment', 'forward'].includes(generateMessage(opts, 77).info.kind), 'classic indices keep the classic profile');
  assert.deepEqual([...new Set(a.map((m) => m.info.kind))].sort(), ['alternative', 'attachment', 'forward', 'large', 'nested', 'plain', 'related', 'report']);
  for (const m of a) {
    assert.ok(m.info.size >= 1024 && m.info.size <= opts.maxSize, `message ${m.info.index} size ${m.info.size}`);
    const text = m.raw.toString('latin1');
    assert.equal(/\r(?!\n)|(?<!\r)\n/.test(text), false, `message ${m.info.index} has a bare CR or LF`);
    assert.ok(text.split('\r\n').every((l) => l.length <= 998), `message ${m.info.index} has a line over 998 octets`);
    assert.equal(sha256(bodyOf(m.raw)), m.info.bodySha256);
    assert.ok(text.includes(`Message-ID: ${m.info.messageId}\r\n`));
  }
  assert.equal(a[99]!.info.size > 400 * 1024, true, 'every bigEvery-th message is near maxSize');
  const all = a.map((m) => m.raw.toString('latin1')).join('\n');
  for (const cs of ['ISO-8859-1', 'KOI8-R', 'ISO-8859-2', 'ISO-8859-7', 'WINDOWS-1252', 'UTF-8']) {
    assert.ok(new RegExp(`=\\?${cs}\\?[BQ]\\?`, 'i').test(all), `an encoded word in ${cs}`);
    assert.ok(new RegExp(`charset="?${cs}`, 'i').test(all), `a body in ${cs}`);
  }
  for (const needle of ['multipart/related', 'multipart/report', 'message/rfc822', 'Content-Transfer-Encoding: 8bit', 'quoted-printable', 'filename*0*=', 'cid:']) {
    assert.ok(all.includes(needle), `corpus has ${needle}`);
  }
  assert.ok(all.includes(Buffer.from('%PDF-1.7\n').toString('base64')), 'attachments shaped like PDFs');
  // Threads: a reply lists every earlier message of its block in References, the last as In-Reply-To.
  const replies = a.filter((m) => /^In-Reply-To: /m.test(m.raw.toString('latin1')));
  assert.ok(replies.length > 50, `${replies.length} replies`);
  const long = replies.find((m) => (m.raw.toString('latin1').match(/^References:(?:.*\r\n[ \t])*.*$/m)?.[0].match(/</g) ?? []).length >= 8);
  assert.ok(long, 'a long References chain');
  const dates = a.map((m) => /^Date: (.*)$/m.exec(m.raw.toString('latin1'))![1]!);
  assert.ok(dates.some((d) => / 19[3-6]\d /.test(d)), 'a Date before 1970');
  assert.ok(dates.some((d) => !/^\w{3}, /.test(d)), 'a Date without a weekday');
  assert.ok(a.every((m) => m.info.date.getUTCFullYear() >= 1990), 'INTERNALDATE stays ordinary');
});

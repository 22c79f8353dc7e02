import { test } from 'node:test';
import assert from 'node:assert/strict';
import { completeHeader } from './submission.js';

test('completeHeader adds Date and Message-ID only when missing (RFC 6409 section 8)', () => {
  const full = Buffer.from('Date: Mon, 5 Jan 2026 03:04:05 +0000\r\nMessage-ID: <a@b>\r\n\r\nx\r\n');
  const r1 = completeHeader(full, 'mx.test');
  assert.equal(r1.raw, full);
  assert.equal(r1.messageId, '<a@b>');

  const noId = completeHeader(Buffer.from('Date: Mon, 5 Jan 2026 03:04:05 +0000\r\n\r\nx\r\n'), 'mx.test');
  assert.match(noId.messageId ?? '', /^<[0-9a-f]{32}@mx\.test>$/);
  assert.equal(noId.raw.toString(), `Message-ID: ${noId.messageId}\r\nDate: Mon, 5 Jan 2026 03:04:05 +0000\r\n\r\nx\r\n`);

  const noDate = completeHeader(Buffer.from('Message-ID: <a@b>\r\nSubject: s'), 'mx.test');
  assert.match(noDate.raw.toString(), /^Date: \w{3}, \d+ \w{3} \d{4} [\d:]{8} \+0000\r\nMessage-ID: <a@b>\r\nSubject: s$/);

  // an empty header: the new fields become the header, the message's own blank line ends it
  const empty = completeHeader(Buffer.from('\r\nbody\r\n'), 'mx.test');
  assert.match(empty.raw.toString(), /^Date: [^\r]+\r\nMessage-ID: <[^>]+>\r\n\r\nbody\r\n$/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alreadyDeliveredTo, enhancedStatusFor, isPermanent, mapLimit, replyCodeFor, type DeliverFailureCode } from './deliver.js';

test('mapLimit keeps order and never runs more than the limit at once', async () => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, n));
    running--;
    return n * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30, 0, 60]);
  assert.ok(peak <= 3 && peak >= 2, `peak ${peak}`);
  assert.deepEqual(await mapLimit([], 3, async () => 1), []);
});

test('failure codes map to consistent SMTP replies and RFC 3463 statuses', () => {
  const codes: DeliverFailureCode[] = ['UNKNOWN', 'REMOTE', 'INVALID', 'LOOP', 'TOO_BIG', 'OVER_QUOTA', 'TEMPORARY'];
  for (const c of codes) {
    const reply = replyCodeFor(c);
    const status = enhancedStatusFor(c);
    assert.equal(String(reply)[0], status[0], `${c}: ${reply} vs ${status}`);
    assert.equal(isPermanent(c), reply >= 500);
  }
});

test('alreadyDeliveredTo looks only at the header, with or without brackets', () => {
  assert.ok(alreadyDeliveredTo(Buffer.from('Delivered-To: <A@x.org>\r\n\r\n'), 'a@x.org'));
  assert.ok(!alreadyDeliveredTo(Buffer.from('Subject: s\r\n\r\nDelivered-To: a@x.org\r\n'), 'a@x.org'));
  assert.ok(!alreadyDeliveredTo(Buffer.from('X-Delivered-To: a@x.org\r\n\r\n'), 'a@x.org'));
  assert.ok(alreadyDeliveredTo(Buffer.from('Subject: s\r\nDELIVERED-TO:b@y.org\r\ndelivered-to:  A@X.org  \r\n\r\n'), 'a@x.org'));
  assert.ok(alreadyDeliveredTo(Buffer.from('Subject: \u00e9\r\nDelivered-To: j\u00fcrgen@x.org\r\n\r\n'), 'J\u00dcRGEN@x.org'));
  assert.ok(!alreadyDeliveredTo(Buffer.from('Subject: s\r\n\r\n'), 'a@x.org'));
  assert.ok(!alreadyDeliveredTo(Buffer.from('Delivered-To: b@x.org\r\n\r\n'), 'a@x.org'));
});

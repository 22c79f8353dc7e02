import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDsn, statusFromReply } from './dsn.js';
import { indexMessage } from '../mime/index.js';

test('statusFromReply takes the enhanced code or derives one from the basic code', () => {
  assert.equal(statusFromReply('550 5.1.1 No such user', true), '5.1.1');
  assert.equal(statusFromReply('452-4.2.2 Mailbox full', false), '4.2.2');
  assert.equal(statusFromReply('554 Transaction failed', true), '5.0.0');
  assert.equal(statusFromReply('connection refused', false), '4.4.1');
  assert.equal(statusFromReply('connection refused', true), '5.0.0');
});

test('buildDsn: multipart/report with a delivery-status part per RFC 3464 and the original header', () => {
  const original = Buffer.from('From: a@example.org\r\nSubject: hi\r\nMessage-ID: <m1@example.org>\r\n\r\nsecret body\r\n');
  const raw = buildDsn({
    reportingMta: 'mail.example.org',
    to: 'a@example.org',
    originalEnvelopeFrom: 'a@example.org',
    arrivalDate: new Date('2026-11-27T07:00:00Z'),
    failed: [
      { recipient: 'x@remote.test', status: '5.1.1', diagnostic: '550 5.1.1 unknown\r\nInjected: header', remoteMta: 'mx.remote.test' },
      { recipient: 'y@remote.test', status: '4.4.1', diagnostic: '451 4.4.1 timeout' },
    ],
    original,
    date: new Date('2026-11-27T08:00:00Z'),
  });
  const text = raw.toString();
  assert.doesNotMatch(text, /\r\nInjected: header/, 'diagnostics cannot inject header lines');
  assert.doesNotMatch(text, /secret body/, 'only the header of the original is returned');
  assert.match(text, /\r\nArrival-Date: Fri, 27 Nov 2026 07:00:00 \+0000\r\n\r\nFinal-Recipient: rfc822; x@remote\.test\r\n/);
  assert.match(text, /Final-Recipient: rfc822; y@remote\.test\r\nAction: failed\r\nStatus: 4\.4\.1\r\nDiagnostic-Code: smtp; 451 4\.4\.1 timeout\r\nLast-Attempt-Date: Fri, 27 Nov 2026 08:00:00 \+0000/);
  const index = indexMessage(raw);
  assert.equal(index.root.type, 'multipart');
  assert.equal(index.root.subtype, 'report');
  assert.deepEqual(index.root.params.find(([k]) => k === 'report-type'), ['report-type', 'delivery-status']);
  assert.deepEqual(
    index.root.children.map((c) => `${c.type}/${c.subtype}`),
    ['text/plain', 'message/delivery-status', 'text/rfc822-headers'],
  );
  const headers = index.root.children[2]!;
  assert.match(raw.subarray(headers.bodyStart, headers.bodyEnd).toString(), /^From: a@example\.org\r\nSubject: hi\r\nMessage-ID: <m1@example\.org>\r\n/);
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { receivedFor, receivedHeader, rfc5322Date, withProtocol, returnPathHeader, deliveredToHeader } from './trace.js';

test('rfc5322Date', () => {
  assert.equal(rfc5322Date(new Date('2026-01-05T03:04:05Z')), 'Mon, 5 Jan 2026 03:04:05 +0000');
});

test('withProtocol follows RFC 3848 / RFC 6531', () => {
  assert.equal(withProtocol({ secure: false, authenticated: false }), 'ESMTP');
  assert.equal(withProtocol({ secure: true, authenticated: true }), 'ESMTPSA');
  assert.equal(withProtocol({ secure: true, authenticated: false, utf8: true }), 'UTF8SMTPS');
  assert.equal(withProtocol({ lmtp: true, secure: false, authenticated: false }), 'LMTP');
});

test('receivedHeader is folded, ends in CRLF and cannot be broken by client-supplied values', () => {
  const h = receivedHeader({ helo: 'evil\r\nX-Injected: 1', remoteAddress: '::ffff:127.0.0.1', by: 'mx.example.org', protocol: 'ESMTP', id: 'abc', for: 'bob@example.org', date: new Date('2026-01-05T03:04:05Z') });
  assert.equal(h, 'Received: from evilX-Injected: 1 ([127.0.0.1])\r\n\tby mx.example.org (mailroom) with ESMTP id abc\r\n\tfor <bob@example.org>;\r\n\tMon, 5 Jan 2026 03:04:05 +0000\r\n');
  const noFor = receivedHeader({ helo: 'c.test', clientHostname: 'host.test', remoteAddress: '10.0.0.1', by: 'mx', protocol: 'LMTP', id: 'i', date: new Date(0) });
  assert.equal(noFor, 'Received: from c.test (host.test [10.0.0.1])\r\n\tby mx (mailroom) with LMTP id i;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n');
  assert.equal(returnPathHeader(''), 'Return-Path: <>\r\n');
  assert.equal(deliveredToHeader('bob+tag@example.org\n'), 'Delivered-To: bob+tag@example.org\r\n');
});

test('receivedFor makes the field of receivedHeader for each recipient, and without one', () => {
  const hop = { helo: 'c.test', clientHostname: '[10.0.0.1]', remoteAddress: '::ffff:10.0.0.1', by: 'mx', protocol: 'LMTP', id: 'i', date: new Date(0) };
  const make = receivedFor(hop);
  for (const rcpt of ['a@x.org', 'evil\r\nX: 1@x.org', undefined]) {
    assert.equal(make(rcpt), receivedHeader(rcpt === undefined ? hop : { ...hop, for: rcpt }));
  }
  assert.equal(make('a@x.org'), 'Received: from c.test ([10.0.0.1])\r\n\tby mx (mailroom) with LMTP id i\r\n\tfor <a@x.org>;\r\n\tThu, 1 Jan 1970 00:00:00 +0000\r\n');
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advise } from './advise.js';

test('many devices on a reliable line: IMAP', () => {
  const a = advise({ devices: 3, reliable: true, limitedServerStorage: false, limitedLocalStorage: false, serverBackups: true });
  assert.equal(a.protocol, 'imap');
  assert.ok(a.reasons.some((r) => r.includes('3 devices')));
  assert.deepEqual(a.options, ['--cache recent:30']);
});

test('one device, flaky line, small server quota: POP3', () => {
  const a = advise({ devices: 1, reliable: false, limitedServerStorage: true, limitedLocalStorage: false, serverBackups: false });
  assert.equal(a.protocol, 'pop3');
  assert.ok(a.reasons.some((r) => r.includes('limited server storage')));
  assert.ok(a.scores.pop3 > a.scores.imap);
});

test('limited local storage pushes to IMAP headers-only', () => {
  const a = advise({ devices: 1, reliable: true, limitedServerStorage: false, limitedLocalStorage: true, serverBackups: true });
  assert.equal(a.protocol, 'imap');
  assert.deepEqual(a.options, ['--cache headers']);
});

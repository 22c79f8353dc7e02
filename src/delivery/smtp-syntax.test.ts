import { test } from 'node:test';
import assert from 'node:assert/strict';
import { advertisedParams, isValidHeloArgument, mayHaveParams, paramsRefusal } from './smtp-syntax.js';

test('isValidHeloArgument: domains, address literals and bare addresses; nothing malformed or 8-bit', () => {
  const ok = ['mx.example.org', 'mx.example.org.', 'under_score.example', 'x', '1', '[10.0.0.1]', '[010.000.000.001]', '[IPv6:::1]', '[IPv6:2001:db8::ffff:1.2.3.4]', '[tag:a-b]', '10.0.0.1', '::1'];
  const bad = ['', '.', '[', ']', '[]', '[10.0.0.1', '10.0.0.1]', '[256.0.0.1]', '[1.2.3.4.5]', '[IPv6:]', '[IPv6:1::2::3]', '[:x]', '[tag:]', '[tag:a[b]', 'a..b', 'a.-b', 'a-.b', '-', 'a b', 'a\tb', 'a,b', 'a!b', 'x'.repeat(64), `${'a.'.repeat(128)}b`];
  for (const s of ok) assert.equal(isValidHeloArgument(Buffer.from(s)), true, s);
  for (const s of bad) assert.equal(isValidHeloArgument(Buffer.from(s)), false, JSON.stringify(s));
  assert.equal(isValidHeloArgument(Buffer.from([0x61, 0xe9, 0x2e, 0x62])), false, 'latin-1 byte');
  assert.equal(isValidHeloArgument(Buffer.from('b\u00fccher.example', 'utf8')), false, 'UTF-8 U-label');
  assert.equal(isValidHeloArgument(Buffer.from('a\x00b', 'latin1')), false, 'NUL');
});

test('advertisedParams follows the EHLO options', () => {
  const none = advertisedParams({ hide8BITMIME: true, hideSMTPUTF8: true, hideDSN: true, hideREQUIRETLS: true });
  assert.deepEqual([...none.mail], []);
  const mx = advertisedParams({ size: 10, hideDSN: true, hideREQUIRETLS: true, authMethods: ['PLAIN'], disabledCommands: ['AUTH'] });
  assert.deepEqual([...mx.mail].sort(), ['BODY', 'SIZE', 'SMTPUTF8']);
  assert.deepEqual([...mx.rcpt], []);
  const all = advertisedParams({ size: 10, authMethods: ['PLAIN'], disabledCommands: [] });
  assert.deepEqual([...all.mail].sort(), ['AUTH', 'BODY', 'ENVID', 'REQUIRETLS', 'RET', 'SIZE', 'SMTPUTF8']);
  assert.deepEqual([...all.rcpt].sort(), ['NOTIFY', 'ORCPT']);
});

test('paramsRefusal: unknown keywords are 555 and named only when well-formed; AUTH needs a value', () => {
  const known = new Set(['SIZE', 'AUTH']);
  assert.equal(paramsRefusal('MAIL FROM', false, known), null);
  assert.equal(paramsRefusal('MAIL FROM', { SIZE: '1', AUTH: '<>' }, known), null);
  assert.deepEqual(paramsRefusal('MAIL FROM', { SIZE: '1', FOO: 'x', 'A=B': true }, known), { code: 555, text: '{5.5.4} MAIL FROM parameters not recognized or not implemented: FOO' });
  assert.deepEqual(paramsRefusal('RCPT TO', { '%': true }, new Set()), { code: 555, text: '{5.5.4} RCPT TO parameters not recognized or not implemented' });
  assert.equal(paramsRefusal('MAIL FROM', { AUTH: true }, known)?.code, 501);
});

test('mayHaveParams: only a single visible-ASCII token after the colon skips the parameter check', () => {
  for (const s of ['RCPT TO:<a@b>', 'MAIL FROM:  <a@b>  ', 'MAIL FROM:<>', 'MAIL FROM', 'RCPT TO:']) assert.equal(mayHaveParams(Buffer.from(s, 'latin1')), false, s);
  for (const s of ['MAIL FROM:<a@b> FOO', 'MAIL FROM:<a@b>\tX=1', 'MAIL FROM:<a@b>\fX=1', 'MAIL FROM:<a@b>\vX', 'MAIL FROM:<a@b>\u00a0X', 'RCPT TO:<a@b> \u2028X']) {
    assert.equal(mayHaveParams(Buffer.from(s, 'utf8')), true, JSON.stringify(s));
  }
});

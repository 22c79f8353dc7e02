import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareMessage } from './message-prep.js';
import { indexOrigin, prefixedIndex, rememberIndex, sharedIndex } from '../mime/shared.js';

const MESSAGE = Buffer.from(
  'From: A <a@y.org>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
    '--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHello =C3=9CBER World\r\n' +
    '--b\r\nContent-Type: text/html\r\n\r\n<p>Second PART</p>\r\n--b--\r\n',
);

/** A copy of MESSAGE with `fields` in front, remembered with the index moved from MESSAGE's one parse (as delivery makes it). */
function copyWith(fields: string): Buffer {
  const prefix = Buffer.from(fields);
  const copy = Buffer.concat([prefix, MESSAGE]);
  const index = prefixedIndex(sharedIndex(MESSAGE), MESSAGE, prefix);
  assert.ok(index && indexOrigin(index) === sharedIndex(MESSAGE));
  rememberIndex(copy, index);
  return copy;
}

test('copies of one message for several users share its body text and keep their own header text', () => {
  const copies = ['u1', 'u2', 'u3'].map((u) => copyWith(`Delivered-To: ${u}@X.org\r\nReceived: from y by x\r\n`));
  for (const [i, copy] of copies.entries()) {
    const got = prepareMessage(copy);
    // Exactly what a parse of the same bytes with nothing remembered gives.
    const fresh = prepareMessage(Buffer.from(copy));
    assert.equal(got.bodyText, fresh.bodyText);
    assert.equal(got.headersText, fresh.headersText);
    assert.ok(got.headersText.startsWith(`delivered-to: u${i + 1}@x.org\n`), got.headersText);
    assert.ok(got.bodyText.includes('hello \u00fcber world') && got.bodyText.includes('second part'), got.bodyText);
  }
  // An index made by parsing has no origin: nothing is shared for it.
  assert.equal(indexOrigin(sharedIndex(Buffer.from(MESSAGE))), null);
});

test('a body text kept for one message is not given to another message', () => {
  const first = prepareMessage(copyWith('Delivered-To: u1@x.org\r\n'));
  const other = Buffer.from(MESSAGE.toString('latin1').replace('Hello', 'Howdy'), 'latin1');
  const prefix = Buffer.from('Delivered-To: u1@x.org\r\n');
  const copy = Buffer.concat([prefix, other]);
  rememberIndex(copy, prefixedIndex(sharedIndex(other), other, prefix)!);
  const second = prepareMessage(copy);
  assert.ok(first.bodyText.includes('hello') && !first.bodyText.includes('howdy'));
  assert.ok(second.bodyText.includes('howdy') && !second.bodyText.includes('hello'));
});

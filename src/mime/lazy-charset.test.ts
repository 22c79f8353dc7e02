/**
 * libmime (with iconv-lite and encoding-japanese and their tables) is loaded by the first decode that needs
 * it, not by importing the MIME code: importing and indexing a message load none of it; the first encoded
 * word or charset decoding does (safeDecode learns each charset name's kind from it), and decodes as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { decodeMimeWords, indexMessage } from './index.js';
import { safeDecode, slowSafeDecode } from './headers.js';

const loaded = (): string[] => Object.keys(createRequire(import.meta.url).cache).filter((k) => /[\\/]node_modules[\\/](libmime|iconv-lite|encoding-japanese)[\\/]/.test(k));

test('libmime loads on the first encoded word or charset decoding, not before', () => {
  assert.deepEqual(loaded(), [], 'libmime was loaded by importing the MIME code');
  const raw = Buffer.from('Subject: plain\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n');
  assert.ok(indexMessage(raw));
  assert.equal(decodeMimeWords('no encoded words here'), 'no encoded words here');
  assert.deepEqual(loaded(), [], 'libmime was loaded without an encoded word or a charset to decode');

  assert.equal(decodeMimeWords('=?ISO-8859-1?Q?caf=E9?= =?UTF-8?B?w6l0w6k=?='), 'caféété', 'adjacent encoded words join without the space between them (RFC 2047 section 6.2)');
  assert.ok(loaded().some((k) => /[\\/]libmime[\\/]/.test(k)), 'libmime not loaded after an encoded word');
  // Legacy charsets decode through it; a malformed word and an unknown charset never throw.
  assert.equal(safeDecode(Buffer.from([0x1b, 0x24, 0x42, 0x46, 0x7c, 0x4b, 0x5c, 0x1b, 0x28, 0x42]), 'iso-2022-jp'), '\u65e5\u672c');
  assert.equal(slowSafeDecode(Buffer.from([0xe4]), 'koi8-r'), '\u0414');
  assert.equal(decodeMimeWords('=?x-no-such?Q?abc?='), 'abc');
  assert.equal(decodeMimeWords('=?UTF-8?B?not base64!?='), decodeMimeWords('=?UTF-8?B?not base64!?='));
});

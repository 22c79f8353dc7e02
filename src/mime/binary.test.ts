/**
 * encodeBinaryParts: the literal8 APPEND conversion of Content-Transfer-Encoding: binary parts to base64
 * (outputs compared with what Dovecot stores for the same APPEND).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encodeBinaryParts } from './binary.js';

const HEAD = 'From: user@domain.org\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\n';

describe('encodeBinaryParts', () => {
  test('a single-part binary message: base64 body without a final CRLF, same header length', () => {
    const raw = Buffer.concat([Buffer.from(HEAD + 'Content-Transfer-Encoding: binary\r\n\r\n', 'latin1'), Buffer.from([0, 0x2d, 0xe4, 0x0a, 0x0d, 0x0a, 0x0a])]);
    const out = encodeBinaryParts(raw);
    assert.equal(out.toString('latin1'), HEAD + 'Content-Transfer-Encoding: base64\r\n\r\nAC3kCg0KCg==');
  });

  test('multipart: only "binary" leaves are converted (inside message/rfc822 too), 76-character lines', () => {
    const bin = Buffer.from(Array.from({ length: 100 }, (_, i) => i));
    const raw = Buffer.concat([
      Buffer.from(
        'From: a@b\r\nContent-Type: multipart/mixed; boundary="XX"\r\n\r\npre\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n' +
          '--XX\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: Binary\r\nX-A: b\r\n\r\n',
      ),
      bin,
      Buffer.from('\r\n--XX\r\nContent-Type: application/x-c\r\nContent-Transfer-Encoding: binary (comment)\r\n\r\n\x01\x02\r\n'),
      Buffer.from('--XX\r\nContent-Type: message/rfc822\r\n\r\nSubject: in\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\n\r\n--XX--\r\n'),
    ]);
    const out = encodeBinaryParts(raw).toString('latin1');
    const b64 = bin.toString('base64');
    assert.ok(out.includes(`Content-Transfer-Encoding: base64\r\nX-A: b\r\n\r\n${b64.slice(0, 76)}\r\n${b64.slice(76)}\r\n--XX\r\n`), out);
    assert.ok(out.includes('Content-Transfer-Encoding: binary (comment)\r\n\r\n\x01\x02\r\n'), 'a value with a comment is left as it is (as Dovecot does)');
    assert.ok(out.includes('Subject: in\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEK\r\n--XX--\r\n'));
    assert.ok(out.startsWith('From: a@b\r\nContent-Type: multipart/mixed; boundary="XX"\r\n\r\npre\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n'));
  });

  test('no binary part: the same Buffer; an empty binary body stays empty', () => {
    const plain = Buffer.from('Subject: x\r\n\r\nhello\nworld\r\n');
    assert.equal(encodeBinaryParts(plain), plain);
    assert.equal(encodeBinaryParts(Buffer.from('From: a@b\r\nContent-Transfer-Encoding: binary\r\n\r\n')).toString(), 'From: a@b\r\nContent-Transfer-Encoding: base64\r\n\r\n');
  });

  test('any bytes after the header come back exactly when base64-decoded', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), (body) => {
        const out = encodeBinaryParts(Buffer.concat([Buffer.from(HEAD + 'Content-Transfer-Encoding: BINARY\r\n\r\n'), body])).toString('latin1');
        const text = out.slice(out.indexOf('\r\n\r\n') + 4);
        assert.ok(/^[A-Za-z0-9+/=\r\n]*$/.test(text));
        assert.ok(text.split('\r\n').every((l) => l.length <= 76));
        assert.deepEqual(Buffer.from(text.replace(/\r\n/g, ''), 'base64'), Buffer.from(body));
      }),
    );
  });
});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizeLineEndings, decodePartBody, decodeQuotedPrintable, decodeMimeWords, searchableText, indexMessage, UnknownTransferEncodingError, htmlToText } from './index.js';

describe('normalizeLineEndings', () => {
  test('clean input is returned as the same Buffer', () => {
    const b = Buffer.from('a\r\nb\r\n');
    assert.equal(normalizeLineEndings(b), b);
    const e = Buffer.alloc(0);
    assert.equal(normalizeLineEndings(e), e);
  });

  test('bare LF and lone CR become CRLF; CRLF kept', () => {
    assert.equal(normalizeLineEndings(Buffer.from('a\nb\r\nc\rd\n\n\r\r\n')).toString(), 'a\r\nb\r\nc\r\nd\r\n\r\n\r\n\r\n');
    assert.equal(normalizeLineEndings(Buffer.from('\n')).toString(), '\r\n');
    assert.equal(normalizeLineEndings(Buffer.from('\r')).toString(), '\r\n');
    assert.equal(normalizeLineEndings(Buffer.from('x\r')).toString(), 'x\r\n');
  });

  test('8-bit and NUL bytes pass through', () => {
    const out = normalizeLineEndings(Buffer.from([0xff, 0x0a, 0x00]));
    assert.deepEqual([...out], [0xff, 0x0d, 0x0a, 0x00]);
  });
});

describe('quoted-printable', () => {
  test('escapes, soft line breaks, trailing whitespace removed', () => {
    assert.equal(decodeQuotedPrintable(Buffer.from('caf=C3=A9 =\r\nok  \r\nend=\r\n')).toString(), 'café ok\r\nend');
    assert.equal(decodeQuotedPrintable(Buffer.from('a=3d=3Db')).toString(), 'a==b');
    assert.equal(decodeQuotedPrintable(Buffer.from('soft= \t\r\nbreak')).toString(), 'softbreak');
    // Runs longer and shorter than the inline copy, with trailing whitespace to drop at line ends.
    const long = 'x'.repeat(100);
    assert.equal(decodeQuotedPrintable(Buffer.from(`${long}  \r\n${long}=41\r\nab \r\n`)).toString(), `${long}\r\n${long}A\r\nab\r\n`);
  });

  test('round trip: any bytes, encoded per RFC 2045 6.7 with soft breaks, decode back exactly', () => {
    // A straightforward encoder written from the RFC rules, independent of the decoder.
    const encode = (b: Uint8Array): Buffer => {
      let out = '';
      let line = '';
      const hex = (x: number): string => '=' + x.toString(16).toUpperCase().padStart(2, '0');
      for (let i = 0; i < b.length; i++) {
        const c = b[i]!;
        if (c === 0x0d && b[i + 1] === 0x0a) {
          out += line + '\r\n';
          line = '';
          i++;
          continue;
        }
        const trailingWs = (c === 0x20 || c === 0x09) && (i + 1 === b.length || (b[i + 1] === 0x0d && b[i + 2] === 0x0a));
        const tok = c === 0x3d || c < 0x20 || c > 0x7e ? (c === 0x09 && !trailingWs ? '\t' : hex(c)) : trailingWs ? hex(c) : String.fromCharCode(c);
        if (line.length + tok.length > 75) {
          out += line + '=\r\n';
          line = '';
        }
        line += tok;
      }
      return Buffer.from(out + line, 'latin1');
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.array(fc.constantFrom(' \r\n', '\t\r\n', '\r\n', '=', ' '), { maxLength: 5 }), (bytes, extras) => {
        const src = Buffer.concat([Buffer.from(bytes), Buffer.from(extras.join(''), 'latin1')]);
        assert.deepEqual(decodeQuotedPrintable(encode(src)), src);
      }),
      { numRuns: 300 },
    );
  });

  test('malformed escapes are kept literally', () => {
    assert.equal(decodeQuotedPrintable(Buffer.from('1=ZZ2=')).toString(), '1=ZZ2');
    assert.equal(decodeQuotedPrintable(Buffer.from('=4')).toString(), '=4');
    assert.equal(decodeQuotedPrintable(Buffer.from('')).length, 0);
  });
});

describe('decodePartBody', () => {
  const msg = (cte: string, body: string): Buffer => Buffer.from(`Content-Transfer-Encoding: ${cte}\r\nContent-Type: application/octet-stream\r\n\r\n${body}`);

  test('base64 tolerates line breaks', () => {
    const raw = msg('BASE64', 'AAEC\r\nAwQF\r\n');
    assert.deepEqual([...decodePartBody(raw, indexMessage(raw).root)], [0, 1, 2, 3, 4, 5]);
  });

  test('identity encodings return the body bytes', () => {
    for (const cte of ['7bit', '8BIT', 'binary']) {
      const raw = msg(cte, 'x\0y');
      assert.equal(decodePartBody(raw, indexMessage(raw).root).toString(), 'x\0y');
    }
  });

  test('with maxBytes, exactly the first maxBytes of the full decoding, whatever the encoding and the cut', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.constantFrom('base64', 'quoted-printable', '8bit'),
        fc.nat(3100),
        fc.boolean(),
        (bytes, cte, max, junk) => {
          const data = Buffer.from(bytes);
          let body: string;
          if (cte === 'base64') body = data.toString('base64').replace(/.{1,76}/g, (l) => `${l}${junk ? ' \t' : ''}\r\n`);
          else if (cte === 'quoted-printable') body = [...data].map((b, i) => `=${b.toString(16).toUpperCase().padStart(2, '0')}${i % 25 === 24 ? '=\r\n' : ''}`).join('');
          else body = data.toString('latin1');
          const raw = Buffer.concat([Buffer.from(`Content-Transfer-Encoding: ${cte}\r\n\r\n`), Buffer.from(body, 'latin1')]);
          const part = indexMessage(raw).root;
          const full = decodePartBody(raw, part);
          assert.deepEqual(decodePartBody(raw, part, max), full.subarray(0, max));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('unknown encodings throw UnknownTransferEncodingError (IMAP: NO [UNKNOWN-CTE])', () => {
    const raw = msg('x-uuencode', 'begin 644 f');
    assert.throws(
      () => decodePartBody(raw, indexMessage(raw).root),
      (e: unknown) => e instanceof UnknownTransferEncodingError && e.encoding === 'x-uuencode' && e.code === 'UNKNOWN_CTE',
    );
  });
});

describe('decodeMimeWords', () => {
  test('several charsets and adjacent words', () => {
    assert.equal(decodeMimeWords('=?ISO-8859-1?Q?Andr=E9?= Pirard'), 'André Pirard');
    assert.equal(decodeMimeWords('=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?='), 'テスト');
    assert.equal(decodeMimeWords('=?windows-1252?Q?=80_5?='), '€ 5');
    assert.equal(decodeMimeWords('=?utf-8?q?a?= =?utf-8?q?b?='), 'ab');
    assert.equal(decodeMimeWords('plain text'), 'plain text');
    assert.equal(typeof decodeMimeWords('=?bogus?x?y?='), 'string');
  });
});

describe('searchableText', () => {
  test('headers unfolded and decoded; text leaves decoded; non-text skipped', () => {
    const raw = Buffer.from(
      [
        'Subject: =?utf-8?b?w7xiZXI=?=',
        ' folded',
        'Content-Type: multipart/mixed; boundary=b',
        '',
        '--b',
        'Content-Type: text/plain; charset=iso-8859-1',
        'Content-Transfer-Encoding: quoted-printable',
        '',
        'gr=FC=DFe',
        '--b',
        'Content-Type: text/html; charset=utf-8',
        'Content-Transfer-Encoding: base64',
        '',
        Buffer.from('<p>Hello &amp; <b>bye</b></p><script>x()</script>').toString('base64'),
        '--b',
        'Content-Type: image/png',
        '',
        'PNGDATA',
        '--b',
        'Content-Type: text/plain',
        'Content-Transfer-Encoding: x-unknown',
        '',
        'still searchable',
        '--b--',
        '',
      ].join('\r\n'),
    );
    const { headers, body } = searchableText(raw, indexMessage(raw));
    assert.match(headers, /^Subject: über folded$/m);
    assert.ok(body.includes('grüße'));
    assert.ok(body.includes('Hello &'));
    assert.ok(body.includes('bye'));
    assert.ok(!body.includes('x()'));
    assert.ok(!body.includes('PNGDATA'));
    assert.ok(body.includes('still searchable'));
  });

  test('maxBodyBytes bounds the body text', () => {
    const raw = Buffer.from('Content-Type: text/plain\r\n\r\n' + 'x'.repeat(10_000));
    const idx = indexMessage(raw);
    assert.equal(searchableText(raw, idx).body.length, 10_000);
    assert.equal(searchableText(raw, idx, { maxBodyBytes: 100 }).body.length, 100);
  });

  test('htmlToText entities', () => {
    assert.equal(htmlToText('a&lt;b&#x41;&#66;&bogus;'), 'a<bAB&bogus;');
  });
});

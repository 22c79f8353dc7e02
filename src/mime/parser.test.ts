import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MIME_MAX_DEPTH } from '../lib/limits.js';
import { indexMessage, indexParts, findPart, messageHeaderEnd, countLines, sectionSpan } from './index.js';
import type { MimePart } from './types.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');
const slice = (raw: Buffer, s: { start: number; end: number } | null | undefined): string | null => (s ? raw.subarray(s.start, s.end).toString() : null);

describe('header and body boundaries', () => {
  test('header ends after the blank line; the blank line belongs to the header', () => {
    const raw = crlf('Subject: a\n\nbody\n');
    const idx = indexMessage(raw);
    assert.equal(idx.root.headerEnd, 'Subject: a\r\n\r\n'.length);
    assert.equal(idx.root.bodyStart, idx.root.headerEnd);
    assert.equal(slice(raw, findPart(idx, '')!.message!.text), 'body\r\n');
  });

  test('indexParts gives the part tree of indexMessage', () => {
    const raw = crlf('From: a@b.example\nSubject: s\nContent-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain\n\nhi\n--x\nContent-Type: message/rfc822\n\nSubject: inner\n\nbody\n--x--\n');
    const idx = indexMessage(raw);
    assert.equal(idx.root.children.length, 2);
    assert.deepEqual(indexParts(raw), idx.root);
    assert.equal(indexParts(raw).children[1]!.message!.envelope.subject, 'inner');
  });

  test('no blank line: everything is header, the body is empty', () => {
    const raw = crlf('Subject: a\nFrom: b@c');
    const idx = indexMessage(raw);
    assert.equal(idx.root.headerEnd, raw.length);
    assert.equal(idx.root.octets, 0);
    assert.equal(idx.envelope.subject, 'a');
  });

  test('a message that starts with a blank line has an empty header', () => {
    const raw = crlf('\nSubject: not a header\n');
    const idx = indexMessage(raw);
    assert.equal(idx.root.headerEnd, 2);
    assert.equal(idx.envelope.subject, null);
    assert.equal(messageHeaderEnd(raw), 2);
  });

  test('countLines counts line breaks only', () => {
    const b = Buffer.from('a\r\nb\r\nc');
    assert.equal(countLines(b, 0, b.length), 2);
    assert.equal(countLines(b, 0, 0), 0);
    assert.equal(countLines(b, 0, 3), 1);
  });
});

describe('multipart boundaries (RFC 2046 5.1.1)', () => {
  const msg = crlf(
    [
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      'preamble',
      '--b',
      'Content-Type: text/plain',
      '',
      'one',
      '',
      '--b \t',
      '',
      'two',
      '--b--  ',
      'epilogue',
    ].join('\n'),
  );
  const idx = indexMessage(msg);

  test('the CRLF before a delimiter belongs to the delimiter; padding allowed', () => {
    assert.equal(idx.root.children.length, 2);
    assert.equal(slice(msg, findPart(idx, '1')!.body), 'one\r\n');
    assert.equal(findPart(idx, '1')!.part.lines, 1);
    assert.equal(slice(msg, findPart(idx, '2')!.body), 'two');
    assert.equal(findPart(idx, '2')!.part.lines, 0);
    assert.equal(slice(msg, findPart(idx, '2')!.mime), '\r\n', 'a part starting with a blank line has an empty header');
  });

  test('boundary text not at a line start, or followed by other text, is content', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=ab\n\n--ab\n\nx --ab\n--abc\n--ab-\n--ab\n\ny\n--ab--\n');
    const i = indexMessage(raw);
    assert.equal(i.root.children.length, 2);
    assert.equal(slice(raw, findPart(i, '1')!.body), 'x --ab\r\n--abc\r\n--ab-');
    assert.equal(slice(raw, findPart(i, '2')!.body), 'y');
  });

  test('nested boundaries: an outer delimiter ends an unterminated inner multipart', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\ninner\n--o\n\nouter\n--o--\n');
    const i = indexMessage(raw);
    assert.equal(i.root.children.length, 2);
    assert.equal(slice(raw, findPart(i, '1.1')!.body), 'inner');
    assert.equal(slice(raw, findPart(i, '2')!.body), 'outer');
  });

  test('boundary that extends another boundary does not match it', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=abc\n\n--abc\nContent-Type: multipart/mixed; boundary=abc-1\n\n--abc-1\n\nin\n--abc-1--\n--abc--\n');
    const i = indexMessage(raw);
    assert.equal(i.root.children.length, 1);
    assert.equal(i.root.children[0]!.children.length, 1);
    assert.equal(slice(raw, findPart(i, '1.1')!.body), 'in');
  });

  test('empty parts and header-only parts', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\nContent-Type: text/html\n--b--\n');
    const i = indexMessage(raw);
    assert.equal(i.root.children.length, 2);
    assert.equal(i.root.children[0]!.octets, 0);
    assert.equal(i.root.children[1]!.subtype, 'html');
    assert.equal(i.root.children[1]!.octets, 0);
  });

  test('no usable boundary: one header-less text/plain child holds the body', () => {
    for (const ct of ['multipart/mixed', 'multipart/mixed; boundary=zz', 'multipart/mixed; boundary=""']) {
      const raw = crlf(`Content-Type: ${ct}\n\nno delimiters here\n`);
      const i = indexMessage(raw);
      assert.equal(i.root.type, 'multipart');
      assert.equal(i.root.children.length, 1, ct);
      const c = i.root.children[0]!;
      assert.equal(c.section, '1');
      assert.deepEqual([c.type, c.subtype, c.headerStart, c.bodyStart, c.bodyEnd], ['text', 'plain', i.root.bodyStart, i.root.bodyStart, raw.length]);
    }
  });
});

describe('content headers', () => {
  test('missing or broken Content-Type defaults to text/plain; charset=us-ascii', () => {
    for (const ct of [null, 'text', 'garbage', '/plain', 'text/', 'te xt/plain', '']) {
      const raw = crlf(`${ct === null ? '' : `Content-Type: ${ct}\n`}Subject: x\n\nb\n`);
      const p = indexMessage(raw).root;
      assert.deepEqual([p.type, p.subtype, p.params], ['text', 'plain', [['charset', 'us-ascii']]], String(ct));
    }
  });

  test('types lowercased, params in order with names lowercased, comments dropped, quotes removed', () => {
    const raw = crlf('Content-Type: Application/X-Thing (comment); B="q \\"x\\"" ; a=1 (c)\nContent-Transfer-Encoding: Base64 (why)\nContent-ID: <id@x>\nContent-Description: desc\nContent-MD5: abc=\nContent-Language: en-GB (British),\n fr\nContent-Location: http://x/y\nContent-Disposition: Attachment; FileName="f.bin"\n\nQUJD\n');
    const p = indexMessage(raw).root;
    assert.equal(p.type, 'application');
    assert.equal(p.subtype, 'x-thing');
    assert.deepEqual(p.params, [['b', 'q "x"'], ['a', '1']]);
    assert.equal(p.encoding, 'Base64');
    assert.equal(p.id, '<id@x>');
    assert.equal(p.description, 'desc');
    assert.equal(p.md5, 'abc=');
    assert.deepEqual(p.language, ['en-GB', 'fr']);
    assert.equal(p.location, 'http://x/y');
    assert.deepEqual(p.disposition, { value: 'attachment', params: [['filename', 'f.bin']] });
    assert.equal(p.lines, 0, 'no line count for non-text parts');
  });

  test('text part keeps its own charset and gets no extra one', () => {
    const p = indexMessage(crlf('Content-Type: text/html; charset="UTF-8"; format=flowed\n\nx\n')).root;
    assert.deepEqual(p.params, [['charset', 'UTF-8'], ['format', 'flowed']]);
  });

  test('multipart/digest children default to message/rfc822', () => {
    const raw = crlf('Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: s\n\nt\n--d--\n');
    const i = indexMessage(raw);
    const c = i.root.children[0]!;
    assert.deepEqual([c.type, c.subtype], ['message', 'rfc822']);
    assert.equal(c.message?.envelope.subject, 's');
    assert.equal(slice(raw, findPart(i, '1.1')!.body), 't');
  });
});

describe('message/rfc822 numbering (RFC 9051 6.4.5)', () => {
  test('top-level message/rfc822: part 1 is the encapsulated message, its children are 1.N', () => {
    const raw = crlf('Content-Type: message/rfc822\n\nSubject: inner\nContent-Type: multipart/mixed; boundary=q\n\n--q\n\nA\n--q\n\nB\n--q--\n');
    const i = indexMessage(raw);
    const root = i.root;
    assert.equal(root.message?.root.section, '1');
    assert.deepEqual(root.message?.root.children.map((c) => c.section), ['1.1', '1.2']);
    assert.equal(slice(raw, findPart(i, '1.2')!.body), 'B');
    assert.equal(slice(raw, sectionSpan(i, '1', 'HEADER')), 'Subject: inner\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n');
    assert.equal(sectionSpan(i, '', 'MIME'), null);
    assert.equal(slice(raw, sectionSpan(i, '', 'TEXT')), raw.subarray(i.root.bodyStart).toString());
  });

  test('message/global is encapsulated too; message/partial is a leaf', () => {
    const g = indexMessage(crlf('Content-Type: message/global\n\nSubject: ü\n\nx\n'));
    assert.equal(g.root.message?.envelope.subject, 'ü');
    const p = indexMessage(crlf('Content-Type: message/partial; id=x; number=1\n\nSubject: no\n\nx\n'));
    assert.equal(p.root.message, null);
    assert.equal(p.root.lines, 0);
  });

  test('empty encapsulated message', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n--b--\n');
    const p = indexMessage(raw).root.children[0]!;
    assert.equal(p.octets, 0);
    assert.equal(p.message?.root.octets, 0);
    assert.equal(p.message?.envelope.from, null);
  });
});

describe('robustness', () => {
  const depth = (p: MimePart): number => {
    let d = 0;
    for (const c of p.children) d = Math.max(d, 1 + depth(c));
    if (p.message) d = Math.max(d, 1 + depth(p.message.root));
    return d;
  };

  test(`10,000 nested multiparts are cut at MIME_MAX_DEPTH (${MIME_MAX_DEPTH}) as an opaque leaf`, () => {
    const n = 10_000;
    const open: string[] = [];
    const close: string[] = [];
    for (let k = 0; k < n; k++) {
      open.push(`Content-Type: multipart/mixed; boundary=b${k}\r\n\r\n--b${k}\r\n`);
      close.push(`\r\n--b${k}--`);
    }
    const raw = Buffer.from(open.join('') + '\r\nleaf' + close.reverse().join('') + '\r\n');
    const i = indexMessage(raw);
    assert.equal(depth(i.root), MIME_MAX_DEPTH);
    let p = i.root;
    while (p.children.length) p = p.children[0]!;
    assert.deepEqual([p.type, p.subtype, p.children.length], ['application', 'octet-stream', 0]);
  });

  test('deeply nested message/rfc822 is cut too', () => {
    const n = 5_000;
    const raw = Buffer.from('Content-Type: message/rfc822\r\n\r\n'.repeat(n) + 'Subject: deep\r\n\r\nx');
    const i = indexMessage(raw);
    assert.equal(depth(i.root), MIME_MAX_DEPTH);
  });

  test('100 KB header lines, NUL bytes, 8-bit headers', () => {
    const long = 'x'.repeat(100_000);
    const raw = Buffer.concat([Buffer.from(`Subject: ${long}\r\nX-Long: ${long}\r\n  ${long}\r\nFrom: J\u00f6rg <j@x.example>\r\nTo: a\0b@c\r\n`), Buffer.from([0x58, 0x2d, 0x4c, 0x31, 0x3a, 0x20, 0xe9, 0x0d, 0x0a, 0x0d, 0x0a, 0, 0, 0x0a])]);
    const i = indexMessage(raw);
    assert.equal(i.envelope.subject?.length, 100_000);
    assert.equal(i.envelope.from?.[0]?.name, 'Jörg');
    assert.equal(i.envelope.to?.[0]?.mailbox, 'a\ufffdb', 'NUL never reaches an IMAP string');
    assert.equal(i.root.octets, 3);
  });

  test('a few MB attachment indexes with exact offsets', () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'QUJD');
    const head = Buffer.from('Content-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n');
    const raw = Buffer.concat([head, big, Buffer.from('\r\n--z--\r\n')]);
    const i = indexMessage(raw);
    const p = findPart(i, '1')!;
    assert.equal(p.body.start, head.length);
    assert.equal(p.part.octets, big.length);
  });

  test('never throws on odd inputs', () => {
    for (const s of ['', '\r\n', '\r\n\r\n', ':', 'Content-Type: multipart/mixed; boundary=a\r\n\r\n--a', '--a\r\n', '\n\n\n', 'Content-Type: message/rfc822\r\n\r\n', 'a'.repeat(10)]) {
      const i = indexMessage(Buffer.from(s));
      assert.equal(i.size, Buffer.byteLength(s));
      assert.equal(i.root.bodyEnd, i.size);
    }
  });
});

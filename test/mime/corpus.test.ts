/**
 * The fixture corpus (test/fixtures/mime/*.eml, CRLF) against ENVELOPE and BODYSTRUCTURE written out
 * by hand from RFC 9051 section 7.5.2 (sizes counted by hand: a part's body ends before the CRLF
 * that precedes the next boundary delimiter; lines = number of line breaks in the body).
 * These expectations were also checked against Dovecot 2.3 while writing them; where we deliberately
 * differ from Dovecot the case says so.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { indexMessage, findPart, searchableText, headerFieldsSlice, decodePartBody } from '../../src/mime/index.js';
import { bodystructure, envelope } from './imap-format.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/mime/${name}`, import.meta.url));

const cases: Array<{ file: string; bs: string; env: string; note?: string }> = [
  {
    file: 'plain.eml',
    bs: '("text" "plain" ("charset" "US-ASCII") NIL NIL "7BIT" 50 5 NIL NIL NIL NIL)',
    env: '("Mon, 7 Feb 1994 21:52:25 -0800 (PST)" "Quarterly numbers" (("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) (("Bob" NIL "bob" "example.com")(NIL NIL "carol" "example.net")) (("Dave D." NIL "dave" "example.com")) NIL "<prev-1@example.com>" "<B27397-0100000@example.org>")',
  },
  {
    file: 'alternative.eml',
    bs: '(("text" "plain" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 39 2 NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL "QUOTED-PRINTABLE" 94 2 NIL NIL NIL NIL) "alternative" ("boundary" "==alt==") NIL NIL NIL)',
    env: '("Tue, 1 Apr 2025 10:00:00 +0000" "Spring sale" (("Shop" NIL "news" "shop.example")) (("Shop" NIL "news" "shop.example")) (("Shop" NIL "news" "shop.example")) ((NIL NIL "you" "example.com")) NIL NIL NIL "<alt-1@shop.example>")',
  },
  {
    file: 'mixed-attachment.eml',
    bs: '(("text" "plain" ("charset" "utf-8") NIL NIL "7BIT" 17 1 NIL NIL ("en" "de") NIL)("application" "pdf" ("name" "report.pdf") NIL "Quarterly report" "BASE64" 372 "Q2hlY2sgSW50ZWdyaXR5IQ==" ("attachment" ("filename" "report.pdf" "size" "275")) NIL NIL)("image" "png" NIL "<logo@example.org>" NIL "BASE64" 64 NIL ("inline" NIL) NIL "http://example.org/logo.png") "mixed" ("boundary" "outer") NIL NIL NIL)',
    env: '("Wed, 2 Apr 2025 09:30:00 +0200" "Report" (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) ((NIL NIL "bob" "example.com")) NIL NIL NIL "<mixed-1@example.org>")',
  },
  {
    file: 'nested-rfc822.eml',
    bs:
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 26 1 NIL NIL NIL NIL)' +
      '("message" "rfc822" NIL NIL NIL "7BIT" 292 ("Wed, 2 Apr 2025 11:00:00 +0000" "Lunch?" (("Carol" NIL "carol" "example.net")) (("Carol" NIL "carol" "example.net")) (("Carol" NIL "carol" "example.net")) ((NIL NIL "bob" "example.com")) NIL NIL NIL "<lunch@example.net>") ' +
      '(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 5 0 NIL NIL NIL NIL)("text" "html" ("charset" "us-ascii") NIL NIL "7BIT" 12 0 NIL NIL NIL NIL) "alternative" ("boundary" "b2") NIL NIL NIL) 16 NIL NIL NIL NIL)' +
      '("message" "rfc822" NIL NIL NIL "7BIT" 55 (NIL "Single" ((NIL NIL "dave" "example.com")) ((NIL NIL "dave" "example.com")) ((NIL NIL "dave" "example.com")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 12 1 NIL NIL NIL NIL) 4 NIL ("attachment" NIL) NIL NIL)' +
      ' "mixed" ("boundary" "b1") NIL NIL NIL)',
    env: '("Thu, 3 Apr 2025 12:00:00 +0000" "Fwd: Lunch?" (("Bob" NIL "bob" "example.com")) (("Bob" NIL "bob" "example.com")) (("Bob" NIL "bob" "example.com")) ((NIL NIL "alice" "example.org")) NIL NIL NIL NIL)',
  },
  {
    file: 'encoded-words.eml',
    note: 'ENVELOPE keeps encoded words raw; the folded Subject is unfolded (CRLF removed, the space kept)',
    bs: '("text" "plain" ("charset" "ISO-8859-1") NIL NIL "QUOTED-PRINTABLE" 20 1 NIL NIL NIL NIL)',
    env: '("Fri, 4 Apr 2025 08:00:00 +0000" "=?UTF-8?B?8J+MjeaXpeacrOiqng==?= and =?utf-8?q?caf=C3=A9?= =?utf-8?q?_time?=" (("=?ISO-8859-1?Q?Andr=E9?= Pirard" NIL "PIRARD" "vm1.ulg.ac.be")) (("=?ISO-8859-1?Q?Andr=E9?= Pirard" NIL "PIRARD" "vm1.ulg.ac.be")) (("=?ISO-8859-1?Q?Andr=E9?= Pirard" NIL "PIRARD" "vm1.ulg.ac.be")) (("=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=" NIL "test" "example.jp")) (("=?windows-1252?Q?=93Quoted=94_Name?=" NIL "q" "example.com")) NIL NIL NIL)',
  },
  {
    file: 'smime-signed.eml',
    bs: '(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 12 0 NIL NIL NIL NIL)("application" "pkcs7-signature" ("name" "smime.p7s") NIL "S/MIME Cryptographic Signature" "BASE64" 144 NIL ("attachment" ("filename" "smime.p7s")) NIL NIL) "signed" ("protocol" "application/pkcs7-signature" "micalg" "sha-256" "boundary" "----sig-boundary") NIL NIL NIL)',
    env: '("Sat, 5 Apr 2025 10:00:00 +0000" "Signed message" (("Signer" NIL "signer" "example.com")) (("Signer" NIL "signer" "example.com")) (("Signer" NIL "signer" "example.com")) ((NIL NIL "rcpt" "example.com")) NIL NIL NIL NIL)',
  },
  {
    file: 'calendar.eml',
    bs: '(("text" "plain" ("charset" "UTF-8") NIL NIL "7BIT" 31 0 NIL NIL NIL NIL)("text" "calendar" ("charset" "UTF-8" "method" "REQUEST") NIL NIL "7BIT" 90 5 NIL NIL NIL NIL) "alternative" ("boundary" "cal") NIL NIL NIL)',
    env: '("Sun, 6 Apr 2025 10:00:00 +0000" "Invitation: Planning" (("Organizer" NIL "org" "example.com")) (("Organizer" NIL "org" "example.com")) (("Organizer" NIL "org" "example.com")) ((NIL NIL "guest" "example.com")) NIL NIL NIL NIL)',
  },
  {
    file: 'group-addresses.eml',
    note: 'group start = (NIL NIL name NIL), group end = (NIL NIL NIL NIL); empty Bcc is NIL',
    bs: '("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 7 1 NIL NIL NIL NIL)',
    env: '("Mon, 7 Apr 2025 10:00:00 +0000" "Groups" (("Sender" NIL "s" "example.com")) ((NIL NIL "agent" "example.com")) ((NIL NIL "replies" "example.com")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) ((NIL NIL "Team" NIL)(NIL NIL "a" "example.com")("B, Bee" NIL "b" "example.com")(NIL NIL NIL NIL)(NIL NIL "x" "example.org")) NIL NIL NIL)',
  },
  {
    file: 'missing-headers.eml',
    note: 'no Content-Type: text/plain; charset=us-ascii; no From: sender and reply-to NIL too',
    bs: '("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 44 2 NIL NIL NIL NIL)',
    env: '(NIL "no from, no date" NIL NIL NIL NIL NIL NIL NIL NIL)',
  },
  {
    file: 'comments.eml',
    note: 'a trailing comment names an address without a phrase; source route kept in adl; quoted local part unquoted; Message-ID unfolded and trimmed (Dovecot keeps the leading space)',
    bs: '("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 7 1 NIL NIL NIL NIL)',
    env: '("Tue, 8 Apr 2025 10:00:00 +0000" "Comments (and more)" (("John Doe" NIL "john.doe" "example.com")) (("John Doe" NIL "john.doe" "example.com")) (("John Doe" NIL "john.doe" "example.com")) (("Smith, Jane" NIL "jane" "example.com")("Pete" NIL "pete" "silly.example")) ((NIL "@route.example,@other.example" "rcpt" "example.com")(NIL NIL "quoted local" "example.com")) NIL NIL "<folded-id@example.com>")',
  },
  {
    file: 'rfc2231.eml',
    note: 'params decoded (continuations joined, charset applied); rawParams keeps the wire form',
    bs: '(("application" "octet-stream" ("name" "日本語.txt") NIL NIL "7BIT" 4 NIL ("attachment" ("filename" "café.txt")) NIL NIL) "mixed" ("boundary" "x") NIL NIL NIL)',
    env: '(NIL "RFC 2231" ((NIL NIL "a" "example.com")) ((NIL NIL "a" "example.com")) ((NIL NIL "a" "example.com")) NIL NIL NIL NIL NIL)',
  },
  {
    file: 'digest.eml',
    note: 'multipart/digest children default to message/rfc822 (RFC 2046 5.1.5)',
    bs: '(("message" "rfc822" NIL NIL NIL "7BIT" 21 (NIL "first" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 3 0 NIL NIL NIL NIL) 2 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 13 0 NIL NIL NIL NIL) "digest" ("boundary" "d") NIL NIL NIL)',
    env: '(NIL "Digest" ((NIL NIL "list" "example.com")) ((NIL NIL "list" "example.com")) ((NIL NIL "list" "example.com")) NIL NIL NIL NIL NIL)',
  },
  {
    file: 'broken.eml',
    note: 'multipart without boundary: one header-less text/plain child holding the whole body (Dovecot reports an empty child)',
    bs: '(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 30 1 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL)',
    env: '(NIL "broken multipart" ((NIL NIL "x" "example.com")) ((NIL NIL "x" "example.com")) ((NIL NIL "x" "example.com")) NIL NIL NIL NIL NIL)',
  },
  {
    file: 'unterminated.eml',
    note: 'no close delimiter: the last part runs to the end of the message',
    bs: '(("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 5 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 22 1 NIL NIL NIL NIL) "mixed" ("boundary" "u") NIL NIL NIL)',
    env: '(NIL "unterminated" ((NIL NIL "x" "example.com")) ((NIL NIL "x" "example.com")) ((NIL NIL "x" "example.com")) NIL NIL NIL NIL NIL)',
  },
];

describe('fixture corpus: BODYSTRUCTURE and ENVELOPE', () => {
  for (const c of cases) {
    test(c.file + (c.note ? ` (${c.note})` : ''), () => {
      const idx = indexMessage(fixture(c.file));
      assert.equal(bodystructure(idx.root), c.bs);
      assert.equal(envelope(idx.envelope), c.env);
    });
  }
});

describe('sections in the corpus', () => {
  const raw = fixture('nested-rfc822.eml');
  const idx = indexMessage(raw);
  const text = (s: { start: number; end: number } | null | undefined): string | null => (s ? raw.subarray(s.start, s.end).toString() : null);

  test('multipart children, message/rfc822 with multipart and single-part content', () => {
    assert.equal(text(findPart(idx, '1')?.body), 'Forwarding two messages.\r\n');
    assert.equal(text(findPart(idx, '1')?.mime), 'Content-Type: text/plain\r\n\r\n');
    assert.equal(text(findPart(idx, '2.1')?.body), 'Noon?');
    assert.equal(text(findPart(idx, '2.2')?.body), '<p>Noon?</p>');
    assert.equal(text(findPart(idx, '2.1')?.mime), 'Content-Type: text/plain\r\n\r\n');
    assert.equal(text(findPart(idx, '2')?.message?.text), '--b2\r\nContent-Type: text/plain\r\n\r\nNoon?\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>Noon?</p>\r\n--b2--\r\n');
    const h2 = text(findPart(idx, '2')?.message?.header);
    assert.ok(h2?.startsWith('From: Carol <carol@example.net>\r\n') && h2.endsWith('boundary="b2"\r\n\r\n'));
    assert.equal(text(findPart(idx, '3')?.mime), 'Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n');
    assert.equal(text(findPart(idx, '3')?.body), 'From: dave@example.com\r\nSubject: Single\r\n\r\nJust text.\r\n');
    // Single-part encapsulated message: its body is 3.1 and 3.1.MIME is its header (as Dovecot answers).
    assert.equal(text(findPart(idx, '3.1')?.body), 'Just text.\r\n');
    assert.equal(text(findPart(idx, '3.1')?.mime), 'From: dave@example.com\r\nSubject: Single\r\n\r\n');
    assert.equal(text(findPart(idx, '3')?.message?.text), 'Just text.\r\n');
    assert.equal(findPart(idx, '3.1')?.part.section, '3');
    assert.equal(findPart(idx, '2.2')?.part.section, '2.2');
  });

  test('nonexistent and malformed sections', () => {
    for (const s of ['0', '4', '3.2', '2.3', '2.1.1', '1.1', '01', '1.', '.1', '1..2', 'x', '1.HEADER', ' 1']) {
      assert.equal(findPart(idx, s), null, s);
    }
    assert.equal(findPart(idx, '1')?.message, null, 'HEADER/TEXT do not exist for a text part');
  });

  test('section "" is the whole message and has no MIME', () => {
    const loc = findPart(idx, '')!;
    assert.equal(loc.body.start, 0);
    assert.equal(loc.body.end, raw.length);
    assert.equal(loc.mime, null);
    assert.ok(text(loc.message?.header)?.endsWith('boundary="b1"\r\n\r\n'));
  });

  test('single-part top-level message: part 1 is its body', () => {
    const p = fixture('plain.eml');
    const i = indexMessage(p);
    const loc = findPart(i, '1')!;
    assert.equal(p.subarray(loc.body.start, loc.body.end).toString(), 'Hi Bob,\r\n\r\nthe numbers are attached.\r\n-- \r\nAlice\r\n');
    assert.equal(loc.part, i.root);
    assert.equal(findPart(i, '2'), null);
    assert.equal(findPart(i, '1.1'), null);
  });

  test('HEADER.FIELDS of an encapsulated message', () => {
    const m = findPart(idx, '2')!.message!;
    assert.equal(headerFieldsSlice(raw, m.root, ['SUBJECT', 'to'], false).toString(), 'To: bob@example.com\r\nSubject: Lunch?\r\n\r\n');
  });
});

describe('decoding across the corpus', () => {
  test('encoded words in UTF-8, ISO-8859-1, ISO-2022-JP and windows-1252; QP Latin-1 body', () => {
    const raw = fixture('encoded-words.eml');
    const { headers, body } = searchableText(raw, indexMessage(raw));
    assert.match(headers, /^From: André Pirard <PIRARD@vm1\.ulg\.ac\.be>$/m);
    assert.match(headers, /^To: テスト <test@example\.jp>$/m);
    assert.match(headers, /^Cc: “Quoted” Name <q@example\.com>$/m);
    assert.match(headers, /^Subject: 🌍日本語 and café time$/m);
    assert.equal(body, 'Voilà le café.\r\n');
  });

  test('alternative: QP soft breaks, UTF-8, HTML stripped', () => {
    const raw = fixture('alternative.eml');
    const { body } = searchableText(raw, indexMessage(raw));
    assert.ok(body.includes('Café prices cut by 20% today.'), body);
    assert.ok(body.includes('Café prices  cut  by 20% today & tomorrow.'), body);
    assert.ok(!body.includes('<b>'));
  });

  test('attachments: non-text skipped; base64 decodes to the original bytes', () => {
    const raw = fixture('mixed-attachment.eml');
    const idx = indexMessage(raw);
    const { body } = searchableText(raw, idx);
    assert.equal(body, 'See the report.\r\n');
    const pdf = decodePartBody(raw, findPart(idx, '2')!.part);
    assert.equal(pdf.subarray(0, 9).toString(), '%PDF-1.4\n');
    assert.equal(pdf.length, 9 + 256 + 7);
    assert.equal(pdf[9 + 200], 200);
  });

  test('nested messages contribute headers and text', () => {
    const raw = fixture('nested-rfc822.eml');
    const { body } = searchableText(raw, indexMessage(raw));
    assert.ok(body.includes('Subject: Lunch?\n'));
    assert.ok(body.includes('Noon?'));
    assert.ok(body.includes('Just text.'));
  });

  test('calendar invite text is searchable', () => {
    const raw = fixture('calendar.eml');
    const { body } = searchableText(raw, indexMessage(raw));
    assert.ok(body.includes('SUMMARY:Planning'));
  });

  test('RFC 2231 parameters: decoded values and wire form', () => {
    const idx = indexMessage(fixture('rfc2231.eml'));
    const p = idx.root.children[0]!;
    assert.deepEqual(p.params, [['name', '日本語.txt']]);
    assert.deepEqual(p.rawParams, [['name*', "utf-8''%E6%97%A5%E6%9C%AC%E8%AA%9E.txt"]]);
    assert.deepEqual(p.disposition, { value: 'attachment', params: [['filename', 'café.txt']], rawParams: [['filename*', "iso-8859-1'en'caf%E9.txt"]] });
    assert.equal(idx.root.rawParams, undefined, 'no rawParams when no RFC 2231 syntax');
  });
});

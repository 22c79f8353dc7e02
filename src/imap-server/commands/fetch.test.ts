/**
 * Raw-socket transcripts of FETCH: ENVELOPE/BODYSTRUCTURE bytes, sections, literals, macros, \Seen.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, message, startImap, SIMPLE_MESSAGE, useTranscriptImap, type ImapFixture } from '../../../test/imap-helpers.js';
import { HEADER_SLICES_KEPT } from '../fetch/header-cache.js';

describe('FETCH raw transcripts', () => {
  const f = useTranscriptImap();

  // Byte-for-byte what Dovecot 2.3 sends for the same messages (address lists without separators,
  // transfer encodings as written, "7bit" when absent).
  test('ENVELOPE with NIL, groups and quoting; BODY and BODYSTRUCTURE of a multipart', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('EXAMINE INBOX');
    const r = await c.cmd('FETCH 2 (ENVELOPE BODYSTRUCTURE BODY)', 'e');
    assert.equal(
      r,
      '* 2 FETCH (ENVELOPE (NIL "=?utf-8?q?Caf=C3=A9?= \\"quoted\\"" (("Smith, John \\"JJ\\"" NIL "john" "example.org")) ' +
        '(("Smith, John \\"JJ\\"" NIL "john" "example.org")) (("Smith, John \\"JJ\\"" NIL "john" "example.org")) ' +
        '((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) ((NIL NIL "Group" NIL)(NIL NIL "a" "b.c")("D" NIL "d" "e.f")(NIL NIL NIL NIL)) ' +
        'NIL NIL "<mp@example.org>") ' +
        'BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 17 0 NIL NIL NIL NIL)' +
        '("application" "octet-stream" ("name" "a.bin") NIL NIL "base64" 8 NIL ("attachment" ("filename" "a.bin")) NIL NIL) "mixed" ("boundary" "XX") NIL NIL NIL) ' +
        'BODY (("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 17 0)("application" "octet-stream" ("name" "a.bin") NIL NIL "base64" 8) "mixed"))\r\n' +
        'e OK Fetch completed\r\n',
    );
    const s = await c.cmd('FETCH 1 (ENVELOPE BODYSTRUCTURE)', 'f');
    assert.equal(
      s,
      '* 1 FETCH (ENVELOPE ("Mon, 7 Feb 1994 21:52:25 -0800" "Hello there" (("Alice" NIL "alice" "example.org")) (("Alice" NIL "alice" "example.org")) ' +
        '(("Alice" NIL "alice" "example.org")) (("Bob" NIL "bob" "example.org")) NIL NIL NIL "<1@example.org>") ' +
        'BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 31 2 NIL NIL NIL NIL))\r\n' +
        'f OK Fetch completed\r\n',
    );
    c.close();
  });

  test('body sections: literals, partials, HEADER.FIELDS(.NOT), MIME, BINARY, missing parts', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('EXAMINE INBOX');
    assert.equal(
      await c.cmd('FETCH 1 (BODY.PEEK[HEADER.FIELDS (subject from)] BODY.PEEK[TEXT]<0.5>)', 'a'),
      '* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT FROM)] {57}\r\nFrom: Alice <alice@example.org>\r\nSubject: Hello there\r\n\r\n BODY[TEXT]<0> {5}\r\nHello)\r\na OK Fetch completed\r\n',
    );
    assert.equal(
      await c.cmd('FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (From To Date Message-ID)]', 'b'),
      '* 1 FETCH (BODY[HEADER.FIELDS.NOT (FROM TO DATE MESSAGE-ID)] {24}\r\nSubject: Hello there\r\n\r\n)\r\nb OK Fetch completed\r\n',
    );
    const bin = await c.cmd('FETCH 2 (BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1] BODY.PEEK[2.MIME] BODY.PEEK[3] BODY.PEEK[1]<100.5>)', 'c');
    assert.ok(bin.startsWith('* 2 FETCH (BINARY[2] ~{4}\r\n\x00\x01\x02\x03 BINARY.SIZE[2] 4 BINARY[1] {13}\r\ncaf\xc3\xa9 au lait BODY[2.MIME] {142}\r\nContent-Type'), bin);
    assert.ok(bin.endsWith('base64\r\n\r\n BODY[3] {0}\r\n BODY[1]<100> {0}\r\n)\r\nc OK Fetch completed\r\n'), bin);
    const full = await c.cmd('FETCH 1 (RFC822.SIZE BODY.PEEK[])', 'd');
    assert.equal(full, `* 1 FETCH (RFC822.SIZE ${Buffer.byteLength(SIMPLE_MESSAGE)} BODY[] {${Buffer.byteLength(SIMPLE_MESSAGE)}}\r\n${SIMPLE_MESSAGE})\r\nd OK Fetch completed\r\n`);
    c.close();
  });

  test('macros, RFC822.HEADER, OBJECTID items; CHECK and UNSELECT', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('EXAMINE INBOX');
    const meta = (await f.store.mail.listMessages(f.inbox.id))[0]!;
    const size = Buffer.byteLength(SIMPLE_MESSAGE);
    const fast = await c.cmd('FETCH 1 FAST', 'a');
    // The fixture's messages were never selected read-write: EXAMINE shows them \Recent.
    assert.match(fast, new RegExp(`^\\* 1 FETCH \\(FLAGS \\(\\\\Seen \\\\Recent\\) INTERNALDATE "[ \\d]\\d-\\w{3}-\\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000" RFC822\\.SIZE ${size}\\)\\r\\na OK`));
    const full = await c.cmd('FETCH 1 FULL', 'b');
    assert.match(full, /RFC822\.SIZE \d+ ENVELOPE \("Mon, 7 Feb 1994 21:52:25 -0800" "Hello there" .* BODY \("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" 31 2\)\)\r\nb OK/);
    const header = SIMPLE_MESSAGE.slice(0, SIMPLE_MESSAGE.indexOf('\r\n\r\n') + 4);
    assert.equal(await c.cmd('FETCH 1 RFC822.HEADER', 'c'), `* 1 FETCH (RFC822.HEADER {${header.length}}\r\n${header})\r\nc OK Fetch completed\r\n`);
    assert.equal(await c.cmd('UID FETCH 1 (EMAILID THREADID)', 'd'), `* 1 FETCH (UID 1 EMAILID (${meta.emailId}) THREADID (${meta.threadId}))\r\nd OK Fetch completed\r\n`);
    assert.equal(await c.cmd(`SEARCH EMAILID ${meta.emailId}`, 'e'), '* SEARCH 1\r\ne OK Search completed\r\n');
    assert.equal(await c.cmd('CHECK', 'f'), 'f OK CHECK completed\r\n');
    assert.equal(await c.cmd('UNSELECT', 'g'), 'g OK UNSELECT completed\r\n');
    assert.equal(await c.cmd('FETCH 1 FLAGS', 'h'), 'h BAD No mailbox selected\r\n');
    c.close();
  });

  test('\\Seen is set by BODY[] and RFC822.TEXT, never by PEEK; the FETCH reports the new FLAGS', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('ENABLE IMAP4rev2');
    await c.cmd('SELECT INBOX');
    await c.cmd('FETCH 3 (BODY.PEEK[] BINARY.PEEK[1])');
    assert.match(await c.cmd('FETCH 3 FLAGS'), /\* 3 FETCH \(FLAGS \(\\Flagged \$Label\)\)/);
    const r = await c.cmd('FETCH 3 BODY[TEXT]');
    assert.match(r, /^\* 3 FETCH \(BODY\[TEXT\] \{\d+\}\r\nthird body\r\n FLAGS \(\\Seen \\Flagged \$Label\)\)\r\n/);
    await c.cmd('STORE 3 -FLAGS.SILENT (\\Seen)');
    const r2 = await c.cmd('FETCH 3 RFC822.TEXT');
    assert.match(r2, /FLAGS \(\\Seen \\Flagged \$Label\)/);
    c.close();
  });
});

describe('BODYSTRUCTURE with RFC 2231 parameters', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
    await f.append(
      [
        'From: a@example.org',
        'Subject: 2231',
        'MIME-Version: 1.0',
        "Content-Type: application/pdf; name*=utf-8''r%C3%A9sum%C3%A9.pdf",
        "Content-Disposition: attachment; filename*0*=utf-8''r%C3%A9; filename*1=sum.pdf",
        'Content-Transfer-Encoding: base64',
        '',
        'AAEC',
        '',
      ].join('\r\n'),
    );
  });
  after(async () => {
    await f.close();
  });

  test('parameters go out in their wire form, so the structure stays 7-bit (as Dovecot sends them)', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const sel = await c.cmd('SELECT INBOX');
    assert.match(sel, /\* 1 EXISTS/);
    const r = await c.cmd('FETCH 1 BODYSTRUCTURE', 'b1');
    assert.ok(Buffer.from(r, 'latin1').every((b) => b < 0x80), r);
    assert.match(r, /\("name\*" "utf-8''r%C3%A9sum%C3%A9\.pdf"\)/);
    // continuations are joined into one extended parameter, still percent-encoded
    assert.match(r, /\("attachment" \("filename\*" "utf-8''r%C3%A9sum\.pdf"\)\)/);
    c.close();
  });
});

describe('header-field slices kept per session', () => {
  const f = useTranscriptImap(async (fx) => {
    await fx.store.mail.createMailbox(fx.user.id, 'Slices');
    await fx.store.mail.createMailbox(fx.user.id, 'Other');
    await fx.append(message('first in slices'), [], 'Slices');
    await fx.append(message('first in other', 'Body', ['X-Tag: other']), [], 'Other');
  });

  test('a repeated list answers the same bytes; another mailbox, other fields or another session cut their own', async () => {
    const [c, d] = [await RawClient.connect(f.port), await RawClient.connect(f.port)];
    for (const s of [c, d]) await s.login();
    await c.cmd('SELECT Slices');
    const fields = 'BODY.PEEK[HEADER.FIELDS (SUBJECT X-TAG)]';
    const one = await c.cmd(`UID FETCH 1 (${fields})`, 'h1');
    assert.match(one, /\{28\}\r\nSubject: first in slices\r\n\r\n\)/);
    assert.equal(await c.cmd(`UID FETCH 1 (${fields})`, 'h1'), one);
    // The same UID in another mailbox is another message.
    await c.cmd('SELECT Other');
    assert.match(await c.cmd(`UID FETCH 1 (${fields})`, 'h2'), /Subject: first in other\r\nX-Tag: other\r\n\r\n\)/);
    // Other fields of the same message, the complement, and a partial of a kept slice.
    assert.match(await c.cmd('UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (X-TAG)])', 'h3'), /\{16\}\r\nX-Tag: other\r\n\r\n\)/);
    const not = await c.cmd('UID FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (SUBJECT X-TAG FROM TO DATE)])', 'h4');
    assert.match(not, /\r\nMessage-ID: <firstinother@example\.org>\r\n\r\n\)/);
    assert.doesNotMatch(not, /X-Tag/);
    assert.match(await c.cmd(`UID FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT X-TAG)]<9.5>)`, 'h5'), /<9> \{5\}\r\nfirst\)/);
    // Another session cuts the same bytes for itself.
    await d.cmd('EXAMINE Slices');
    assert.equal(await d.cmd(`UID FETCH 1 (${fields})`, 'h1'), one);
    d.close();
    c.close();
  });

  test('a list of kept and new messages: in uid order, the bytes of a fresh read, also for a message expunged meanwhile', async () => {
    await f.store.mail.createMailbox(f.user.id, 'Kept');
    for (const n of ['one', 'two', 'three']) await f.append(message(`kept ${n}`, 'Body', [`X-N: ${n}`]), [], 'Kept');
    const [c, d] = [await RawClient.connect(f.port), await RawClient.connect(f.port)];
    for (const s of [c, d]) await s.login();
    const fields = 'BODY.PEEK[HEADER.FIELDS (SUBJECT X-N)]';
    await c.cmd('SELECT Kept');
    // UIDs 1 and 3 are cut here; 2 and the one appended next are read by the list below.
    await c.cmd(`UID FETCH 1,3 (UID FLAGS ${fields})`, 'k1');
    await f.append(message('kept four', 'Body', ['X-N: four']), [], 'Kept');
    assert.match(await c.cmd('NOOP', 'k2'), /\* 4 EXISTS/);
    const list = await c.cmd(`UID FETCH 1:* (UID ${fields})`, 'k3');
    assert.deepEqual([...list.matchAll(/^\* (\d+) FETCH \(UID (\d+) /gm)].map((m) => `${m[1]}/${m[2]}`), ['1/1', '2/2', '3/3', '4/4']);
    for (const n of ['one', 'two', 'three', 'four']) assert.match(list, new RegExp(`Subject: kept ${n}\r\nX-N: ${n}\r\n\r\n`));
    await d.cmd('SELECT Kept');
    assert.equal(await d.cmd(`UID FETCH 1:* (UID ${fields})`, 'k3'), list);
    // Another session expunges UID 3: FETCH (which may not report it) still answers it, from the kept slice.
    await d.cmd('UID STORE 3 +FLAGS.SILENT (\\Deleted)');
    await d.cmd('EXPUNGE');
    const after = await c.cmd(`FETCH 1:4 (UID ${fields})`, 'k4');
    assert.match(after, /^\* 3 FETCH \(UID 3 BODY\[HEADER\.FIELDS \(SUBJECT X-N\)\] \{\d+\}\r\nSubject: kept three\r\nX-N: three\r\n\r\n\)/m);
    assert.doesNotMatch(after, /EXPUNGE/);
    assert.match(await c.cmd('NOOP', 'k5'), /\* 3 EXPUNGE/);
    // Now gone from the view: the list no longer names it, kept slice or not.
    const last = await c.cmd(`UID FETCH 1:* (UID ${fields})`, 'k6');
    assert.deepEqual([...last.matchAll(/^\* (\d+) FETCH \(UID (\d+) /gm)].map((m) => `${m[1]}/${m[2]}`), ['1/1', '2/2', '3/4']);
    d.close();
    c.close();
  });

  test('kept slices pushed out by the list itself (more messages than a session keeps) are read again', async () => {
    const big = await f.store.mail.createMailbox(f.user.id, 'Big');
    const n = HEADER_SLICES_KEPT + 40;
    for (let i = 1; i <= n; i++) await f.store.mail.append(big.id, Buffer.from(message(`big ${i}`)), {});
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT Big');
    const fields = 'BODY.PEEK[HEADER.FIELDS (SUBJECT)]';
    // The last 40 are cut first; the full list then cuts the others before it reaches them again.
    await c.cmd(`UID FETCH ${n - 39}:* (${fields})`, 'b1');
    const list = await c.cmd(`UID FETCH 1:* (${fields})`, 'b2');
    const subjects = [...list.matchAll(/^\* (\d+) FETCH \(UID (\d+) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: big (\d+)\r\n/gm)];
    assert.equal(subjects.length, n);
    assert.ok(subjects.every((m, i) => m[1] === String(i + 1) && m[2] === String(i + 1) && m[3] === String(i + 1)));
    assert.match(list, /b2 OK Fetch completed\r\n$/);
    c.close();
  });
});

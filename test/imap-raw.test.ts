/**
 * Raw-socket transcripts against the IMAP server: exact response bytes for ENVELOPE/BODYSTRUCTURE,
 * literals, sections, flags, SEARCH/ESEARCH, CONDSTORE, and the BAD/NO paths.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startImap, RawClient, SIMPLE_MESSAGE, message, type ImapFixture } from './imap-helpers.js';

const MP = [
  'From: "Smith, John \\"JJ\\"" <john@example.org>',
  'To: undisclosed-recipients:;',
  'Cc: Group: a@b.c, "D" <d@e.f>;',
  'Subject: =?utf-8?q?Caf=C3=A9?= "quoted"',
  'Message-ID: <mp@example.org>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="XX"',
  '',
  'preamble',
  '--XX',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'caf=C3=A9 au lait',
  '--XX',
  'Content-Type: application/octet-stream; name="a.bin"',
  'Content-Disposition: attachment; filename="a.bin"',
  'Content-Transfer-Encoding: base64',
  '',
  'AAECAw==',
  '--XX--',
  '',
].join('\r\n');

describe('IMAP raw transcripts', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap({ appendLimit: 10_000, maxLineLength: 2000 });
    await f.append(SIMPLE_MESSAGE, ['\\Seen']);
    await f.append(MP);
    await f.append(message('Third', 'third body'), ['\\Flagged', '$Label']);
  });
  after(async () => {
    await f.close();
  });

  test('greeting, CAPABILITY before and after login', async () => {
    const c = await RawClient.connect(f.port);
    const r = await c.cmd('CAPABILITY', 'a1');
    assert.match(r, /^\* CAPABILITY IMAP4rev1 IMAP4rev2 .*AUTH=PLAIN AUTH=LOGIN .*\r\na1 OK/);
    assert.doesNotMatch(r, /STARTTLS/); // no TLS configured
    await c.login();
    const r2 = await c.cmd('CAPABILITY');
    assert.doesNotMatch(r2, /AUTH=/);
    for (const cap of ['IDLE', 'UIDPLUS', 'MOVE', 'CONDSTORE', 'QRESYNC', 'ESEARCH', 'SEARCHRES', 'LIST-STATUS', 'BINARY', 'APPENDLIMIT=10000', 'OBJECTID', 'COMPRESS=DEFLATE', 'SPECIAL-USE']) {
      assert.ok(r2.includes(` ${cap}`), cap);
    }
    c.close();
  });

  test('state checks, unknown commands and malformed input get BAD with a reason', async () => {
    const c = await RawClient.connect(f.port);
    assert.equal(await c.cmd('SELECT INBOX', 'a'), 'a BAD Please authenticate first\r\n');
    assert.equal(await c.cmd('FROB', 'b'), 'b BAD Unknown command FROB\r\n');
    assert.equal(await c.cmd('LOGIN "unterminated', 'c'), 'c BAD Error in IMAP command: Unterminated quoted string\r\n');
    assert.equal(await c.cmd('LOGIN onlyuser', 'd'), 'd BAD Missing password\r\n');
    await c.login();
    assert.equal(await c.cmd('FETCH 1 FLAGS', 'e'), 'e BAD No mailbox selected\r\n');
    await c.cmd('SELECT INBOX');
    assert.equal(await c.cmd('FETCH 99 FLAGS', 'f'), 'f BAD Invalid messageset\r\n');
    assert.equal(await c.cmd('FETCH 1 (FLAGS BOGUS)', 'g'), 'g BAD Unknown fetch attribute BOGUS\r\n');
    assert.equal(await c.cmd('STORE 1 FLAGZ (\\Seen)', 'h'), 'h BAD Invalid STORE data item FLAGZ\r\n');
    assert.equal(await c.cmd('SEARCH FOO', 'i'), 'i BAD Unknown search key FOO\r\n');
    c.write('\r\n');
    assert.equal(await c.readUntil((s) => s.endsWith('\r\n')), '* BAD Empty command line\r\n');
    c.take();
    c.write('+bad NOOP\r\n');
    assert.equal(await c.readUntil((s) => s.endsWith('\r\n')), '* BAD Invalid tag\r\n');
    c.take();
    // The connection survives all of that.
    assert.equal(await c.cmd('NOOP', 'z'), 'z OK NOOP completed\r\n');
    c.close();
  });

  test('line too long: BAD, and the connection resyncs', async () => {
    const c = await RawClient.connect(f.port);
    c.write(`x1 LOGIN ${'a'.repeat(5000)} b\r\n`);
    assert.equal(await c.waitTagged('x1'), 'x1 BAD Command line too long\r\n');
    assert.equal(await c.cmd('NOOP', 'x2'), 'x2 OK NOOP completed\r\n');
    c.close();
  });

  test('synchronizing literal over the limit: NO [TOOBIG] before it is sent; LITERAL+ over it: BYE', async () => {
    const c = await RawClient.connect(f.port);
    // Before login the cap is small (8 KiB): only LOGIN/AUTHENTICATE arguments travel as literals then.
    c.write('p1 LOGIN {9000}\r\n');
    assert.equal(await c.waitTagged('p1'), 'p1 NO [TOOBIG] Literal of 9000 octets exceeds the limit of 8192\r\n');
    await c.login();
    c.write('a1 APPEND INBOX {20000}\r\n');
    assert.equal(await c.waitTagged('a1'), 'a1 NO [TOOBIG] Literal of 20000 octets exceeds the limit of 10000\r\n');
    assert.equal(await c.cmd('NOOP', 'a2'), 'a2 OK NOOP completed\r\n');
    c.write('a3 APPEND INBOX {20000+}\r\n');
    const bye = await c.readUntil((s) => s.includes('* BYE'));
    assert.match(bye, /^\* BYE literal of 20000 octets exceeds the limit\r\n/);
    await c.readUntil(() => c.closed).catch(() => undefined);
    c.close();
  });

  test('LOGIN and AUTHENTICATE (PLAIN with SASL-IR, PLAIN with continuation, LOGIN, cancel)', async () => {
    const c = await RawClient.connect(f.port);
    assert.equal(await c.cmd('LOGIN alice@example.org wrong', 'a'), 'a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n');
    const ir = Buffer.from('\0alice@example.org\0correct horse').toString('base64');
    assert.match(await c.cmd(`AUTHENTICATE PLAIN ${ir}`, 'b'), /^b OK \[CAPABILITY IMAP4rev1 /);
    assert.equal(await c.cmd('LOGIN a b', 'c'), 'c BAD Command not permitted in this state\r\n');
    c.close();

    const d = await RawClient.connect(f.port);
    d.write('p AUTHENTICATE PLAIN\r\n');
    assert.equal(await d.readUntil((s) => s.endsWith('\r\n')), '+ \r\n');
    d.take();
    d.write(ir + '\r\n');
    assert.match(await d.waitTagged('p'), /^p OK /);
    d.close();

    const e = await RawClient.connect(f.port);
    e.write('l AUTHENTICATE LOGIN\r\n');
    assert.equal(await e.readUntil((s) => s.endsWith('\r\n')), '+ VXNlcm5hbWU6\r\n');
    e.take();
    e.write(Buffer.from('alice@example.org').toString('base64') + '\r\n');
    assert.equal(await e.readUntil((s) => s.endsWith('\r\n')), '+ UGFzc3dvcmQ6\r\n');
    e.take();
    e.write(Buffer.from('correct horse').toString('base64') + '\r\n');
    assert.match(await e.waitTagged('l'), /^l OK /);
    e.close();

    const g = await RawClient.connect(f.port);
    g.write('x AUTHENTICATE PLAIN\r\n');
    await g.readUntil((s) => s.startsWith('+ '));
    g.take();
    g.write('*\r\n');
    assert.equal(await g.waitTagged('x'), 'x BAD Authentication canceled\r\n');
    assert.equal(await g.cmd('AUTHENTICATE CRAM-MD5', 'y'), 'y NO [CANNOT] Unsupported authentication mechanism\r\n');
    assert.equal(await g.cmd('AUTHENTICATE PLAIN !!!!', 'z'), 'z BAD Invalid SASL PLAIN response\r\n');
    g.close();
  });

  test('SELECT response and EXAMINE read-only', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const r = await c.cmd('EXAMINE INBOX', 's');
    const st = await f.store.mail.status(f.inbox.id);
    const mb = (await f.store.mail.getMailbox(f.user.id, 'INBOX'))!;
    assert.equal(
      r,
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label)\r\n' +
        '* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n' +
        '* 3 EXISTS\r\n' +
        '* 0 RECENT\r\n' +
        '* OK [UNSEEN 2] First unseen.\r\n' +
        `* OK [UIDVALIDITY ${mb.uidValidity}] UIDs valid\r\n` +
        `* OK [UIDNEXT ${st.uidNext}] Predicted next UID\r\n` +
        `* OK [HIGHESTMODSEQ ${st.highestModseq}] Highest\r\n` +
        `* OK [MAILBOXID (${mb.mailboxObjectId})] Ok\r\n` +
        's OK [READ-ONLY] EXAMINE completed\r\n',
    );
    // EXAMINE never sets \Seen and refuses changes.
    await c.cmd('FETCH 2 BODY[TEXT]');
    assert.match(await c.cmd('FETCH 2 FLAGS'), /\* 2 FETCH \(FLAGS \(\)\)/);
    assert.equal(await c.cmd('STORE 1 +FLAGS (\\Deleted)', 'ro'), 'ro NO [CANNOT] Mailbox is read-only\r\n');
    assert.equal(await c.cmd('SELECT Nope', 'nx'), 'nx NO [NONEXISTENT] Mailbox does not exist\r\n');
    // A failed SELECT leaves no mailbox selected.
    assert.equal(await c.cmd('FETCH 1 FLAGS', 'after'), 'after BAD No mailbox selected\r\n');
    c.close();
  });

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
    assert.ok(bin.startsWith('* 2 FETCH (BINARY[2] ~{4}\r\n\x00\x01\x02\x03 BINARY.SIZE[2] 4 BINARY[1] ~{13}\r\ncaf\xc3\xa9 au lait BODY[2.MIME] {142}\r\nContent-Type'), bin);
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
    assert.match(fast, new RegExp(`^\\* 1 FETCH \\(FLAGS \\(\\\\Seen\\) INTERNALDATE "[ \\d]\\d-\\w{3}-\\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000" RFC822\\.SIZE ${size}\\)\\r\\na OK`));
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

  test('STORE variants and CONDSTORE UNCHANGEDSINCE / MODIFIED', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT INBOX');
    // A new keyword first updates FLAGS and PERMANENTFLAGS (as Dovecot does).
    assert.equal(
      await c.cmd('STORE 2 +FLAGS (\\Answered $Custom)', 'nk'),
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Custom $Label)\r\n' +
        '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Custom $Label \\*)] Flags permitted.\r\n' +
        '* 2 FETCH (FLAGS (\\Answered $Custom))\r\nnk OK Store completed\r\n',
    );
    assert.match(await c.cmd('UID STORE 2 -FLAGS ($Custom)'), /^\* 2 FETCH \(UID 2 FLAGS \(\\Answered\)\)\r\n/);
    assert.equal(await c.cmd('STORE 2 FLAGS.SILENT (\\Answered \\Draft)', 's'), 's OK Store completed\r\n');
    await c.cmd('ENABLE CONDSTORE');
    const m = /MODSEQ \((\d+)\)/.exec(await c.cmd('FETCH 2 MODSEQ'));
    assert.ok(m);
    const modseq = Number(m[1]);
    const ok = await c.cmd(`STORE 2 (UNCHANGEDSINCE ${modseq}) +FLAGS (\\Flagged)`);
    assert.match(ok, /^\* 2 FETCH \(FLAGS \(\\Answered \\Flagged \\Draft\) MODSEQ \((\d+)\)\)\r\n/);
    const r = await c.cmd(`STORE 2 (UNCHANGEDSINCE ${modseq}) -FLAGS (\\Flagged)`, 'u');
    assert.equal(r, 'u OK [MODIFIED 2] Conditional STORE failed\r\n');
    assert.match(await c.cmd('SEARCH MODSEQ 1'), /^\* SEARCH 1 2 3 \(MODSEQ \d+\)\r\n/);
    c.close();
  });

  test('SEARCH, ESEARCH and SEARCHRES', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('EXAMINE INBOX');
    assert.equal(await c.cmd('SEARCH FROM alice NOT SUBJECT hello', 'a'), '* SEARCH 3\r\na OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH OR SUBJECT café TEXT "third body"', 'b'), '* SEARCH 2 3\r\nb OK Search completed\r\n');
    assert.equal(await c.cmd('UID SEARCH CHARSET UTF-8 BODY "AU LAIT"', 'c'), '* SEARCH 2\r\nc OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH HEADER Cc d@e.f', 'd'), '* SEARCH 2\r\nd OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH KEYWORD $Label 1:3', 'e'), '* SEARCH 3\r\ne OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH SENTON 7-Feb-1994 SMALLER 100000', 'f'), '* SEARCH 1 3\r\nf OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH BEFORE 1-Jan-2000', 'g'), '* SEARCH\r\ng OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH RETURN (MIN MAX COUNT ALL) ALL', 'h'), '* ESEARCH (TAG "h") MIN 1 MAX 3 COUNT 3 ALL 1:3\r\nh OK Search completed\r\n');
    assert.equal(await c.cmd('UID SEARCH RETURN () UNFLAGGED', 'i'), '* ESEARCH (TAG "i") UID ALL 1\r\ni OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH RETURN (COUNT) BEFORE 1-Jan-2000', 'j'), '* ESEARCH (TAG "j") COUNT 0\r\nj OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH RETURN (SAVE) FROM john', 'k'), 'k OK Search completed (result saved)\r\n');
    assert.match(await c.cmd('FETCH $ (UID)', 'l'), /^\* 2 FETCH \(UID 2\)\r\nl OK/);
    assert.equal(await c.cmd('SEARCH UID $', 'm'), '* SEARCH 2\r\nm OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH CHARSET KOI8-R ALL', 'n'), 'n NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n');
    assert.match(await c.cmd('SEARCH EMAILID nonexistent'), /^\* SEARCH\r\n/);
    c.close();
  });

  test('rev2 sessions get ESEARCH for plain SEARCH and no RECENT', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.equal(await c.cmd('ENABLE IMAP4rev2 CONDSTORE', 'e'), '* ENABLED IMAP4rev2 CONDSTORE\r\ne OK Enabled\r\n');
    const sel = await c.cmd('EXAMINE INBOX');
    assert.doesNotMatch(sel, /RECENT/);
    assert.match(sel, /\* LIST \(\\HasNoChildren\) "\/" "INBOX"\r\n/);
    assert.equal(await c.cmd('SEARCH ALL', 's'), '* ESEARCH (TAG "s") ALL 1:3\r\ns OK Search completed\r\n');
    c.close();
  });

  test('mailbox names: modified UTF-7 for rev1, UTF-8 after ENABLE UTF8=ACCEPT; CREATE/RENAME/DELETE/SUBSCRIBE', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd('CREATE "Entw&APw-rfe/Sub"'), / OK \[MAILBOXID \([\w-]+\)\] Create completed/);
    const l = await c.cmd('LIST "" "Entw*"');
    assert.equal(l.split('\r\n').slice(0, 2).join('\n'), '* LIST (\\HasChildren) "/" "Entw&APw-rfe"\n* LIST (\\HasNoChildren) "/" "Entw&APw-rfe/Sub"');
    assert.match(await c.cmd('CREATE "bad&name"', 'b'), /^b BAD Mailbox name is not valid modified UTF-7/);
    assert.equal(await c.cmd('CREATE INBOX', 'x'), 'x NO [ALREADYEXISTS] Mailbox already exists\r\n');
    assert.equal(await c.cmd('CREATE {3+}\r\na\tb', 'cc'), 'cc BAD Mailbox name is not valid modified UTF-7: 8-bit or control character in mailbox name\r\n');
    assert.equal(await c.cmd('CREATE "Entw&APw-rfe"', 'y'), 'y NO [ALREADYEXISTS] Mailbox already exists\r\n');
    assert.match(await c.cmd('RENAME "Entw&APw-rfe" Drafts2'), /OK Rename completed/);
    assert.match(await c.cmd('SUBSCRIBE Drafts2/Sub'), /OK/);
    assert.equal(await c.cmd('LSUB "" "Drafts2*"', 'ls'), '* LSUB () "/" "Drafts2/Sub"\r\nls OK LSUB completed\r\n');
    assert.equal(await c.cmd('LSUB "" "Drafts2%"', 'ls2'), '* LSUB (\\Noselect) "/" "Drafts2"\r\nls2 OK LSUB completed\r\n');
    assert.match(await c.cmd('LIST (SUBSCRIBED) "" "Drafts2*"'), /^\* LIST \(\\HasNoChildren \\Subscribed\) "\/" "Drafts2\/Sub"\r\n[^*]/);
    assert.equal(await c.cmd('DELETE Drafts2', 'hc'), 'hc NO [HASCHILDREN] Mailbox has children, delete them first\r\n');
    assert.match(await c.cmd('DELETE Drafts2/Sub'), /OK Delete completed/);
    assert.equal(await c.cmd('DELETE Drafts2/Sub', 'gone'), 'gone NO [NONEXISTENT] Mailbox does not exist\r\n');
    await c.cmd('DELETE Drafts2');
    await c.cmd('ENABLE UTF8=ACCEPT');
    await c.cmd('CREATE "Brouillons d\u00e9j\u00e0"');
    assert.equal(await c.cmd('CREATE {3+}\r\na\tb', 'c8'), 'c8 BAD Mailbox name contains control characters\r\n');
    const l2 = await c.cmd('LIST "" "Brouillons*"');
    assert.ok(l2.startsWith('* LIST (\\HasNoChildren) "/" "Brouillons d\xc3\xa9j\xc3\xa0"\r\n'), l2);
    const spam = /^su OK \[MAILBOXID \(([\w-]+)\)\] Create completed\r\n$/.exec(await c.cmd('CREATE Spam2 (USE (\\Junk))', 'su'));
    assert.equal(spam?.[1], (await f.store.mail.getMailbox(f.user.id, 'Spam2'))?.mailboxObjectId);
    assert.match(await c.cmd('LIST (SPECIAL-USE) "" "*" RETURN (STATUS (MESSAGES SIZE))'), /\* LIST \(\\HasNoChildren \\Junk\) "\/" "Spam2"\r\n\* STATUS "Spam2" \(MESSAGES 0 SIZE 0\)\r\n/);
    assert.equal(await c.cmd('CREATE X (USE (\\Bogus))', 'ub'), 'ub NO [USEATTR] Unsupported special-use attribute\r\n');
    assert.equal(await c.cmd('LIST "" ""', 'root'), '* LIST (\\Noselect) "/" ""\r\nroot OK LIST completed\r\n');
    assert.equal(await c.cmd('NAMESPACE', 'ns'), '* NAMESPACE (("" "/")) NIL NIL\r\nns OK NAMESPACE completed\r\n');
    c.close();
  });

  test('APPEND: flags, date, LITERAL+, APPENDUID, TRYCREATE; STATUS items', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const msg = 'Subject: appended\r\n\r\nhi\r\n';
    const r = await c.cmd(`APPEND Drafts (\\Draft \\Seen) " 1-Feb-2020 10:00:00 +0100" {${msg.length}+}\r\n${msg}`, 'a');
    const drafts = (await f.store.mail.getMailbox(f.user.id, 'Drafts'))!;
    assert.equal(r, `a OK [APPENDUID ${drafts.uidValidity} 1] Append completed\r\n`);
    c.write(`b APPEND Drafts {${msg.length}}\r\n`);
    assert.equal(await c.readUntil((s) => s.endsWith('\r\n')), '+ Ready for literal data\r\n');
    c.take();
    c.write(msg + '\r\n');
    assert.match(await c.waitTagged('b'), /^b OK \[APPENDUID \d+ 2\]/);
    assert.equal(await c.cmd(`APPEND Nope {${msg.length}+}\r\n${msg}`, 'c'), 'c NO [TRYCREATE] Mailbox does not exist\r\n');
    const st = await c.cmd('STATUS Drafts (MESSAGES UNSEEN DELETED SIZE UIDNEXT RECENT APPENDLIMIT)', 'd');
    assert.equal(st, `* STATUS "Drafts" (MESSAGES 2 UNSEEN 1 DELETED 0 SIZE ${msg.length * 2} UIDNEXT 3 RECENT 2 APPENDLIMIT 10000)\r\nd OK STATUS completed\r\n`);
    await c.cmd('EXAMINE Drafts');
    assert.match(await c.cmd('FETCH 1 (FLAGS INTERNALDATE)'), /^\* 1 FETCH \(FLAGS \(\\Seen \\Draft\) INTERNALDATE " 1-Feb-2020 09:00:00 \+0000"\)/);
    c.close();
  });

  test('COPY, MOVE with COPYUID; EXPUNGE and UID EXPUNGE', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const mb = await f.store.mail.createMailbox(f.user.id, 'Work');
    await f.append(message('w1'), [], 'Work');
    await f.append(message('w2'), [], 'Work');
    await f.append(message('w3'), [], 'Work');
    await c.cmd('SELECT Work');
    const arch = (await f.store.mail.getMailbox(f.user.id, 'Archive'))!;
    assert.equal(await c.cmd('COPY 1:2 Archive', 'c'), `c OK [COPYUID ${arch.uidValidity} 1:2 1:2] Copy completed\r\n`);
    assert.equal(await c.cmd('UID MOVE 2 Archive', 'm'), `* OK [COPYUID ${arch.uidValidity} 2 3] Moved UIDs.\r\n* 2 EXPUNGE\r\nm OK Move completed\r\n`);
    assert.equal(await c.cmd('COPY 1 Nope', 'n'), 'n NO [TRYCREATE] Mailbox does not exist\r\n');
    await c.cmd('STORE 1:2 +FLAGS.SILENT (\\Deleted)');
    assert.equal(await c.cmd('UID EXPUNGE 3', 'ue'), '* 2 EXPUNGE\r\nue OK Expunge completed\r\n');
    await f.append(message('w4'), [], 'Work');
    const ex = await c.cmd('EXPUNGE', 'ex');
    assert.equal(ex, '* 1 EXPUNGE\r\n* 1 EXISTS\r\n* 1 RECENT\r\nex OK Expunge completed\r\n');
    assert.equal((await f.store.mail.listMessages(mb.id)).length, 1);
    assert.equal(await c.cmd('CLOSE', 'cl'), 'cl OK CLOSE completed\r\n');
    c.close();
  });

  test('several expunges are numbered as each takes effect (as Dovecot does)', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await f.store.mail.createMailbox(f.user.id, 'Ex');
    for (let i = 0; i < 5; i++) await f.append(message(`ex${i}`), i === 2 ? [] : ['\\Deleted'], 'Ex');
    await c.cmd('SELECT Ex');
    assert.equal(await c.cmd('EXPUNGE', 'x'), '* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 2 EXPUNGE\r\n* 2 EXPUNGE\r\nx OK Expunge completed\r\n');
    assert.match(await c.cmd('FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])'), /Subject: ex2/);
    c.close();
  });

  test('pipelined commands are answered in order', async () => {
    const c = await RawClient.connect(f.port);
    c.write('p1 NOOP\r\np2 LOGIN alice@example.org "correct horse"\r\np3 EXAMINE INBOX\r\np4 FETCH 1 UID\r\np5 LOGOUT\r\n');
    const all = await c.readUntil((s) => s.includes('p5 OK'));
    const tags = [...all.matchAll(/^(p\d) (OK|NO|BAD)/gm)].map((m) => m[1]);
    assert.deepEqual(tags, ['p1', 'p2', 'p3', 'p4', 'p5']);
    assert.match(all, /\* BYE Logging out\r\np5 OK Logout completed\r\n$/);
    c.close();
  });

  test('ID and per-IP connection cap', async () => {
    const g = await startImap({ maxConnectionsPerIp: 2 });
    try {
      const a = await RawClient.connect(g.port);
      const b = await RawClient.connect(g.port);
      assert.equal(await a.cmd('ID ("name" "test")', 'i'), '* ID ("name" "mailroom" "vendor" "mailroom" "version" "0.1.0")\r\ni OK ID completed\r\n');
      const { connect } = await import('node:net');
      const s = connect({ host: '127.0.0.1', port: g.port });
      const got = await new Promise<string>((resolve) => {
        let buf = '';
        s.on('data', (d) => (buf += d.toString()));
        s.on('close', () => resolve(buf));
      });
      assert.equal(got, '* BYE Too many connections from your IP address\r\n');
      a.close();
      b.close();
    } finally {
      await g.close();
    }
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

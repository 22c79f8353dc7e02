/**
 * IMAP command grammar against RFC 9051 / RFC 3501 and their extensions, over a raw socket: each case is
 * the command bytes and the tagged status it must get (OK, NO or BAD), with the untagged data that must
 * (or must not) come with it. After every BAD the same connection must go on (a NOOP is answered OK).
 *
 * The expectations were checked side by side with Dovecot 2.3.19. Where Dovecot accepts what the ABNF
 * does not (a "%" or "\" in an unquoted mailbox name, extra arguments after STORE/COPY/NOOP, a quoted
 * KEYWORD, BINARY[HEADER.FIELDS ...], <1> without a length, section part 0) the RFC wins and the case says
 * so in its note; where the RFC leaves the choice (any astring as a header field name, a date-time day
 * 32 refused or not), Dovecot's answer is the expected one unless the note says otherwise.
 *
 * The mailbox is the transcript INBOX (test/imap-helpers.ts): 1 = SIMPLE_MESSAGE (\Seen), 2 = the
 * multipart message, 3 = "Third" (\Flagged $Label).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PASSWORD, RawClient, USER, useTranscriptImap } from './imap-helpers.js';

type State = 'N' | 'A' | 'S';

interface Case {
  /** N: not authenticated, A: authenticated, S: INBOX selected. */
  state: State;
  /** The command after the tag (literals inline: all of it is sent at once). */
  cmd: string;
  status: 'OK' | 'NO' | 'BAD';
  /** Untagged lines (or literal data) that must be in the response. */
  has?: RegExp[];
  /** Patterns that must not be in the response. */
  lacks?: RegExp[];
  /** Why, where it is not obvious (and what Dovecot answers when it differs). */
  note?: string;
}

const U = `"${USER}"`;
const P = `"${PASSWORD}"`;
const lit = (s: string, plus = false): string => `{${Buffer.byteLength(s)}${plus ? '+' : ''}}\r\n${s}`;

const CASES: Case[] = [
  // ---- header-list names are astrings: atoms, quoted strings, literals (the reported bug) ----
  { state: 'S', cmd: `FETCH 1 BODY[HEADER.FIELDS (${lit('Subject')})]`, status: 'OK', has: [/^\* 1 FETCH \(BODY\[HEADER\.FIELDS \("SUBJECT"\)\] \{24\}\r\nSubject: Hello there\r\n\r\n\)/m] },
  { state: 'S', cmd: `FETCH 1 BODY.PEEK[HEADER.FIELDS (${lit('Subject', true)} From)]`, status: 'OK', has: [/BODY\[HEADER\.FIELDS \("SUBJECT" FROM\)\] \{57\}\r\nFrom: Alice/] },
  { state: 'S', cmd: `FETCH 1 BODY.PEEK[HEADER.FIELDS.NOT (${lit('Subject')})]`, status: 'OK', has: [/BODY\[HEADER\.FIELDS\.NOT \("SUBJECT"\)\] \{129\}\r\nFrom: /], lacks: [/Subject: Hello/] },
  { state: 'S', cmd: `FETCH 2 BODY.PEEK[1.HEADER.FIELDS (${lit('Content-Type')})]`, status: 'OK', has: [/BODY\[1\.HEADER\.FIELDS \("CONTENT-TYPE"\)\] \{0\}\r\n\)/] },
  { state: 'S', cmd: `UID FETCH 1 (UID BODY.PEEK[HEADER.FIELDS (${lit('Subject')})]<0.9> FLAGS)`, status: 'OK', has: [/^\* 1 FETCH \(UID 1 BODY\[HEADER\.FIELDS \("SUBJECT"\)\]<0> \{9\}\r\nSubject: /m] },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS ("Subject" from)]', status: 'OK', has: [/BODY\[HEADER\.FIELDS \("SUBJECT" FROM\)\]/] },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS ("a\\"b" "a]b")]', status: 'OK', has: [/BODY\[HEADER\.FIELDS \("A\\"B" "A\]B"\)\] \{2\}\r\n\r\n\)/], note: 'quoted-specials escaped in the echo (they went out bare before)' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS ("")]', status: 'OK', has: [/BODY\[HEADER\.FIELDS \(""\)\] \{2\}\r\n\r\n\)/], note: 'an empty astring is an astring; it matches no field' },
  { state: 'S', cmd: `FETCH 1 BODY.PEEK[HEADER.FIELDS (${lit('')})]`, status: 'OK', has: [/HEADER\.FIELDS \(""\)/] },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS ("Sub ject" Sub:ject)]', status: 'OK', has: [/HEADER\.FIELDS \("SUB JECT" SUB:JECT\)\] \{2\}/] },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS (NIL)]', status: 'OK', has: [/HEADER\.FIELDS \("NIL"\)\]/], note: 'NIL echoed quoted, as Dovecot does' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS  ( Subject  From )]', status: 'OK', has: [/HEADER\.FIELDS \(SUBJECT FROM\)\]/], note: 'extra spaces tolerated, as everywhere' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS ((Subject))]', status: 'BAD', note: 'a nested list is no header-fld-name' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS ()]', status: 'BAD' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS]', status: 'BAD' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject]', status: 'BAD' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS (~{7}\r\nSubject)]', status: 'BAD', note: 'literal8 is no astring' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS (Sub%ject)]', status: 'BAD', note: 'Dovecot OK; "%" is no ASTRING-CHAR' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[HEADER.FIELDS (Subj\xc3\xa9)]', status: 'BAD', note: '8-bit atom' },
  { state: 'S', cmd: `FETCH 1 BODY.PEEK[HEADER.FIELDS (${lit('a\r\n')})]`, status: 'BAD', note: 'Dovecot OK; a name with CR LF cannot be echoed as an atom or quoted string' },
  { state: 'S', cmd: 'FETCH 1 BINARY.PEEK[HEADER.FIELDS (Subject)]', status: 'BAD', note: 'Dovecot OK; section-binary is [section-part] only (RFC 3516)' },
  { state: 'S', cmd: 'FETCH 1 BINARY[1.MIME]', status: 'BAD', note: 'Dovecot OK; RFC 3516 section-binary' },
  // ---- section parts and partials ----
  { state: 'S', cmd: 'FETCH 2 BODY.PEEK[1.MIME]', status: 'OK', has: [/BODY\[1\.MIME\] \{\d+\}\r\nContent-Type: text\/plain/] },
  { state: 'S', cmd: 'FETCH 1 body.peek[text]', status: 'OK', has: [/BODY\[TEXT\] \{31\}\r\nHello Bob/] },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[1.0]', status: 'BAD', note: 'Dovecot OK; section-part is nz-numbers' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[01]', status: 'BAD', note: 'Dovecot OK; nz-number has no leading zero' },
  { state: 'S', cmd: 'FETCH 1 BINARY[0]', status: 'BAD' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[]<0.4294967295>', status: 'OK', has: [/BODY\[\]<0> \{182\}/] },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[]<4294967296.1>', status: 'OK', has: [/BODY\[\]<4294967296> \{0\}\r\n/], note: 'number64 offsets (RFC 9051); was BAD' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[]<9223372036854775808.1>', status: 'BAD', note: 'beyond number64' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[]<0.0>', status: 'BAD', note: 'Dovecot OK; the length is nz-number64' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[]<1>', status: 'BAD', note: 'Dovecot OK; a request partial needs "." nz-number' },
  { state: 'S', cmd: 'FETCH 1 BODY.PEEK[]<0.1', status: 'BAD' },
  { state: 'S', cmd: 'FETCH 1 BINARY.PEEK[]<0.5>', status: 'OK', has: [/BINARY\[\]<0> \{5\}\r\nFrom:/] },
  { state: 'S', cmd: 'FETCH 1 BINARY.SIZE[1]', status: 'OK', has: [/BINARY\.SIZE\[1\] 31/] },
  { state: 'S', cmd: 'FETCH 1 ()', status: 'BAD' },
  { state: 'S', cmd: 'FETCH 1 FLAGS UID', status: 'BAD' },
  { state: 'S', cmd: 'FETCH 1 (FLAGS (UID))', status: 'BAD' },
  { state: 'S', cmd: 'FETCH 1 fast', status: 'OK', has: [/RFC822\.SIZE 182/] },
  // ---- sequence sets ----
  { state: 'S', cmd: 'FETCH 3:1 (UID)', status: 'OK', has: [/^\* 1 FETCH/m, /^\* 3 FETCH/m] },
  { state: 'S', cmd: 'FETCH *:* (UID)', status: 'OK', has: [/^\* 3 FETCH \(UID 3\)/m] },
  { state: 'S', cmd: 'FETCH 0 (UID)', status: 'BAD' },
  { state: 'S', cmd: 'UID FETCH 1:4294967295 (UID)', status: 'OK', has: [/^\* 3 FETCH \(UID 3\)/m] },
  { state: 'S', cmd: 'UID FETCH 4294967296 (UID)', status: 'BAD' },
  { state: 'S', cmd: 'SEARCH 1,,2', status: 'BAD' },
  { state: 'S', cmd: 'SEARCH 1:', status: 'BAD' },
  { state: 'S', cmd: 'SEARCH UID 0:*', status: 'BAD' },
  { state: 'S', cmd: 'SEARCH $', status: 'OK', has: [/^\* SEARCH\r\n/m], note: 'no saved result yet: empty' },
  // ---- literals: sync, LITERAL+, no "{n-}", literal8 only where allowed ----
  { state: 'N', cmd: `LOGIN ${lit(USER)} ${lit(PASSWORD)}`, status: 'OK' },
  { state: 'N', cmd: `LOGIN ${lit(USER, true)} ${P}`, status: 'OK' },
  { state: 'N', cmd: `LOGIN ${U} {${PASSWORD.length}-}\r\n${PASSWORD}`, status: 'BAD', note: 'LITERAL- uses "{n+}" too (RFC 7888); "{n-}" is no literal' },
  { state: 'N', cmd: `LOGIN ~${lit(USER)} ${P}`, status: 'BAD', note: 'literal8 is no astring (was accepted)' },
  { state: 'N', cmd: `login ${U} ${P}`, status: 'OK' },
  { state: 'N', cmd: `LOGIN ${U} "correct \\horse"`, status: 'BAD', note: 'Dovecot OK; only \\" and \\\\ are escapes' },
  { state: 'N', cmd: `LOGIN ${U} "correct horse`, status: 'BAD' },
  { state: 'N', cmd: `LOGIN ${U}`, status: 'BAD' },
  { state: 'N', cmd: `LOGIN ${U} ${P} extra`, status: 'BAD' },
  { state: 'N', cmd: 'LOGIN (alice) "x"', status: 'BAD' },
  { state: 'A', cmd: `SELECT ${lit('INBOX')}`, status: 'OK', has: [/^\* 3 EXISTS/m] },
  { state: 'A', cmd: 'SELECT ~{5}\r\nINBOX', status: 'BAD' },
  { state: 'A', cmd: 'EXAMINE "InBoX"', status: 'OK', has: [/^\* 3 EXISTS/m] },
  { state: 'A', cmd: 'SELECT INBOX extra', status: 'BAD', note: 'Dovecot OK; select-params must be a list' },
  { state: 'A', cmd: 'SELECT INBOX ()', status: 'OK' },
  { state: 'A', cmd: 'SELECT a\xc3\xa9b', status: 'BAD', note: '8-bit atom (Dovecot: BAD "8bit data in atom")' },
  { state: 'A', cmd: 'SELECT "a\xc3\xa9b"', status: 'NO', note: 'quoted 8-bit is fine syntax; not modified UTF-7 for a rev1 session' },
  { state: 'A', cmd: 'SELECT a\\b', status: 'BAD', note: 'Dovecot NO; "\\" is no ASTRING-CHAR' },
  { state: 'A', cmd: 'SELECT a%b', status: 'BAD', note: 'Dovecot NO; list wildcards are no ASTRING-CHAR' },
  { state: 'A', cmd: 'SELECT a]b', status: 'NO', note: '"]" is an ASTRING-CHAR: a valid name that does not exist' },
  { state: 'A', cmd: "SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}", status: 'NO', note: "imaptest's atoms script" },
  { state: 'A', cmd: 'SELECT a{b', status: 'BAD' },
  { state: 'A', cmd: 'CREATE ~{4}\r\ngr01', status: 'BAD' },
  { state: 'A', cmd: `CREATE ${lit('gr 02')}`, status: 'OK' },
  { state: 'A', cmd: 'CREATE gr03 extra', status: 'BAD', note: 'Dovecot OK' },
  { state: 'A', cmd: 'CREATE ""', status: 'NO' },
  { state: 'A', cmd: `RENAME ${lit('gr 02')} ${lit('gr 02b', true)}`, status: 'OK' },
  { state: 'A', cmd: 'RENAME "gr 02b" gr04 extra', status: 'BAD', note: 'Dovecot OK' },
  { state: 'A', cmd: 'STATUS {5}\r\nINBOX (messages uidnext)', status: 'OK', has: [/^\* STATUS "INBOX" \(MESSAGES 3 UIDNEXT 4\)/m] },
  { state: 'A', cmd: 'STATUS INBOX ()', status: 'BAD' },
  { state: 'A', cmd: 'STATUS INBOX (MESSAGES) extra', status: 'BAD', note: 'Dovecot OK' },
  // ---- LIST / LSUB ----
  { state: 'A', cmd: 'LIST {0}\r\n {1}\r\n%', status: 'OK', has: [/^\* LIST \([^)]*\) "\/" "INBOX"/m] },
  { state: 'A', cmd: 'LIST "" INB*', status: 'OK', has: [/"INBOX"/] },
  { state: 'A', cmd: "LIST \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*", status: 'OK', note: "imaptest's atoms script" },
  { state: 'A', cmd: 'LIST "" ~{1}\r\n*', status: 'BAD' },
  { state: 'A', cmd: 'LIST "" gr\\', status: 'BAD', note: 'Dovecot OK; "\\" is no list-char' },
  { state: 'A', cmd: 'LIST "" ()', status: 'BAD', note: 'Dovecot OK; RFC 5258 patterns has one or more' },
  { state: 'A', cmd: 'LIST "" * RETURN (STATUS ())', status: 'BAD', note: 'RFC 5819: one or more status items (was OK)' },
  { state: 'A', cmd: 'LIST "" % RETURN (STATUS (MESSAGES))', status: 'OK', has: [/^\* STATUS "INBOX" \(MESSAGES 3\)/m] },
  { state: 'A', cmd: 'LIST ""', status: 'BAD' },
  { state: 'A', cmd: 'LSUB "" ("a")', status: 'BAD' },
  // ---- APPEND ----
  { state: 'A', cmd: `APPEND INBOX (\\Seen $Foo) " 7-Feb-1994 21:52:25 -0800" ${lit('Subject: a\r\n\r\nx')}`, status: 'OK', has: [/APPENDUID/] },
  { state: 'A', cmd: `APPEND INBOX ~${lit('Subject: b\r\n\r\nx')}`, status: 'OK', note: 'literal8 is append data (RFC 3516)' },
  { state: 'A', cmd: `APPEND INBOX CATENATE (TEXT ~${lit('Subject: c\r\n\r\nx')})`, status: 'OK' },
  { state: 'A', cmd: 'APPEND INBOX CATENATE (URL ~{13}\r\n/INBOX/;UID=1)', status: 'BAD', note: 'url is an astring (RFC 4469): no literal8' },
  { state: 'A', cmd: `APPEND INBOX CATENATE (URL ${lit('/INBOX/;UID=1')} TEXT ${lit('\r\nx')})`, status: 'OK', has: [/APPENDUID/] },
  { state: 'A', cmd: `APPEND INBOX UTF8 (~${lit('Subject: d\r\n\r\nx')})`, status: 'OK', has: [/APPENDUID/] },
  { state: 'A', cmd: `APPEND INBOX UTF8 (${lit('Subject: d\r\n\r\nx')})`, status: 'BAD', note: 'RFC 6855: UTF8 (literal8) (was accepted)' },
  { state: 'A', cmd: `APPEND INBOX "07-Feb-1994 21:52:25 0800" ${lit('Subject: a')}`, status: 'BAD', note: 'Dovecot OK; the zone needs its sign' },
  { state: 'A', cmd: `APPEND INBOX ($a%b) ${lit('Subject: a')}`, status: 'BAD', note: 'Dovecot NO; a keyword is an atom' },
  { state: 'A', cmd: 'APPEND INBOX "Subject: a"', status: 'BAD' },
  { state: 'A', cmd: `APPEND INBOX ("\\\\Seen") ${lit('Subject: a')}`, status: 'BAD' },
  // ---- SEARCH ----
  { state: 'S', cmd: `SEARCH SUBJECT ${lit('Hello')}`, status: 'OK', has: [/^\* SEARCH 1\b/m] },
  { state: 'S', cmd: 'SEARCH SUBJECT ~{5}\r\nHello', status: 'BAD' },
  { state: 'S', cmd: 'SEARCH SUBJECT caf\xc3\xa9', status: 'BAD', note: '8-bit atom' },
  { state: 'S', cmd: 'SEARCH CHARSET UTF-8 SUBJECT "Caf\xc3\xa9"', status: 'OK', has: [/^\* SEARCH 2\r\n/m] },
  { state: 'S', cmd: 'SEARCH SUBJECT "a\xff"', status: 'BAD', note: 'no UTF-8 (Dovecot: BAD "Invalid search key"); was a search for U+FFFD' },
  { state: 'S', cmd: 'SEARCH SUBJECT {2}\r\na\xff', status: 'BAD' },
  { state: 'S', cmd: 'SEARCH CHARSET UTF-8 SUBJECT {2}\r\n\xc3\xa9', status: 'OK', has: [/^\* SEARCH 2\b/m] },
  { state: 'S', cmd: `SEARCH CHARSET ${lit('utf-8')} ALL`, status: 'OK', has: [/^\* SEARCH 1 2 3\b/m] },
  { state: 'S', cmd: 'SEARCH CHARSET FOO ALL', status: 'NO', has: [/BADCHARSET/] },
  { state: 'S', cmd: `SEARCH HEADER ${lit('Subject')} ${lit('there')}`, status: 'OK', has: [/^\* SEARCH 1\b/m] },
  { state: 'S', cmd: 'SEARCH HEADER "" ""', status: 'OK', has: [/^\* SEARCH\r\n/m], note: 'any astring is a header-fld-name (was BAD); it matches nothing' },
  { state: 'S', cmd: 'SEARCH HEADER "Sub ject" x', status: 'OK', has: [/^\* SEARCH\r\n/m] },
  { state: 'S', cmd: 'SEARCH KEYWORD $Label', status: 'OK', has: [/^\* SEARCH 3\r\n/m] },
  { state: 'S', cmd: 'SEARCH KEYWORD \\Seen', status: 'BAD', note: 'Dovecot OK (empty); flag-keyword is an atom, "\\Seen" is no keyword (was: matched \\Seen)' },
  { state: 'S', cmd: 'SEARCH KEYWORD "$Label"', status: 'BAD', note: 'Dovecot OK; flag-keyword is an atom' },
  { state: 'S', cmd: 'SEARCH LARGER 4294967296', status: 'OK', has: [/^\* SEARCH\r\n/m], note: 'number64 in IMAP4rev2 (was BAD)' },
  { state: 'S', cmd: 'SEARCH SMALLER 9223372036854775807', status: 'OK', has: [/^\* SEARCH 1 2 3\b/m] },
  { state: 'S', cmd: 'SEARCH LARGER 9223372036854775808', status: 'BAD' },
  { state: 'S', cmd: 'SEARCH LARGER "10"', status: 'BAD', note: 'Dovecot OK; a number is no string' },
  { state: 'S', cmd: 'SEARCH TEXT "a\\b"', status: 'BAD', note: 'Dovecot OK; invalid escape' },
  { state: 'S', cmd: 'SEARCH sInCe 1-Feb-1994 seen', status: 'OK', has: [/^\* SEARCH 1\b/m] },
  { state: 'S', cmd: 'SEARCH SINCE "1-Feb-1994"', status: 'OK', has: [/^\* SEARCH 1 2 3\b/m] },
  { state: 'S', cmd: `SEARCH SINCE ${lit('1-Feb-1994')}`, status: 'BAD', note: 'Dovecot OK; date is date-text or a quoted date-text, no literal' },
  { state: 'S', cmd: 'SEARCH SINCE 1-Feb-94', status: 'BAD' },
  { state: 'S', cmd: 'SEARCH MODSEQ 18446744073709551615', status: 'BAD', note: 'Dovecot OK; mod-sequence-value is 63-bit' },
  { state: 'S', cmd: 'SEARCH RETURN (min MAX) ALL', status: 'OK', has: [/^\* ESEARCH \(TAG "x\d+"\) MIN 1 MAX \d+\r\n/m] },
  { state: 'S', cmd: 'SEARCH RETURN (PARTIAL 0:10) ALL', status: 'BAD' },
  { state: 'S', cmd: 'SEARCH CHARSET UTF-8 RETURN (MIN) ALL', status: 'BAD', note: 'RETURN comes before CHARSET' },
  { state: 'S', cmd: 'SEARCH ()', status: 'BAD' },
  { state: 'S', cmd: 'SEARCH OR SEEN', status: 'BAD' },
  { state: 'S', cmd: 'SEARCH FROM alice extra', status: 'BAD' },
  { state: 'S', cmd: 'SEARCH', status: 'BAD' },
  // ---- STORE / COPY / MOVE / UID ----
  { state: 'S', cmd: `STORE 3 +FLAGS (\\Seen) extra`, status: 'BAD', lacks: [/FETCH/], note: 'Dovecot OK; "extra" was stored as a keyword' },
  { state: 'S', cmd: 'STORE 3 +FLAGS (\\Seen) (\\Draft)', status: 'BAD' },
  { state: 'S', cmd: 'STORE 3 +FLAGS \\Seen $Foo', status: 'OK', has: [/^\* 3 FETCH \(FLAGS \([^)]*\$Foo/m] },
  { state: 'S', cmd: 'STORE 3 FLAGS', status: 'BAD', note: 'Dovecot OK (clears the flags); flag *(SP flag) needs one' },
  { state: 'S', cmd: 'STORE 3 -flags.silent ($Foo)', status: 'OK', lacks: [/FETCH/] },
  { state: 'S', cmd: 'STORE 3 +FLAGS ("\\\\Seen")', status: 'BAD' },
  { state: 'S', cmd: 'STORE 3 +FLAGS.NOSILENT (\\Seen)', status: 'BAD' },
  { state: 'S', cmd: 'STORE 3 (UNCHANGEDSINCE 0) +FLAGS.SILENT (\\Seen)', status: 'OK', has: [/MODIFIED 3/] },
  { state: 'S', cmd: `COPY 1 ${lit('INBOX')}`, status: 'OK', has: [/COPYUID/] },
  { state: 'S', cmd: 'COPY 1 ~{5}\r\nINBOX', status: 'BAD' },
  { state: 'S', cmd: 'COPY 1 INBOX extra', status: 'BAD', note: 'Dovecot OK' },
  { state: 'S', cmd: 'uid copy 1 "INBOX"', status: 'OK', has: [/COPYUID/] },
  { state: 'S', cmd: 'UID FOO 1', status: 'BAD' },
  { state: 'S', cmd: 'UID', status: 'BAD' },
  // ---- other commands ----
  { state: 'A', cmd: 'ID ("name" {1}\r\nx "os" NIL)', status: 'OK', has: [/^\* ID \(/m] },
  { state: 'A', cmd: 'ID (name x)', status: 'BAD', note: 'Dovecot OK; RFC 2971 field names are strings' },
  { state: 'A', cmd: 'ID ("name" ~{1}\r\nx)', status: 'BAD' },
  { state: 'A', cmd: 'ID ("name" x)', status: 'BAD', note: 'Dovecot OK; values are nstring' },
  { state: 'A', cmd: 'ID (~{4}\r\nname "x")', status: 'BAD' },
  { state: 'A', cmd: 'SETMETADATA "" (~{16}\r\n/private/comment "x")', status: 'BAD', note: 'entry names are astrings: no literal8' },
  { state: 'A', cmd: `SETACL INBOX ~${lit('anyone')} lr`, status: 'BAD' },
  { state: 'A', cmd: 'ENABLE condstore', status: 'OK', has: [/^\* ENABLED CONDSTORE/m] },
  { state: 'A', cmd: 'ENABLE', status: 'BAD', note: 'Dovecot OK; RFC 5161 needs one capability' },
  { state: 'A', cmd: 'GETQUOTAROOT {5}\r\nINBOX', status: 'OK', has: [/^\* QUOTAROOT INBOX/m] },
  { state: 'A', cmd: 'GETQUOTAROOT ~{5}\r\nINBOX', status: 'BAD' },
  { state: 'A', cmd: `SETACL INBOX ${lit('anyone')} ""`, status: 'OK' },
  { state: 'A', cmd: 'GETACL ~{5}\r\nINBOX', status: 'BAD' },
  { state: 'A', cmd: `SETMETADATA "" (/private/comment ~${lit('hi')})`, status: 'OK', note: 'RFC 5464 values may be literal8' },
  { state: 'A', cmd: `GETMETADATA "" ${lit('/private/comment')}`, status: 'OK', has: [/^\* METADATA "" \(\/private\/comment "hi"\)/m] },
  { state: 'A', cmd: 'SETMETADATA "" (/private/comment hello)', status: 'BAD' },
  { state: 'A', cmd: `NOTIFY SET (mailboxes ${lit('INBOX')} (MessageNew))`, status: 'OK' },
  { state: 'A', cmd: 'NOTIFY SET (mailboxes ~{5}\r\nINBOX (MessageNew))', status: 'BAD' },
  { state: 'S', cmd: 'SORT (subject reverse date) utf-8 all', status: 'OK', has: [/^\* SORT /m] },
  { state: 'S', cmd: 'SORT (REVERSE REVERSE SUBJECT) UTF-8 ALL', status: 'BAD', note: 'Dovecot OK; one REVERSE per key (RFC 5256)' },
  { state: 'S', cmd: `THREAD references ${lit('UTF-8')} all`, status: 'OK', has: [/^\* THREAD /m] },
  { state: 'S', cmd: 'THREAD REFERENCES ~{5}\r\nUTF-8 ALL', status: 'BAD' },
  { state: 'A', cmd: 'NOOP extra', status: 'BAD', note: 'Dovecot OK' },
  { state: 'A', cmd: 'nOoP', status: 'OK' },
];

async function open(f: { port: number }, state: State): Promise<RawClient> {
  const c = await RawClient.connect(f.port);
  if (state !== 'N') await c.login();
  if (state === 'S') assert.match(await c.cmd('SELECT INBOX', 's'), /^s OK/m);
  return c;
}

describe('IMAP command grammar conformance (raw socket)', () => {
  const f = useTranscriptImap();

  for (const [i, k] of CASES.entries()) {
    test(`${k.state} ${JSON.stringify(k.cmd).slice(1, 90)} -> ${k.status}`, async () => {
      const c = await open(f, k.state);
      try {
        const tag = `x${i}`;
        const raw = (await c.cmd(Buffer.from(k.cmd, 'latin1'), tag)).replace(/^\+ [^\r\n]*\r\n/gm, '');
        const tagged = raw.slice(raw.lastIndexOf(`${tag} `));
        assert.equal(tagged.split(' ')[1], k.status, `${k.note ?? ''}\n${raw}`);
        for (const re of k.has ?? []) assert.match(raw, re);
        for (const re of k.lacks ?? []) assert.doesNotMatch(raw, re);
        if (k.status === 'BAD') assert.match(await c.cmd('NOOP', 'n'), /^n OK/m, 'the connection goes on after a BAD');
      } finally {
        c.close();
      }
    });
  }

  test('one connection takes a run of BADs, each answered once, and goes on', async () => {
    const c = await open(f, 'S');
    const bad = CASES.filter((k) => k.status === 'BAD' && k.state !== 'N');
    let sent = '';
    for (const [i, k] of bad.entries()) sent += `b${i} ${k.cmd}\r\n`;
    c.write(Buffer.from(sent + 'z NOOP\r\n', 'latin1'));
    const all = (await c.waitTagged('z', 10_000)).replace(/^\+ [^\r\n]*\r\n/gm, '');
    for (const [i] of bad.entries()) assert.equal(all.match(new RegExp(`^b${i} `, 'gm'))?.length, 1, `b${i}`);
    assert.equal(all.match(/^b\d+ BAD/gm)?.length, bad.length);
    assert.match(all, /^z OK/m);
    c.close();
  });
});

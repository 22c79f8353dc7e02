/**
 * FETCH fast paths give the same bytes as the general path: message lists (header fields, RFC822.HEADER,
 * BODY[HEADER]) served from the store's header blocks, and header overviews (ENVELOPE) served from stored
 * envelope text, compared byte for byte with a second server over the same store whose store object hides
 * getHeaders/getEnvelopes (so every FETCH parses MIME indexes and reads message files).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startImap, RawClient, SIMPLE_MESSAGE, message, type ImapFixture } from './imap-helpers.js';
import { createImapService } from '../src/imap-server/index.js';
import type { Store } from '../src/store/handle.js';
import { indexOnlyMail, withParts } from './helpers/store.js';
import type { NetService } from '../src/lib/service.js';
import { silentLogger } from '../src/lib/logger.js';

/** The store keeping nothing beside the MIME index: headers and envelopes come from the index and the bytes. */
function generalPathStore(store: Store): Store {
  return withParts(store, { mail: indexOnlyMail(store.mail) });
}

const BIG_HEADER = message('Big header', 'body', Array.from({ length: 400 }, (_, i) => `X-Filler-${i}: ${'y'.repeat(60)}`));
const EIGHT_BIT = 'Subject: caf\u00e9 cr\u00e8me\r\nFrom: "Ren\u00e9" <rene@example.org>\r\nTo: a@b.example\r\n\r\nbody\r\n';
const NO_BODY = 'Subject: header only\r\nFrom: a@b.example';

describe('FETCH fast paths match the general path', () => {
  let f: ImapFixture;
  let general: NetService;
  let generalPort: number;
  before(async () => {
    f = await startImap();
    await f.append(SIMPLE_MESSAGE, ['\\Seen']);
    await f.append(BIG_HEADER);
    await f.append(Buffer.from(EIGHT_BIT, 'utf8'), ['\\Flagged']);
    await f.append(NO_BODY);
    for (let i = 0; i < 20; i++) await f.append(message(`List ${i}`, `body ${i}`, [`In-Reply-To: <p${i}@example.org>`]));
    // A message stored by a build without header rows: its header is read from the message file.
    await f.append(message('Old row', 'old'));
    const db = new Database(join(f.dataDir, 'mail.db'));
    try {
      const n = db.prepare('DELETE FROM blob_headers WHERE blob_id = (SELECT blob_id FROM messages WHERE uid = 25)').run().changes;
      assert.equal(n, 1);
      assert.equal(db.prepare('SELECT count(*) FROM blob_headers').pluck().get(), 23, 'the 16+ KiB header has no row either');
    } finally {
      db.close();
    }
    general = createImapService({ store: generalPathStore(f.store), auth: f.auth, logger: silentLogger, hostname: 'imap.test' });
    generalPort = (await general.listen({ host: '127.0.0.1', port: 0, implicitTls: false })).port;
  });
  after(async () => {
    await general.close();
    await f.close();
  });

  const commands = [
    'UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID REFERENCES IN-REPLY-TO CONTENT-TYPE)])',
    'FETCH 1:* (BODY.PEEK[HEADER.FIELDS.NOT (Subject X-Filler-3)] RFC822.HEADER)',
    'FETCH 2:4 (BODY.PEEK[HEADER]<0.20> BODY.PEEK[HEADER.FIELDS (Subject)]<3.7> FLAGS)',
    'UID FETCH 3,25,2,1 (BODY.PEEK[HEADER])',
    'FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)',
    'UID FETCH 1:* (ENVELOPE)',
  ];

  test('same responses, byte for byte, from both servers (7-bit and UTF-8 sessions)', async () => {
    for (const utf8 of [false, true]) {
      const fast = await RawClient.connect(f.port);
      const slow = await RawClient.connect(generalPort);
      for (const c of [fast, slow]) {
        await c.login();
        if (utf8) assert.match(await c.cmd('ENABLE UTF8=ACCEPT', 'e'), /e OK/);
        assert.match(await c.cmd('EXAMINE INBOX', 's'), /s OK/);
      }
      for (const [i, cmd] of commands.entries()) {
        const a = await fast.cmd(cmd, `t${i}`);
        const b = await slow.cmd(cmd, `t${i}`);
        assert.match(a, new RegExp(`t${i} OK`), cmd);
        assert.equal(a, b, `${cmd} (utf8 ${utf8})`);
      }
      const big = await fast.cmd('UID FETCH 2 (BODY.PEEK[HEADER.FIELDS (X-Filler-399 Subject)])', 'b');
      assert.match(big, /X-Filler-399: y{60}\r\n/, 'a header over 16 KiB comes from the message file');
      const eight = await fast.cmd('UID FETCH 3 (ENVELOPE)', 'c');
      // (RawClient reads bytes as latin1: "caf\u00c3\u00a9" is the UTF-8 of "caf\u00e9".)
      assert.match(eight, utf8 ? /ENVELOPE \(NIL "caf\u00c3\u00a9 / : /ENVELOPE \(NIL \{12\}\r\ncaf\u00c3\u00a9 /, '8-bit envelopes are rendered for the session');
      fast.close();
      slow.close();
    }
  });

  test('header fields of an attached message (BODY[2.HEADER.FIELDS ...]) are cut from its own header', async () => {
    const inner = 'Subject: inner\r\nFrom: x@y.example\r\nX-Extra: 1\r\n\r\ninner body\r\n';
    const outer =
      'Subject: outer\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' +
      '--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n' +
      inner +
      '--b--\r\n';
    const { uid } = await f.append(outer);
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('EXAMINE INBOX', 's');
    const r = await c.cmd(`UID FETCH ${uid} (BODY.PEEK[2.HEADER.FIELDS (SUBJECT)] BODY.PEEK[2.HEADER.FIELDS.NOT (Subject X-Extra)])`, 'n');
    assert.ok(r.includes('BODY[2.HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: inner\r\n\r\n'), r);
    assert.ok(r.includes('BODY[2.HEADER.FIELDS.NOT (SUBJECT X-EXTRA)] {21}\r\nFrom: x@y.example\r\n\r\n'), r);
    c.close();
  });

  test('a non-PEEK header fetch sets \\Seen and reports FLAGS on the fast path too', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT INBOX', 's');
    const r = await c.cmd('UID FETCH 10 (BODY[HEADER.FIELDS (Subject)])', 'h');
    assert.match(r, /^\* \d+ FETCH \(UID 10 BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: List 5\r\n\r\n FLAGS \(\\Seen \\Recent\)\)\r\nh OK/);
    c.close();
  });
});

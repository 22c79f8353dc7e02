/**
 * A message another session expunged stays fetchable while this session still shows it (RFC 2180 4.1.1,
 * as Dovecot does): FETCH returns its flags, envelope, headers and body, no EXPUNGE is sent during FETCH,
 * the next command that may report it (UID FETCH) does, and the store then frees the message. FLAGS never drops a keyword
 * a message of the view may still carry as far as the client knows (RFC 9051 7.3.5).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, message, useTranscriptImap } from '../../../test/imap-helpers.js';
import { eventually } from '../../../test/helpers/store.js';
import { isStoreError } from '../../store/types.js';

describe('FETCH of messages expunged by another session', () => {
  const f = useTranscriptImap();

  test('FETCH returns the expunged message until the EXPUNGE is reported, then it is freed', async () => {
    const mb = await f.store.mail.createMailbox(f.user.id, 'Shared');
    for (const s of ['one', 'two', 'three']) await f.append(message(s, `body of ${s}`), [], 'Shared');
    const a = await RawClient.connect(f.port);
    const b = await RawClient.connect(f.port);
    await a.login();
    await b.login();
    await a.cmd('SELECT Shared');
    await b.cmd('SELECT Shared');
    await b.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)');
    assert.equal(await b.cmd('EXPUNGE', 'x'), '* 2 EXPUNGE\r\nx OK Expunge completed\r\n');
    const r = await a.cmd('FETCH 2 (FLAGS ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])', 'f');
    assert.match(r, /^\* 2 FETCH \(FLAGS \([^)]*\) ENVELOPE \(.*"two".*\) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: two\r\n\r\n BODY\[TEXT\] \{\d+\}\r\nbody of two\r\n\)\r\n/s);
    assert.match(r, /f OK Fetch completed\r\n$/);
    assert.doesNotMatch(r, /EXPUNGE/);
    // UID FETCH does not use sequence numbers: the EXPUNGE follows its responses (RFC 9051 7.5.1).
    assert.match(await a.cmd('UID FETCH 2 (UID RFC822.SIZE)', 'u'), /^\* 2 FETCH \(UID 2 RFC822\.SIZE \d+\)\r\n\* 2 EXPUNGE\r\n\* 2 RECENT\r\nu OK/);
    await eventually(async () => {
      try {
        await f.store.mail.readBytes(mb.id, 2);
        return false;
      } catch (e) {
        return isStoreError(e, 'NOT_FOUND');
      }
    }, 'the expunged message is freed once every session was told');
    a.close();
    b.close();
  });

  test('FLAGS keeps a keyword that another session removed while the client may still see it', async () => {
    await f.store.mail.createMailbox(f.user.id, 'Kw');
    await f.append(message('k1'), ['$Label4'], 'Kw');
    await f.append(message('k2'), [], 'Kw');
    const a = await RawClient.connect(f.port);
    const b = await RawClient.connect(f.port);
    await a.login();
    await b.login();
    assert.match(await a.cmd('SELECT Kw', 's'), /^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$Label4\)\r\n/);
    await b.cmd('SELECT Kw');
    await b.cmd('STORE 1 -FLAGS.SILENT ($Label4)');
    await b.cmd('STORE 2 +FLAGS.SILENT ($New)');
    const r = await a.cmd('NOOP', 'n');
    // $New is new (FLAGS is sent), and $Label4 stays listed: message 1's update comes after the FLAGS.
    assert.match(r, /^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft \$New \$Label4\)\r\n/);
    assert.match(r, /\* 1 FETCH \(UID 1 FLAGS \((\\Recent)?\)\)\r\n/);
    a.close();
    b.close();
  });
});

/**
 * What a state-tracking client (Dovecot's imaptest in load mode) checks across sessions of one mailbox,
 * each case as Dovecot answers it:
 * - the RECENT count follows expunges: a client that never fetched a message's flags only learns that an
 *   expunged message was \Recent from a new "* n RECENT" (imaptest's checkpoint compares the sum of all
 *   sessions' RECENT counts with the message count).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startImap, RawClient, message, type ImapFixture } from './imap-helpers.js';

describe('IMAP state seen by a tracking client', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
  });
  after(async () => {
    await f.close();
  });

  test('an expunge of a \\Recent message is followed by the new RECENT count (another session\'s and its own)', async () => {
    const a = await RawClient.connect(f.port);
    const b = await RawClient.connect(f.port);
    await a.login();
    await b.login();
    await a.cmd('CREATE rt');
    for (let i = 1; i <= 4; i++) await a.cmd(Buffer.from(`APPEND rt {${message(`r${i}`).length}+}\r\n${message(`r${i}`)}`));
    assert.match(await a.cmd('SELECT rt'), /\* 4 EXISTS\r\n\* 4 RECENT\r\n/);
    assert.match(await b.cmd('SELECT rt'), /\* 4 EXISTS\r\n\* 0 RECENT\r\n/);
    await b.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.cmd('EXPUNGE');
    assert.equal(await a.cmd('NOOP', 'n1'), '* 1 EXPUNGE\r\n* 3 RECENT\r\nn1 OK NOOP completed\r\n');
    await a.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    assert.equal(await a.cmd('EXPUNGE', 'e1'), '* 1 EXPUNGE\r\n* 2 RECENT\r\ne1 OK Expunge completed\r\n');
    // b holds no \Recent: its count does not change, so no RECENT is sent.
    assert.equal(await b.cmd('NOOP', 'n2'), '* 1 EXPUNGE\r\nn2 OK NOOP completed\r\n');
    a.close();
    b.close();
  });
});

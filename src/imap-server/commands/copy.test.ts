/**
 * Raw-socket transcripts of COPY, MOVE (COPYUID) and the EXPUNGE/UID EXPUNGE that follow them.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, message, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('COPY, MOVE and EXPUNGE raw transcripts', () => {
  const f = useTranscriptImap();

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
    assert.equal(await c.cmd('UID MOVE 2 Archive', 'm'), `* OK [COPYUID ${arch.uidValidity} 2 3] Moved UIDs.\r\n* 2 EXPUNGE\r\n* 2 RECENT\r\nm OK Move completed\r\n`);
    assert.equal(await c.cmd('COPY 1 Nope', 'n'), 'n NO [TRYCREATE] Mailbox does not exist\r\n');
    await c.cmd('STORE 1:2 +FLAGS.SILENT (\\Deleted)');
    assert.equal(await c.cmd('UID EXPUNGE 3', 'ue'), '* 2 EXPUNGE\r\n* 1 RECENT\r\nue OK Expunge completed\r\n');
    await f.append(message('w4'), [], 'Work');
    const ex = await c.cmd('EXPUNGE', 'ex');
    assert.equal(ex, '* 1 EXPUNGE\r\n* 1 EXISTS\r\n* 1 RECENT\r\nex OK Expunge completed\r\n');
    assert.equal((await f.store.mail.listMessages(mb.id)).length, 1);
    assert.equal(await c.cmd('CLOSE', 'cl'), 'cl OK CLOSE completed\r\n');
    c.close();
  });
});

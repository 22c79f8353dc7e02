/**
 * Raw-socket transcripts of EXPUNGE numbering.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, message, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('EXPUNGE raw transcripts', () => {
  const f = useTranscriptImap();

  test('several expunges are numbered as each takes effect (as Dovecot does)', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await f.store.mail.createMailbox(f.user.id, 'Ex');
    for (let i = 0; i < 5; i++) await f.append(message(`ex${i}`), i === 2 ? [] : ['\\Deleted'], 'Ex');
    await c.cmd('SELECT Ex');
    assert.equal(await c.cmd('EXPUNGE', 'x'), '* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n* 2 EXPUNGE\r\n* 2 EXPUNGE\r\n* 1 RECENT\r\nx OK Expunge completed\r\n');
    assert.match(await c.cmd('FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])'), /Subject: ex2/);
    c.close();
  });
});

/**
 * Raw-socket transcripts of the greeting and CAPABILITY before and after login.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('CAPABILITY and the greeting raw transcripts', () => {
  const f = useTranscriptImap();

  test('greeting, CAPABILITY before and after login', async () => {
    const c = await RawClient.connect(f.port);
    const r = await c.cmd('CAPABILITY', 'a1');
    assert.match(r, /^\* CAPABILITY IMAP4rev1 IMAP4rev2 .*AUTH=PLAIN AUTH=LOGIN .*\r\na1 OK/);
    assert.doesNotMatch(r, /STARTTLS/); // no TLS configured
    await c.login();
    const r2 = await c.cmd('CAPABILITY');
    assert.doesNotMatch(r2, / AUTH=/);
    for (const cap of ['IDLE', 'UIDPLUS', 'MOVE', 'CONDSTORE', 'QRESYNC', 'ESEARCH', 'SEARCHRES', 'LIST-STATUS', 'BINARY', 'APPENDLIMIT=10000', 'OBJECTID', 'COMPRESS=DEFLATE', 'SPECIAL-USE']) {
      assert.ok(r2.includes(` ${cap}`), cap);
    }
    c.close();
  });
});

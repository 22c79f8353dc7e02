/**
 * Raw-socket transcripts of UNAUTHENTICATE (RFC 8437): advertised only after login, closes the selected
 * mailbox without expunging, forgets enabled extensions, and the connection can log in again.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('UNAUTHENTICATE raw transcripts', () => {
  const f = useTranscriptImap();

  test('back to not authenticated: mailbox closed without expunge, ENABLE state gone, LOGIN again', async () => {
    const c = await RawClient.connect(f.port);
    assert.doesNotMatch(await c.cmd('CAPABILITY', 'c0'), /UNAUTHENTICATE/);
    assert.equal(await c.cmd('UNAUTHENTICATE', 'u0'), 'u0 BAD Please authenticate first\r\n');
    await c.login();
    assert.match(await c.cmd('CAPABILITY', 'c1'), /^\* CAPABILITY .* UNAUTHENTICATE[ \r]/);
    assert.equal(await c.cmd('ENABLE CONDSTORE', 'e'), '* ENABLED CONDSTORE\r\ne OK Enabled\r\n');
    await c.cmd('SELECT INBOX');
    assert.match(await c.cmd('STORE 3 +FLAGS.SILENT (\\Deleted)', 's'), /s OK/);
    const u = await c.cmd('UNAUTHENTICATE', 'u1');
    assert.match(u, /^u1 OK \[CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- .*AUTH=PLAIN.*\] Unauthenticate completed\r\n$/);
    assert.doesNotMatch(u, /UNAUTHENTICATE/);
    // Nothing was expunged; the session is not authenticated any more.
    assert.equal((await f.store.mail.listMessages(f.inbox.id)).length, 3);
    assert.equal(await c.cmd('FETCH 1 FLAGS', 'f'), 'f BAD Please authenticate first\r\n');
    assert.equal(await c.cmd('UNAUTHENTICATE extra', 'u2'), 'u2 BAD Please authenticate first\r\n');
    await c.login();
    assert.equal(await c.cmd('UNAUTHENTICATE extra', 'u3'), 'u3 BAD Unexpected extra arguments\r\n');
    // CONDSTORE is off again: SELECT has HIGHESTMODSEQ (always sent) but FETCH FLAGS carries no MODSEQ.
    await c.cmd('SELECT INBOX');
    assert.match(await c.cmd('FETCH 3 FLAGS', 'g'), /^\* 3 FETCH \(FLAGS \([^)]*\\Deleted[^)]*\)\)\r\ng OK/);
    assert.match(await c.cmd('STORE 3 -FLAGS.SILENT (\\Deleted)', 'h'), /h OK/);
    assert.match(await c.cmd('UNAUTHENTICATE', 'u4'), /^u4 OK /);
    assert.match(await c.cmd('LOGOUT', 'l'), /\* BYE/);
    c.close();
  });
});

/**
 * Raw-socket transcripts of mailbox naming (modified UTF-7, UTF8=ACCEPT) through CREATE, RENAME, DELETE,
 * SUBSCRIBE, LIST, LSUB and NAMESPACE.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('CREATE, RENAME, DELETE, SUBSCRIBE, LIST, LSUB, NAMESPACE raw transcripts', () => {
  const f = useTranscriptImap();

  test('mailbox names: modified UTF-7 for rev1, UTF-8 after ENABLE UTF8=ACCEPT; CREATE/RENAME/DELETE/SUBSCRIBE', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd('CREATE "Entw&APw-rfe/Sub"'), / OK \[MAILBOXID \([\w-]+\)\] Create completed/);
    const l = await c.cmd('LIST "" "Entw*"');
    assert.equal(l.split('\r\n').slice(0, 2).join('\n'), '* LIST (\\HasChildren) "/" "Entw&APw-rfe"\n* LIST (\\HasNoChildren) "/" "Entw&APw-rfe/Sub"');
    assert.match(await c.cmd('CREATE "bad&name"', 'b'), /^b NO Mailbox name is not valid modified UTF-7/);
    assert.equal(await c.cmd('CREATE INBOX', 'x'), 'x NO [ALREADYEXISTS] Mailbox already exists\r\n');
    assert.equal(await c.cmd('CREATE {3+}\r\na\tb', 'cc'), 'cc NO Mailbox name is not valid modified UTF-7: 8-bit or control character in mailbox name\r\n');
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
    assert.equal(await c.cmd('CREATE {3+}\r\na\tb', 'c8'), 'c8 NO Mailbox name contains control characters\r\n');
    const l2 = await c.cmd('LIST "" "Brouillons*"');
    assert.ok(l2.startsWith('* LIST (\\HasNoChildren) "/" "Brouillons d\xc3\xa9j\xc3\xa0"\r\n'), l2);
    const spam = /^su OK \[MAILBOXID \(([\w-]+)\)\] Create completed\r\n$/.exec(await c.cmd('CREATE Spam2 (USE (\\Junk))', 'su'));
    assert.equal(spam?.[1], (await f.store.mail.getMailbox(f.user.id, 'Spam2'))?.mailboxObjectId);
    assert.match(await c.cmd('LIST (SPECIAL-USE) "" "*" RETURN (STATUS (MESSAGES SIZE))'), /\* LIST \(\\HasNoChildren \\Junk\) "\/" "Spam2"\r\n\* STATUS "Spam2" \(MESSAGES 0 SIZE 0\)\r\n/);
    assert.equal(await c.cmd('CREATE X (USE (\\Bogus))', 'ub'), 'ub NO [USEATTR] Unsupported special-use attribute\r\n');
    assert.equal(await c.cmd('LIST "" ""', 'root'), '* LIST (\\Noselect) "/" ""\r\nroot OK LIST completed\r\n');
    assert.equal(await c.cmd('NAMESPACE', 'ns'), '* NAMESPACE (("" "/")) (("shared/" "/")) (("Public/" "/"))\r\nns OK NAMESPACE completed\r\n');
    c.close();
  });
});

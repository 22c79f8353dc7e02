/**
 * Raw-socket transcripts of LIST details checked by imaptest's listext and atoms scripts: RECURSIVEMATCH
 * lists a parent that is not subscribed only for subscribed descendants the patterns do not match
 * (RFC 5258 3.5), references and patterns that are no valid name match nothing (OK, as Dovecot), and
 * astrings with "[" and "]" are names, not syntax errors (RFC 9051 ASTRING-CHAR).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('LIST RECURSIVEMATCH and odd names', () => {
  const f = useTranscriptImap();

  test('RECURSIVEMATCH: CHILDINFO only for subscribed descendants outside the patterns', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    for (const n of ['m/t2/t1', 'm/t7/t7', 'm/t8/t8', 'm/t8/t9']) assert.match(await c.cmd(`CREATE ${n}`), /OK/);
    for (const n of ['m/t2/t1', 'm/t7/t7', 'm/t8/t8', 'm/t8/t9']) assert.match(await c.cmd(`SUBSCRIBE ${n}`), /OK/);
    const sub = '("CHILDINFO" ("SUBSCRIBED"))';
    assert.equal(await c.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" (m/t2)', 'a'), `* LIST (\\HasChildren) "/" "m/t2" ${sub}\r\na OK LIST completed\r\n`);
    // m/t2/t1 matches a pattern itself: it is listed, m/t2 is not.
    assert.equal(
      await c.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" (m/t2 m/t2/t1)', 'b'),
      '* LIST (\\HasNoChildren \\Subscribed) "/" "m/t2/t1"\r\nb OK LIST completed\r\n',
    );
    assert.equal(await c.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" m*t7', 'c'), '* LIST (\\HasNoChildren \\Subscribed) "/" "m/t7/t7"\r\nc OK LIST completed\r\n');
    // m/t8/t9 is outside the pattern: m/t8 comes with CHILDINFO.
    assert.equal(
      await c.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" m*t8', 'd'),
      `* LIST (\\HasChildren) "/" "m/t8" ${sub}\r\n* LIST (\\HasNoChildren \\Subscribed) "/" "m/t8/t8"\r\nd OK LIST completed\r\n`,
    );
    assert.equal(await c.cmd('LIST (RECURSIVEMATCH) "" m', 'e'), 'e BAD RECURSIVEMATCH needs another selection option\r\n');
    c.close();
  });

  test('invalid modified UTF-7 names: NO for a mailbox, an empty OK for LIST and LSUB patterns', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.equal(await c.cmd('SELECT "bad&name"', 'a'), 'a NO Mailbox name is not valid modified UTF-7: Unterminated &-sequence in mailbox name\r\n');
    assert.match(await c.cmd('STATUS "x&" (MESSAGES)', 'b'), /^b NO Mailbox name is not valid modified UTF-7/);
    assert.equal(await c.cmd('LIST "" "bad&x*"', 'c'), 'c OK LIST completed\r\n');
    assert.equal(await c.cmd('LIST "bad&" "*"', 'd'), 'd OK LIST completed\r\n');
    assert.equal(await c.cmd('LIST "" ("bad&" INBOX)', 'e'), '* LIST (\\HasNoChildren) "/" "INBOX"\r\ne OK LIST completed\r\n');
    assert.equal(await c.cmd('LSUB "" "bad&x*"', 'f'), 'f OK LSUB completed\r\n');
    assert.match(await c.cmd('NOOP', 'g'), /^g OK/);
    c.close();
  });

  test('"[" and "]" in an astring: a name (NO when it does not exist), LIST answers normally', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.equal(await c.cmd('SELECT !#$&\'+,-.0123456789:;<=>?@^_`|[}', 'a'), 'a NO Mailbox name is not valid modified UTF-7: Invalid modified base64 in mailbox name\r\n');
    assert.equal(await c.cmd('LIST "" !#$&\'+,-.0123456789:;<=>?@^_`|[}%*', 'b'), 'b OK LIST completed\r\n');
    assert.equal(await c.cmd('SELECT a[b', 'c'), 'c NO [NONEXISTENT] Mailbox does not exist\r\n');
    assert.match(await c.cmd('CREATE a[b]c[d', 'd'), /^d OK/);
    assert.equal(await c.cmd('LIST "" a[*', 'e'), '* LIST (\\HasNoChildren) "/" "a[b]c[d"\r\ne OK LIST completed\r\n');
    assert.match(await c.cmd('EXAMINE a[b]c[d', 'f'), /f OK \[READ-ONLY\]/);
    assert.equal(await c.cmd('LIST "" ~foo', 'g'), 'g OK LIST completed\r\n');
    // FETCH sections keep their brackets (with spaces inside); an unclosed one is still an error.
    assert.match(await c.cmd('EXAMINE INBOX', 'h'), /h OK/);
    assert.match(await c.cmd('FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject)])', 'i'), /^\* 1 FETCH \(BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: Hello there\r\n\r\n\)\r\ni OK/);
    assert.match(await c.cmd('FETCH 1 (BODY.PEEK[HEADER.FIELDS (Subject))', 'j'), /^j BAD /);
    assert.match(await c.cmd('NOOP', 'k'), /^k OK/);
    c.close();
  });
});

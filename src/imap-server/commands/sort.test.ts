/**
 * Raw-socket transcripts of SORT / UID SORT (RFC 5256, RFC 5957), ESORT, PARTIAL, SEARCHRES with SORT and
 * RETURN (UPDATE) contexts with CANCELUPDATE (RFC 5267), including bad input.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startImap } from '../../../test/imap-helpers.js';
import type { ImapFixture } from '../../../test/imap-helpers.js';

function msg(from: string, subject: string, date: string, body = 'x'): string {
  return [`From: ${from}`, 'To: list@example.org', `Subject: ${subject}`, `Date: ${date}`, '', body, ''].join('\r\n');
}

describe('SORT raw transcripts', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
    await f.append(msg('Carol <c@example.org>', 'b topic', 'Sun, 3 Jan 2021 10:00:00 +0000', 'longer body text here'));
    await f.append(msg('Zed <alice@example.org>', 'Re: a topic', 'Fri, 1 Jan 2021 10:00:00 +0000'), ['\\Seen']);
    await f.append(msg('bob@example.org', 'A topic', 'Sat, 2 Jan 2021 10:00:00 +0000'));
  });
  after(async () => {
    await f.close();
  });

  test('SORT criteria, REVERSE, UID SORT and charsets', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT INBOX');
    assert.equal(await c.cmd('SORT (SUBJECT) UTF-8 ALL', 'a'), '* SORT 2 3 1\r\na OK Sort completed\r\n');
    assert.equal(await c.cmd('SORT (DATE) US-ASCII ALL', 'b'), '* SORT 2 3 1\r\nb OK Sort completed\r\n');
    assert.equal(await c.cmd('SORT (REVERSE DATE) UTF-8 ALL', 'c'), '* SORT 1 3 2\r\nc OK Sort completed\r\n');
    assert.equal(await c.cmd('SORT (FROM) UTF-8 ALL', 'd'), '* SORT 2 3 1\r\nd OK Sort completed\r\n');
    assert.equal(await c.cmd('SORT (DISPLAYFROM) UTF-8 ALL', 'e'), '* SORT 3 1 2\r\ne OK Sort completed\r\n');
    assert.equal(await c.cmd('SORT (REVERSE SIZE) UTF-8 ALL', 'f'), '* SORT 1 2 3\r\nf OK Sort completed\r\n');
    assert.equal(await c.cmd('SORT (SUBJECT REVERSE ARRIVAL) UTF-8 ALL', 'g'), '* SORT 3 2 1\r\ng OK Sort completed\r\n');
    assert.equal(await c.cmd('UID SORT (ARRIVAL) UTF-8 UNSEEN', 'h'), '* SORT 1 3\r\nh OK Sort completed\r\n');
    assert.equal(await c.cmd('SORT (DATE) UTF-8 SUBJECT nothing-matches', 'i'), '* SORT\r\ni OK Sort completed\r\n');
    c.close();
  });

  test('ESORT RETURN options, PARTIAL and SEARCHRES', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT INBOX');
    assert.equal(await c.cmd('SORT RETURN (MIN MAX COUNT ALL) (REVERSE DATE) UTF-8 ALL', 'a'), '* ESEARCH (TAG "a") MIN 1 MAX 2 COUNT 3 ALL 1,3,2\r\na OK Sort completed\r\n');
    assert.equal(await c.cmd('UID SORT RETURN () (DATE) UTF-8 ALL', 'b'), '* ESEARCH (TAG "b") UID ALL 2:3,1\r\nb OK Sort completed\r\n');
    assert.equal(await c.cmd('SORT RETURN (PARTIAL 2:1) (DATE) UTF-8 ALL', 'c'), '* ESEARCH (TAG "c") PARTIAL (1:2 2:3)\r\nc OK Sort completed\r\n');
    assert.equal(await c.cmd('SORT RETURN (PARTIAL -1:-1) (DATE) UTF-8 ALL', 'd'), '* ESEARCH (TAG "d") PARTIAL (-1:-1 1)\r\nd OK Sort completed\r\n');
    assert.equal(await c.cmd('SEARCH RETURN (PARTIAL -2:-1) ALL', 'e'), '* ESEARCH (TAG "e") PARTIAL (-1:-2 2:3)\r\ne OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH RETURN (PARTIAL 5:9) ALL', 'f'), '* ESEARCH (TAG "f") PARTIAL (5:9 NIL)\r\nf OK Search completed\r\n');
    assert.equal(await c.cmd('SORT RETURN (SAVE) (DATE) UTF-8 FROM bob', 'g'), 'g OK Sort completed (result saved)\r\n');
    assert.equal(await c.cmd('SEARCH $', 'h'), '* SEARCH 3\r\nh OK Search completed\r\n');
    assert.equal(await c.cmd('SORT (REVERSE ARRIVAL) UTF-8 OR $ 1', 'i'), '* SORT 3 1\r\ni OK Sort completed\r\n');
    assert.equal(await c.cmd('SORT RETURN (CONTEXT) (DATE) UTF-8 ALL', 'j'), '* ESEARCH (TAG "j") ALL 2:3,1\r\nj OK Sort completed\r\n');
    c.close();
  });

  test('bad input gets BAD or NO and the connection goes on', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd('SORT (DATE) UTF-8 ALL', 'a'), /^a BAD No mailbox selected\r\n$/);
    await c.cmd('EXAMINE INBOX');
    assert.match(await c.cmd('SORT (FOO) UTF-8 ALL', 'b'), /^b BAD Unknown sort criterion FOO\r\n$/);
    assert.match(await c.cmd('SORT () UTF-8 ALL', 'c'), /^c BAD /);
    assert.match(await c.cmd('SORT (DATE REVERSE) UTF-8 ALL', 'd'), /^d BAD /);
    assert.match(await c.cmd('SORT (DATE)', 'e'), /^e BAD /);
    assert.match(await c.cmd('SORT (DATE) UTF-8', 'f'), /^f BAD Missing search criteria\r\n$/);
    assert.equal(await c.cmd('SORT (DATE) X-BOGUS-9 ALL', 'g'), 'g NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset\r\n');
    assert.match(await c.cmd('SORT RETURN (PARTIAL 1:*) (DATE) UTF-8 ALL', 'h'), /^h BAD Invalid PARTIAL range\r\n$/);
    assert.match(await c.cmd('SEARCH RETURN (PARTIAL 1) ALL', 'i'), /^i BAD Invalid PARTIAL range\r\n$/);
    assert.match(await c.cmd('SEARCH RETURN (PARTIAL -1:2) ALL', 'j'), /^j BAD Invalid PARTIAL range\r\n$/);
    assert.match(await c.cmd('SORT RETURN (BOGUS) (DATE) UTF-8 ALL', 'k'), /^k BAD Unknown search return option BOGUS\r\n$/);
    assert.match(await c.cmd('SEARCH RETURN (PARTIAL 1:2 ALL) ALL', 'k2'), /^k2 BAD PARTIAL and ALL cannot be combined\r\n$/);
    assert.equal(await c.cmd('CANCELUPDATE "nothing"', 'l'), 'l NO [NOUPDATE] Unknown search context\r\n');
    assert.match(await c.cmd('CANCELUPDATE', 'm'), /^m BAD /);
    assert.equal(await c.cmd('NOOP', 'n'), 'n OK NOOP completed\r\n');
    c.close();
  });

  test('RETURN (UPDATE) contexts report ADDTO and REMOVEFROM until CANCELUPDATE', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT INBOX');
    assert.equal(await c.cmd('SEARCH RETURN (UPDATE ALL) UNSEEN', 's1'), '* ESEARCH (TAG "s1") ALL 1,3\r\ns1 OK Search completed\r\n');
    assert.equal(await c.cmd('UID SORT RETURN (UPDATE) (REVERSE DATE) UTF-8 SEEN', 's2'), '* ESEARCH (TAG "s2") UID\r\ns2 OK Sort completed\r\n');
    const r = await c.cmd('STORE 1 +FLAGS.SILENT (\\Seen)', 'a');
    assert.match(r, /\* ESEARCH \(TAG "s1"\) REMOVEFROM \(1 1\)\r\n/);
    assert.match(r, /\* ESEARCH \(TAG "s2"\) UID ADDTO \(1 1\)\r\n/);
    assert.equal(await c.cmd('CANCELUPDATE "s2"', 'b'), 'b OK Updates cancelled\r\n');
    const r2 = await c.cmd('STORE 1 -FLAGS.SILENT (\\Seen)', 'c');
    assert.match(r2, /\* ESEARCH \(TAG "s1"\) ADDTO \(1 1\)\r\n/);
    assert.doesNotMatch(r2, /s2/);
    await f.append(msg('dan@example.org', 'new', 'Mon, 4 Jan 2021 10:00:00 +0000'));
    const r3 = await c.cmd('NOOP', 'd');
    assert.match(r3, /^\* 4 EXISTS\r\n(?:\* \d+ RECENT\r\n)?\* ESEARCH \(TAG "s1"\) ADDTO \(3 4\)\r\n/);
    await c.cmd('STORE 3 +FLAGS.SILENT (\\Deleted)', 'e');
    const r4 = await c.cmd('EXPUNGE', 'f');
    assert.match(r4, /^\* ESEARCH \(TAG "s1"\) REMOVEFROM \(2 3\)\r\n\* 3 EXPUNGE\r\n/);
    c.close();
  });

  test('a SORT context reports ADDTO in sort order during IDLE', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT INBOX');
    const first = await c.cmd('SORT RETURN (UPDATE COUNT) (REVERSE DATE) UTF-8 FROM example', 'z');
    const count = Number(/COUNT (\d+)/.exec(first)![1]);
    c.write('i IDLE\r\n');
    await c.readUntil((x) => x.includes('+ idling\r\n'));
    c.take();
    await f.append(msg('eve@example.org', 'idle', 'Tue, 5 Jan 2021 10:00:00 +0000'));
    const got = await c.readUntil((x) => x.includes('ADDTO'));
    assert.match(got, new RegExp(`\\* ${count + 1} EXISTS\\r\\n(?:\\* \\d+ RECENT\\r\\n)?\\* ESEARCH \\(TAG "z"\\) ADDTO \\(1 ${count + 1}\\)\\r\\n`));
    c.write('DONE\r\n');
    assert.match(await c.waitTagged('i'), /i OK IDLE terminated\r\n$/);
    c.close();
  });
});

describe('SORT, THREAD and SEARCH over a message another session expunged', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
    await f.append(msg('Carol <c@example.org>', 'b topic', 'Sun, 3 Jan 2021 10:00:00 +0000'));
    await f.append(msg('Zed <z@example.org>', 'a topic', 'Fri, 1 Jan 2021 10:00:00 +0000'));
    await f.append(msg('bob@example.org', 'c topic', 'Sat, 2 Jan 2021 10:00:00 +0000'));
  });
  after(async () => {
    await f.close();
  });

  test('until the expunge is announced all three answer over the same messages (RFC 2180 4.1.1, as Dovecot)', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT INBOX');
    const other = await RawClient.connect(f.port);
    await other.login();
    await other.cmd('SELECT INBOX');
    assert.match(await other.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)', 'x'), /x OK/);
    assert.match(await other.cmd('EXPUNGE', 'y'), /\* 2 EXPUNGE\r\ny OK/);
    other.close();
    assert.equal(await c.cmd('SEARCH ALL', 'a'), '* SEARCH 1 2 3\r\na OK Search completed\r\n');
    assert.equal(await c.cmd('SORT (SUBJECT) UTF-8 ALL', 'b'), '* SORT 2 1 3\r\nb OK Sort completed\r\n');
    assert.equal(await c.cmd('SORT (REVERSE DATE) UTF-8 ALL', 'c'), '* SORT 1 3 2\r\nc OK Sort completed\r\n');
    assert.equal(await c.cmd('THREAD ORDEREDSUBJECT UTF-8 ALL', 'd'), '* THREAD (2)(3)(1)\r\nd OK Thread completed\r\n');
    assert.match(await c.cmd('SORT RETURN (COUNT) (DATE) UTF-8 ALL', 'e'), /\* ESEARCH \(TAG "e"\) COUNT 3\r\n/);
    // Once told, the message is gone from all of them.
    assert.match(await c.cmd('NOOP', 'n'), /^\* 2 EXPUNGE\r\n/);
    assert.equal(await c.cmd('SEARCH ALL', 'f'), '* SEARCH 1 2\r\nf OK Search completed\r\n');
    assert.equal(await c.cmd('SORT (SUBJECT) UTF-8 ALL', 'g'), '* SORT 1 2\r\ng OK Sort completed\r\n');
    assert.equal(await c.cmd('THREAD ORDEREDSUBJECT UTF-8 ALL', 'h'), '* THREAD (2)(1)\r\nh OK Thread completed\r\n');
    c.close();
  });
});

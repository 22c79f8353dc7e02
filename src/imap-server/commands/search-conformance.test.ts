/**
 * Raw-socket transcripts of SEARCH details checked by imaptest's search-addresses and esearch-condstore
 * scripts: address headers matched in their parsed form (comments inside and after an address), the
 * CONDSTORE-enabling FETCH MODSEQ bringing HIGHESTMODSEQ, and the MODSEQ of ESEARCH MIN/MAX results.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startImap, type ImapFixture } from '../../../test/imap-helpers.js';
import { before, after } from 'node:test';

const ADDRESS_MESSAGES = [
  'From: user-from@domain.org\r\nTo: user-to@domain.org\r\n\r\nbody\r\n',
  'From: RealFrom <user-from@domain.org>\r\nTo: RealTo <user-to@domain.org>\r\n\r\nbody2\r\n',
  'From: <user-from (comment)@ (comment) domain.org>\r\nTo: <user-to@domain.org>\r\n\r\nbody3\r\n',
  'From: user-from@domain.org (RealFrom)\r\nTo: user-to@domain.org (RealTo)\r\n\r\nbody4\r\n',
  'From: user-from1@domain.org, user-from2@domain.org\r\n\r\nbody5\r\n',
  'From: RealFrom <user-from@domain.org>\r\nTo: groupname: groupuser1@domain.org, groupuser2@domain.org;,\r\n  groupname2: groupuser3@domain.org;\r\n\r\nbody6\r\n',
  'From: =?utf-8?q?Ren=C3=A9?= <rene@domain.org>\r\nTo: groupname:;\r\n\r\nbody7\r\n',
];

describe('SEARCH conformance transcripts', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
    for (const m of ADDRESS_MESSAGES) await f.append(m);
  });
  after(async () => {
    await f.close();
  });

  test('address headers match as written and as parsed addresses (comments inside or after the address)', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('EXAMINE INBOX');
    assert.equal(await c.cmd('SEARCH FROM user-from@domain.org', 'a'), '* SEARCH 1 2 3 4 6\r\na OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH FROM realfrom', 'b'), '* SEARCH 2 4 6\r\nb OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH FROM ser-fro', 'c'), '* SEARCH 1 2 3 4 5 6\r\nc OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH TO "user-to@domain.org"', 'd'), '* SEARCH 1 2 3 4\r\nd OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH FROM user-from2', 'e'), '* SEARCH 5\r\ne OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH TO groupname', 'f'), '* SEARCH 6 7\r\nf OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH TO groupuser4', 'g'), '* SEARCH\r\ng OK Search completed\r\n');
    // Encoded display names match decoded, in either form.
    assert.equal(await c.cmd('SEARCH CHARSET UTF-8 FROM "rené <rene@"', 'h'), '* SEARCH 7\r\nh OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH HEADER FROM ""', 'i'), '* SEARCH 1 2 3 4 5 6 7\r\ni OK Search completed\r\n');
    c.close();
  });

  test('FETCH MODSEQ enables CONDSTORE with HIGHESTMODSEQ once; ESEARCH MIN/MAX report their own mod-sequence', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT INBOX');
    const first = await c.cmd('FETCH 1 MODSEQ', 'a');
    const hm = /^\* OK \[HIGHESTMODSEQ (\d+)\] Highest\r\n\* 1 FETCH \(MODSEQ \(\d+\)\)\r\na OK/.exec(first);
    assert.ok(hm, first);
    assert.doesNotMatch(await c.cmd('FETCH 1 MODSEQ', 'b'), /HIGHESTMODSEQ/);
    // Change 1, 3, 2 in that order: message 3's mod-sequence lies between 1's and 2's.
    const ms: Record<number, number> = {};
    for (const n of [1, 3, 2]) {
      const r = await c.cmd(`STORE ${n} +FLAGS (\\Seen)`);
      ms[n] = Number(new RegExp(`\\* ${n} FETCH \\([^\\r\\n]*MODSEQ \\((\\d+)\\)\\)`).exec(r)![1]);
    }
    assert.ok(ms[1]! < ms[3]! && ms[3]! < ms[2]!);
    const k = 'MODSEQ "/flags/\\\\seen" all 1';
    assert.equal(await c.cmd(`SEARCH RETURN (MIN) 1:3 ${k}`, 'c'), `* ESEARCH (TAG "c") MIN 1 MODSEQ ${ms[1]}\r\nc OK Search completed\r\n`);
    assert.equal(await c.cmd(`SEARCH RETURN (MAX) 1:3 ${k}`, 'd'), `* ESEARCH (TAG "d") MAX 3 MODSEQ ${ms[3]}\r\nd OK Search completed\r\n`);
    assert.equal(await c.cmd(`SEARCH RETURN (MIN MAX) 1:3 ${k}`, 'e'), `* ESEARCH (TAG "e") MIN 1 MAX 3 MODSEQ ${ms[3]}\r\ne OK Search completed\r\n`);
    assert.equal(await c.cmd(`SEARCH RETURN () 1:3 ${k}`, 'f'), `* ESEARCH (TAG "f") ALL 1:3 MODSEQ ${ms[2]}\r\nf OK Search completed\r\n`);
    assert.equal(await c.cmd(`SEARCH RETURN (MIN COUNT) 1:3 ${k}`, 'g'), `* ESEARCH (TAG "g") MIN 1 COUNT 3 MODSEQ ${ms[2]}\r\ng OK Search completed\r\n`);
    assert.equal(await c.cmd(`SEARCH 1:3 ${k}`, 'h'), `* SEARCH 1 2 3 (MODSEQ ${ms[2]})\r\nh OK Search completed\r\n`);
    assert.equal(await c.cmd('SEARCH RETURN (MIN) MODSEQ x', 'i'), 'i BAD Invalid mod-sequence\r\n');
    assert.match(await c.cmd('NOOP', 'j'), /^j OK/);
    c.close();
  });

  test('SEARCH MODSEQ as the first CONDSTORE-enabling command sends HIGHESTMODSEQ before its result', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('EXAMINE INBOX');
    assert.match(await c.cmd('SEARCH RETURN (COUNT) MODSEQ 1', 'a'), /^\* OK \[HIGHESTMODSEQ \d+\] Highest\r\n\* ESEARCH \(TAG "a"\) COUNT 7 MODSEQ \d+\r\na OK/);
    c.close();
  });
});

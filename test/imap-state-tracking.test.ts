/**
 * What a state-tracking client (Dovecot's imaptest in load mode) checks across sessions of one mailbox,
 * each case as Dovecot answers it:
 * - the RECENT count follows expunges: a client that never fetched a message's flags only learns that an
 *   expunged message was \Recent from a new "* n RECENT" (imaptest's checkpoint compares the sum of all
 *   sessions' RECENT counts with the message count).
 * - a message whose flags another session changed and changed back is reported again (with its new MODSEQ
 *   under CONDSTORE): the client holds the MODSEQ it was last told, and imaptest's checkpoint compares the
 *   sessions' MODSEQs of each message.
 * - while another session's expunge is held back (after STORE, FETCH, SEARCH), the MODSEQs sent may be above
 *   the expunge's: the completion is preceded by a HIGHESTMODSEQ below it (RFC 7162), and the current one once
 *   the expunge is reported, so a QRESYNC client that keeps the highest MODSEQ it saw learns of the expunge
 *   when it reconnects (imaptest's qresync mode saves that value when a session ends).
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

  test('flags changed and changed back by another session: FETCH with the new MODSEQ (and without CONDSTORE)', async () => {
    const a = await RawClient.connect(f.port);
    const b = await RawClient.connect(f.port);
    const c = await RawClient.connect(f.port);
    for (const x of [a, b, c]) await x.login();
    await a.cmd('CREATE mt');
    for (let i = 1; i <= 2; i++) await a.cmd(Buffer.from(`APPEND mt (\\Seen) {${message(`m${i}`).length}+}\r\n${message(`m${i}`)}`));
    await b.cmd('ENABLE CONDSTORE');
    for (const x of [a, b, c]) await x.cmd('SELECT mt');
    await a.cmd('STORE 1 +FLAGS.SILENT (\\Flagged)');
    const back = await a.cmd('STORE 1 -FLAGS (\\Flagged)', 's2');
    const modseq = /MODSEQ \((\d+)\)/.exec(await a.cmd('FETCH 1 (MODSEQ)'))![1];
    assert.match(back, /^\* 1 FETCH \(FLAGS \(\\Seen \\Recent\)\)\r\ns2 OK /);
    assert.equal(await b.cmd('NOOP', 'n1'), `* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (${modseq}))\r\nn1 OK NOOP completed\r\n`);
    assert.equal(await c.cmd('NOOP', 'n2'), '* 1 FETCH (UID 1 FLAGS (\\Seen))\r\nn2 OK NOOP completed\r\n');
    assert.equal(await b.cmd('NOOP', 'n3'), 'n3 OK NOOP completed\r\n');
    for (const x of [a, b, c]) x.close();
  });

  test('a held-back expunge: STORE and FETCH end with a HIGHESTMODSEQ below it, NOOP reports it and the current one', async () => {
    const a = await RawClient.connect(f.port);
    const b = await RawClient.connect(f.port);
    await a.login();
    await b.login();
    await a.cmd('CREATE qt');
    for (let i = 1; i <= 4; i++) await a.cmd(Buffer.from(`APPEND qt {${message(`q${i}`).length}+}\r\n${message(`q${i}`)}`));
    await a.cmd('ENABLE QRESYNC');
    const sel = await a.cmd('SELECT qt');
    const selected = Number(/HIGHESTMODSEQ (\d+)/.exec(sel)![1]);
    await b.cmd('SELECT qt');
    await b.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.cmd('EXPUNGE');
    await b.cmd('STORE 2 +FLAGS.SILENT (\\Flagged)');
    const st = await a.cmd('STORE 3 +FLAGS (\\Seen)', 's1');
    const sent = Math.max(...[...st.matchAll(/MODSEQ \((\d+)\)/g)].map((m) => Number(m[1])));
    assert.ok(sent > selected + 1, st);
    assert.doesNotMatch(st, /VANISHED|EXPUNGE/);
    assert.match(st, new RegExp(`\\r\\n\\* OK \\[HIGHESTMODSEQ ${selected}\\] Highest\\r\\ns1 OK Store completed\\r\\n$`));
    // FETCH too: the expunge is still held back.
    assert.match(await a.cmd('FETCH 4 (FLAGS)', 'f1'), new RegExp(`\\* OK \\[HIGHESTMODSEQ ${selected}\\] Highest\\r\\nf1 OK Fetch completed\\r\\n$`));
    const noop = await a.cmd('NOOP', 'n1');
    assert.match(noop, /^\* VANISHED 1\r\n/);
    assert.match(noop, new RegExp(`\\* OK \\[HIGHESTMODSEQ ${sent}\\] Highest\\r\\nn1 OK NOOP completed\\r\\n$`));
    assert.equal(await a.cmd('NOOP', 'n2'), 'n2 OK NOOP completed\r\n');
    a.close();
    b.close();
  });

  test('SEARCH while another session\'s expunge is held back ends OK [EXPUNGEISSUED]; once reported, plain OK', async () => {
    const a = await RawClient.connect(f.port);
    const b = await RawClient.connect(f.port);
    await a.login();
    await b.login();
    await a.cmd('CREATE xt');
    for (let i = 1; i <= 3; i++) await a.cmd(Buffer.from(`APPEND xt {${message(`x${i}`).length}+}\r\n${message(`x${i}`)}`));
    await a.cmd('SELECT xt');
    await b.cmd('SELECT xt');
    await b.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.cmd('EXPUNGE');
    assert.doesNotMatch(await a.cmd('FETCH 2 (FLAGS)', 'f1'), /EXPUNGE/, 'held back during FETCH');
    const held = await a.cmd('SEARCH SUBJECT x', 's1');
    assert.doesNotMatch(held, /EXPUNGE\r\n/);
    assert.match(held, /\r\ns1 OK \[EXPUNGEISSUED\] /);
    assert.match(await a.cmd('NOOP', 'n1'), /^\* 1 EXPUNGE\r\n/);
    assert.match(await a.cmd('SEARCH SUBJECT x', 's2'), /^\* SEARCH 1 2\r\ns2 OK Search completed/);
    a.close();
    b.close();
  });
});

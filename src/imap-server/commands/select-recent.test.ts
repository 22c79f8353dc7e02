/**
 * Raw-socket transcripts of \Recent for IMAP4rev1 sessions (RFC 3501 2.3.2, 6.3.2; imaptest's select
 * script): EXAMINE shows the recent messages without claiming them, SELECT claims them, STATUS counts them;
 * a read-only view also shows new arrivals that nobody has claimed as recent.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, message, startImap, type ImapFixture } from '../../../test/imap-helpers.js';

describe('\\Recent transcripts', () => {
  let f: ImapFixture;
  before(async () => {
    f = await startImap();
  });
  after(async () => {
    await f.close();
  });

  test('APPEND twice, then EXAMINE shows 2 RECENT and keeps them; SELECT takes them', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd('CREATE box'), /OK/);
    for (const s of ['one', 'two']) {
      const m = message(s);
      assert.match(await c.cmd(`APPEND box {${m.length}+}\r\n${m}`), /OK \[APPENDUID/);
    }
    const ex = await c.cmd('EXAMINE box', 'ex');
    assert.match(ex, /\* 2 EXISTS\r\n\* 2 RECENT\r\n\* OK \[UNSEEN 1\]/);
    assert.match(ex, /ex OK \[READ-ONLY\]/);
    assert.match(await c.cmd('FETCH 1:2 FLAGS', 'fl'), /\* 1 FETCH \(FLAGS \(\\Recent\)\)\r\n\* 2 FETCH \(FLAGS \(\\Recent\)\)\r\n/);
    assert.equal(await c.cmd('SEARCH RECENT', 'sr'), '* SEARCH 1 2\r\nsr OK Search completed\r\n');
    await c.cmd('CLOSE');
    assert.match(await c.cmd('STATUS box (MESSAGES RECENT)', 'st'), /\* STATUS "box" \(MESSAGES 2 RECENT 2\)\r\n/);
    // A second EXAMINE still sees them: nothing was claimed.
    assert.match(await c.cmd('EXAMINE box'), /\* 2 RECENT\r\n/);
    const sel = await c.cmd('SELECT box', 'sel');
    assert.match(sel, /\* 2 EXISTS\r\n\* 2 RECENT\r\n/);
    assert.match(sel, /sel OK \[READ-WRITE\]/);
    await c.cmd('CLOSE');
    assert.match(await c.cmd('STATUS box (RECENT)', 'st2'), /\* STATUS "box" \(RECENT 0\)\r\n/);
    assert.match(await c.cmd('EXAMINE box'), /\* 0 RECENT\r\n/);
    c.close();
  });

  test('a read-only view reports a new unclaimed arrival as RECENT; one another session claimed is not', async () => {
    const ro = await RawClient.connect(f.port);
    await ro.login();
    assert.match(await ro.cmd('CREATE box2'), /OK/);
    assert.match(await ro.cmd('EXAMINE box2'), /\* 0 EXISTS\r\n\* 0 RECENT\r\n/);
    await f.append(message('new one'), [], 'box2');
    assert.match(await ro.cmd('NOOP', 'n1'), /\* 1 EXISTS\r\n\* 1 RECENT\r\nn1 OK/);
    // Another session selects (claims) it, then a second message arrives: only that one is recent here.
    const rw = await RawClient.connect(f.port);
    await rw.login();
    assert.match(await rw.cmd('SELECT box2'), /\* 1 RECENT\r\n/);
    await f.append(message('newer'), [], 'box2');
    assert.match(await rw.cmd('NOOP', 'n2'), /\* 2 EXISTS\r\n\* 2 RECENT\r\nn2 OK/);
    // The first stays recent in this view (it was when the view learned of it), the second is not.
    assert.match(await ro.cmd('NOOP', 'n3'), /\* 2 EXISTS\r\n\* 1 RECENT\r\nn3 OK/);
    assert.equal(await ro.cmd('SEARCH RECENT', 'n4'), '* SEARCH 1\r\nn4 OK Search completed\r\n');
    rw.close();
    ro.close();
  });

  /** A logged-in session with `box` created and selected (after ENABLE when `enable` is given); SELECT's answer. */
  async function selecting(box: string, enable?: string): Promise<{ c: RawClient; sel: string }> {
    const c = await RawClient.connect(f.port);
    await c.login();
    if (enable) assert.match(await c.cmd(`ENABLE ${enable}`), /OK/);
    assert.match(await c.cmd(`CREATE ${box}`), /OK/);
    return { c, sel: await c.cmd(`SELECT ${box}`) };
  }

  test('APPEND into the selected mailbox makes the new message, and earlier unclaimed ones, recent there alone', async () => {
    const { c, sel } = await selecting('box3');
    assert.match(sel, /\* 0 EXISTS\r\n\* 0 RECENT\r\n/);
    await f.append(message('delivered'), [], 'box3');
    const m = message('appended');
    assert.match(await c.cmd(`APPEND box3 {${m.length}+}\r\n${m}`, 'ap'), /\* 2 EXISTS\r\n\* 2 RECENT\r\nap OK \[APPENDUID \d+ 2\]/);
    assert.match(await c.cmd('FETCH 1:2 FLAGS', 'fl'), /\* 1 FETCH \(FLAGS \(\\Recent\)\)\r\n\* 2 FETCH \(FLAGS \(\\Recent\)\)\r\n/);
    // Claimed: another session sees neither as recent, and a later arrival is claimed by the next refresh.
    const other = await RawClient.connect(f.port);
    await other.login();
    assert.match(await other.cmd('EXAMINE box3'), /\* 2 EXISTS\r\n\* 0 RECENT\r\n/);
    await f.append(message('later'), [], 'box3');
    assert.match(await c.cmd('NOOP', 'n1'), /\* 3 EXISTS\r\n\* 3 RECENT\r\nn1 OK/);
    assert.match(await other.cmd('NOOP', 'n2'), /\* 3 EXISTS\r\n\* 0 RECENT\r\nn2 OK/);
    // APPEND into another mailbox claims nothing for this view.
    assert.match(await c.cmd('CREATE box4'), /OK/);
    assert.match(await c.cmd(`APPEND box4 {${m.length}+}\r\n${m}`), /OK \[APPENDUID/);
    assert.match(await other.cmd('SELECT box4'), /\* 1 EXISTS\r\n\* 1 RECENT\r\n/);
    other.close();
    c.close();
  });

  test('an IMAP4rev2 session appending into its selected mailbox claims nothing', async () => {
    const { c, sel } = await selecting('box5', 'IMAP4rev2');
    assert.match(sel, /\* 0 EXISTS\r\n/);
    const m = message('rev2');
    const ap = await c.cmd(`APPEND box5 {${m.length}+}\r\n${m}`, 'ap');
    assert.match(ap, /\* 1 EXISTS\r\nap OK/);
    assert.doesNotMatch(ap, /RECENT/);
    const other = await RawClient.connect(f.port);
    await other.login();
    assert.match(await other.cmd('SELECT box5'), /\* 1 EXISTS\r\n\* 1 RECENT\r\n/);
    other.close();
    c.close();
  });
});

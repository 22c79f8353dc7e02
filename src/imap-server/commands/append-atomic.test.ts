/**
 * MULTIAPPEND (RFC 3502) is one store transaction, seen from another session: when the third message is
 * refused (by the store: a date past year 9999, the quota; on the wire: a literal over APPENDLIMIT, a
 * CATENATE over it, a malformed date) the answer is a tagged NO or BAD, the mailbox and its UIDNEXT are
 * as before, and a session IDLE in it hears nothing at all (no EXISTS, no EXPUNGE). A good batch, CATENATE
 * parts included, answers APPENDUID with the UID range (RFC 4315) and the IDLE session hears one EXISTS.
 * More messages than one transaction may hold: NO [LIMIT], nothing stored.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_APPEND_BATCH } from '../../store/append-check.js';
import { RawClient, startImap, useTranscriptImap } from '../../../test/imap-helpers.js';

const lit = (s: string): string => `{${Buffer.byteLength(s)}+}\r\n${s}`;
const msg = (n: number): string => lit(`Subject: batch ${n}\r\n\r\nbody ${n}\r\n`);

/** A second session, IDLE in `mailbox`, with the UIDNEXT its SELECT reported. */
async function idleIn(port: number, mailbox: string): Promise<{ c: RawClient; uidNext: number }> {
  const c = await RawClient.connect(port);
  await c.login();
  const sel = await c.cmd(`SELECT ${mailbox}`);
  const uidNext = Number(/\[UIDNEXT (\d+)\]/.exec(sel)![1]);
  c.write('i IDLE\r\n');
  await c.readUntil((s) => s.includes('+ idling\r\n'));
  c.take();
  return { c, uidNext };
}

/** Ends the IDLE once `until` was heard; returns everything the session heard up to the tagged OK. */
async function heardUntil(c: RawClient, until: RegExp): Promise<string> {
  await c.readUntil((s) => until.test(s));
  c.write('DONE\r\n');
  return c.waitTagged('i');
}

describe('MULTIAPPEND all or nothing, seen from an IDLE session', () => {
  const f = useTranscriptImap();

  test('a refused third message: tagged NO or BAD, mailbox and UIDNEXT unchanged, no EXISTS or EXPUNGE elsewhere', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const watcher = await idleIn(f.port, 'Archive');
    const two = `${msg(1)} ${msg(2)}`;
    // Refused by the store (a date-time that is past the year 9999 in UTC): nothing stored before it.
    assert.match(await c.cmd(`APPEND Archive ${two} "31-Dec-9999 23:59:59 -2359" ${msg(3)}`, 'a'), /^a NO \[CANNOT\] internal date outside/);
    // The quota counts the whole batch: two more messages fit, three do not.
    const used = (await f.store.quota.usage(f.user.id)).messages;
    await f.store.quota.setLimits(f.user.id, { messages: used + 2 });
    try {
      assert.equal(await c.cmd(`APPEND Archive ${two} ${msg(3)}`, 'b'), 'b NO [OVERQUOTA] Quota exceeded\r\n');
    } finally {
      await f.store.quota.setLimits(f.user.id, { messages: null });
    }
    // Refused on the wire: a synchronizing literal over APPENDLIMIT, a CATENATE that grows over it, a bad date.
    c.write(`c APPEND Archive ${two} {20000}\r\n`);
    assert.equal(await c.waitTagged('c'), 'c NO [TOOBIG] Literal of 20000 octets exceeds the limit of 10000\r\n');
    const half = lit('x'.repeat(6000));
    assert.equal(await c.cmd(`APPEND Archive ${two} CATENATE (TEXT ${half} TEXT ${half})`, 'd'), 'd NO [TOOBIG] Message too large\r\n');
    assert.equal(await c.cmd(`APPEND Archive ${two} "32-Jan-2020 10:00:00 +0000" ${msg(3)}`, 'e'), 'e BAD Invalid date-time\r\n');
    assert.match(await c.cmd('STATUS Archive (MESSAGES UIDNEXT)', 'f'), new RegExp(`\\(MESSAGES 0 UIDNEXT ${watcher.uidNext}\\)`));
    // The next append takes the next UID; it is all the IDLE session ever hears of.
    assert.match(await c.cmd(`APPEND Archive ${msg(4)}`, 'g'), new RegExp(`^g OK \\[APPENDUID \\d+ ${watcher.uidNext}\\] `));
    const heard = await heardUntil(watcher.c, /EXISTS/);
    assert.equal(heard, '* 1 EXISTS\r\n* 1 RECENT\r\ni OK IDLE terminated\r\n');
    c.close();
    watcher.c.close();
  });

  test('a good batch with CATENATE parts: APPENDUID with the UID range, one EXISTS in the IDLE session', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    const watcher = await idleIn(f.port, 'Drafts');
    const first = watcher.uidNext;
    const r = await c.cmd(`APPEND Drafts (\\Seen) ${msg(1)} ${msg(2)} CATENATE (URL "/INBOX/;UID=1/;SECTION=HEADER" TEXT ${lit('joined\r\n')})`, 'a');
    const drafts = (await f.store.mail.getMailbox(f.user.id, 'Drafts'))!;
    assert.equal(r, `a OK [APPENDUID ${drafts.uidValidity} ${first}:${first + 2}] Append completed\r\n`);
    const heard = await heardUntil(watcher.c, /EXISTS/);
    assert.equal(heard, '* 3 EXISTS\r\n* 3 RECENT\r\ni OK IDLE terminated\r\n');
    const list = await f.store.mail.listMessages(drafts.id);
    assert.deepEqual(
      list.map((m) => [m.uid, m.modseq === list[0]!.modseq, m.flags.includes('\\Seen')]),
      [
        [first, true, true],
        [first + 1, true, false],
        [first + 2, true, false],
      ],
    );
    const joined = (await f.store.mail.readBytes(drafts.id, first + 2)).toString('latin1');
    assert.ok(joined.endsWith('\r\n\r\njoined\r\n') && joined.startsWith('From: '), joined);
    c.close();
    watcher.c.close();
  });

  test('more messages than one batch may hold: NO [LIMIT], nothing stored, the session goes on', async () => {
    const g = await startImap();
    try {
      const c = await RawClient.connect(g.port);
      await c.login();
      const one = ' {1+}\r\nx';
      assert.equal(await c.cmd(`APPEND INBOX${one.repeat(MAX_APPEND_BATCH + 1)}`, 'a'), `a NO [LIMIT] At most ${MAX_APPEND_BATCH} messages in one APPEND\r\n`);
      assert.match(await c.cmd('STATUS INBOX (MESSAGES UIDNEXT)', 'b'), /\(MESSAGES 0 UIDNEXT 1\)/);
      c.close();
    } finally {
      await g.close();
    }
  });
});

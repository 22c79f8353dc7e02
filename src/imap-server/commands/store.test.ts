/**
 * STORE grammar table tests and the STORE/CONDSTORE raw-socket transcripts.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError } from '../../imap/grammar/args.js';
import { parseSequenceSet } from '../../imap/grammar/sequence.js';
import { args } from './testing/grammar.js';
import { parseStore } from './store.js';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';
import { MAX_KEYWORDS_PER_MESSAGE } from '../../store/flags.js';

describe('STORE grammar', () => {
  test('STORE', () => {
    const s = parseStore(args('1:3 (UNCHANGEDSINCE 5) -FLAGS.SILENT (\\Seen \\Deleted)'));
    assert.deepEqual(s, { set: parseSequenceSet('1:3'), unchangedSince: 5, op: 'remove', silent: true, flags: ['\\Seen', '\\Deleted'] });
    assert.throws(() => parseStore(args('1 FLAGZ (\\Seen)')), ParseError);
  });
});

describe('STORE raw transcripts', () => {
  const f = useTranscriptImap(async (fx) => {
    // An earlier session selected INBOX when these ran after the other transcripts: \Recent is claimed.
    await fx.store.mail.claimRecent(fx.inbox.id);
  });

  test('STORE variants and CONDSTORE UNCHANGEDSINCE / MODIFIED', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT INBOX');
    // A new keyword first updates FLAGS and PERMANENTFLAGS (as Dovecot does).
    assert.equal(
      await c.cmd('STORE 2 +FLAGS (\\Answered $Custom)', 'nk'),
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Custom $Label)\r\n' +
        '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Custom $Label \\*)] Flags permitted.\r\n' +
        '* 2 FETCH (FLAGS (\\Answered $Custom))\r\nnk OK Store completed\r\n',
    );
    assert.match(await c.cmd('UID STORE 2 -FLAGS ($Custom)'), /^\* 2 FETCH \(UID 2 FLAGS \(\\Answered\)\)\r\n/);
    assert.equal(await c.cmd('STORE 2 FLAGS.SILENT (\\Answered \\Draft)', 's'), 's OK Store completed\r\n');
    await c.cmd('ENABLE CONDSTORE');
    const m = /MODSEQ \((\d+)\)/.exec(await c.cmd('FETCH 2 MODSEQ'));
    assert.ok(m);
    const modseq = Number(m[1]);
    const ok = await c.cmd(`STORE 2 (UNCHANGEDSINCE ${modseq}) +FLAGS (\\Flagged)`);
    assert.match(ok, /^\* 2 FETCH \(FLAGS \(\\Answered \\Flagged \\Draft\) MODSEQ \((\d+)\)\)\r\n/);
    const r = await c.cmd(`STORE 2 (UNCHANGEDSINCE ${modseq}) -FLAGS (\\Flagged)`, 'u');
    assert.equal(r, 'u OK [MODIFIED 2] Conditional STORE failed\r\n');
    assert.match(await c.cmd('SEARCH MODSEQ 1'), /^\* SEARCH 1 2 3 \(MODSEQ \d+\)\r\n/);
    c.close();
  });

  test('a change made elsewhere just before the session\'s own STORE is still reported after it', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT INBOX');
    // Another session's change takes the next MODSEQ; this session's STORE gets the one after it.
    await f.store.mail.storeFlags(f.inbox.id, [1], { op: 'add', flags: ['\\Draft'] });
    assert.equal(await c.cmd('STORE 3 +FLAGS.SILENT (\\Answered)', 'o'), '* 1 FETCH (UID 1 FLAGS (\\Seen \\Draft))\r\no OK Store completed\r\n');
    // Its own STORE right after what it has seen: nothing else to report, now or at the next command.
    assert.equal(await c.cmd('STORE 3 -FLAGS.SILENT (\\Answered)', 'p'), 'p OK Store completed\r\n');
    assert.equal(await c.cmd('NOOP', 'n'), 'n OK NOOP completed\r\n');
    await f.store.mail.storeFlags(f.inbox.id, [1], { op: 'remove', flags: ['\\Draft'] });
    assert.equal(await c.cmd('NOOP', 'q'), '* 1 FETCH (UID 1 FLAGS (\\Seen))\r\nq OK NOOP completed\r\n');
    c.close();
  });

  test('more keywords than a message may hold: NO [LIMIT] (RFC 5530), nothing changed', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('CREATE kw');
    const kws = (from: number, to: number): string => Array.from({ length: to - from }, (_, i) => `k${from + i}`).join(' ');
    const limit = `More than ${MAX_KEYWORDS_PER_MESSAGE} keywords on one message`;
    assert.equal(await c.cmd(`APPEND kw (${kws(0, MAX_KEYWORDS_PER_MESSAGE + 1)}) {3+}\r\nx\r\n`, 'a'), `a NO [LIMIT] ${limit}\r\n`);
    assert.match(await c.cmd(`APPEND kw (${kws(0, MAX_KEYWORDS_PER_MESSAGE)}) {3+}\r\nx\r\n`, 'b'), /^b OK \[APPENDUID \d+ 1\]/);
    await c.cmd('SELECT kw');
    // one more than the message has room for, by adding or by replacing
    assert.equal(await c.cmd('STORE 1 +FLAGS (extra)', 'c'), `c NO [LIMIT] ${limit}\r\n`);
    assert.equal(await c.cmd(`STORE 1 FLAGS (${kws(100, 101 + MAX_KEYWORDS_PER_MESSAGE)})`, 'd'), `d NO [LIMIT] ${limit}\r\n`);
    const flags = await c.cmd('FETCH 1 FLAGS', 'e');
    assert.ok(flags.includes(` k${MAX_KEYWORDS_PER_MESSAGE - 1} `) && !/extra|k100/.test(flags), flags);
    // within the limit it goes on working
    assert.match(await c.cmd('STORE 1 -FLAGS (k0)', 'g'), /g OK Store completed/);
    assert.match(await c.cmd('STORE 1 +FLAGS (extra)', 'h'), /\* 1 FETCH \(FLAGS \(k1 .* extra \\Recent\)\)\r\nh OK Store completed/);
    c.close();
  });

  test('STORE with the mailbox EXAMINEd: NO [CANNOT], no flag and no keyword changes; a bad sequence number stays BAD', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('CREATE ro');
    assert.match(await c.cmd('APPEND ro (\\Flagged) {3+}\r\nx\r\n'), /OK \[APPENDUID/);
    await c.cmd('ENABLE CONDSTORE');
    const ex = await c.cmd('EXAMINE ro', 'x');
    assert.match(ex, /\* OK \[PERMANENTFLAGS \(\)\] Read-only mailbox\.\r\n/);
    const modseq = /HIGHESTMODSEQ (\d+)/.exec(ex)![1];
    for (const cmd of ['STORE 1 +FLAGS (\\Deleted)', 'STORE 1 -FLAGS.SILENT (\\Flagged)', 'STORE 1 FLAGS (newkw)', 'UID STORE 1:* +FLAGS (\\Seen)', 'STORE 1 (UNCHANGEDSINCE 999) +FLAGS (\\Answered)']) {
      assert.equal(await c.cmd(cmd, 'a'), 'a NO [CANNOT] Mailbox is read-only\r\n', cmd);
    }
    assert.equal(await c.cmd('STORE 2 +FLAGS (\\Seen)', 'b'), 'b BAD Invalid messageset\r\n');
    assert.equal(await c.cmd('FETCH 1 (FLAGS MODSEQ)', 'c'), `* 1 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ (${modseq}))\r\nc OK Fetch completed\r\n`);
    // from a read-write session: the same flags, the same HIGHESTMODSEQ, no new keyword in FLAGS
    const sel = await c.cmd('SELECT ro', 'd');
    assert.match(sel, /^\* FLAGS \(\\Answered \\Flagged \\Deleted \\Seen \\Draft\)\r\n/);
    assert.match(sel, new RegExp(`HIGHESTMODSEQ ${modseq}\\]`));
    assert.match(await c.cmd('FETCH 1 FLAGS', 'e'), /^\* 1 FETCH \(FLAGS \(\\Flagged \\Recent\)\)/);
    c.close();
  });
});

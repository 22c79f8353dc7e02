/**
 * Raw-socket transcripts of GETMETADATA and SETMETADATA (RFC 5464): server and mailbox entries, DEPTH,
 * MAXSIZE with LONGENTRIES, NIL for entries without a value, removal by NIL, literals and literal8 values,
 * the MAXSIZE and TOOMANY limits, NONEXISTENT, and BAD for malformed commands (the connection goes on).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, startImap, useTranscriptImap } from '../../../test/imap-helpers.js';
import { METADATA_LIMITS } from './metadata.js';

describe('GETMETADATA and SETMETADATA raw transcripts', () => {
  const f = useTranscriptImap();

  test('capabilities, set and get on a mailbox and the server, DEPTH, MAXSIZE, NIL', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd('CAPABILITY', 'cap'), / METADATA METADATA-SERVER[ \r]/);
    assert.equal(await c.cmd('GETMETADATA INBOX /private/comment', 'g0'), '* METADATA INBOX (/private/comment NIL)\r\ng0 OK Getmetadata completed\r\n');
    assert.equal(
      await c.cmd('SETMETADATA INBOX (/private/Comment "My comment" /shared/comment "Its sunny outside!" /private/comment/sub "s" /private/comment/sub/deep "d")', 's1'),
      's1 OK Setmetadata completed\r\n',
    );
    assert.equal(
      await c.cmd('GETMETADATA INBOX (/private/comment /shared/comment)', 'g1'),
      '* METADATA INBOX (/private/comment "My comment" /shared/comment "Its sunny outside!")\r\ng1 OK Getmetadata completed\r\n',
    );
    assert.equal(
      await c.cmd('GETMETADATA (DEPTH 1) INBOX /private/comment', 'g2'),
      '* METADATA INBOX (/private/comment "My comment" /private/comment/sub "s")\r\ng2 OK Getmetadata completed\r\n',
    );
    assert.equal(
      await c.cmd('GETMETADATA (DEPTH infinity MAXSIZE 5) INBOX (/private)', 'g3'),
      '* METADATA INBOX (/private/comment/sub "s" /private/comment/sub/deep "d")\r\ng3 OK [METADATA LONGENTRIES 10] Getmetadata completed\r\n',
    );
    // Server entries (empty mailbox name), a literal value, and a binary one sent back as literal8.
    assert.equal(await c.cmd('SETMETADATA "" (/shared/motd {5+}\r\nhello /private/bin ~{3+}\r\na\x00b)', 's2'), 's2 OK Setmetadata completed\r\n');
    assert.equal(
      await c.cmd('GETMETADATA "" (/shared/motd /private/bin /private/comment)', 'g4'),
      '* METADATA "" (/shared/motd "hello" /private/bin ~{3}\r\na\x00b /private/comment NIL)\r\ng4 OK Getmetadata completed\r\n',
    );
    assert.equal(await c.cmd('GETMETADATA (DEPTH 1) INBOX /private/none', 'g6'), 'g6 OK Getmetadata completed\r\n');
    // NIL removes.
    assert.equal(await c.cmd('SETMETADATA INBOX (/private/comment NIL /private/missing NIL)', 's3'), 's3 OK Setmetadata completed\r\n');
    assert.equal(await c.cmd('GETMETADATA INBOX /private/comment', 'g5'), '* METADATA INBOX (/private/comment NIL)\r\ng5 OK Getmetadata completed\r\n');
    c.close();
  });

  test('limits, NONEXISTENT and malformed commands', async () => {
    // Room for a value over the limit and a thousand entries in one command.
    const g = await startImap({ appendLimit: 1_000_000, maxLineLength: 100_000 });
    const c = await RawClient.connect(g.port);
    await c.login();
    const big = METADATA_LIMITS.maxValueSize + 1;
    assert.equal(
      await c.cmd(Buffer.concat([Buffer.from(`SETMETADATA INBOX (/private/big {${big}+}\r\n`), Buffer.alloc(big, 'x'), Buffer.from(')')]), 'm1'),
      `m1 NO [METADATA MAXSIZE ${METADATA_LIMITS.maxValueSize}] Metadata value too large\r\n`,
    );
    const many = Array.from({ length: METADATA_LIMITS.maxEntries + 1 }, (_, i) => `/private/e${i} "v"`).join(' ');
    assert.equal(await c.cmd(`SETMETADATA INBOX (${many})`, 'm2'), 'm2 NO [METADATA TOOMANY] Too many metadata entries\r\n');
    assert.equal(await c.cmd('GETMETADATA INBOX /private/e1', 'm3'), '* METADATA INBOX (/private/e1 NIL)\r\nm3 OK Getmetadata completed\r\n');
    assert.equal(await c.cmd('GETMETADATA Nope /private/comment', 'n1'), 'n1 NO [NONEXISTENT] Mailbox does not exist\r\n');
    assert.equal(await c.cmd('SETMETADATA Nope (/private/comment "x")', 'n2'), 'n2 NO [NONEXISTENT] Mailbox does not exist\r\n');
    for (const [tag, cmd] of [
      ['b1', 'GETMETADATA INBOX /comment'],
      ['b2', 'GETMETADATA INBOX /private/a*'],
      ['b3', 'GETMETADATA INBOX /private//a'],
      ['b4', 'GETMETADATA (DEPTH 2) INBOX /private/a'],
      ['b5', 'GETMETADATA (FOO 1) INBOX /private/a'],
      ['b6', 'GETMETADATA INBOX'],
      ['b7', 'SETMETADATA INBOX (/private/a)'],
      ['b8', 'SETMETADATA INBOX (/private "x")'],
      ['b9', 'SETMETADATA INBOX (/private/a/ "x")'],
      ['b10', 'SETMETADATA INBOX (/private/a value)'],
      ['b11', 'SETMETADATA INBOX /private/a "x"'],
    ] as const) {
      assert.match(await c.cmd(cmd, tag), new RegExp(`^${tag} BAD `), cmd);
    }
    assert.equal(await c.cmd('NOOP', 'z'), 'z OK NOOP completed\r\n');
    c.close();
    await g.close();
  });
});

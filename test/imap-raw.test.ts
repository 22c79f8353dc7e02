/**
 * Raw-socket transcripts of what no single command owns: the dispatcher's BAD paths (state checks,
 * unknown commands, malformed input), the connection's line and literal limits and pipelining. Each
 * command's own transcripts live beside it in src/imap-server/commands/.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, message, useTranscriptImap } from './imap-helpers.js';

describe('IMAP raw transcripts', () => {
  const f = useTranscriptImap();

  test('state checks, unknown commands and malformed input get BAD with a reason', async () => {
    const c = await RawClient.connect(f.port);
    assert.equal(await c.cmd('SELECT INBOX', 'a'), 'a BAD Please authenticate first\r\n');
    assert.equal(await c.cmd('FROB', 'b'), 'b BAD Unknown command FROB\r\n');
    assert.equal(await c.cmd('LOGIN "unterminated', 'c'), 'c BAD Error in IMAP command: Unterminated quoted string\r\n');
    assert.equal(await c.cmd('LOGIN onlyuser', 'd'), 'd BAD Missing password\r\n');
    await c.login();
    assert.equal(await c.cmd('FETCH 1 FLAGS', 'e'), 'e BAD No mailbox selected\r\n');
    await c.cmd('SELECT INBOX');
    assert.equal(await c.cmd('FETCH 99 FLAGS', 'f'), 'f BAD Invalid messageset\r\n');
    assert.equal(await c.cmd('FETCH 1 (FLAGS BOGUS)', 'g'), 'g BAD Unknown fetch attribute BOGUS\r\n');
    assert.equal(await c.cmd('STORE 1 FLAGZ (\\Seen)', 'h'), 'h BAD Invalid STORE data item FLAGZ\r\n');
    assert.equal(await c.cmd('SEARCH FOO', 'i'), 'i BAD Unknown search key FOO\r\n');
    c.write('\r\n');
    assert.equal(await c.readUntil((s) => s.endsWith('\r\n')), '* BAD Empty command line\r\n');
    c.take();
    c.write('+bad NOOP\r\n');
    assert.equal(await c.readUntil((s) => s.endsWith('\r\n')), '* BAD Invalid tag\r\n');
    c.take();
    // The connection survives all of that.
    assert.equal(await c.cmd('NOOP', 'z'), 'z OK NOOP completed\r\n');
    c.close();
  });

  test('line too long: BAD, and the connection resyncs', async () => {
    const c = await RawClient.connect(f.port);
    c.write(`x1 LOGIN ${'a'.repeat(5000)} b\r\n`);
    assert.equal(await c.waitTagged('x1'), 'x1 BAD Command line too long\r\n');
    assert.equal(await c.cmd('NOOP', 'x2'), 'x2 OK NOOP completed\r\n');
    c.close();
  });

  test('synchronizing literal over the limit: NO [TOOBIG] before it is sent; LITERAL+ over it: BYE', async () => {
    const c = await RawClient.connect(f.port);
    // Before login the cap is small (8 KiB): only LOGIN/AUTHENTICATE arguments travel as literals then.
    c.write('p1 LOGIN {9000}\r\n');
    assert.equal(await c.waitTagged('p1'), 'p1 NO [TOOBIG] Literal of 9000 octets exceeds the limit of 8192\r\n');
    await c.login();
    c.write('a1 APPEND INBOX {20000}\r\n');
    assert.equal(await c.waitTagged('a1'), 'a1 NO [TOOBIG] Literal of 20000 octets exceeds the limit of 10000\r\n');
    assert.equal(await c.cmd('NOOP', 'a2'), 'a2 OK NOOP completed\r\n');
    c.write('a3 APPEND INBOX {20000+}\r\n');
    const bye = await c.readUntil((s) => s.includes('* BYE'));
    assert.match(bye, /^\* BYE literal of 20000 octets exceeds the limit\r\n/);
    // The server closes the connection after the BYE.
    await c.readUntil(() => c.closed).catch(() => undefined);
    assert.ok(c.closed, 'connection closed by the server after BYE');
    c.close();
  });

  test("pipelined: no EXPUNGE after 'uses' commands; a 'breaks' command sends its own, then the pending ones", async () => {
    const mb = await f.store.mail.createMailbox(f.user.id, 'Pipe');
    const m1 = await f.append(message('p1'), ['\\Deleted'], 'Pipe');
    await f.append(message('p2'), [], 'Pipe');
    await f.append(message('p3'), ['\\Deleted'], 'Pipe');
    await f.append(message('p4'), [], 'Pipe');
    const c = await RawClient.connect(f.port);
    await c.login();
    await c.cmd('SELECT Pipe');
    // Another session expunges message 1; this session learns of it after its next command.
    await f.store.mail.expunge(mb.id, [m1.uid]);
    c.write('q1 FETCH 1:* (UID)\r\nq2 SEARCH ALL\r\nq3 EXPUNGE\r\nq4 FETCH 1:* (UID)\r\nq5 NOOP\r\n');
    const all = await c.readUntil((s) => s.includes('q5 OK'));
    assert.equal(
      all,
      '* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\n* 4 FETCH (UID 4)\r\nq1 OK Fetch completed\r\n' +
        // FETCH and SEARCH use sequence numbers: message 1's EXPUNGE is held back after both (SEARCH says so: EXPUNGEISSUED).
        '* SEARCH 1 2 3 4\r\nq2 OK [EXPUNGEISSUED] Search completed\r\n' +
        // EXPUNGE breaks them: its own EXPUNGE first, then the pending one, before its completion.
        '* 3 EXPUNGE\r\n* 1 EXPUNGE\r\n* 2 RECENT\r\nq3 OK Expunge completed\r\n' +
        '* 1 FETCH (UID 2)\r\n* 2 FETCH (UID 4)\r\nq4 OK Fetch completed\r\n' +
        'q5 OK NOOP completed\r\n',
    );
    c.close();
  });

  test('pipelined commands are answered in order', async () => {
    const c = await RawClient.connect(f.port);
    c.write('p1 NOOP\r\np2 LOGIN alice@example.org "correct horse"\r\np3 EXAMINE INBOX\r\np4 FETCH 1 UID\r\np5 LOGOUT\r\n');
    const all = await c.readUntil((s) => s.includes('p5 OK'));
    const tags = [...all.matchAll(/^(p\d) (OK|NO|BAD)/gm)].map((m) => m[1]);
    assert.deepEqual(tags, ['p1', 'p2', 'p3', 'p4', 'p5']);
    assert.match(all, /\* BYE Logging out\r\np5 OK Logout completed\r\n$/);
    c.close();
  });

});

/**
 * Raw-socket transcripts of non-synchronizing literals (RFC 7888): LITERAL- before login (up to 4096
 * octets; a bigger one gets BAD [TOOBIG], its octets are skipped and the connection goes on), LITERAL+
 * after login (up to APPENDLIMIT; beyond it BYE, since the octets cannot be told from commands).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { PASSWORD, RawClient, USER, useTranscriptImap } from '../../test/imap-helpers.js';

describe('LITERAL- and LITERAL+ raw transcripts', () => {
  const f = useTranscriptImap();

  test('before login: LITERAL- with its 4096-octet bound; after login: LITERAL+', async () => {
    const c = await RawClient.connect(f.port);
    const caps = await c.cmd('CAPABILITY', 'c0');
    assert.match(caps, / LITERAL- /);
    assert.doesNotMatch(caps, /LITERAL\+/);
    // 4096 octets are fine (a wrong password, answered normally).
    const pw = 'p'.repeat(4096);
    assert.match(await c.cmd(`LOGIN ${USER} {4096+}\r\n${pw}`, 'a'), /^a NO \[AUTHENTICATIONFAILED\]/);
    // 4097: refused with BAD [TOOBIG]; the octets and the rest of the command are skipped.
    c.write(`b LOGIN ${USER} {4097+}\r\n${pw}q {3+}\r\nabc\r\nc NOOP\r\n`);
    assert.equal(await c.waitTagged('c'), 'b BAD [TOOBIG] Non-synchronizing literal of 4097 octets: LITERAL- allows 4096 at most\r\nc OK NOOP completed\r\n');
    // Synchronizing literals are not bounded by LITERAL- (only by the 8 KiB pre-login cap).
    c.write(`d LOGIN ${USER} {${PASSWORD.length}}\r\n`);
    assert.equal(await c.readUntil((s) => s.endsWith('\r\n')), '+ Ready for literal data\r\n');
    c.take();
    const ok = await (c.write(`${PASSWORD}\r\n`), c.waitTagged('d'));
    assert.match(ok, /^d OK \[CAPABILITY [^\]]* LITERAL\+ /);
    assert.doesNotMatch(ok, /LITERAL-/);
    // After login a non-synchronizing literal may be larger than 4096 (up to APPENDLIMIT).
    const msg = `Subject: big\r\n\r\n${'z'.repeat(6000)}\r\n`;
    assert.match(await c.cmd(`APPEND INBOX {${msg.length}+}\r\n${msg}`, 'e'), /^e OK \[APPENDUID \d+ \d+\]/);
    c.close();
  });

  test('a refused LITERAL- literal arriving in pieces is skipped the same way; the session can log in', async () => {
    const c = await RawClient.connect(f.port);
    c.write(`a LOGIN ${USER} {5000+}\r\n`);
    for (let i = 0; i < 10; i++) c.write('x'.repeat(500));
    c.write('\r\n');
    assert.equal(await c.waitTagged('a'), 'a BAD [TOOBIG] Non-synchronizing literal of 5000 octets: LITERAL- allows 4096 at most\r\n');
    await c.login();
    assert.match(await c.cmd('NOOP', 'n'), /^n OK/);
    c.close();
  });
});

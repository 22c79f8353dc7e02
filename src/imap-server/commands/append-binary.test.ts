/**
 * Raw-socket transcript of APPEND with a literal8 holding binary content (RFC 3516 4.4; imaptest's
 * append-binary script): the binary part is stored base64-encoded, BODY[1] is that base64 text, BINARY[1]
 * and BINARY.SIZE[1] give back exactly the bytes sent; NUL in an ordinary literal is still refused.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('APPEND literal8 with binary content', () => {
  const f = useTranscriptImap();

  test('binary part stored as base64; BINARY returns the exact bytes', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd('CREATE bin'), /OK/);
    const head = 'From: user@domain.org\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n';
    const body = Buffer.from([0x00, 0x2d, 0xe4, 0x0a, 0x0d, 0x0a, 0x0a]);
    const msg = Buffer.concat([Buffer.from(head, 'latin1'), body]);
    const r = await c.cmd(Buffer.concat([Buffer.from(`APPEND bin ~{${msg.length}+}\r\n`), msg]), 'a');
    assert.match(r, /^a OK \[APPENDUID \d+ 1\] Append completed\r\n$/);
    await c.cmd('EXAMINE bin');
    assert.equal(await c.cmd('FETCH 1 (BODY.PEEK[1])', 'b'), '* 1 FETCH (BODY[1] {12}\r\nAC3kCg0KCg==)\r\nb OK Fetch completed\r\n');
    c.write('d FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])\r\n');
    const bytes = await readTaggedBytes(c, 'd');
    assert.deepEqual(bytes, Buffer.concat([Buffer.from('* 1 FETCH (BINARY.SIZE[1] 7 BINARY[1] ~{7}\r\n'), body, Buffer.from(')\r\nd OK Fetch completed\r\n')]));
    const whole = await c.cmd('FETCH 1 (BODY.PEEK[])', 'e');
    assert.match(whole, /Content-Transfer-Encoding: base64\r\n\r\nAC3kCg0KCg==\)\r\ne OK/);
    // NUL in an ordinary literal is still a syntax error; the connection goes on.
    assert.match(await c.cmd(Buffer.concat([Buffer.from(`APPEND bin {${msg.length}+}\r\n`), msg]), 'f'), /^f BAD .*NUL/);
    // Without binary parts a literal8 message is stored as sent.
    const plain = 'Subject: plain\r\n\r\nhello\r\n';
    assert.match(await c.cmd(`APPEND bin ~{${plain.length}+}\r\n${plain}`, 'g'), /^\* 2 EXISTS\r\n\* 2 RECENT\r\ng OK \[APPENDUID \d+ 2\]/);
    assert.equal(await c.cmd('FETCH 2 (BODY.PEEK[])', 'i'), `* 2 FETCH (BODY[] {${plain.length}}\r\n${plain})\r\ni OK Fetch completed\r\n`);
    c.close();
  });
});

async function readTaggedBytes(c: RawClient, tag: string): Promise<Buffer> {
  await c.readUntil((s) => s.includes(`\r\n${tag} OK`) && s.endsWith('\r\n'));
  return c.takeBytes();
}

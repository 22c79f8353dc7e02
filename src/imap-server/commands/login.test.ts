/**
 * Raw-socket transcripts of LOGIN and AUTHENTICATE (PLAIN, LOGIN, SASL-IR, cancel).
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('LOGIN and AUTHENTICATE raw transcripts', () => {
  const f = useTranscriptImap();

  test('LOGIN and AUTHENTICATE (PLAIN with SASL-IR, PLAIN with continuation, LOGIN, cancel)', async () => {
    const c = await RawClient.connect(f.port);
    assert.equal(await c.cmd('LOGIN alice@example.org wrong', 'a'), 'a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n');
    const ir = Buffer.from('\0alice@example.org\0correct horse').toString('base64');
    assert.match(await c.cmd(`AUTHENTICATE PLAIN ${ir}`, 'b'), /^b OK \[CAPABILITY IMAP4rev1 /);
    assert.equal(await c.cmd('LOGIN a b', 'c'), 'c BAD Command not permitted in this state\r\n');
    c.close();

    const d = await RawClient.connect(f.port);
    d.write('p AUTHENTICATE PLAIN\r\n');
    assert.equal(await d.readUntil((s) => s.endsWith('\r\n')), '+ \r\n');
    d.take();
    d.write(ir + '\r\n');
    assert.match(await d.waitTagged('p'), /^p OK /);
    d.close();

    const e = await RawClient.connect(f.port);
    e.write('l AUTHENTICATE LOGIN\r\n');
    assert.equal(await e.readUntil((s) => s.endsWith('\r\n')), '+ VXNlcm5hbWU6\r\n');
    e.take();
    e.write(Buffer.from('alice@example.org').toString('base64') + '\r\n');
    assert.equal(await e.readUntil((s) => s.endsWith('\r\n')), '+ UGFzc3dvcmQ6\r\n');
    e.take();
    e.write(Buffer.from('correct horse').toString('base64') + '\r\n');
    assert.match(await e.waitTagged('l'), /^l OK /);
    e.close();

    const g = await RawClient.connect(f.port);
    g.write('x AUTHENTICATE PLAIN\r\n');
    await g.readUntil((s) => s.startsWith('+ '));
    g.take();
    g.write('*\r\n');
    assert.equal(await g.waitTagged('x'), 'x BAD Authentication canceled\r\n');
    assert.equal(await g.cmd('AUTHENTICATE CRAM-MD5', 'y'), 'y NO [CANNOT] Unsupported authentication mechanism\r\n');
    assert.equal(await g.cmd('AUTHENTICATE PLAIN !!!!', 'z'), 'z BAD Invalid SASL PLAIN response\r\n');
    g.close();
  });
});

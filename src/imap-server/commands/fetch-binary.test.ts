/**
 * Raw-socket transcripts of FETCH BINARY of whole entities (RFC 3516 4.2): BINARY[] of a one-part base64 or
 * quoted-printable message is its header with the Content-Transfer-Encoding made "binary" and the decoded
 * body (as Dovecot 2.3 gives it, sizes checked against it in test/imap-diff-cases.ts); BINARY[n] of a
 * multipart or a message/rfc822 part has every encoded leaf inside decoded; an unknown encoding anywhere in
 * the entity is NO [UNKNOWN-CTE]; a message without encoded leaves comes back byte for byte.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';
import { NESTED as NESTED_ENCODED } from '../../../test/imap-diff-cases.js';

const B64 = 'Subject: b\r\nContent-Transfer-Encoding: base64\r\nX-After: 1\r\n\r\naGVs\r\nbG8=\r\n';
const QP = 'Subject: q\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: Quoted-Printable\r\n\r\ncaf=C3=A9 =3D x=\r\nyz\r\n';
const UNKNOWN = 'Subject: u\r\nContent-Transfer-Encoding: x-foo\r\n\r\nabc\r\n';
/** test/imap-diff-cases.ts NESTED with a third part in an encoding we do not know. */
const NESTED = NESTED_ENCODED.replace('--X--', '--X\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-foo\r\n\r\nabc\r\n--X--');
const EMPTY_B64 = 'Subject: e\r\nContent-Transfer-Encoding: base64\r\n\r\n';

describe('FETCH BINARY of a whole message, a multipart, a message/rfc822 part', () => {
  const f = useTranscriptImap();

  test('decoded bodies, rewritten encodings, UNKNOWN-CTE, stored bytes when nothing is encoded', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd('CREATE bin'), /OK/);
    for (const m of [B64, QP, UNKNOWN, NESTED, EMPTY_B64]) assert.match(await c.cmd(`APPEND bin {${m.length}+}\r\n${m}`), /OK \[APPENDUID/);
    await c.cmd('SELECT bin');

    // one-part base64: the field keeps its place, the value becomes "binary"; the body is decoded
    const b64 = 'Subject: b\r\nContent-Transfer-Encoding: binary\r\nX-After: 1\r\n\r\nhello';
    assert.equal(
      await c.cmd('FETCH 1 (BINARY.SIZE[] BINARY.PEEK[] BINARY.PEEK[]<13.100>)', 'a'),
      `* 1 FETCH (BINARY.SIZE[] ${b64.length} BINARY[] {${b64.length}}\r\n${b64} BINARY[]<13> {${b64.length - 13}}\r\n${b64.slice(13)})\r\na OK Fetch completed\r\n`,
    );
    // BINARY[1] of a one-part message is its decoded body alone
    assert.equal(await c.cmd('FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])', 'b'), '* 1 FETCH (BINARY[1] {5}\r\nhello BINARY.SIZE[1] 5)\r\nb OK Fetch completed\r\n');
    // quoted-printable (encoding name in any case, soft line break), 8-bit result without NUL: a plain literal
    const qp = 'Subject: q\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\ncaf\xc3\xa9 = xyz\r\n';
    assert.equal(await c.cmd('FETCH 2 BINARY.PEEK[]', 'c'), `* 2 FETCH (BINARY[] {${qp.length}}\r\n${qp})\r\nc OK Fetch completed\r\n`);
    // PEEK never sets \Seen; BINARY[] does
    assert.match(await c.cmd('FETCH 2 FLAGS', 'd'), /^\* 2 FETCH \(FLAGS \(\\Recent\)\)/);
    assert.match(await c.cmd('FETCH 2 BINARY[]', 'e'), / FLAGS \(\\Seen \\Recent\)\)\r\ne OK/);

    // an encoding we cannot decode: NO [UNKNOWN-CTE] for the whole message as for its part
    for (const item of ['BINARY.PEEK[]', 'BINARY.SIZE[]', 'BINARY.PEEK[1]']) {
      assert.equal(await c.cmd(`FETCH 3 ${item}`, 'f'), 'f NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding x-foo\r\n', item);
    }

    // a multipart part: its encoded leaves decoded, the multipart's own framing kept
    const alt = '--Y\r\nContent-Transfer-Encoding: binary\r\n\r\nhello\r\n--Y--';
    assert.equal(await c.cmd('FETCH 4 (BINARY.PEEK[1] BINARY.SIZE[1])', 'g'), `* 4 FETCH (BINARY[1] {${alt.length}}\r\n${alt} BINARY.SIZE[1] ${alt.length})\r\ng OK Fetch completed\r\n`);
    // a message/rfc822 part: the encapsulated message converted
    const inner = 'Subject: in\r\nContent-Transfer-Encoding: binary\r\n\r\na=b';
    assert.equal(await c.cmd('FETCH 4 BINARY.PEEK[2]', 'h'), `* 4 FETCH (BINARY[2] {${inner.length}}\r\n${inner})\r\nh OK Fetch completed\r\n`);
    // the whole message holds an x-foo part: refused, while its leaves alone still decode
    assert.equal(await c.cmd('FETCH 4 BINARY.SIZE[]', 'i'), 'i NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding x-foo\r\n');
    assert.equal(await c.cmd('FETCH 4 BINARY.PEEK[1.1]', 'j'), '* 4 FETCH (BINARY[1.1] {5}\r\nhello)\r\nj OK Fetch completed\r\n');

    // nothing to decode (an empty base64 body): the message as stored, encoding unchanged
    assert.equal(await c.cmd('FETCH 5 BINARY.PEEK[]', 'k'), `* 5 FETCH (BINARY[] {${EMPTY_B64.length}}\r\n${EMPTY_B64})\r\nk OK Fetch completed\r\n`);
    // BODY[] is untouched by all this
    assert.equal(await c.cmd('FETCH 1 BODY.PEEK[]', 'l'), `* 1 FETCH (BODY[] {${B64.length}}\r\n${B64})\r\nl OK Fetch completed\r\n`);
    c.close();
  });
});

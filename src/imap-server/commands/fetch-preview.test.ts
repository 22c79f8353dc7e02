/**
 * FETCH PREVIEW (RFC 8970) and SAVEDATE (RFC 8514) raw-socket transcripts, incl. bad modifiers.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError } from '../../imap/grammar/args.js';
import { parseFetch } from '../../imap/grammar/fetch.js';
import { args } from './testing/grammar.js';
import { previewOf, previewPart } from '../fetch/preview.js';
import { indexMessage } from '../../mime/index.js';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('PREVIEW grammar and text', () => {
  test('PREVIEW, PREVIEW (LAZY), bad modifiers', () => {
    assert.deepEqual(parseFetch(args('1 PREVIEW')).items, [{ kind: 'PREVIEW', lazy: false }]);
    assert.deepEqual(parseFetch(args('1 PREVIEW (LAZY)')).items, [{ kind: 'PREVIEW', lazy: true }]);
    assert.deepEqual(parseFetch(args('1 (UID PREVIEW (lazy) FLAGS)')).items, [{ kind: 'UID' }, { kind: 'PREVIEW', lazy: true }, { kind: 'FLAGS' }]);
    assert.deepEqual(parseFetch(args('1 (SAVEDATE)')).items, [{ kind: 'SAVEDATE' }]);
    for (const bad of ['1 (PREVIEW (BOGUS))', '1 (PREVIEW ())', '1 (FLAGS (LAZY))']) assert.throws(() => parseFetch(args(bad)), ParseError, bad);
  });

  test('the first text part, decoded, HTML stripped, white space collapsed, 200 characters', () => {
    const raw = Buffer.from(
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: image/png\r\n\r\nxx\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>Caf=C3=A9\r\n   <b>au</b>&amp;   lait</p><style>p{}</style>\r\n--b--\r\n',
    );
    const part = previewPart(indexMessage(raw).root)!;
    assert.equal(part.subtype, 'html');
    assert.equal(previewOf(raw.subarray(part.bodyStart, part.bodyEnd), part), 'Café au & lait');
    const long = Buffer.from(`Subject: x\r\n\r\n${'word '.repeat(100)}\r\n`);
    const p2 = previewPart(indexMessage(long).root)!;
    const text = previewOf(long.subarray(p2.bodyStart, p2.bodyEnd), p2);
    assert.ok(text.length <= 200 && text.startsWith('word word'), text);
    const attached = Buffer.from('Content-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nfile\r\n');
    assert.equal(previewPart(indexMessage(attached).root), null);
  });
});

describe('PREVIEW and SAVEDATE raw transcripts', () => {
  const f = useTranscriptImap();

  test('FETCH PREVIEW of the transcript messages; errors leave the connection usable', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd('CAPABILITY'), / PREVIEW /);
    await c.cmd('EXAMINE INBOX');
    const cafe = Buffer.from('café au lait');
    assert.equal(
      await c.cmd('FETCH 1:3 (PREVIEW)', 'a'),
      `* 1 FETCH (PREVIEW "Hello Bob, this is the body.")\r\n* 2 FETCH (PREVIEW {${cafe.length}}\r\n${cafe.toString('latin1')})\r\n* 3 FETCH (PREVIEW "third body")\r\na OK Fetch completed\r\n`,
    );
    assert.equal(await c.cmd('FETCH 3 PREVIEW (LAZY)', 'b'), '* 3 FETCH (PREVIEW "third body")\r\nb OK Fetch completed\r\n');
    assert.equal(await c.cmd('FETCH 3 (PREVIEW (FAST))', 'c'), 'c BAD Unknown PREVIEW modifier\r\n');
    assert.match(await c.cmd('NOOP', 'd'), /^d OK/);
    c.close();
  });

  test('SAVEDATE: FETCH and the SAVED* search keys; a copy is saved now, not at its internal date', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd('CAPABILITY'), / SAVEDATE /);
    const msg = 'Subject: old\r\n\r\nold\r\n';
    await c.cmd(`APPEND Archive " 1-Jan-2001 00:00:00 +0000" {${msg.length}+}\r\n${msg}`);
    await c.cmd('SELECT Archive');
    const today = new Date();
    const r = await c.cmd('FETCH 1 (INTERNALDATE SAVEDATE)', 'a');
    const m = /INTERNALDATE " 1-Jan-2001 00:00:00 \+0000" SAVEDATE "([^"]+)"\)/.exec(r);
    assert.ok(m, r);
    assert.ok(Math.abs(Date.parse(m[1]!.replace(/^ /, '').replace(/^(\d+)-(\w+)-(\d+) /, '$2 $1 $3 ')) - today.getTime()) < 120_000, m[1]);
    const day = `${today.getUTCDate()}-${['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][today.getUTCMonth()]}-${today.getUTCFullYear()}`;
    assert.equal(await c.cmd(`SEARCH SAVEDON ${day}`, 'b'), '* SEARCH 1\r\nb OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH SAVEDBEFORE 1-Jan-2002', 'c'), '* SEARCH\r\nc OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH BEFORE 1-Jan-2002', 'd'), '* SEARCH 1\r\nd OK Search completed\r\n');
    assert.equal(await c.cmd(`SEARCH SAVEDSINCE ${day} SAVEDATESUPPORTED`, 'e'), '* SEARCH 1\r\ne OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH SAVEDON 31-Foo-2020', 'f'), 'f BAD Invalid month\r\n');
    assert.match(await c.cmd('NOOP', 'g'), /^g OK/);
    c.close();
  });
});

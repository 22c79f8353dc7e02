/**
 * SEARCH OLDER / YOUNGER (RFC 5032 WITHIN) raw-socket transcripts, incl. bad intervals.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError } from '../../imap/grammar/args.js';
import { parseSearch } from '../../imap/grammar/search.js';
import { args } from './testing/grammar.js';
import { RawClient, useTranscriptImap } from '../../../test/imap-helpers.js';

describe('WITHIN grammar', () => {
  test('OLDER / YOUNGER take a positive number of seconds', () => {
    assert.deepEqual(parseSearch(args('OLDER 3600')).key, { k: 'age', op: 'older', seconds: 3600 });
    assert.deepEqual(parseSearch(args('NOT YOUNGER 5')).key, { k: 'not', key: { k: 'age', op: 'younger', seconds: 5 } });
    for (const bad of ['OLDER', 'OLDER 0', 'YOUNGER -1', 'YOUNGER abc', 'OLDER 99999999999']) assert.throws(() => parseSearch(args(bad)), ParseError, bad);
  });
});

describe('WITHIN raw transcripts', () => {
  const f = useTranscriptImap();

  test('OLDER and YOUNGER compare the internal date with now', async () => {
    const c = await RawClient.connect(f.port);
    await c.login();
    assert.match(await c.cmd('CAPABILITY'), / WITHIN /);
    const msg = 'Subject: old\r\n\r\nold\r\n';
    assert.match(await c.cmd(`APPEND INBOX " 1-Jan-2001 00:00:00 +0000" {${msg.length}+}\r\n${msg}`), /OK/);
    await c.cmd('SELECT INBOX');
    // The transcript fixture's three messages were appended just now; message 4 is from 2001.
    assert.equal(await c.cmd('SEARCH OLDER 86400', 'a'), '* SEARCH 4\r\na OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH YOUNGER 86400', 'b'), '* SEARCH 1 2 3\r\nb OK Search completed\r\n');
    assert.equal(await c.cmd('UID SEARCH RETURN (COUNT) OR OLDER 86400 YOUNGER 3600', 'c'), '* ESEARCH (TAG "c") UID COUNT 4\r\nc OK Search completed\r\n');
    assert.equal(await c.cmd('SEARCH OLDER 0', 'd'), 'd BAD Interval must be at least 1 second\r\n');
    assert.equal(await c.cmd('SEARCH YOUNGER', 'e'), 'e BAD Missing interval\r\n');
    assert.match(await c.cmd('NOOP', 'f'), /^f OK/);
    c.close();
  });
});

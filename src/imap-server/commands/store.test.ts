import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError } from '../../imap/grammar/args.js';
import { parseSequenceSet } from '../../imap/grammar/sequence.js';
import { args } from './testing/grammar.js';
import { parseStore } from './store.js';

describe('STORE grammar', () => {
  test('STORE', () => {
    const s = parseStore(args('1:3 (UNCHANGEDSINCE 5) -FLAGS.SILENT (\\Seen \\Deleted)'));
    assert.deepEqual(s, { set: parseSequenceSet('1:3'), unchangedSince: 5, op: 'remove', silent: true, flags: ['\\Seen', '\\Deleted'] });
    assert.throws(() => parseStore(args('1 FLAGZ (\\Seen)')), ParseError);
  });});

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError } from '../../imap/grammar/args.js';
import { args } from './testing/grammar.js';
import { parseAppend } from './append.js';

describe('APPEND grammar', () => {
  test('APPEND variants', () => {
    const a = parseAppend(args('Drafts (\\Seen $X) " 7-Feb-1994 21:52:25 -0800" {3}\r\nabc'));
    assert.deepEqual(a.flags, ['\\Seen', '$X']);
    assert.equal(a.date?.toISOString(), '1994-02-08T05:52:25.000Z');
    assert.equal(a.message.toString(), 'abc');
    assert.equal(parseAppend(args('INBOX UTF8 (~{2}\r\nhi)')).binary, true);
    assert.throws(() => parseAppend(args('INBOX "not a literal"')), ParseError);
  });});

/**
 * LIST pattern matching (unit and property tests) and the LIST grammar table tests.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ParseError } from '../../imap/grammar/args.js';
import { args } from './testing/grammar.js';
import { parseList, patternMatcher } from './list.js';

test('LIST wildcards: * crosses the delimiter, % does not; INBOX is case-insensitive', () => {
  const names = ['INBOX', 'INBOX/Sub', 'Sent', 'a', 'a/b', 'a/b/c', 'ab', 'x%y'];
  const hits = (p: string): string[] => names.filter(patternMatcher(p));
  assert.deepEqual(hits('*'), names);
  assert.deepEqual(hits('%'), ['INBOX', 'Sent', 'a', 'ab', 'x%y']);
  assert.deepEqual(hits('a/%'), ['a/b']);
  assert.deepEqual(hits('a*'), ['a', 'a/b', 'a/b/c', 'ab']);
  assert.deepEqual(hits('inbox/*'), ['INBOX/Sub']);
  assert.deepEqual(hits('%/%/c'), ['a/b/c']);
  assert.deepEqual(hits('S?nt'), []);
  assert.deepEqual(hits('a.b'), []);
});

test('matches the obvious regular expression on random input, and pathological patterns are linear', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[ab/*%]{0,12}$/), fc.stringMatching(/^[ab/]{0,12}$/), (p, n) => {
      const re = new RegExp('^' + p.replace(/\*/g, '.*').replace(/%/g, '[^/]*') + '$');
      assert.equal(patternMatcher(p)(n), re.test(n), `${p} ${n}`);
    }),
  );
  // A pattern that makes a backtracking regex explode is just a (pattern x name) table here.
  const evil = patternMatcher('*a'.repeat(500) + 'b');
  for (let i = 0; i < 20; i++) assert.equal(evil('a'.repeat(200)), false);
  assert.throws(() => patternMatcher('*'.repeat(2000) + 'x'.repeat(2000)), /too long/);
});

describe('LIST grammar', () => {
  test('LIST-EXTENDED', () => {
    const l = parseList(args('(SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "%") RETURN (CHILDREN STATUS (MESSAGES SIZE))'));
    assert.deepEqual(l.selection, ['SUBSCRIBED', 'RECURSIVEMATCH']);
    assert.deepEqual(l.patterns, ['INBOX', '%']);
    assert.deepEqual(l.statusItems, ['MESSAGES', 'SIZE']);
    assert.throws(() => parseList(args('(RECURSIVEMATCH) "" *')), ParseError);
  });
});

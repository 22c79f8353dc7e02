/** The benchmark's IMAP driver: FETCH items and literals found in a response. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fetchLiterals, fetchNumber } from './imap.js';

test('IMAP driver: FETCH literal extraction and numeric items', () => {
  const lits = fetchLiterals({ text: '* 1 FETCH (UID 4 BODY[HEADER.FIELDS (MESSAGE-ID)] {5} BODY[TEXT] {3} FLAGS (\\Seen))', literals: [Buffer.from('hello'), Buffer.from('abc')] });
  assert.equal(lits.get('BODY[HEADER.FIELDS (MESSAGE-ID)]')?.toString(), 'hello');
  assert.equal(lits.get('BODY[TEXT]')?.toString(), 'abc');
  assert.equal(fetchNumber('* 3 FETCH (UID 17 RFC822.SIZE 2048 FLAGS ())', 'RFC822.SIZE'), 2048);
  assert.equal(fetchNumber('* 3 FETCH (UID 17)', 'RFC822.SIZE'), null);
});

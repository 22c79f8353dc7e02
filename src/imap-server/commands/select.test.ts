import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { args } from './testing/grammar.js';
import { parseSelect } from './select.js';

describe('SELECT grammar', () => {
  test('SELECT with QRESYNC', () => {
    const s = parseSelect(args('INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 (1:5 4:8)))'));
    assert.equal(s.qresync?.uidValidity, 67890007);
    assert.equal(s.qresync?.modseq, Number.MAX_SAFE_INTEGER); // clamped: beyond any modseq the store produces
    assert.ok(s.qresync?.knownUids && s.qresync.seqMatch);
  });});

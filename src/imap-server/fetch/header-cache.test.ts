/**
 * The per-session header-slice cache: cut once, kept per session, field list and message, bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Section } from '../../imap/grammar/fetch.js';
import { HEADER_SLICES_KEPT, cachedHeaderSlice, keptHeaderSlice } from './header-cache.js';

function section(fields: string[], text: Section['text'] = 'HEADER.FIELDS'): Section {
  return { part: [], text, fields };
}

test('a slice is cut once per session, field list and message; other sessions, mailboxes and lists cut their own', () => {
  const [a, b] = [{}, {}];
  const subj = section(['Subject']);
  let cuts = 0;
  const cut = (text: string) => () => {
    cuts++;
    return Buffer.from(text);
  };
  assert.equal(keptHeaderSlice(a, 1, 5, subj), undefined);
  assert.equal(cachedHeaderSlice(a, 1, 5, subj, cut('one')).toString(), 'one');
  assert.equal(cachedHeaderSlice(a, 1, 5, subj, cut('again')).toString(), 'one');
  assert.equal(cuts, 1);
  // The same field list parsed again (another command) finds the slice: the key is the list, not the object.
  assert.equal(keptHeaderSlice(a, 1, 5, section(['SUBJECT']))?.toString(), 'one');
  assert.equal(keptHeaderSlice(a, 1, 5, section(['Subject'], 'HEADER.FIELDS.NOT')), undefined);
  assert.equal(keptHeaderSlice(a, 2, 5, subj), undefined);
  assert.equal(keptHeaderSlice(a, 1, 6, subj), undefined);
  assert.equal(keptHeaderSlice(b, 1, 5, subj), undefined);
  assert.equal(cachedHeaderSlice(b, 1, 5, subj, cut('b')).toString(), 'b');
  assert.equal(cuts, 2);
});

test(`at most ${HEADER_SLICES_KEPT} slices per session, the oldest dropped first across field lists`, () => {
  const s = {};
  const from = section(['From']);
  const to = section(['To']);
  cachedHeaderSlice(s, 1, 1, from, () => Buffer.from('first'));
  for (let uid = 1; uid < HEADER_SLICES_KEPT; uid++) cachedHeaderSlice(s, 1, uid, to, () => Buffer.from(`to ${uid}`));
  assert.equal(keptHeaderSlice(s, 1, 1, from)?.toString(), 'first');
  // One more: the oldest (the From slice, cut first) goes, the others stay.
  cachedHeaderSlice(s, 1, HEADER_SLICES_KEPT, to, () => Buffer.from('last'));
  assert.equal(keptHeaderSlice(s, 1, 1, from), undefined);
  assert.equal(keptHeaderSlice(s, 1, 1, to)?.toString(), 'to 1');
  assert.equal(keptHeaderSlice(s, 1, HEADER_SLICES_KEPT, to)?.toString(), 'last');
  // And the next one drops the oldest To slice.
  cachedHeaderSlice(s, 2, 1, from, () => Buffer.from('again'));
  assert.equal(keptHeaderSlice(s, 1, 1, to), undefined);
  assert.equal(keptHeaderSlice(s, 1, 2, to)?.toString(), 'to 2');
  assert.equal(keptHeaderSlice(s, 2, 1, from)?.toString(), 'again');
});

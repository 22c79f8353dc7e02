/**
 * Incremental sorting (sort-update.ts) gives exactly sortMessages' order after random arrivals and
 * removals, for every criterion, REVERSE and criteria lists; it declines repeated uids and big changes; and
 * memo.ts uses it once a successor is noted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sortKeysFor, type SortKeys } from './keys.js';
import { noteSuccessor, sortMessagesMemo } from './memo.js';
import { sortMessages, type SortCriterion, type SortField } from './sort.js';
import { updateSort } from './sort-update.js';
import { SortKeyTable, StringPool } from './table.js';

const FIELDS: SortField[] = ['arrival', 'sent', 'size', 'subject', 'from', 'to', 'cc', 'displayFrom', 'displayTo'];
const WORDS = ['', 'a', 'B', 'Re: b', '\u00e9', '\u{1F600}', '\uFFFD', 'zz'];

function rng(seed: number): (n: number) => number {
  let s = seed;
  return (n) => (s = (s * 1103515245 + 12345) & 0x7fffffff) % n;
}

function message(rnd: (n: number) => number, uid: number): SortKeys {
  const w = (): string => WORDS[rnd(WORDS.length)]!;
  return sortKeysFor({
    uid, internalDate: rnd(4) === 0 ? NaN : rnd(5) * 1000 + rnd(2), size: rnd(4), date: rnd(3) ? `${1 + rnd(3)} Jan 2024 00:00 +0000` : null,
    subject: w(), from: [{ name: w() || null, mailbox: w(), host: 'x' }], to: [{ name: null, mailbox: w(), host: 'x' }], cc: null,
    messageId: null, inReplyTo: null, references: null,
  });
}

test('updateSort equals a full sort after random arrivals and removals', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const rnd = rng(seed);
    const pool = new StringPool();
    const ids = new StringPool();
    const table = (rs: SortKeys[]): SortKeyTable => SortKeyTable.fromRecords(rs, pool, ids);
    let uid = 0;
    let records = Array.from({ length: 80 }, () => message(rnd, ++uid));
    const criteria: SortCriterion[] = [{ field: FIELDS[rnd(FIELDS.length)]!, reverse: rnd(2) === 0 }];
    if (rnd(2)) criteria.push({ field: FIELDS[rnd(FIELDS.length)]!, reverse: rnd(2) === 0 });
    let order = sortMessages(table(records), criteria);
    for (let step = 0; step < 5; step++) {
      const next = records.filter(() => rnd(12) !== 0);
      for (let k = rnd(6); k > 0; k--) next.push(message(rnd, ++uid));
      const after = table(next);
      const inc = updateSort(order, after, criteria);
      const full = sortMessages(after, criteria);
      assert.deepEqual(inc, full, `seed ${seed} step ${step} ${JSON.stringify(criteria)}`);
      order = full;
      records = next;
    }
  }
});

test('updateSort declines repeated uids and changes that bring mostly new rows', () => {
  const rnd = rng(5);
  const recs = Array.from({ length: 40 }, (_, i) => message(rnd, i + 1));
  const t = SortKeyTable.fromRecords(recs);
  const order = sortMessages(t, [{ field: 'subject' }]);
  assert.equal(updateSort(order, SortKeyTable.fromRecords([...recs, recs[0]!]), [{ field: 'subject' }]), null);
  assert.equal(updateSort(order, SortKeyTable.fromRecords(Array.from({ length: 40 }, (_, i) => message(rnd, i + 100))), [{ field: 'subject' }]), null);
  assert.deepEqual(updateSort([], SortKeyTable.fromRecords([]), [{ field: 'size' }]), []);
});

test('sortMessagesMemo merges into the noted predecessor\'s order and answers as a full sort', () => {
  const rnd = rng(9);
  const pool = new StringPool();
  const ids = new StringPool();
  const table = (rs: SortKeys[]): SortKeyTable => Object.freeze(SortKeyTable.fromRecords(rs, pool, ids));
  const recs = Array.from({ length: 60 }, (_, i) => message(rnd, i + 1));
  const criteria: SortCriterion[] = [{ field: 'from', reverse: true }, { field: 'arrival' }];
  const a = table(recs);
  sortMessagesMemo(a, criteria);
  const b = table([...recs.slice(3), message(rnd, 61), message(rnd, 62)]);
  noteSuccessor(a, b);
  assert.deepEqual(sortMessagesMemo(b, criteria), sortMessages(b, criteria));
  const c = table([...recs.slice(5), message(rnd, 63)]);
  noteSuccessor(b, c);
  assert.deepEqual(sortMessagesMemo(c, [{ field: 'size' }]), sortMessages(c, [{ field: 'size' }]), 'criteria never sorted before: a full sort');
  assert.deepEqual(sortMessagesMemo(c, criteria), sortMessages(c, criteria));
});

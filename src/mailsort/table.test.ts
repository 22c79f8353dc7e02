/**
 * SortKeyTable (table.ts): rows round-trip to the SortKeys they were built from; select, addRow and
 * addContent keep them; StringPool ranks are the code-point order of its strings, also when strings are
 * added after a ranking (the incremental path); sorting a table equals sorting its records.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compareCodePoints } from './casemap.js';
import { contentKeysFor, keysWithRow, sortKeysFor, type SortKeys } from './keys.js';
import { sortMessages, type SortField } from './sort.js';
import { SortKeyBuilder, SortKeyTable, StringPool } from './table.js';

function keys(uid: number, subject: string, from: string, refs: string | null = null, id: string | null = null): SortKeys {
  return sortKeysFor({
    uid, internalDate: uid * 1000, size: uid * 10, date: null, subject, from: [{ name: null, mailbox: from, host: 'example.org' }],
    to: null, cc: null, messageId: id, inReplyTo: null, references: refs,
  });
}

const RECORDS = [
  keys(5, 'Re: beta', 'carol', '<a@x> <b@x>', '<c@x>'),
  keys(2, 'alpha', 'bob', null, '<a@x>'),
  keys(9, '\u{1F600} smile', 'bob', '<a@x>', null),
  keys(9, 'dup uid', 'zed'),
];

test('rows give back the SortKeys they were built from, in order, duplicates kept', () => {
  const t = SortKeyTable.fromRecords(RECORDS);
  assert.equal(t.length, 4);
  assert.deepEqual(t.records(), RECORDS);
  assert.deepEqual([...t], RECORDS);
  assert.deepEqual(t.map((k) => k.uid), [5, 2, 9, 9]);
  assert.deepEqual(t.at(0).parents, ['a@x', 'b@x']);
  assert.equal(t.at(2).messageId, null);
  assert.equal(t.text('subject', 1), 'ALPHA');
  assert.throws(() => t.at(4), RangeError);
  assert.throws(() => t.at(-1), RangeError);
});

test('select, addRow and addContent keep rows; indexOf and hasUids on uid order', () => {
  const sorted = SortKeyTable.fromRecords([RECORDS[1]!, RECORDS[0]!, RECORDS[2]!]);
  assert.equal(sorted.indexOf(5), 1);
  assert.equal(sorted.indexOf(6), -1);
  assert.ok(sorted.hasUids([2, 5, 9]));
  assert.ok(!sorted.hasUids([2, 5]));
  assert.ok(!sorted.hasUids([2, 5, 8]));
  const sel = sorted.select([2, 0]);
  assert.deepEqual(sel.records(), [RECORDS[2], RECORDS[1]]);
  assert.equal(sel.pool, sorted.pool, 'same pools');
  const b = new SortKeyBuilder(sorted.pool, sorted.ids, 1);
  b.addRow(sorted, 1);
  b.addRow(SortKeyTable.fromRecords([RECORDS[3]!]), 0); // other pools: copied by value
  const c = contentKeysFor({ date: 'Mon, 1 Jan 2024 10:00:00 +0000', subject: 'Fwd: x', from: null, to: null, cc: null, messageId: '<m@x>', inReplyTo: '<a@x>', references: null });
  b.addContent(c, 12, new Date(NaN), 7);
  assert.deepEqual(b.build().records(), [RECORDS[0], RECORDS[3], keysWithRow(c, 12, new Date(NaN), 7)]);
  const runs = new SortKeyBuilder(sorted.pool, sorted.ids, 1);
  runs.addRows(sorted, 1, 3);
  runs.addRows(sorted, 2, 2); // nothing
  runs.add(RECORDS[3]!);
  runs.addRows(sorted, 0, 1);
  runs.addRows(SortKeyTable.fromRecords(RECORDS), 0, 1); // other pools: copied by value
  assert.deepEqual(runs.build().records(), [RECORDS[0], RECORDS[2], RECORDS[3], RECORDS[1], RECORDS[0]]);
});

test('StringPool ranks: code point order, also for strings added after a ranking', () => {
  const str = fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 4 }), fc.constantFrom('\uFFFD', '\u{1F600}', 'A', ''));
  fc.assert(
    fc.property(fc.array(str, { minLength: 60, maxLength: 80 }), fc.array(str, { maxLength: 5 }), (first, later) => {
      const p = new StringPool();
      for (const s of first) p.intern(s);
      p.ranks();
      for (const s of later) p.intern(s);
      const rank = p.ranks();
      const order = [...p.strings.keys()].sort((a, b) => rank[a]! - rank[b]!);
      for (let i = 1; i < order.length; i++) assert.ok(compareCodePoints(p.strings[order[i - 1]!]!, p.strings[order[i]!]!) < 0);
      assert.equal(p.intern(p.strings[0]!), 0, 'interning returns the existing id');
    }),
  );
});

test('sorting a table equals sorting its records; strings added to a shared pool later keep the order right', () => {
  const fields: SortField[] = ['arrival', 'sent', 'size', 'subject', 'from', 'to', 'cc', 'displayFrom', 'displayTo'];
  const t = SortKeyTable.fromRecords(RECORDS);
  for (const field of fields) {
    for (const reverse of [false, true]) assert.deepEqual(sortMessages(t, [{ field, reverse }]), sortMessages(RECORDS, [{ field, reverse }]));
  }
  t.pool.ranks();
  const b = new SortKeyBuilder(t.pool, t.ids);
  for (let i = 0; i < t.length; i++) b.addRow(t, i);
  b.add(keys(1, 'aardvark', 'aaron'));
  const grown = b.build();
  assert.deepEqual(sortMessages(grown, [{ field: 'subject' }]), [1, 2, 5, 9, 9]);
  assert.deepEqual(sortMessages(grown, [{ field: 'from' }, { field: 'subject', reverse: true }]), [1, 9, 2, 5, 9]);
});

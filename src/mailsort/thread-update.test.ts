/**
 * Incremental threading (thread-update.ts) gives exactly the forest a full run gives, for every algorithm,
 * over random mailboxes changed by random arrivals and removals: replies by References and In-Reply-To,
 * references to messages never seen (dummies), duplicate and missing Message-IDs, shared base subjects,
 * equal dates. And memo.ts uses it once a successor is noted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sortKeysFor, type SortKeys } from './keys.js';
import { noteSuccessor, threadMessagesMemo } from './memo.js';
import { threadMessages, type ThreadAlgorithm } from './thread.js';
import { updateThreads } from './thread-update.js';
import { SortKeyTable, StringPool } from './table.js';

const ALGORITHMS: ThreadAlgorithm[] = ['references', 'orderedsubject', 'refs'];

function rng(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % n;
  };
}

function message(rnd: (n: number) => number, uid: number): SortKeys {
  const id = rnd(10) === 0 ? null : rnd(12) === 0 ? `<m${rnd(uid)}@x>` : `<m${uid}@x>`;
  const refs: string[] = [];
  const depth = rnd(4);
  for (let i = 0; i < depth; i++) refs.push(`<m${rnd(uid + 20)}@x>`);
  const subject = `${['', 'Re: ', 'Fwd: '][rnd(3)]}${['alpha', 'beta', 'gamma', 'delta', '', 'eps'][rnd(6)]}`;
  return sortKeysFor({
    uid,
    internalDate: 1_600_000_000_000 + uid * 1000,
    size: 100,
    date: rnd(8) === 0 ? null : new Date(Date.UTC(2021, 0, 1 + rnd(30))).toUTCString(),
    subject,
    from: null,
    to: null,
    cc: null,
    messageId: id,
    inReplyTo: rnd(3) === 0 && uid > 1 ? `<m${rnd(uid)}@x>` : null,
    references: refs.length && rnd(2) ? refs.join(' ') : null,
  });
}

test('updateThreads equals a full run after random arrivals and removals', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rnd = rng(seed);
    let uid = 0;
    let records: SortKeys[] = [];
    for (let i = 0; i < 60; i++) records.push(message(rnd, ++uid));
    const forests = new Map(ALGORITHMS.map((a) => [a, threadMessages(records, a)]));
    for (let step = 0; step < 6; step++) {
      let next = records.filter(() => rnd(15) !== 0);
      const arrivals = rnd(5);
      for (let i = 0; i < arrivals; i++) next.push(message(rnd, ++uid));
      next = next.sort((a, b) => a.uid - b.uid);
      for (const a of ALGORITHMS) {
        const full = threadMessages(next, a);
        const inc = updateThreads(records, forests.get(a)!, next, a);
        if (inc !== null) assert.deepEqual(inc, full, `seed ${seed} step ${step} ${a}`);
        forests.set(a, inc ?? full);
      }
      records = next;
    }
  }
});

test('updateThreads declines a change that reaches most messages, and keeps an unchanged forest', () => {
  const rnd = rng(7);
  const records = Array.from({ length: 40 }, (_, i) => message(rnd, i + 1));
  const forest = threadMessages(records, 'references');
  assert.deepEqual(updateThreads(records, forest, records, 'references'), forest);
  const replaced = Array.from({ length: 40 }, (_, i) => message(rnd, i + 100));
  assert.equal(updateThreads(records, forest, replaced, 'references'), null);
});

test('threadMessagesMemo starts from the noted predecessor and answers as a full run', () => {
  const rnd = rng(3);
  const before = Object.freeze(Array.from({ length: 50 }, (_, i) => message(rnd, i + 1)));
  threadMessagesMemo(before, 'references');
  const after = Object.freeze([...before.slice(1), message(rnd, 51), message(rnd, 52)]);
  noteSuccessor(before, after);
  assert.deepEqual(threadMessagesMemo(after, 'references'), threadMessages(after, 'references'));
  // Bad input: unrelated or unfrozen arrays are never linked, and still thread correctly.
  const loose = [...after];
  noteSuccessor(after, loose);
  assert.deepEqual(threadMessagesMemo(loose, 'refs'), threadMessages(loose, 'refs'));
});

test('updateThreads over tables: successive tables sharing their pools are updated, unrelated pools are not', () => {
  // Threads of three messages, a subject each: a change reaches only its own thread.
  const msg = (uid: number): SortKeys =>
    sortKeysFor({
      uid, internalDate: 1_600_000_000_000 + uid * 1000, size: 1, date: null, subject: `topic ${Math.ceil(uid / 3)}`, from: null, to: null, cc: null,
      messageId: `<m${uid}@x>`, inReplyTo: uid % 3 === 1 ? null : `<m${uid - 1}@x>`, references: null,
    });
  const records = Array.from({ length: 60 }, (_, i) => msg(i + 1));
  const pool = new StringPool();
  const ids = new StringPool();
  const table = (rs: SortKeys[]): SortKeyTable => SortKeyTable.fromRecords(rs, pool, ids);
  const before = table(records);
  const after = table([...records.slice(2), msg(61)]);
  for (const a of ALGORITHMS) {
    const forest = threadMessages(before, a);
    const inc = updateThreads(before, forest, after, a);
    assert.ok(inc !== null, a);
    assert.deepEqual(inc, threadMessages(after, a), a);
    assert.equal(updateThreads(before, forest, SortKeyTable.fromRecords(after), a), null, 'other pools');
    assert.equal(updateThreads(before, forest, table([records[0]!, records[0]!]), a), null, 'a repeated uid');
  }
});

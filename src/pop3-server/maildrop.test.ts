import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Maildrop } from './maildrop.js';
import type { MessageMeta } from '../store/types.js';

function meta(uid: number, size: number): MessageMeta {
  return { uid, emailId: `M${uid}`, threadId: 'T', flags: [], internalDate: new Date(0), size, modseq: 1 };
}

test('maildrop: numbers follow UID order and stay fixed; DELE marks; RSET clears', () => {
  const d = new Maildrop(7, [meta(30, 300), meta(10, 100), meta(20, 200)]);
  assert.equal(d.total, 3);
  assert.deepEqual(d.stat(), { count: 3, octets: 600 });
  const two = d.lookup(2);
  assert.ok(two.ok && two.msg.uid === 20 && two.msg.uidl === 'M20');
  assert.deepEqual(d.lookup(0), { ok: false, reason: 'no-such-message' });
  assert.deepEqual(d.lookup(4), { ok: false, reason: 'no-such-message' });
  if (two.ok) two.msg.deleted = true;
  assert.deepEqual(d.lookup(2), { ok: false, reason: 'deleted' });
  assert.deepEqual(d.stat(), { count: 2, octets: 400 });
  assert.deepEqual(
    d.live().map((m) => m.number),
    [1, 3],
  );
  d.reset();
  assert.deepEqual(d.stat(), { count: 3, octets: 600 });
});

test('maildrop: the commit plan expunges DELE marks and marks retrieved messages seen', () => {
  const d = new Maildrop(7, [meta(1, 10), meta(2, 20), meta(3, 30)]);
  const m1 = d.lookup(1);
  const m2 = d.lookup(2);
  assert.ok(m1.ok && m2.ok);
  m1.msg.retrieved = true;
  m2.msg.retrieved = true;
  m2.msg.deleted = true;
  assert.deepEqual(d.commitPlan(true), { expunge: [2], seen: [1], retrieved: [1, 2] });
  assert.deepEqual(d.commitPlan(false), { expunge: [2], seen: [], retrieved: [1, 2] });
  assert.deepEqual(d.commitPlan(true, false), { expunge: [2], seen: [1], retrieved: [] }, 'no retrieval records without a retention policy');
  d.reset();
  assert.deepEqual(d.commitPlan(true), { expunge: [], seen: [], retrieved: [] });
});

test('maildrop: messages seen at login need no \\Seen in the commit plan; deletions and retrieval records still count', () => {
  const seen = (uid: number, flags: string[]): MessageMeta => ({ ...meta(uid, 10), flags });
  const d = new Maildrop(7, [seen(1, ['\\Seen']), seen(2, []), seen(3, ['\\seen', '\\Flagged']), seen(4, ['$Seen'])]);
  for (let n = 1; n <= 4; n++) {
    const m = d.lookup(n);
    assert.ok(m.ok);
    m.msg.retrieved = true;
  }
  const one = d.lookup(1);
  assert.ok(one.ok);
  one.msg.deleted = true;
  // A keyword that merely looks like the flag is not \Seen; the system flag matches in any case.
  assert.deepEqual(d.commitPlan(true), { expunge: [1], seen: [2, 4], retrieved: [1, 2, 3, 4] });
  d.reset();
  assert.deepEqual(d.commitPlan(true), { expunge: [], seen: [], retrieved: [] });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sortKeysFor, type SortKeys } from './keys.js';
import { threadHeads, threadMessages, type ThreadAlgorithm, type ThreadNode } from './thread.js';

interface Msg {
  uid: number;
  /** Minutes after a fixed instant; defaults to the uid. */
  at?: number;
  id?: string | null;
  refs?: string;
  irt?: string;
  subject?: string;
}

function keys(m: Msg): SortKeys {
  const t = Date.UTC(2024, 0, 1) + (m.at ?? m.uid) * 60_000;
  return sortKeysFor({
    uid: m.uid, internalDate: t, size: 100, date: new Date(t).toUTCString(), subject: m.subject ?? `subject ${m.uid}`,
    from: null, to: null, cc: null, messageId: m.id === undefined ? `<${m.uid}@x>` : m.id, inReplyTo: m.irt ?? null,
    references: m.refs ?? null,
  });
}

/** The IMAP thread-list rendering, for readable expectations (the IMAP layer has its own). */
function render(forest: readonly ThreadNode[]): string {
  const one = (n: ThreadNode): string => {
    const head = n.uid === null ? '' : String(n.uid);
    if (n.children.length === 0) return head;
    if (n.children.length === 1) return `${head} ${one(n.children[0] as ThreadNode)}`;
    return `${head}${head ? ' ' : ''}${n.children.map((c) => `(${one(c)})`).join('')}`;
  };
  return forest.map((n) => `(${one(n)})`).join('');
}

function thread(msgs: Msg[], algorithm: ThreadAlgorithm = 'references'): string {
  return render(threadMessages(msgs.map(keys), algorithm));
}

test('REFERENCES: the RFC 5256 example shape (2)(3 6 (4 23)(44 7 96))', () => {
  const msgs: Msg[] = [
    { uid: 2, at: 1 },
    { uid: 3, at: 2 },
    { uid: 6, at: 3, refs: '<3@x>' },
    { uid: 4, at: 4, refs: '<3@x> <6@x>' },
    { uid: 23, at: 5, refs: '<3@x> <6@x> <4@x>' },
    { uid: 44, at: 6, refs: '<3@x> <6@x>' },
    { uid: 7, at: 7, irt: '<44@x>' },
    { uid: 96, at: 8, refs: '<3@x> <6@x> <44@x> <7@x>' },
  ];
  assert.equal(thread(msgs), '(2)(3 6 (4 23)(44 7 96))');
  // Input order does not matter.
  assert.equal(thread([...msgs].reverse()), '(2)(3 6 (4 23)(44 7 96))');
});

test('REFERENCES: the imaptest "thread" mailbox, before and after expunging its first message', () => {
  // No Date headers: the internal dates order them. 2 says c -> a -> b; 3 (c) says b is its parent, a loop.
  const all: Msg[] = [
    { uid: 1, at: 120, id: '<a@b>' },
    { uid: 2, at: 0, id: '<b@b>', refs: '<c@b> <a@b>' },
    { uid: 3, at: 60, id: '<c@b>', refs: '<b@b>' },
  ];
  assert.equal(thread(all), '(3 1 2)');
  assert.equal(thread(all.slice(1)), '(3 2)');
});

test('REFERENCES: missing parents become dummies, pruned unless they hold several roots', () => {
  // Two replies to a message that is not there: a dummy keeps them together at the top.
  assert.equal(thread([{ uid: 1, refs: '<gone@x>' }, { uid: 2, refs: '<gone@x>' }]), '((1)(2))');
  // One reply to a missing message: promoted.
  assert.equal(thread([{ uid: 1, refs: '<gone@x>' }]), '(1)');
  // A missing message in the middle of a chain is spliced out.
  assert.equal(thread([{ uid: 1 }, { uid: 3, refs: '<1@x> <2@x>' }]), '(1 3)');
  // A missing grandparent above a missing parent above two replies.
  assert.equal(thread([{ uid: 5, refs: '<a@x> <b@x>' }, { uid: 6, refs: '<a@x> <b@x>' }, { uid: 7, refs: '<a@x>' }]), '((5)(6)(7))');
  // A dummy sorts by its first child's date.
  assert.equal(thread([{ uid: 1, at: 10 }, { uid: 2, at: 20, refs: '<g@x>' }, { uid: 3, at: 5, refs: '<g@x>' }]), '((3)(2))(1)');
});

test('REFERENCES: In-Reply-To is used only when References has no valid id', () => {
  assert.equal(thread([{ uid: 1 }, { uid: 2 }, { uid: 3, refs: '<1@x>', irt: '<2@x>' }]), '(1 3)(2)');
  assert.equal(thread([{ uid: 1 }, { uid: 2 }, { uid: 3, refs: 'garbage <nohost>', irt: 'In message <2@x> you said' }]), '(1)(2 3)');
});

test('REFERENCES: loops in References are refused', () => {
  // 1 says its parent is 2, 2 says its parent is 1: the first link (seen first) wins.
  assert.equal(thread([{ uid: 1, refs: '<2@x>' }, { uid: 2, refs: '<1@x>' }]), '(2 1)');
  // A References list that repeats itself.
  assert.equal(thread([{ uid: 1 }, { uid: 2 }, { uid: 3, refs: '<1@x> <2@x> <1@x> <2@x>' }]), '(1 2 3)');
  // A longer cycle across three messages.
  const three = thread([{ uid: 1, refs: '<3@x>' }, { uid: 2, refs: '<1@x>' }, { uid: 3, refs: '<2@x>' }]);
  assert.equal(three, '(3 1 2)');
});

test('REFERENCES: messages referencing themselves', () => {
  assert.equal(thread([{ uid: 1, refs: '<1@x>' }]), '(1)');
  // Its own id last: the link guessed from its References is broken and none replaces it (RFC 5256 1B).
  assert.equal(thread([{ uid: 1 }, { uid: 2, refs: '<1@x> <2@x>' }]), '(1)(2)');
  // Its own id first: it becomes the parent of the next reference, and cannot be that one's child.
  assert.equal(thread([{ uid: 1 }, { uid: 2, refs: '<2@x> <1@x>' }]), '(2 1)');
});

test('REFERENCES: duplicate and missing Message-IDs', () => {
  // The lowest uid keeps the id; replies attach to it; the duplicate stands alone.
  const dup: Msg[] = [{ uid: 5, id: '<d@x>', subject: 'one' }, { uid: 2, id: '<d@x>', subject: 'two' }, { uid: 9, refs: '<d@x>', subject: 'three' }];
  assert.equal(thread(dup), '(2 9)(5)');
  // No Message-ID, or an invalid one: still threaded under its parent, never a parent itself.
  assert.equal(thread([{ uid: 1 }, { uid: 2, id: null, refs: '<1@x>' }, { uid: 3, id: 'junk', refs: '<1@x>' }]), '(1 (2)(3))');
  // Quoting differences are the same id.
  assert.equal(thread([{ uid: 1, id: '<"q"@x>' }, { uid: 2, refs: '<q@x>' }]), '(1 2)');
});

test('REFERENCES: a message\'s own References overrides a parent guessed from another message', () => {
  // 3's References say 1 -> 2 (truncated chain); 2 itself says its parent is 4.
  assert.equal(thread([{ uid: 1 }, { uid: 2, refs: '<4@x>' }, { uid: 3, refs: '<1@x> <2@x>' }, { uid: 4 }]), '(1)(4 2 3)');
  // 4 arrives last and confirms the parent that 2's References guessed for it.
  assert.equal(thread([{ uid: 1 }, { uid: 2, refs: '<1@x> <4@x>' }, { uid: 3, refs: '<1@x> <2@x>' }, { uid: 4, refs: '<1@x>' }]), '(1 4 2 3)');
  // 4 has no References: the guessed parent is dropped.
  assert.equal(thread([{ uid: 1 }, { uid: 2, refs: '<1@x> <4@x>' }, { uid: 3, refs: '<1@x> <2@x>' }, { uid: 4 }]), '(1)(4 2 3)');
  // 2 has no references at all: it ends up without a parent, whatever other messages guessed.
  assert.equal(thread([{ uid: 1 }, { uid: 2, refs: '<1@x> <3@x>' }, { uid: 3 }]), '(1)(3 2)');
  // Had 3 come first (lower uid), nothing would have been guessed for it and the link stands.
  assert.equal(thread([{ uid: 1 }, { uid: 2 }, { uid: 3, refs: '<1@x> <2@x>' }]), '(1 2 3)');
});

test('REFERENCES: siblings and threads are sorted by sent date, ties by uid', () => {
  assert.equal(thread([{ uid: 1, at: 1 }, { uid: 2, at: 9, refs: '<1@x>' }, { uid: 3, at: 5, refs: '<1@x>' }, { uid: 4, at: 5, refs: '<1@x>' }]), '(1 (3)(4)(2))');
  assert.equal(thread([{ uid: 1, at: 50 }, { uid: 2, at: 10 }, { uid: 3, at: 50 }]), '(2)(1)(3)');
});

test('REFERENCES: step 5 merges roots that share a base subject', () => {
  // A reply whose References were lost joins the original.
  assert.equal(thread([{ uid: 1, subject: 'Lunch' }, { uid: 2, subject: 'Re: lunch' }]), '(1 2)');
  // Two originals with the same subject: a new dummy holds both.
  assert.equal(thread([{ uid: 1, subject: 'Lunch' }, { uid: 2, subject: 'lunch' }]), '((1)(2))');
  // ... and a third one joins that dummy.
  assert.equal(thread([{ uid: 1, subject: 'Lunch' }, { uid: 2, subject: 'lunch' }, { uid: 3, subject: 'LUNCH' }]), '((1)(2)(3))');
  // Two replies without their original: siblings under a dummy.
  assert.equal(thread([{ uid: 1, subject: 'Re: Lunch' }, { uid: 2, subject: 'Fwd: Lunch' }]), '((1)(2))');
  // A non-reply takes the table from an earlier reply; the reply goes under it.
  assert.equal(thread([{ uid: 1, at: 1, subject: 'Re: Lunch' }, { uid: 2, at: 2, subject: 'Lunch' }]), '(2 1)');
  // A dummy root (replies to a missing message) collects a root message with the same subject.
  assert.equal(
    thread([{ uid: 1, at: 1, refs: '<gone@x>', subject: 'Re: Lunch' }, { uid: 2, at: 2, refs: '<gone@x>', subject: 'Re: Lunch' }, { uid: 3, at: 3, subject: 'Lunch' }]),
    '((1)(2)(3))',
  );
  // Two dummies with the same subject are merged into one.
  assert.equal(
    thread([{ uid: 1, refs: '<g1@x>', subject: 'Re: x' }, { uid: 2, refs: '<g1@x>', subject: 'Re: x' }, { uid: 3, refs: '<g2@x>', subject: 'Re: x' }, { uid: 4, refs: '<g2@x>', subject: 'Re: x' }]),
    '((1)(2)(3)(4))',
  );
  // Empty base subjects are never merged; different subjects are not either.
  assert.equal(thread([{ uid: 1, subject: 'Re:' }, { uid: 2, subject: '' }, { uid: 3, subject: 'a' }, { uid: 4, subject: 'b' }]), '(1)(2)(3)(4)');
  // Only roots are merged: a reply deep in another thread stays where its References put it.
  assert.equal(thread([{ uid: 1, subject: 'a' }, { uid: 2, refs: '<1@x>', subject: 'b' }, { uid: 3, subject: 'b' }]), '(1 2)(3)');
});

test('REFS: no subject merging, threads ordered by their newest message', () => {
  const msgs: Msg[] = [
    { uid: 1, at: 1, subject: 'A' },
    { uid: 2, at: 2, subject: 'B' },
    { uid: 3, at: 3, refs: '<1@x>', subject: 'Re: A' },
    { uid: 4, at: 4, subject: 'Re: B' },
  ];
  assert.equal(thread(msgs, 'references'), '(1 3)(2 4)');
  assert.equal(thread(msgs, 'refs'), '(2)(1 3)(4)');
  // Dummies and loops behave as in REFERENCES.
  assert.equal(thread([{ uid: 1, refs: '<g@x>' }, { uid: 2, refs: '<g@x>' }, { uid: 3, refs: '<3@x>' }], 'refs'), '((1)(2))(3)');
  // Ties on the newest date: the uid heading the thread first.
  assert.equal(thread([{ uid: 5, at: 1 }, { uid: 2, at: 1 }], 'refs'), '(2)(5)');
});

test('ORDEREDSUBJECT: groups by base subject, first message by date is the parent of the rest', () => {
  const msgs: Msg[] = [
    { uid: 1, at: 5, subject: 'Re: b' },
    { uid: 2, at: 1, subject: 'a' },
    { uid: 3, at: 3, subject: 'B' },
    { uid: 4, at: 2, subject: 'Re: A' },
    { uid: 5, at: 9, subject: 'c' },
    { uid: 6, at: 4, subject: '[fwd: a]' },
  ];
  assert.equal(thread(msgs, 'orderedsubject'), '(2 (4)(6))(3 1)(5)');
  assert.equal(thread([{ uid: 1, subject: '' }, { uid: 2, subject: 'Re:' }], 'orderedsubject'), '(1 2)');
});

test('threadHeads maps every uid to the message heading its thread', () => {
  const forest = threadMessages([{ uid: 1, refs: '<g@x>' }, { uid: 2, refs: '<g@x>' }, { uid: 3 }, { uid: 4, refs: '<3@x>' }].map(keys), 'references');
  assert.deepEqual([...threadHeads(forest).entries()].sort((a, b) => a[0] - b[0]), [[1, 1], [2, 1], [3, 3], [4, 3]]);
});

test('deep reply chains do not exhaust the stack', () => {
  const n = 50_000;
  const msgs: Msg[] = [];
  for (let i = 1; i <= n; i++) msgs.push({ uid: i, subject: 's', irt: i > 1 ? `<${i - 1}@x>` : undefined });
  for (const algorithm of ['references', 'refs'] as const) {
    const forest = threadMessages(msgs.map(keys), algorithm);
    assert.equal(forest.length, 1);
    let depth = 0;
    for (let node: ThreadNode | undefined = forest[0]; node; node = node.children[0]) depth++;
    assert.equal(depth, n);
  }
});

function uidsOf(forest: readonly ThreadNode[]): number[] {
  const out: number[] = [];
  const stack = [...forest];
  for (let n = stack.pop(); n; n = stack.pop()) {
    if (n.uid !== null) out.push(n.uid);
    stack.push(...n.children);
  }
  return out.sort((a, b) => a - b);
}

function checkShape(forest: readonly ThreadNode[]): void {
  for (const top of forest) {
    if (top.uid === null) assert.ok(top.children.length >= 2, 'a dummy holds at least two children');
    const stack = [...top.children];
    for (let n = stack.pop(); n; n = stack.pop()) {
      assert.notEqual(n.uid, null, 'dummies only at the top');
      stack.push(...n.children);
    }
  }
}

test('every algorithm: each message exactly once, dummies only at the top, input order irrelevant (property)', () => {
  const id = fc.constantFrom('<1@x>', '<2@x>', '<3@x>', '<4@x>', '<5@x>', '<6@x>', '<g@x>', '<h@x>', 'junk');
  const msg = fc.record({
    at: fc.integer({ min: 0, max: 6 }),
    id: fc.option(id, { nil: null }),
    refs: fc.array(id, { maxLength: 5 }).map((a) => a.join(' ')),
    irt: id,
    subject: fc.constantFrom('', 'a', 'Re: a', 'b', 'Fwd: b', '[fwd: a]', 'Re:'),
  });
  fc.assert(
    fc.property(fc.array(msg, { maxLength: 14 }), fc.constantFrom<ThreadAlgorithm>('orderedsubject', 'references', 'refs'), (rows, algorithm) => {
      const records = rows.map((r, i) => keys({ uid: i + 1, ...r }));
      const forest = threadMessages(records, algorithm);
      assert.deepEqual(uidsOf(forest), records.map((r) => r.uid));
      checkShape(forest);
      assert.deepEqual(threadMessages([...records].reverse(), algorithm), forest);
    }),
    { numRuns: 1000 },
  );
});

test('empty input gives an empty forest', () => {
  for (const algorithm of ['orderedsubject', 'references', 'refs'] as const) assert.deepEqual(threadMessages([], algorithm), []);
});

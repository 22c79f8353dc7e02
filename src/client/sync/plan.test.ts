import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { planPop3, planFolder, planQueue, queueRuns, parseCachePolicy, sizeBatches, wantsBody, judgeRefusal, countsAsAttempt, holdPending, REPLAY_SPACING_MS, type Pop3KnownMessage, type QueuedOp, type Refusal } from './plan.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = 1_800_000_000_000;
const known = (entries: Array<[string, Partial<Pop3KnownMessage>]>): Map<string, Pop3KnownMessage> =>
  new Map(entries.map(([u, k]) => [u, { fetchedAt: NOW, locallyDeleted: false, partial: false, ...k }]));

describe('planPop3', () => {
  const server = [
    { msgno: 1, uidl: 'a', size: 100 },
    { msgno: 2, uidl: 'b', size: 200 },
    { msgno: 3, uidl: 'c', size: 5000 },
  ];
  const cases: Array<{ name: string; input: Parameters<typeof planPop3>[0]; download: Array<[number, boolean]>; deleteKnown: number[]; forget: string[]; skipped?: number[]; headers?: number[] }> = [
    { name: 'delete policy, nothing known', input: { server, known: known([]), policy: { kind: 'delete' }, now: NOW }, download: [[1, true], [2, true], [3, true]], deleteKnown: [], forget: [] },
    { name: 'keep policy never deletes', input: { server, known: known([['a', {}]]), policy: { kind: 'keep' }, now: NOW }, download: [[2, false], [3, false]], deleteKnown: [], forget: [] },
    {
      name: 'delete policy: known leftovers from an interrupted session are deleted, gone ones forgotten',
      input: { server, known: known([['a', {}], ['zz', {}]]), policy: { kind: 'delete' }, now: NOW },
      download: [[2, true], [3, true]],
      deleteKnown: [1],
      forget: ['zz'],
    },
    {
      name: 'keep-days deletes only old enough',
      input: { server, known: known([['a', { fetchedAt: NOW - 8 * DAY }], ['b', { fetchedAt: NOW - 6 * DAY }]]), policy: { kind: 'keep-days', days: 7 }, now: NOW },
      download: [[3, false]],
      deleteKnown: [1],
      forget: [],
    },
    {
      name: 'until-deleted-locally deletes locally deleted only',
      input: { server, known: known([['a', { locallyDeleted: true }], ['b', {}]]), policy: { kind: 'until-deleted-locally' }, now: NOW },
      download: [[3, false]],
      deleteKnown: [1],
      forget: [],
    },
    {
      name: 'oversized skipped',
      input: { server, known: known([]), policy: { kind: 'delete' }, maxSize: 1000, now: NOW },
      download: [[1, true], [2, true]],
      deleteKnown: [],
      forget: [],
      skipped: [3],
    },
    {
      name: 'oversized headers-only, and a partial known message is never deleted',
      input: { server, known: known([['b', { partial: true }]]), policy: { kind: 'delete' }, maxSize: 1000, oversize: 'headers', now: NOW },
      download: [[1, true]],
      deleteKnown: [],
      forget: [],
      headers: [3],
    },
    {
      name: 'no UIDL: download everything and delete',
      input: { server: server.map((s) => ({ ...s, uidl: null })), known: known([['a', {}]]), policy: { kind: 'delete' }, now: NOW },
      download: [[1, true], [2, true], [3, true]],
      deleteKnown: [],
      forget: ['a'],
    },
    {
      name: 'a UIDL given to two messages of the same size: both downloaded (each message number is a message)',
      input: { server: [{ msgno: 1, uidl: 'x', size: 1 }, { msgno: 2, uidl: 'x', size: 1 }], known: known([]), policy: { kind: 'keep' }, now: NOW },
      download: [[1, false], [2, false]],
      deleteKnown: [],
      forget: [],
    },
  ];
  test('a UIDL listed again names another message: keyed "UIDL SIZE", and "UIDL SIZE #n" for a size listed already', () => {
    const listing = [
      { msgno: 1, uidl: 'x', size: 10 },
      { msgno: 2, uidl: 'x', size: 20 },
      { msgno: 3, uidl: 'x', size: 20 },
    ];
    const p = planPop3({ server: listing, known: known([]), policy: { kind: 'keep' }, now: NOW });
    assert.deepEqual(p.download.map((d) => [d.msgno, d.uidl]), [[1, 'x'], [2, 'x 20'], [3, 'x 20 #2']]);
    assert.deepEqual(p.duplicates, ['x']);
    const again = planPop3({ server: listing, known: known([['x', { size: 10 }], ['x 20', { size: 20 }], ['x 20 #2', { size: 20 }]]), policy: { kind: 'keep' }, now: NOW });
    assert.deepEqual([again.download, again.forget, again.reused], [[], [], []]);
  });

  test('a known UIDL now listed with another size was reused by the server: downloaded as new, reported', () => {
    const p = planPop3({ server: [{ msgno: 1, uidl: 'a', size: 150 }, { msgno: 2, uidl: 'b', size: 200 }], known: known([['a', { size: 100 }], ['b', { size: 200 }]]), policy: { kind: 'keep' }, now: NOW });
    assert.deepEqual(p.download.map((d) => [d.msgno, d.uidl]), [[1, 'a']]);
    assert.deepEqual(p.reused, [{ msgno: 1, uidl: 'a', was: 100, size: 150 }]);
    const old = planPop3({ server: [{ msgno: 1, uidl: 'a', size: 150 }], known: known([['a', {}]]), policy: { kind: 'keep' }, now: NOW });
    assert.deepEqual([old.download, old.reused], [[], []], 'a record without a size is never judged reused ...');
    assert.deepEqual(old.sizes, [{ uidl: 'a', size: 150 }], '... and learns the size listed now');
  });

  for (const c of cases) {
    test(c.name, () => {
      const p = planPop3(c.input);
      assert.deepEqual(p.download.map((d) => [d.msgno, d.deleteAfter]), c.download);
      assert.deepEqual(p.deleteKnown.map((d) => d.msgno), c.deleteKnown);
      assert.deepEqual(p.forget, c.forget);
      assert.deepEqual(p.skipped.map((s) => s.msgno), c.skipped ?? []);
      assert.deepEqual(p.headersOnly.map((s) => s.msgno), c.headers ?? []);
    });
  }
});

describe('planFolder', () => {
  const local = (msgs: Array<[number, string[]]>, uv: string | null = '7', ms: string | null = '10') => ({ uidValidity: uv, highestModseq: ms, messages: new Map(msgs) });
  test('first sync fetches everything', () => {
    const p = planFolder(local([], null, null), { uidValidity: '7', highestModseq: '3', mode: 'full', changed: [{ uid: 2, flags: [] }, { uid: 1, flags: ['\\Seen'] }] });
    assert.deepEqual(p, { reset: false, fetch: [1, 2], flags: [], remove: [], highestModseq: '3' });
  });
  test('full mode: new, changed flags, removed', () => {
    const p = planFolder(local([[1, ['\\Seen']], [2, []], [3, []]]), {
      uidValidity: '7',
      highestModseq: null,
      mode: 'full',
      changed: [{ uid: 1, flags: ['\\Seen'] }, { uid: 2, flags: ['\\Flagged'] }, { uid: 4, flags: [] }],
    });
    assert.deepEqual(p, { reset: false, fetch: [4], flags: [{ uid: 2, flags: ['\\Flagged'] }], remove: [3], highestModseq: null });
  });
  test('flag comparison ignores order and case', () => {
    const p = planFolder(local([[1, ['\\Seen', '\\Flagged']]]), { uidValidity: '7', highestModseq: null, mode: 'full', changed: [{ uid: 1, flags: ['\\flagged', '\\Seen'] }] });
    assert.deepEqual(p.flags, []);
  });
  test('qresync: vanished and changed', () => {
    const p = planFolder(local([[1, []], [2, []], [5, []]]), { uidValidity: '7', highestModseq: '12', mode: 'qresync', changed: [{ uid: 2, flags: ['\\Seen'] }, { uid: 6, flags: [] }], vanished: [1, 3] });
    assert.deepEqual(p, { reset: false, fetch: [6], flags: [{ uid: 2, flags: ['\\Seen'] }], remove: [1], highestModseq: '12' });
  });
  test('condstore: expunges from the UID list', () => {
    const p = planFolder(local([[1, []], [2, []]]), { uidValidity: '7', highestModseq: '12', mode: 'condstore', changed: [], uids: [2, 3] });
    assert.deepEqual(p, { reset: false, fetch: [3], flags: [], remove: [1], highestModseq: '12' });
  });
  test('UIDVALIDITY change resets and refetches all', () => {
    const p = planFolder(local([[1, []], [2, []]]), { uidValidity: '8', highestModseq: '1', mode: 'full', changed: [{ uid: 1, flags: [] }] });
    assert.deepEqual(p, { reset: true, fetch: [1], flags: [], remove: [], highestModseq: '1' });
  });
  test('qresync deltas without local state are refused', () => {
    assert.throws(() => planFolder(local([], null, null), { uidValidity: '7', highestModseq: '1', mode: 'qresync', changed: [] }), /full or condstore/);
  });
});

describe('planQueue', () => {
  const op = (id: number, kind: 'flags' | 'delete', uid: number, uv = '7'): QueuedOp =>
    kind === 'flags' ? { id, kind, folder: 'INBOX', uid, uidValidity: uv, add: ['\\Seen'], remove: [] } : { id, kind, folder: 'INBOX', uid, uidValidity: uv };
  test('applies present, reports gone and stale UIDVALIDITY', () => {
    const d = planQueue([op(1, 'flags', 1), op(2, 'flags', 2), op(3, 'delete', 3, '6'), op(4, 'delete', 1), op(5, 'flags', 1)], { uidValidity: '7', uids: new Set([1, 3]) });
    assert.deepEqual(d.apply.map((o) => o.id), [1, 4]);
    assert.deepEqual(
      d.conflicts.map((c) => [c.op.id, c.reason]),
      [
        [2, 'the message is gone on the server'],
        [3, 'the folder was recreated on the server (UIDVALIDITY changed) and the message is not in it'],
        [5, 'the message is gone on the server'],
      ],
    );
  });
});

describe('cache policy', () => {
  test('parse and wantsBody', () => {
    assert.deepEqual(parseCachePolicy('recent:30'), { kind: 'recent', days: 30 });
    assert.deepEqual(parseCachePolicy('all'), { kind: 'all' });
    for (const bad of ['', 'recent', 'recent:-1', 'recent:x', 'some']) assert.throws(() => parseCachePolicy(bad));
    assert.equal(wantsBody({ kind: 'recent', days: 2 }, NOW - DAY, NOW), true);
    assert.equal(wantsBody({ kind: 'recent', days: 2 }, NOW - 3 * DAY, NOW), false);
    assert.equal(wantsBody({ kind: 'headers' }, NOW, NOW), false);
    assert.equal(wantsBody({ kind: 'all' }, 0, NOW), true);
  });
});

test('sizeBatches: by count and bytes; a big item is a batch alone; order kept', () => {
  const s = (...sizes: number[]) => sizes.map((size, i) => ({ i, size }));
  const ids = (b: Array<Array<{ i: number }>>) => b.map((x) => x.map((y) => y.i));
  assert.deepEqual(ids(sizeBatches(s(1, 1, 1, 1, 1), 2, 100, 50)), [[0, 1], [2, 3], [4]]);
  assert.deepEqual(ids(sizeBatches(s(40, 40, 40), 10, 100, 50)), [[0, 1], [2]]);
  assert.deepEqual(ids(sizeBatches(s(1, 60, 1, 70, 80, 1), 10, 1000, 50)), [[0], [1], [2], [3], [4], [5]]);
  assert.deepEqual(ids(sizeBatches(s(), 10, 100, 50)), []);
  assert.deepEqual(ids(sizeBatches(s(500), 10, 100, 1000)), [[0]], 'an item over maxBytes still gets a batch');
});

test('queueRuns: neighbouring like changes merge, in order; moves stay alone', () => {
  const f = (id: number, uid: number, add: string[], remove: string[] = []): QueuedOp => ({ id, kind: 'flags', folder: 'INBOX', uid, uidValidity: '1', add, remove });
  const d = (id: number, uid: number): QueuedOp => ({ id, kind: 'delete', folder: 'INBOX', uid, uidValidity: '1' });
  const m = (id: number, uid: number): QueuedOp => ({ id, kind: 'move', folder: 'INBOX', uid, uidValidity: '1', to: 'Archive', messageRow: id });
  const ops = [f(1, 1, ['\\Seen']), f(2, 2, ['\\Seen']), f(3, 1, [], ['\\Seen']), f(4, 3, ['\\Seen']), d(5, 4), d(6, 5), m(7, 6), m(8, 7), f(9, 8, ['\\Seen'])];
  assert.deepEqual(
    queueRuns(ops).map((r) => [r.kind, r.ops.map((o) => o.id)]),
    [
      ['flags', [1, 2]],
      ['flags', [3]],
      ['flags', [4]],
      ['delete', [5, 6]],
      ['move', [7]],
      ['move', [8]],
      ['flags', [9]],
    ],
  );
});

test('judgeRefusal: temporary refusals are kept up to the attempt limit, permanent ones dropped', () => {
  const cases: Array<[Refusal, number, boolean, 'keep' | 'drop', RegExp]> = [
    [{ status: 'NO', code: 'UNAVAILABLE', text: 'busy' }, 0, true, 'keep', /attempt 1 of 5/],
    [{ status: 'NO', code: 'INUSE', text: '' }, 3, true, 'keep', /attempt 4 of 5/],
    [{ status: 'NO', code: 'LIMIT', text: '' }, 4, true, 'drop', /refused 5 times, given up \(last: NO \[LIMIT\]\)/],
    [{ status: 'NO', code: 'LIMIT', text: '' }, 4, false, 'keep', /attempt 4 of 5/],
    [{ status: 'NO', code: null, text: 'try later' }, 0, true, 'keep', /NO try later/],
    [{ status: 'NO', code: 'SOMETHINGNEW', text: '' }, 0, true, 'keep', /for now/],
    [{ status: 'LOST', code: null, text: '' }, 1, true, 'keep', /the connection was lost/],
    [{ status: 'NO', code: 'NONEXISTENT', text: 'gone' }, 0, true, 'drop', /for good/],
    [{ status: 'NO', code: 'TRYCREATE', text: '' }, 0, true, 'drop', /for good/],
    [{ status: 'NO', code: 'NOPERM', text: '' }, 0, true, 'drop', /for good/],
    [{ status: 'BAD', code: null, text: 'what?' }, 0, true, 'drop', /for good \(BAD what\?\)/],
  ];
  for (const [r, attempts, counted, action, reason] of cases) {
    const v = judgeRefusal(r, attempts, counted);
    assert.equal(v.action, action, JSON.stringify(r));
    assert.match(v.reason, reason);
  }
  assert.equal(countsAsAttempt(null, 1000), true);
  assert.equal(countsAsAttempt(1000, 1000 + REPLAY_SPACING_MS - 1), false);
  assert.equal(countsAsAttempt(1000, 1000 + REPLAY_SPACING_MS), true);
});

test('holdPending: queued deletes and moves are not fetched back, queued flag changes stay applied', () => {
  const plan = { reset: false, fetch: [3, 4], flags: [{ uid: 1, flags: ['\\Answered'] }, { uid: 2, flags: ['\\Seen'] }], remove: [], highestModseq: null };
  const ops: QueuedOp[] = [
    { id: 1, kind: 'delete', folder: 'INBOX', uid: 3, uidValidity: '1' },
    { id: 2, kind: 'flags', folder: 'INBOX', uid: 1, uidValidity: '1', add: ['\\Flagged'], remove: [] },
  ];
  const held = holdPending(plan, ops, new Map([[1, ['\\Flagged']], [2, []]]));
  assert.deepEqual(held.fetch, [4]);
  assert.deepEqual(held.flags, [
    { uid: 1, flags: ['\\Answered', '\\Flagged'] },
    { uid: 2, flags: ['\\Seen'] },
  ]);
});

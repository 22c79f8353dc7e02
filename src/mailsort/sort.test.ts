import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compareCodePoints } from './casemap.js';
import { sortKeysFor, type SortInput, type SortKeys } from './keys.js';
import { sortMessages, type SortCriterion, type SortField } from './sort.js';

const addr = (mailbox: string, name: string | null = null): Array<{ name: string | null; mailbox: string; host: string }> => [
  { name, mailbox, host: 'example.com' },
];

function keys(over: Partial<SortInput> & { uid: number }): SortKeys {
  return sortKeysFor({
    internalDate: 0, size: 0, date: null, subject: null, from: null, to: null, cc: null,
    messageId: null, inReplyTo: null, references: null, ...over,
  });
}

const mailbox: SortKeys[] = [
  keys({ uid: 1, internalDate: 5000, size: 300, date: 'Mon, 1 Jan 2024 10:00:00 +0000', subject: 'Re: beta', from: addr('carol', 'Zed'), to: addr('bob'), cc: addr('x') }),
  keys({ uid: 2, internalDate: 1000, size: 100, date: 'Mon, 1 Jan 2024 09:00:00 -0200', subject: 'alpha', from: addr('Alice', 'bob'), to: addr('alice') }),
  keys({ uid: 3, internalDate: 3000, size: 200, date: null, subject: 'Beta', from: addr('bob'), to: addr('Carol', 'Ann'), cc: addr('a') }),
  keys({ uid: 4, internalDate: 2000, size: 100, date: 'Mon, 1 Jan 2024 10:00:00 +0000', subject: '[fwd: ALPHA]', from: addr('alice'), to: addr('bob') }),
];

const by = (field: SortField, reverse = false): SortCriterion => ({ field, reverse });

test('sortMessages: each RFC 5256 / RFC 5957 criterion, ties in uid order', () => {
  assert.deepEqual(sortMessages(mailbox, [by('arrival')]), [2, 4, 3, 1]);
  assert.deepEqual(sortMessages(mailbox, [by('size')]), [2, 4, 3, 1]);
  // Message 3 has no Date: its internal date (3000 ms) sorts it first; 1 and 4 tie and keep uid order.
  assert.deepEqual(sortMessages(mailbox, [by('sent')]), [3, 1, 4, 2]);
  assert.deepEqual(sortMessages(mailbox, [by('subject')]), [2, 4, 1, 3]);
  assert.deepEqual(sortMessages(mailbox, [by('from')]), [2, 4, 3, 1]);
  assert.deepEqual(sortMessages(mailbox, [by('to')]), [2, 1, 4, 3]);
  // No Cc sorts as the empty string, before everything.
  assert.deepEqual(sortMessages(mailbox, [by('cc')]), [2, 4, 3, 1]);
  // DISPLAYFROM: display names "Zed", "bob"; else mailbox@host.
  assert.deepEqual(sortMessages(mailbox, [by('displayFrom')]), [4, 2, 3, 1]);
  assert.deepEqual(sortMessages(mailbox, [by('displayTo')]), [2, 3, 1, 4]);
  assert.deepEqual(sortMessages(mailbox, []), [1, 2, 3, 4]);
});

test('sortMessages: REVERSE reverses one criterion, never the uid tie-break', () => {
  assert.deepEqual(sortMessages(mailbox, [by('subject', true)]), [1, 3, 2, 4]);
  assert.deepEqual(sortMessages(mailbox, [by('size', true)]), [1, 3, 2, 4]);
  assert.deepEqual(sortMessages(mailbox, [by('subject', true), by('arrival', true)]), [1, 3, 4, 2]);
  assert.deepEqual(sortMessages(mailbox, [by('size'), by('arrival', true)]), [4, 2, 3, 1]);
});

test('sortMessages: string keys compare by code point, also beyond the BMP', () => {
  const recs = [
    keys({ uid: 1, subject: '\u{1F600} smile' }),
    keys({ uid: 2, subject: '\uFFFD replacement' }),
    keys({ uid: 3, subject: 'plain' }),
  ];
  assert.deepEqual(sortMessages(recs, [by('subject')]), [3, 2, 1]);
  assert.deepEqual(sortMessages(recs, [by('subject', true)]), [1, 2, 3]);
});

function reference(records: readonly SortKeys[], criteria: readonly SortCriterion[]): number[] {
  return [...records]
    .sort((a, b) => {
      for (const c of criteria) {
        const x = a[c.field];
        const y = b[c.field];
        const d = typeof x === 'number' && typeof y === 'number' ? Math.sign(x - y) : compareCodePoints(String(x), String(y));
        if (d !== 0) return c.reverse ? -d : d;
      }
      return a.uid - b.uid;
    })
    .map((r) => r.uid);
}

test('sortMessages: agrees with a plain comparator sort for any records and criteria, in any input order (property)', () => {
  const word = fc.constantFrom('', 'a', 'B', 'b', 'Re: a', 'é', 'E\u0301', '\u{1F600}', '\uFFFD', 'zz');
  const rec = fc.record({
    // Small values, whole thousands, fractions and spans too wide to rank without sorting.
    arrival: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constantFrom(1000, 3000, -2000, 1.5, 8.64e15, -8.64e15, 1_600_000_123_000)),
    size: fc.integer({ min: 0, max: 3 }), date: fc.constantFrom(null, 'x', '1 Jan 2024 00:00 +0000'),
    subject: word, from: word, to: word, cc: word, name: word,
  });
  const field = fc.constantFrom<SortField>('arrival', 'sent', 'size', 'subject', 'from', 'to', 'cc', 'displayFrom', 'displayTo');
  const crit = fc.array(fc.record({ field, reverse: fc.boolean() }), { maxLength: 4 });
  fc.assert(
    fc.property(fc.array(rec, { maxLength: 30 }), crit, fc.integer(), (rows, criteria, seed) => {
      const records = rows.map((r, i) => keys({
        uid: i * 3 + 1, internalDate: r.arrival, size: r.size, date: r.date, subject: r.subject,
        from: addr(r.from, r.name || null), to: addr(r.to), cc: r.cc ? addr(r.cc) : null,
      }));
      const want = reference(records, criteria);
      assert.deepEqual(sortMessages(records, criteria), want);
      const shuffled = [...records].sort((a, b) => ((a.uid * 7919 + seed) % 13) - ((b.uid * 7919 + seed) % 13));
      assert.deepEqual(sortMessages(shuffled, criteria), want);
    }),
    { numRuns: 500 },
  );
});

test('sortMessages: 100,000 messages (time printed, not asserted)', () => {
  const subjects = ['Re: status report', 'Weekly meeting', 'Fwd: invoice', '[list] Re: release', 'Lunch?', 'Ärger mit dem Server'];
  const records: SortKeys[] = [];
  for (let i = 0; i < 100_000; i++) {
    const h = (i * 2654435761) >>> 0;
    records.push({
      uid: i + 1, arrival: 1_700_000_000_000 + (h % 1_000_000) * 1000, sent: 1_700_000_000_000 + ((h >>> 3) % 1_000_000) * 1000,
      size: 1000 + (h % 50_000), subject: `${(subjects[h % subjects.length] as string).toUpperCase()} ${h % 977}`,
      from: `USER${h % 5000}`, to: `USER${(h >>> 7) % 5000}`, cc: '', displayFrom: `NAME ${h % 3000}`, displayTo: '',
      replyOrForward: false, messageId: null, parents: [],
    });
  }
  const runs: Array<[string, SortCriterion[]]> = [
    ['ARRIVAL', [by('arrival')]], ['DATE', [by('sent')]], ['REVERSE DATE', [by('sent', true)]], ['SIZE', [by('size')]],
    ['SUBJECT', [by('subject')]], ['FROM', [by('from')]], ['DISPLAYFROM', [by('displayFrom')]], ['SUBJECT DATE', [by('subject'), by('sent')]],
  ];
  const report: string[] = [];
  for (const [name, criteria] of runs) {
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now();
      const out = sortMessages(records, criteria);
      best = Math.min(best, performance.now() - t0);
      assert.equal(out.length, records.length);
    }
    report.push(`${name} ${best.toFixed(1)} ms`);
  }
  console.log(`sortMessages, 100000 messages, best of 3: ${report.join(', ')}`);
});

test('sortMessages: the imaptest sort-subject mailbox (base subjects, titlecase order, REVERSE ties)', () => {
  const subjects: Array<string | null> = ['a', 'C', 'b', '_', '[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)', 'b (a)', 'Re: [FWD: c]', '[xyz]', null];
  const bodies = ['1', '2', '3', '4', '55', '66', '77', '88', '9'];
  const recs = subjects.map((subject, i) => keys({
    uid: i + 1, subject, size: (subject === null ? 0 : `Subject: ${subject}\r\n`.length) + 2 + (bodies[i] as string).length + 2,
  }));
  assert.deepEqual(sortMessages(recs, [by('subject')]), [9, 1, 3, 5, 6, 2, 7, 8, 4]);
  assert.deepEqual(sortMessages(recs, [by('subject', true)]), [4, 8, 2, 7, 6, 3, 5, 1, 9]);
  assert.deepEqual(sortMessages(recs, [by('subject'), by('size', true)]), [9, 1, 5, 3, 6, 7, 2, 8, 4]);
});

test('sortMessages: empty input, and duplicate uids kept in input order', () => {
  assert.deepEqual(sortMessages([], [by('subject'), by('sent', true)]), []);
  const twice = [keys({ uid: 4, size: 2 }), keys({ uid: 4, size: 1 }), keys({ uid: 1, size: 2 })];
  assert.deepEqual(sortMessages(twice, [by('size')]), [4, 1, 4]);
  assert.deepEqual(sortMessages(twice, []), [1, 4, 4]);
});

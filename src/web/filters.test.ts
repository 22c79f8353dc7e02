import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSieve, runSieve, type SieveResult } from '../sieve/index.js';
import { FilterError, generateSieve, parseFilterSet, readFilterSet, type FilterSet } from './filters.js';

const MSG = Buffer.from('From: List Bot <bot@lists.example.net>\r\nTo: me@example.org\r\nSubject: [dev] weekly digest\r\nX-Priority: 1\r\n\r\nhello\r\n');

async function run(set: FilterSet, message = MSG): Promise<SieveResult> {
  const c = compileSieve(generateSieve(set));
  if (!c.ok) throw new Error(JSON.stringify(c.errors));
  return runSieve(c.script, { message, envelope: { from: 'bot@lists.example.net', to: 'me@example.org' }, mailboxExists: async () => true });
}

const brief = (r: SieveResult) => r.actions.map((a) => (a.type === 'fileinto' ? `fileinto ${a.mailbox} ${a.flags.join(' ')}`.trim() : a.type === 'redirect' ? `redirect ${a.address}${a.copy ? ' copy' : ''}` : a.type));

test('rules become Sieve that files, flags, forwards, discards and stops as the rules say', async () => {
  const set = parseFilterSet({
    rules: [
      { name: 'lists', match: 'all', conditions: [{ field: 'from', op: 'contains', value: 'lists.example.net' }, { field: 'subject', op: 'matches', value: '[dev]*' }], actions: [{ type: 'move', folder: 'Lists/Dev' }, { type: 'read' }, { type: 'stop' }] },
      { name: 'never reached', match: 'any', conditions: [{ field: 'size', op: 'under', value: '1M' }], actions: [{ type: 'discard' }] },
    ],
    forwarding: { enabled: true, to: 'me@elsewhere.test', keepCopy: true },
  });
  assert.deepEqual(brief(await run(set)), ['redirect me@elsewhere.test copy', 'fileinto Lists/Dev \\Seen']);
  // Without a copy kept, forwarding ends the script: nothing is filed.
  assert.deepEqual(brief(await run({ ...set, forwarding: { enabled: true, to: 'me@elsewhere.test', keepCopy: false } })), ['redirect me@elsewhere.test']);
  // A header condition, a negated one, flag and forward a copy.
  const other = parseFilterSet({
    rules: [{ name: '', match: 'all', conditions: [{ field: 'header', header: 'X-Priority', op: 'is', value: '1' }, { field: 'to', op: 'not-contains', value: 'boss' }], actions: [{ type: 'flag' }, { type: 'forward', to: 'pager@example.org' }] }],
  });
  const r = await run(other);
  assert.deepEqual(brief(r), ['redirect pager@example.org copy', 'keep']);
  assert.deepEqual(r.actions.at(-1), { type: 'keep', flags: ['\\Flagged'] });
});

test('a script reads back as the rules it was written from; a hand edit is noticed', () => {
  const set = parseFilterSet({ rules: [{ name: 'quote " and \\ back', match: 'any', conditions: [{ field: 'subject', op: 'contains', value: 'a "quoted" \\ value' }], actions: [{ type: 'move', folder: 'Odd "name"' }] }] });
  const script = generateSieve(set);
  assert.ok(compileSieve(script).ok, script);
  const back = readFilterSet(script);
  assert.deepEqual(back, { set, managed: true, handEdited: false });
  assert.equal(readFilterSet(script.replace('fileinto', 'fileinto :copy')).handEdited, true);
  assert.deepEqual(readFilterSet('keep;\n'), { set: { rules: [], forwarding: { enabled: false, to: '', keepCopy: true } }, managed: false, handEdited: true });
  assert.equal(readFilterSet('# mailroom-filters-v1 {not json\nkeep;\n').managed, false);
});

test('bad rules are refused with a reason', () => {
  const rule = (c: unknown, a: unknown = [{ type: 'stop' }]) => ({ rules: [{ name: 'x', match: 'all', conditions: [c], actions: a }] });
  const bad: unknown[] = [
    null,
    { rules: 'x' },
    rule({ field: 'body', op: 'contains', value: 'x' }),
    rule({ field: 'size', op: 'contains', value: '1' }),
    rule({ field: 'size', op: 'over', value: 'big' }),
    rule({ field: 'subject', op: 'over', value: 'x' }),
    rule({ field: 'subject', op: 'contains', value: '' }),
    rule({ field: 'subject', op: 'contains', value: 'two\nlines' }),
    rule({ field: 'header', header: 'Bad:Name', op: 'is', value: 'x' }),
    rule({ field: 'from', op: 'is', value: 'x' }, [{ type: 'forward', to: 'not an address' }]),
    rule({ field: 'from', op: 'is', value: 'x' }, [{ type: 'move', folder: ' ' }]),
    rule({ field: 'from', op: 'is', value: 'x' }, [{ type: 'run', program: 'x' }]),
    rule({ field: 'from', op: 'is', value: 'x' }, []),
    { rules: [{ name: 'x', match: 'some', conditions: [{ field: 'from', op: 'is', value: 'x' }], actions: [{ type: 'stop' }] }] },
    { rules: [], forwarding: { enabled: true, to: 'nobody', keepCopy: true } },
    { rules: [], forwarding: { enabled: 'yes', to: 'a@b.test', keepCopy: true } },
    { rules: Array.from({ length: 101 }, () => rule({ field: 'from', op: 'is', value: 'x' }).rules[0]) },
  ];
  for (const b of bad) assert.throws(() => parseFilterSet(b), FilterError, JSON.stringify(b)?.slice(0, 80));
});

/**
 * Timing of src/mailsort on synthetic mailboxes: key computation (sortKeysFor), every sort criterion and the
 * three threading algorithms. Usage: node --import tsx bench/mailsort.ts [messages=100000] [rounds=5]
 * Prints the median and the best of the rounds for each step.
 */
import { sortKeysFor, sortMessages, threadMessages, type SortCriterion, type SortInput, type SortKeys } from '../src/mailsort/index.js';

const count = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 5);

const WORDS = ['status', 'report', 'meeting', 'invoice', 'release', 'lunch', 'Ärger', 'server', 'déjà', 'vu', 'plan'];
const PREFIXES = ['', '', 'Re: ', 'RE: Re: ', 'Fwd: ', '[list] Re: ', '=?UTF-8?Q?Re=3A_?='];

/** A deterministic pseudo-random mailbox: threads of replies with References, varied senders and dates. */
function synthetic(n: number): SortInput[] {
  let seed = 12345;
  const rnd = (m: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % m;
  };
  const out: SortInput[] = [];
  for (let i = 0; i < n; i++) {
    const uid = i + 1;
    const topic = rnd(Math.max(1, n >> 3));
    const parent = i > 0 && rnd(3) > 0 ? out[rnd(i)] : undefined;
    const refs = parent ? `${parent.references ?? ''} ${parent.messageId ?? ''}`.trim().split(' ').slice(-10).join(' ') : null;
    const t = 1_600_000_000_000 + i * 60_000 + rnd(3_600_000);
    const d = new Date(t - rnd(600_000));
    out.push({
      uid,
      internalDate: t,
      size: 500 + rnd(200_000),
      date: rnd(50) === 0 ? null : d.toUTCString().replace('GMT', '+0000'),
      subject: `${PREFIXES[rnd(PREFIXES.length)]}${WORDS[topic % WORDS.length]} ${topic}`,
      from: [{ name: rnd(2) ? `Person ${rnd(2000)}` : null, mailbox: `user${rnd(5000)}`, host: 'example.com' }],
      to: [{ name: null, mailbox: `list${rnd(50)}`, host: 'lists.example.org' }],
      cc: rnd(4) === 0 ? [{ name: null, mailbox: `cc${rnd(100)}`, host: 'example.net' }] : null,
      messageId: `<m${uid}.${rnd(1e9)}@example.com>`,
      inReplyTo: parent?.messageId ?? null,
      references: refs,
    });
  }
  return out;
}

function time<T>(label: string, fn: () => T): T {
  const ms: number[] = [];
  let result: T | undefined;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    result = fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)] as number;
  console.log(`${label.padEnd(22)} median ${median.toFixed(1).padStart(7)} ms   best ${(ms[0] as number).toFixed(1).padStart(7)} ms`);
  return result as T;
}

const inputs = synthetic(count);
console.log(`${count} messages, ${rounds} rounds`);
const keys: SortKeys[] = time('sortKeysFor', () => inputs.map(sortKeysFor));
const sorts: Array<[string, SortCriterion[]]> = [
  ['ARRIVAL', [{ field: 'arrival' }]],
  ['DATE', [{ field: 'sent' }]],
  ['REVERSE DATE', [{ field: 'sent', reverse: true }]],
  ['SIZE', [{ field: 'size' }]],
  ['SUBJECT', [{ field: 'subject' }]],
  ['FROM', [{ field: 'from' }]],
  ['TO', [{ field: 'to' }]],
  ['CC', [{ field: 'cc' }]],
  ['DISPLAYFROM', [{ field: 'displayFrom' }]],
  ['SUBJECT DATE', [{ field: 'subject' }, { field: 'sent' }]],
  ['REVERSE FROM SIZE', [{ field: 'from', reverse: true }, { field: 'size' }]],
];
for (const [name, criteria] of sorts) time(`SORT ${name}`, () => sortMessages(keys, criteria));
for (const algorithm of ['orderedsubject', 'references', 'refs'] as const) {
  time(`THREAD ${algorithm}`, () => threadMessages(keys, algorithm));
}

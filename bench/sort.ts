/**
 * Timing of SORT and THREAD as the IMAP server runs them, over a real SQLite store (not a test; run by hand):
 *
 *   node --import tsx bench/sort.ts [--messages 100000] [--rounds 5] [--data DIR] [--user ADDRESS]
 *
 * (--user: the mailbox owner, created when missing; an existing user, e.g. one made by `mailroom user add`,
 * lets a server started on --data DIR be timed over IMAP afterwards.)
 * Fills a store with --messages synthetic messages (reply threads with References, varied senders, dates and
 * subjects; kept in --data DIR for the next run when given, else a temporary directory), then times the
 * store's sortKeys (cold: keys computed from stored envelopes and header blocks; warm: from the cache) and,
 * warm, sortKeys + sortMessages for ARRIVAL, DATE, SUBJECT, FROM and sortKeys + threadMessages for each
 * algorithm, each computed every round, then as the IMAP server runs them (sortMessagesMemo,
 * threadMessagesMemo: computed once while the mailbox is unchanged). Prints the median and the best of the
 * rounds.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openStore } from '../src/store/index.js';
import { envelopeImapText } from '../src/imap/wire/envelope-text.js';
import { sortMessages, sortMessagesMemo, threadMessages, threadMessagesMemo, type SortCriterion } from '../src/mailsort/index.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    rounds: { type: 'string', default: '5' },
    data: { type: 'string' },
    user: { type: 'string', default: 'bench@example.org' },
  },
});
const N = Number(values.messages);
const ROUNDS = Number(values.rounds);

const WORDS = ['status', 'report', 'meeting', 'invoice', 'release', 'lunch', 'Ärger', 'server', 'déjà', 'vu', 'plan'];
const PREFIXES = ['', '', 'Re: ', 'RE: Re: ', 'Fwd: ', '[list] Re: ', '=?UTF-8?Q?Re=3A_?='];

/** A deterministic mailbox: each message may reply to an earlier one (References up to 10 ids). */
function* messages(n: number): Generator<{ raw: Buffer; date: Date }> {
  let seed = 12345;
  const rnd = (m: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % m;
  };
  const refs: string[][] = [];
  for (let i = 0; i < n; i++) {
    const id = `<m${i + 1}.${rnd(1e9)}@example.com>`;
    const parent = i > 0 && rnd(3) > 0 ? rnd(i) : -1;
    const chain = parent >= 0 ? [...refs[parent]!, `<m${parent + 1}@x>`].slice(-10) : [];
    refs.push(chain);
    const topic = rnd(Math.max(1, n >> 3));
    const t = 1_600_000_000_000 + i * 60_000 + rnd(3_600_000);
    const sent = new Date(t - rnd(600_000));
    const name = rnd(2) ? `Person ${rnd(2000)} ` : '';
    const head = [
      `From: ${name}<user${rnd(5000)}@example.com>`,
      `To: list${rnd(50)}@lists.example.org`,
      `Subject: ${PREFIXES[rnd(PREFIXES.length)]}${WORDS[topic % WORDS.length]} ${topic}`,
      rnd(50) === 0 ? null : `Date: ${sent.toUTCString().replace('GMT', '+0000')}`,
      `Message-ID: ${id.replace(/\.\d+@/, '@').replace('example.com', 'x')}`,
      chain.length ? `References: ${chain.join(' ')}` : null,
      chain.length ? `In-Reply-To: ${chain[chain.length - 1]}` : null,
    ].filter((l) => l !== null);
    yield { raw: Buffer.from(`${head.join('\r\n')}\r\n\r\nBody of message ${i + 1}.\r\n`), date: new Date(t) };
  }
}

async function time<T>(label: string, rounds: number, fn: () => Promise<T>): Promise<T> {
  const ms: number[] = [];
  let result: T | undefined;
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    result = await fn();
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  const median = ms[Math.floor(ms.length / 2)]!;
  console.log(`${label.padEnd(36)} median ${median.toFixed(1).padStart(8)} ms   best ${ms[0]!.toFixed(1).padStart(8)} ms`);
  return result as T;
}

const dir = values.data ?? mkdtempSync(join(tmpdir(), 'mailroom-sort-bench-'));
const fresh = !existsSync(join(dir, 'mail.db'));
const store = await openStore({ dataDir: dir, fsync: false }, { envelopeText: envelopeImapText });
try {
  const user = (await store.directory.getUser(values.user!)) ?? (await store.directory.createUser(values.user!, '$bench$'));
  const inbox = (await store.mail.getMailbox(user.id, 'INBOX'))!;
  if (fresh || (await store.mail.status(inbox.id)).messages < N) {
    const t0 = performance.now();
    const pending: Array<Promise<unknown>> = [];
    for (const m of messages(N)) {
      pending.push(store.mail.append(inbox.id, m.raw, { internalDate: m.date }));
      if (pending.length >= 64) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    console.log(`filled ${N} messages in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const count = (await store.mail.status(inbox.id)).messages;
  console.log(`${count} messages, ${ROUNDS} rounds`);
  await time('sortKeys cold (computed, cached)', 1, () => store.mail.sortKeys(inbox.id));
  await time('sortKeys warm (all)', ROUNDS, () => store.mail.sortKeys(inbox.id));
  const uids = (await store.mail.listMessages(inbox.id)).map((m) => m.uid);
  await time('sortKeys warm (uid list)', ROUNDS, () => store.mail.sortKeys(inbox.id, uids));
  const sorts: Array<[string, SortCriterion[]]> = [
    ['ARRIVAL', [{ field: 'arrival' }]],
    ['DATE', [{ field: 'sent' }]],
    ['SUBJECT', [{ field: 'subject' }]],
    ['FROM', [{ field: 'from' }]],
    ['REVERSE DATE', [{ field: 'sent', reverse: true }]],
    ['DISPLAYFROM', [{ field: 'displayFrom' }]],
  ];
  for (const [name, criteria] of sorts) {
    await time(`SORT (${name})`, ROUNDS, async () => sortMessages(await store.mail.sortKeys(inbox.id, uids), criteria));
  }
  for (const algorithm of ['orderedsubject', 'references', 'refs'] as const) {
    await time(`THREAD ${algorithm}`, ROUNDS, async () => threadMessages(await store.mail.sortKeys(inbox.id, uids), algorithm));
  }
  // As the IMAP server runs them: results memoized while the mailbox is unchanged (first round computes).
  for (const [name, criteria] of sorts.slice(0, 4)) {
    await time(`SORT (${name}) memoized`, ROUNDS, async () => sortMessagesMemo(await store.mail.sortKeys(inbox.id, uids), criteria));
  }
  for (const algorithm of ['orderedsubject', 'references', 'refs'] as const) {
    await time(`THREAD ${algorithm} memoized`, ROUNDS, async () => threadMessagesMemo(await store.mail.sortKeys(inbox.id, uids), algorithm));
  }
} finally {
  await store.close();
  if (!values.data) rmSync(dir, { recursive: true, force: true });
}

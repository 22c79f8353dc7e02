/**
 * Store append throughput: PostgreSQL with bytea blobs, PostgreSQL with a blob directory, and the SQLite
 * store, all durable (fsync on, synchronous_commit on). Not a test; run by hand:
 *
 *   npx tsx bench/store/postgres.ts [--messages N] [--size BYTES] [--writers N] [--runs N]
 *
 * For each store: N appends by one writer (latency-bound), then N appends by `writers` concurrent writers
 * into separate mailboxes, then into one mailbox (row-lock contention), plus a full read of every message.
 * Reports the median of `runs` runs in appends/s (reads/s). Needs PostgreSQL (see support/postgres.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import type { Store } from '../../src/store/handle.js';
import { openPostgresStore } from '../../src/store/postgres/index.js';
import { createTestDatabase } from '../../support/postgres.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '300' },
    size: { type: 'string', default: '8192' },
    writers: { type: 'string', default: '8' },
    runs: { type: 'string', default: '3' },
  },
});
const N = Number(values.messages);
const SIZE = Number(values.size);
const WRITERS = Number(values.writers);
const RUNS = Number(values.runs);

function message(i: number): Buffer {
  const head = `From: bench@example.org\r\nTo: user@example.org\r\nSubject: bench ${i}\r\nMessage-ID: <b${i}.${Math.random()}@example.org>\r\n\r\n`;
  const line = 'The quick brown fox jumps over the lazy dog 0123456789.\r\n';
  return Buffer.from(head + line.repeat(Math.max(1, Math.ceil((SIZE - head.length) / line.length))));
}

interface Result {
  serial: number;
  parallelBoxes: number;
  parallelOne: number;
  reads: number;
}

async function measureStore(handle: Store, tag: string): Promise<Result> {
  const store = handle.mail;
  const user = await handle.directory.createUser(`${tag}@example.org`, 'x');
  const inbox = (await store.getMailbox(user.id, 'INBOX'))!;
  const boxes = [];
  for (let w = 0; w < WRITERS; w++) boxes.push(await store.createMailbox(user.id, `W${w}`));
  const msgs = Array.from({ length: N }, (_, i) => message(i));

  let t = performance.now();
  for (const m of msgs) await store.append(inbox.id, m);
  const serial = N / ((performance.now() - t) / 1000);

  const per = Math.ceil(N / WRITERS);
  t = performance.now();
  await Promise.all(boxes.map(async (b, w) => {
    for (let i = 0; i < per; i++) await store.append(b.id, msgs[(w * per + i) % N]!);
  }));
  const parallelBoxes = (per * WRITERS) / ((performance.now() - t) / 1000);

  const one = await store.createMailbox(user.id, 'Shared');
  t = performance.now();
  await Promise.all(boxes.map(async (_b, w) => {
    for (let i = 0; i < per; i++) await store.append(one.id, msgs[(w * per + i) % N]!);
  }));
  const parallelOne = (per * WRITERS) / ((performance.now() - t) / 1000);

  const list = await store.listMessages(inbox.id);
  t = performance.now();
  for (const m of list) await store.readBytes(inbox.id, m.uid);
  const reads = list.length / ((performance.now() - t) / 1000);
  return { serial, parallelBoxes, parallelOne, reads };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const db = await createTestDatabase();
  const dirs: string[] = [];
  const tmp = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'mailroom-bench-'));
    dirs.push(d);
    return d;
  };
  const kinds: Array<[string, (run: number) => Promise<Store>]> = [
    ['postgres bytea', (run) => openPostgresStore({ url: db.url, schema: `bench_bytea_${run}` })],
    ['postgres blobDir', (run) => openPostgresStore({ url: db.url, schema: `bench_dir_${run}`, blobDir: tmp() })],
    ['sqlite', () => openSqliteStore({ dataDir: tmp() })],
  ];
  const results = new Map<string, Result[]>();
  try {
    for (let run = 0; run < RUNS; run++) {
      // Alternate the order of stores between runs so drift in machine load spreads evenly.
      const order = run % 2 === 0 ? kinds : [...kinds].reverse();
      for (const [name, open] of order) {
        const store = await open(run);
        try {
          const r = await measureStore(store, `u${run}`);
          results.set(name, [...(results.get(name) ?? []), r]);
          process.stderr.write(`run ${run + 1} ${name}: ${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' ? Math.round(v) : v))}\n`);
        } finally {
          await store.close();
        }
      }
    }
  } finally {
    await db.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  const rows = [...results].map(([name, rs]) => {
    const m = (k: keyof Result): number => Math.round(median(rs.map((r) => r[k])));
    return `| ${name} | ${m('serial')} | ${m('parallelBoxes')} | ${m('parallelOne')} | ${m('reads')} |`;
  });
  console.log(`${N} appends of ${SIZE} B, ${WRITERS} writers, median of ${RUNS} runs, load average ${loadavg()[0]!.toFixed(1)}`);
  console.log('| store | appends/s serial | appends/s, writers into own mailboxes | appends/s, writers into one mailbox | reads/s |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}

await main();

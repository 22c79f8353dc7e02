/**
 * Latency of the SQLite store's write paths under concurrency (not a test; run by hand), shaped after LMTP
 * delivery and imaptest's mix: `--appenders` concurrent appenders (each waits for its append before the
 * next, as an LMTP sender waits for 250), 1 message in `--file-every` large enough to be a blob file, while
 * `--flaggers` sessions change flags (STORE, \Deleted + EXPUNGE) one command at a time, fsync on.
 *
 *   node --import tsx bench/store/write-latency.ts [--appends 1000] [--appenders 10] [--flaggers 5]
 *        [--file-every 10] [--rounds 3] [--impl ./other/src/store/sqlite/index.ts] [--dir /tmp]
 *
 * Prints per round: wall time of the appends, appends per second, the process's CPU time, and median / 90th
 * percentile latency per operation. --impl loads openSqliteStore from another copy of the sources, so two
 * versions can be compared in one sitting (alternate them on a loaded machine).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { SqliteStore, SqliteStoreOptions } from '../../src/store/sqlite/index.js';

const { values } = parseArgs({
  options: {
    appends: { type: 'string', default: '1000' },
    appenders: { type: 'string', default: '10' },
    flaggers: { type: 'string', default: '5' },
    'file-every': { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    impl: { type: 'string' },
    dir: { type: 'string', default: tmpdir() },
  },
  strict: true,
});
const APPENDS = Number(values.appends);
const APPENDERS = Number(values.appenders);
const FLAGGERS = Number(values.flaggers);
const FILE_EVERY = Math.max(1, Number(values['file-every']));
const implPath = values.impl ? pathToFileURL(resolve(values.impl)).href : '../../src/store/sqlite/index.js';
const impl = (await import(implPath)) as { openSqliteStore(opts: SqliteStoreOptions): Promise<SqliteStore> };

/** A plain-text message of 2-6 KB. */
function benchMessage(i: number): Buffer {
  const line = `line ${i} lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor\r\n`;
  return Buffer.from(
    `From: Sender ${i % 97} <s${i % 97}@example.org>\r\nTo: you@example.org\r\nSubject: bench message ${i}\r\n` +
      `Message-ID: <w${i}@example.org>\r\nDate: Mon, 02 Jan 2023 10:00:00 +0000\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\n${line.repeat(25 + (i % 50))}`,
  );
}

/** Whether message i is large enough to be stored as a file. */
function isFile(i: number): boolean {
  return i % FILE_EVERY === FILE_EVERY >> 1;
}

/** benchMessage(i), and every --file-every'th message with ~150 KB of base64 attached (stored as a file). */
function message(i: number): Buffer {
  const m = benchMessage(i);
  if (!isFile(i)) return m;
  const att = Buffer.alloc(110_000, i % 251).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.concat([m, Buffer.from(`\r\n${att}\r\n`)]);
}

function pct(xs: number[], p: number): string {
  if (xs.length === 0) return '-';
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))]!.toFixed(2);
}

async function round(r: number): Promise<void> {
  const dir = mkdtempSync(join(values.dir!, 'mailroom-wlat-'));
  const s = await impl.openSqliteStore({ dataDir: dir, fsync: true });
  try {
    const u = await s.directory.createUser('a@example.org', 'x');
    const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
    const other = await s.mail.createMailbox(u.id, 'Work');
    for (let i = 0; i < 200; i++) await s.mail.append(other.id, benchMessage(100_000 + i));
    const msgs = Array.from({ length: APPENDS }, (_, i) => message(i));
    const lat: Record<string, number[]> = { 'append small': [], 'append file': [], store: [], expunge: [] };
    const timed = async <T>(key: string, p: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const v = await p();
      lat[key]!.push(performance.now() - t0);
      return v;
    };
    let next = 0;
    let done = false;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const flaggers = Array.from({ length: FLAGGERS }, async (_, f) => {
      let k = f;
      while (!done) {
        const uid = 1 + ((k * 37) % 200);
        k++;
        await timed('store', () => s.mail.storeFlags(other.id, [uid], { op: k % 2 ? 'add' : 'remove', flags: ['\\Seen'] }));
        if (k % 4 === 0) {
          const fresh = await s.mail.append(other.id, benchMessage(200_000 + f * 100_000 + k));
          await s.mail.storeFlags(other.id, [fresh.uid], { op: 'add', flags: ['\\Deleted'] });
          await timed('expunge', () => s.mail.expunge(other.id, [fresh.uid]));
        }
      }
    });
    await Promise.all(
      Array.from({ length: APPENDERS }, async () => {
        while (next < msgs.length) {
          const i = next++;
          await timed(isFile(i) ? 'append file' : 'append small', () => s.mail.append(inbox.id, msgs[i]!));
        }
      }),
    );
    const wall = performance.now() - t0;
    done = true;
    await Promise.all(flaggers);
    const c = process.cpuUsage(c0);
    const parts = Object.entries(lat).map(([k, xs]) => `${k} ${pct(xs, 0.5)}/${pct(xs, 0.9)}`);
    console.log(
      `round ${r}: ${APPENDS} appends in ${wall.toFixed(0)} ms (${((APPENDS * 1000) / wall).toFixed(0)}/s), cpu ${((c.user + c.system) / 1000).toFixed(0)} ms; ` +
        `latency ms p50/p90: ${parts.join(', ')}; ${s.stats.commits} commits`,
    );
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`impl ${implPath}: ${APPENDS} appends by ${APPENDERS}, ${FLAGGERS} flag changers`);
for (let r = 0; r < Number(values.rounds); r++) await round(r);

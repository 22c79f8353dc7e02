/**
 * Micro-benchmark of the SQLite store (not a test; run by hand):
 *
 *   node --import tsx bench/store/sqlite.ts [--messages 10000] [--appends 300] [--body 3000]
 *
 * Prints appends/second with fsync (sequential and 20 concurrent; sequential with synchronous=NORMAL and
 * without fsync for comparison), then, over a mailbox of --messages
 * messages: listMessages, readMessages of the MIME index (all, in batches), status, changesSince(0), searchText
 * (body and text) and readBytes ranges.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqliteStore } from '../../src/store/sqlite/index.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '10000' },
    appends: { type: 'string', default: '300' },
    body: { type: 'string', default: '3000' },
  },
});
const N = Number(values.messages);
const APPENDS = Number(values.appends);
const BODY = Number(values.body);

const words = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(' ');
function message(i: number): Buffer {
  const parts: string[] = [];
  let len = 0;
  let k = i;
  while (len < BODY) {
    k = (k * 1103515245 + 12345) >>> 0;
    const w = words[k % words.length]!;
    parts.push(w);
    len += w.length + 1;
  }
  const lines: string[] = [];
  for (let j = 0; j < parts.length; j += 12) lines.push(parts.slice(j, j + 12).join(' '));
  if (i % 1000 === 7) lines.push('the rare zanzibar token');
  return Buffer.from(
    `From: Bench <bench@example.org>\r\nTo: you@example.org\r\nSubject: bench message ${i}\r\nMessage-ID: <b${i}@example.org>\r\n` +
      `Date: Mon, 02 Jan 2023 10:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${lines.join('\r\n')}\r\n`,
  );
}

async function time<T>(label: string, fn: () => Promise<T>, per?: number): Promise<T> {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const rate = per ? `  (${((per * 1000) / ms).toFixed(0)}/s, ${(ms / per).toFixed(3)} ms each)` : '';
  console.log(`${label.padEnd(52)} ${ms.toFixed(1).padStart(9)} ms${rate}`);
  return r;
}

const dir = mkdtempSync(join(tmpdir(), 'mailroom-bench-'));
try {
  // Durable appends.
  {
    const s = await openSqliteStore({ dataDir: join(dir, 'durable'), fsync: true });
    const u = await s.directory.createUser('d@example.org', 'x');
    const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
    await time(`append x${APPENDS} sequential, fsync on`, async () => {
      for (let i = 0; i < APPENDS; i++) await s.mail.append(inbox.id, message(i));
    }, APPENDS);
    await time(`append x${APPENDS} 20 concurrent, fsync on`, async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 20 }, async () => {
          while (next < APPENDS) {
            next++;
            await s.mail.append(inbox.id, message(next));
          }
        }),
      );
    }, APPENDS);
    await s.close();
    // The same with synchronous=NORMAL (WAL not fsynced per commit), to show what FULL costs.
    const n = await openSqliteStore({ dataDir: join(dir, 'normal'), fsync: true, synchronous: 'NORMAL' });
    const nu = await n.directory.createUser('n@example.org', 'x');
    const ninbox = (await n.mail.getMailbox(nu.id, 'INBOX'))!;
    await time(`append x${APPENDS} sequential, fsync on, sync=NORMAL`, async () => {
      for (let i = 0; i < APPENDS; i++) await n.mail.append(ninbox.id, message(i));
    }, APPENDS);
    await n.close();
    const o = await openSqliteStore({ dataDir: join(dir, 'nofsync'), fsync: false });
    const ou = await o.directory.createUser('o@example.org', 'x');
    const oinbox = (await o.mail.getMailbox(ou.id, 'INBOX'))!;
    await time(`append x${APPENDS} sequential, fsync off`, async () => {
      for (let i = 0; i < APPENDS; i++) await o.mail.append(oinbox.id, message(i));
    }, APPENDS);
    await o.close();
  }
  // Big mailbox.
  const s = await openSqliteStore({ dataDir: join(dir, 'big'), fsync: false });
  const u = await s.directory.createUser('b@example.org', 'x');
  const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
  await time(`populate ${N} messages (fsync off)`, async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) await s.mail.append(inbox.id, message(next++));
      }),
    );
  }, N);
  const uids = (await s.mail.listMessages(inbox.id)).map((m) => m.uid);
  for (let round = 0; round < 2; round++) {
    await time(`listMessages (${N})`, () => s.mail.listMessages(inbox.id));
  }
  await time(`readMessages all ${N} (with MIME index)`, async () => {
    let n = 0;
    for await (const m of s.mail.readMessages(inbox.id, uids, { index: true })) n += m.index.size > 0 ? 1 : 0;
    return n;
  });
  await time('status', () => s.mail.status(inbox.id));
  await time('changesSince(0)', () => s.mail.changesSince(inbox.id, 0));
  await time('storeFlags +\\Seen on all', () => s.mail.storeFlags(inbox.id, uids, { op: 'add', flags: ['\\Seen'] }));
  const hits = await time(`searchText body 'zanzibar' over ${N}`, () => s.mail.searchText(inbox.id, uids, 'zanzibar', 'body'));
  await time(`searchText text 'nomatchatall' over ${N}`, () => s.mail.searchText(inbox.id, uids, 'nomatchatall', 'text'));
  await time('searchText body over 200 uids (chunked path)', () => s.mail.searchText(inbox.id, uids.slice(0, 200), 'zanzibar', 'body'));
  await time('readBytes 1000 x 100-byte range', async () => {
    for (let i = 0; i < 1000; i++) await s.mail.readBytes(inbox.id, uids[(i * 7) % uids.length]!, { start: 100, end: 200 });
  }, 1000);
  console.log(`search hits: ${hits.length}`);
  await s.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

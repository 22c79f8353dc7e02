/**
 * Hot-path benchmark of the SQLite store (not a test; run by hand), shaped after the server workloads:
 *
 *   node --import tsx bench/store/sqlite-paths.ts --data /tmp/mailroom-bench-100k [--messages 100000]
 *        [--only append,pop3,list,select,overview,search,changes] [--rounds 3] [--impl ./other/src/store/sqlite/index.ts]
 *
 * The big mailbox is populated once (fsync off) into --data and reused by later runs (a few messages are
 * appended per run). --impl loads openSqliteStore from another copy of src/store/sqlite/index.ts (e.g. another
 * checkout with the same Store API) so two versions can be compared on the same data. Each line reports the median wall time and the median CPU
 * time of the process (CPU is the steadier number on a shared, loaded machine).
 *
 * Paths:
 *   append    10 concurrent appenders, 400 messages, fsync on (LMTP delivery); commits = write transactions
 *   pop3      readBytes of 10,000 whole messages in sequence, like RETR (chunks of 256 KiB)
 *   list      listMessages of the whole mailbox
 *   select    status + listMessages (IMAP SELECT)
 *   overview  listMessages + readMessages(all uids) of the envelope, as index, as data and as kept IMAP text
 *             (FETCH 1:* (UID FLAGS ENVELOPE RFC822.SIZE)), and of the full index (BODYSTRUCTURE)
 *   small     2000 x (listMailboxes, readMessages meta+index of one uid, storeFlags of one uid, a 400-byte read)
 *   search    searchText body over all uids (SEARCH BODY)
 *   changes   one append, then changesSince(previous HIGHESTMODSEQ) x 10,000 (IDLE sessions woken by it)
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { SqliteStore, SqliteStoreOptions } from '../../src/store/sqlite/index.js';
import { envelopeImapText } from '../../src/imap/wire/envelope-text.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: join(tmpdir(), 'mailroom-bench-100k') },
    messages: { type: 'string', default: '100000' },
    only: { type: 'string', default: 'append,pop3,list,select,overview,small,search,changes' },
    rounds: { type: 'string', default: '3' },
    impl: { type: 'string' },
  },
});
const N = Number(values.messages);
const ROUNDS = Math.max(1, Number(values.rounds));
const ONLY = new Set(values.only!.split(','));

const implPath = values.impl ? pathToFileURL(resolve(values.impl)).href : '../../src/store/sqlite/index.js';
const impl = (await import(implPath)) as { openSqliteStore(opts: SqliteStoreOptions): Promise<SqliteStore> };
/** Opened as the server opens it: the IMAP envelope text is kept at append. */
const openStore = (dataDir: string, fsync: boolean): Promise<SqliteStore> => impl.openSqliteStore({ dataDir, fsync, envelopeText: envelopeImapText });

const words = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua'.split(' ');

function text(seed: number, len: number): string {
  const parts: string[] = [];
  let n = 0;
  let k = seed;
  while (n < len) {
    k = (k * 1103515245 + 12345) >>> 0;
    const w = words[k % words.length]!;
    parts.push(w);
    n += w.length + 1;
  }
  const lines: string[] = [];
  for (let j = 0; j < parts.length; j += 12) lines.push(parts.slice(j, j + 12).join(' '));
  return lines.join('\r\n');
}

/** 4 in 5 plain text of 1-5 KB; 1 in 5 multipart/mixed (text + html alternative + a base64 attachment). */
export function benchMessage(i: number): Buffer {
  const head =
    `From: Sender ${i % 97} <s${i % 97}@example.org>\r\nTo: you@example.org, Other <o@example.net>\r\n` +
    `Subject: ${i % 10 === 3 ? '=?utf-8?q?caf=C3=A9_' : ''}bench message ${i}${i % 10 === 3 ? '?=' : ''}\r\n` +
    `Message-ID: <b${i}@example.org>\r\nDate: Mon, 02 Jan 2023 10:00:00 +0000\r\nMIME-Version: 1.0\r\n`;
  const body = text(i, 1000 + ((i * 7919) % 4000)) + (i % 1000 === 7 ? '\r\nthe rare zanzibar token' : '');
  if (i % 5 !== 0) return Buffer.from(`${head}Content-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`);
  const att = Buffer.from(text(i + 1, 4000)).toString('base64').replace(/.{76}/g, '$&\r\n');
  return Buffer.from(
    `${head}Content-Type: multipart/mixed; boundary="mix${i}"\r\n\r\n` +
      `--mix${i}\r\nContent-Type: multipart/alternative; boundary="alt${i}"\r\n\r\n` +
      `--alt${i}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n` +
      `--alt${i}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>${body}</p>\r\n--alt${i}--\r\n` +
      `--mix${i}\r\nContent-Type: application/octet-stream; name="a${i}.bin"\r\nContent-Disposition: attachment; filename="a${i}.bin"\r\n` +
      `Content-Transfer-Encoding: base64\r\n\r\n${att}\r\n--mix${i}--\r\n`,
  );
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function measure(label: string, fn: () => Promise<unknown>, per?: number): Promise<void> {
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await fn();
    walls.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpus.push((c.user + c.system) / 1000);
  }
  const w = median(walls);
  const rate = per ? `  ${((per * 1000) / w).toFixed(0)}/s` : '';
  console.log(`${label.padEnd(48)} wall ${w.toFixed(1).padStart(9)} ms   cpu ${median(cpus).toFixed(1).padStart(9)} ms${rate}`);
}

async function populate(dir: string): Promise<void> {
  const marker = join(dir, `populated-${N}`);
  if (existsSync(marker)) return;
  const s = await openStore(dir, false);
  const u = (await s.directory.getUser('bench@example.org')) ?? (await s.directory.createUser('bench@example.org', 'x'));
  const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
  let next = (await s.mail.status(inbox.id)).messages;
  const t0 = Date.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < N) {
        const i = next++;
        await s.mail.append(inbox.id, benchMessage(i));
        if (i % 10000 === 0) console.log(`populating: ${i}/${N} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      }
    }),
  );
  await s.close();
  writeFileSync(marker, '');
}

console.log(`impl ${implPath}, ${N} messages in ${values.data}, median of ${ROUNDS}`);

if (ONLY.has('append')) {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-bench-append-'));
  try {
    const s = await openStore(dir, true);
    const u = await s.directory.createUser('a@example.org', 'x');
    const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
    const msgs = Array.from({ length: 400 }, (_, i) => benchMessage(i));
    const c0 = s.stats.commits;
    const d0 = s.stats.dirSyncs;
    let appends = 0;
    await measure('append 400, 10 concurrent, fsync on', async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 10 }, async () => {
          while (next < msgs.length) {
            await s.mail.append(inbox.id, msgs[next++]!);
            appends++;
          }
        }),
      );
    }, 400);
    console.log(`  ${appends} appends in ${s.stats.commits - c0} group commits, ${s.stats.dirSyncs - d0} directory fsyncs`);
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await populate(values.data!);
const s = await openStore(values.data!, false);
const u = (await s.directory.getUser('bench@example.org'))!;
const inbox = (await s.mail.getMailbox(u.id, 'INBOX'))!;
const all = await s.mail.listMessages(inbox.id);
const uids = all.map((m) => m.uid);
console.log(`mailbox has ${all.length} messages`);

if (ONLY.has('pop3')) {
  const first = all.slice(0, 10000);
  await measure(`pop3: readBytes x${first.length} whole, in sequence`, async () => {
    let bytes = 0;
    for (const m of first) {
      for (let pos = 0; pos < m.size; pos += 256 * 1024) {
        bytes += (await s.mail.readBytes(inbox.id, m.uid, { start: pos, end: Math.min(m.size, pos + 256 * 1024) })).length;
      }
    }
    if (bytes === 0) throw new Error('nothing read');
  }, first.length);
}
if (ONLY.has('list')) await measure(`listMessages (${all.length})`, () => s.mail.listMessages(inbox.id));
if (ONLY.has('select')) await measure('select: status + listMessages', async () => [await s.mail.status(inbox.id), await s.mail.listMessages(inbox.id)]);
if (ONLY.has('overview')) {
  await measure('overview: listMessages + readMessages(all, index) envelopes', async () => {
    const list = await s.mail.listMessages(inbox.id);
    let n = 0;
    for await (const r of s.mail.readMessages(inbox.id, list.map((m) => m.uid), { index: true })) if (r.index.envelope.subject !== null) n++;
    if (n !== list.length) throw new Error(`overview saw ${n} of ${list.length}`);
  });
  await measure('overview: listMessages + readMessages(all, envelope)', async () => {
    const list = await s.mail.listMessages(inbox.id);
    let n = 0;
    for await (const r of s.mail.readMessages(inbox.id, list.map((m) => m.uid), { envelope: true })) if (r.envelope.subject !== null) n++;
    if (n !== list.length) throw new Error(`overview saw ${n} of ${list.length}`);
  });
  await measure('overview: listMessages + readMessages(all, envelopeText), envelope where none', async () => {
    const list = await s.mail.listMessages(inbox.id);
    let n = 0;
    const missing: number[] = [];
    for await (const r of s.mail.readMessages(inbox.id, list.map((m) => m.uid), { envelopeText: true })) {
      if (r.envelopeText !== null) n++;
      else missing.push(r.uid);
    }
    for await (const r of s.mail.readMessages(inbox.id, missing, { envelope: true })) if (r.envelope.subject !== null) n++;
    if (n !== list.length) throw new Error(`overview saw ${n} of ${list.length}`);
  });
  await measure('readMessages(all, index) full index (bodystructure)', async () => {
    let n = 0;
    for await (const r of s.mail.readMessages(inbox.id, uids, { index: true })) n += r.index.root.children.length;
    return n;
  });
}
if (ONLY.has('small')) {
  const user = u.id;
  await measure('small: 2000 x (LIST, readMessages 1 uid, STORE 1 uid, header read)', async () => {
    for (let i = 0; i < 2000; i++) {
      const uid = uids[(i * 7919) % uids.length]!;
      await s.mail.listMailboxes(user);
      for await (const r of s.mail.readMessages(inbox.id, [uid], { meta: true, index: true })) if (r.index.size === 0) throw new Error('empty');
      await s.mail.storeFlags(inbox.id, [uid], { op: i % 2 ? 'add' : 'remove', flags: ['$Bench'] });
      await s.mail.readBytes(inbox.id, uid, { start: 0, end: 400 });
    }
  }, 2000);
}
if (ONLY.has('search')) {
  await measure(`search: searchText body 'zanzibar' (${uids.length})`, async () => {
    const hits = await s.mail.searchText(inbox.id, uids, 'zanzibar', 'body');
    if (hits.length === 0) throw new Error('no hits');
  });
}
if (ONLY.has('changes')) {
  const before = (await s.mail.status(inbox.id)).highestModseq;
  await s.mail.append(inbox.id, benchMessage(7));
  await measure('changes: changesSince(small delta) x10000', async () => {
    for (let i = 0; i < 10000; i++) {
      const ch = await s.mail.changesSince(inbox.id, before);
      if (ch.changed.length !== 1) throw new Error('expected one change');
    }
  }, 10000);
}
await s.close();

/**
 * MIME indexer benchmark: `node --import tsx bench/mime.ts [--seconds N]`.
 * Prints indexMessage throughput (messages/second, MB/s) for each message shape of a mixed corpus
 * (the test fixtures plus generated 8 KB, 64 KB and 1 MB messages), for the corpus as a whole, and
 * the time to index a 50 MB single-attachment message and to normalise its line endings.
 * msg/CPU-s divides by this process's CPU time, which is steadier than wall time on a busy machine.
 * The last row is what delivery does per message (indexMessage then searchableText) over 200 messages of
 * the benchmark corpus (bench/corpus.ts, seed 1, at most 256 KB each); then safeDecode alone (charset
 * decoding of a text part) for the common charset/content combinations, in CPU microseconds per call.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { indexMessage, normalizeLineEndings, searchableText } from '../src/mime/index.js';
import { generateMessage } from './corpus.js';
import { safeDecode } from '../src/mime/headers.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '1' } } });
const budgetMs = Number(values.seconds) * 1000;

function base64Lines(size: number): string {
  const b64 = Buffer.alloc(Math.ceil((size * 3) / 4), 0xa5).toString('base64');
  return b64.replace(/.{76}/g, '$&\r\n');
}

function textOf(size: number): string {
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
  return line.repeat(Math.ceil(size / line.length)).slice(0, size);
}

function alternative(size: number): Buffer {
  return Buffer.from(
    [
      'From: "Bench Sender" <sender@example.com>',
      'To: a@example.com, "B, Bee" <b@example.com>, Team: c@example.com, d@example.com;',
      'Subject: =?utf-8?q?Benchmark_message_caf=C3=A9?=',
      'Date: Mon, 7 Apr 2025 10:00:00 +0000',
      'Message-ID: <bench@example.com>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="alt-bench"',
      '',
      '--alt-bench',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      textOf(size / 2),
      '--alt-bench',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<html><body><p>' + textOf(size / 2 - 40) + '</p></body></html>',
      '--alt-bench--',
      '',
    ].join('\r\n'),
  );
}

function withAttachment(size: number): Buffer {
  return Buffer.from(
    [
      'From: sender@example.com',
      'To: rcpt@example.com',
      'Subject: attachment',
      'Content-Type: multipart/mixed; boundary=mixed-bench',
      '',
      '--mixed-bench',
      'Content-Type: text/plain',
      '',
      'See attached.',
      '--mixed-bench',
      'Content-Type: application/octet-stream; name="data.bin"',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="data.bin"',
      '',
      base64Lines(size),
      '--mixed-bench--',
      '',
    ].join('\r\n'),
  );
}

const fixtureDir = new URL('../test/fixtures/mime/', import.meta.url);
const fixtures = readdirSync(fixtureDir)
  .filter((f) => f.endsWith('.eml'))
  .map((f) => readFileSync(new URL(f, fixtureDir)));

const shapes: Array<{ name: string; msgs: Buffer[] }> = [
  { name: `fixtures (${fixtures.length} small real-shaped)`, msgs: fixtures },
  { name: '8 KB multipart/alternative', msgs: [alternative(8 * 1024)] },
  { name: '64 KB with attachment', msgs: [withAttachment(64 * 1024)] },
  { name: '1 MB with attachment', msgs: [withAttachment(1024 * 1024)] },
];

function run(msgs: Buffer[]): { perSec: number; mbPerSec: number; usPerMsg: number; perCpuSec: number } {
  for (let i = 0; i < 2000; i++) indexMessage(msgs[i % msgs.length]!); // warm-up (JIT)
  let n = 0;
  let bytes = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < budgetMs) {
    for (let k = 0; k < 20; k++) {
      const m = msgs[n % msgs.length]!;
      indexMessage(m);
      bytes += m.length;
      n++;
    }
    t = performance.now();
  }
  const s = (t - t0) / 1000;
  const c = process.cpuUsage(c0);
  const cpuS = (c.user + c.system) / 1e6;
  return { perSec: n / s, mbPerSec: bytes / s / 1e6, usPerMsg: ((t - t0) * 1000) / n, perCpuSec: n / cpuS };
}

const rows: string[] = [];
for (const sh of shapes) {
  const r = run(sh.msgs);
  rows.push(`${sh.name.padEnd(40)} ${r.perSec.toFixed(0).padStart(9)} msg/s ${r.usPerMsg.toFixed(1).padStart(9)} us/msg ${r.mbPerSec.toFixed(0).padStart(6)} MB/s ${r.perCpuSec.toFixed(0).padStart(9)} msg/CPU-s`);
}
// Mixed corpus: mostly small messages, some 8 KB, a few with attachments.
const mixed = [...fixtures, ...fixtures, alternative(8 * 1024), alternative(8 * 1024), alternative(8 * 1024), withAttachment(64 * 1024)];
const m = run(mixed);
rows.push(`${'mixed corpus'.padEnd(40)} ${m.perSec.toFixed(0).padStart(9)} msg/s ${m.usPerMsg.toFixed(1).padStart(9)} us/msg ${m.mbPerSec.toFixed(0).padStart(6)} MB/s ${m.perCpuSec.toFixed(0).padStart(9)} msg/CPU-s`);

const big = withAttachment(50 * 1024 * 1024);
indexMessage(big);
let best = Infinity;
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  indexMessage(big);
  best = Math.min(best, performance.now() - t0);
}
rows.push(`${`50 MB attachment (${(big.length / 1e6).toFixed(1)} MB raw)`.padEnd(40)} ${best.toFixed(1).padStart(9)} ms (best of 5)`);
let bestNorm = Infinity;
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  normalizeLineEndings(big);
  bestNorm = Math.min(bestNorm, performance.now() - t0);
}
rows.push(`${'normalizeLineEndings, 50 MB, clean'.padEnd(40)} ${bestNorm.toFixed(1).padStart(9)} ms (best of 3)`);
const text8k = alternative(8 * 1024);
const idx8k = indexMessage(text8k);
const t0 = performance.now();
let k = 0;
for (; performance.now() - t0 < budgetMs / 2; k++) searchableText(text8k, idx8k);
rows.push(`${'searchableText, 8 KB alternative'.padEnd(40)} ${(k / ((performance.now() - t0) / 1000)).toFixed(0).padStart(9)} msg/s`);

// Delivery's per-message MIME work (src/store append): indexMessage + searchableText on corpus messages.
const deliveryMsgs = Array.from({ length: 200 }, (_, i) => generateMessage({ seed: 1, maxSize: 256 * 1024, bigEvery: 0 }, i).raw);
for (let i = 0; i < 400; i++) {
  const dm = deliveryMsgs[i % deliveryMsgs.length]!;
  searchableText(dm, indexMessage(dm));
}
{
  let n = 0;
  let bytes = 0;
  const c0 = process.cpuUsage();
  const d0 = performance.now();
  while (performance.now() - d0 < budgetMs) {
    for (let j = 0; j < 20; j++) {
      const dm = deliveryMsgs[n % deliveryMsgs.length]!;
      searchableText(dm, indexMessage(dm));
      bytes += dm.length;
      n++;
    }
  }
  const s = (performance.now() - d0) / 1000;
  const c = process.cpuUsage(c0);
  const cpuS = (c.user + c.system) / 1e6;
  rows.push(`${'index+searchableText, 200 corpus msgs'.padEnd(40)} ${(n / s).toFixed(0).padStart(9)} msg/s ${((s * 1e6) / n).toFixed(1).padStart(9)} us/msg ${(bytes / s / 1e6).toFixed(0).padStart(6)} MB/s ${(n / cpuS).toFixed(0).padStart(9)} msg/CPU-s`);
}

const line = 'The quick brown fox jumps over the lazy dog, again and again.\r\n';
const decodeCases: Array<[string, Buffer, string]> = [
  ['8 KB ASCII, us-ascii', Buffer.from(line.repeat(130)), 'us-ascii'],
  ['8 KB ASCII, iso-8859-1', Buffer.from(line.repeat(130)), 'iso-8859-1'],
  ['8 KB latin1, iso-8859-1', Buffer.from('caf\u00e9 '.repeat(1300), 'latin1'), 'iso-8859-1'],
  ['8 KB UTF-8, utf-8', Buffer.from('caf\u00e9 '.repeat(1300)), 'utf-8'],
  ['200 B, unknown charset', Buffer.from(line.repeat(3)), 'x-unknown'],
];
for (const [name, buf, cs] of decodeCases) {
  for (let i = 0; i < 2000; i++) safeDecode(buf, cs);
  let n = 0;
  const c0 = process.cpuUsage();
  const d0 = performance.now();
  while (performance.now() - d0 < budgetMs / 4) {
    for (let j = 0; j < 50; j++) safeDecode(buf, cs);
    n += 50;
  }
  const c = process.cpuUsage(c0);
  rows.push(`${('safeDecode, ' + name).padEnd(40)} ${((c.user + c.system) / n).toFixed(2).padStart(9)} us CPU/call`);
}
console.log(rows.join('\n'));

/**
 * Smoke run of the benchmark (`npm run bench -- --smoke`), so the harness cannot rot: tiny sizes, one run
 * per server, a few seconds; and a short one with a warm-up run. Asserts that every workload produced numbers for mailroom, that every
 * consistency check held, and that the Markdown table and the SVG chart were written. The Dovecot side is
 * exercised too when Dovecot is installed (and then must also pass); without it the run is mailroom-only.
 * No speed is asserted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchDovecotAvailable } from './helpers/dovecot-bench.js';
import { WORKLOADS } from '../bench/run.js';
import type { BenchResult } from '../bench/lib/report.js';
import { NEEDLE, bodyOf, generateMessage, sha256, sizeStats } from '../bench/corpus.js';
import { stuff, unstuff } from '../bench/lib/pop3.js';
import { fetchLiterals, fetchNumber } from '../bench/lib/imap.js';
import { decodeVlq } from '../bench/lib/sourcemap.js';
import { summarizeProfile, type CpuProfile } from '../bench/profile.js';

const ROOT = join(import.meta.dirname, '..');

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'run.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGTERM'), 90_000);
    timer.unref();
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

test('bench --smoke runs every workload on mailroom (and Dovecot when installed) with consistency checks', { timeout: 120_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  try {
    const withDovecot = benchDovecotAvailable() === null;
    const r = await runBench(['--smoke', '--json', '--out', out]);
    assert.equal(r.code, 0, `bench exited ${r.code}\n${r.stderr.slice(-4000)}`);
    const res = JSON.parse(r.stdout) as BenchResult;
    assert.equal(res.smoke, true);
    assert.equal(res.warmup, 0, '--smoke runs no warm-up by default');
    assert.match(res.ratios.speedRatio, /above 1 = mailroom faster/);
    assert.deepEqual(
      res.workloads.map((w) => w.id),
      WORKLOADS.map((w) => w.id),
      'one row per workload, in order',
    );
    for (const w of res.workloads) {
      assert.equal(w.mailroom.error, undefined, `${w.id}: mailroom failed: ${w.mailroom.error}`);
      assert.ok(Number.isFinite(w.mailroom.medianMs) && w.mailroom.medianMs > 0, `${w.id}: mailroom time is a number`);
      assert.ok(w.mailroom.peakMem > 10 * 1024 * 1024, `${w.id}: mailroom peak memory measured (${w.mailroom.peakMem})`);
      assert.ok(w.mailroom.checks.length > 0, `${w.id}: consistency checks ran`);
      if (withDovecot) {
        assert.ok(w.dovecot, `${w.id}: Dovecot side ran`);
        assert.equal(w.dovecot.error, undefined, `${w.id}: Dovecot failed: ${w.dovecot.error}`);
        assert.ok(Number.isFinite(w.dovecot.medianMs) && w.dovecot.medianMs > 0, `${w.id}: Dovecot time is a number`);
        assert.ok(w.speedRatio !== null && Number.isFinite(w.speedRatio) && w.speedRatio > 0, `${w.id}: speed ratio computed`);
        assert.ok(Math.abs(w.speedRatio * w.mailroom.medianMs - w.dovecot.medianMs) < 1e-6 * w.dovecot.medianMs, `${w.id}: speed ratio is Dovecot time / mailroom time`);
        assert.ok(w.dovecot.processes > 1, `${w.id}: Dovecot process tree sampled`);
      } else {
        assert.equal(w.dovecot, null);
      }
    }
    // Per-workload checks that prove messages were verified, not only counted.
    const lmtp = res.workloads.find((w) => w.id === 'lmtp')!;
    assert.ok(lmtp.mailroom.checks.some((c) => /\d+ delivered bodies byte-identical/.test(c)));
    const pop3 = res.workloads.find((w) => w.id === 'pop3')!;
    assert.ok(pop3.mailroom.checks.some((c) => /RETR byte-identical/.test(c)));

    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    assert.ok(md.includes('| workload | mailroom | dovecot | speed (x Dovecot) |'), 'speed column header');
    assert.ok(md.includes('median of 1 measured run per server without warm-up'), 'run counts in the header');
    for (const w of res.workloads) {
      const row = md.split('\n').find((l) => l.startsWith(`| ${w.title} |`));
      assert.ok(row, `table row for ${w.title}`);
      const cells = row.split('|').map((c) => c.trim());
      assert.match(cells[2]!, /^\d+(\.\d+)? (ms|s)$/, `${w.title}: mailroom cell has a time`);
      if (withDovecot) assert.match(cells[4]!, /^\d+\.\d\dx$/, `${w.title}: ratio cell`);
    }
    const svg = readFileSync(join(out, 'latest.svg'), 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    for (const w of res.workloads) assert.ok(svg.includes(`>${w.title}</text>`), `chart row for ${w.title}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('bench --warmup: warm-up runs are checked and logged but kept out of the medians', { timeout: 120_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-warmup-'));
  try {
    const withDovecot = benchDovecotAvailable() === null;
    // pop3 needs one fresh user per run, idle keeps its connections until the last run: both must count warm-up runs.
    const r = await runBench(['--smoke', '--only', 'pop3,idle', '--warmup', '1', '--runs', '2', '--json', '--out', out]);
    assert.equal(r.code, 0, `bench exited ${r.code}\n${r.stderr.slice(-4000)}`);
    const res = JSON.parse(r.stdout) as BenchResult;
    assert.equal(res.warmup, 1);
    assert.equal(res.runs, 2);
    assert.equal(res.sizes.warmup, 1);
    for (const w of res.workloads) {
      for (const s of withDovecot ? [w.mailroom, w.dovecot!] : [w.mailroom]) {
        assert.equal(s.error, undefined, `${w.id}: ${s.error}`);
        assert.equal(s.runs.length, 2, `${w.id}: two measured runs`);
        assert.equal(s.warmupMs.length, 1, `${w.id}: one warm-up run`);
      }
      for (const name of withDovecot ? ['mailroom', 'dovecot'] : ['mailroom']) {
        assert.match(r.stderr, new RegExp(`${w.id} warm-up 1/1 ${name}: `), `${w.id} ${name}: warm-up logged`);
        assert.match(r.stderr, new RegExp(`${w.id} run 2/2 ${name}: `), `${w.id} ${name}: measured runs logged`);
      }
    }
    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    assert.ok(md.includes('median of 2 measured runs per server after 1 warm-up run'), 'run counts in the header');
    assert.match(md, /, runs=2, warmup=1, /, 'sizes line');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('bench rejects unknown workloads and bad sizes', async () => {
  const [a, b, c] = await Promise.all([runBench(['--only', 'nosuch', '--smoke']), runBench(['--runs', '0', '--smoke']), runBench(['--warmup', 'x', '--smoke'])]);
  assert.notEqual(a.code, 0);
  assert.match(a.stderr, /unknown workload nosuch/);
  assert.notEqual(b.code, 0);
  assert.match(b.stderr, /--runs expects an integer >= 1/);
  assert.notEqual(c.code, 0);
  assert.match(c.stderr, /--warmup expects an integer >= 0/);
});

test('bench corpus is deterministic, CRLF, within its size bounds and covers every kind', () => {
  const opts = { seed: 7, maxSize: 256 * 1024, bigEvery: 50 };
  const a = Array.from({ length: 200 }, (_, i) => generateMessage(opts, i));
  const again = generateMessage(opts, 123);
  assert.ok(again.raw.equals(a[123]!.raw), 'same seed and index give the same bytes');
  assert.ok(!generateMessage({ ...opts, seed: 8 }, 123).raw.equals(a[123]!.raw), 'another seed gives other bytes');
  const kinds = new Set(a.map((m) => m.info.kind));
  assert.deepEqual([...kinds].sort(), ['alternative', 'attachment', 'forward', 'plain']);
  for (const m of a) {
    assert.ok(m.info.size >= 1024 && m.info.size <= opts.maxSize, `message ${m.info.index} size ${m.info.size}`);
    assert.equal(m.info.size, m.raw.length);
    const text = m.raw.toString('latin1');
    assert.equal(text.replace(/\r\n/g, '').includes('\n'), false, `message ${m.info.index} has a bare LF`);
    assert.ok(text.split('\r\n').every((l) => l.length <= 998), `message ${m.info.index} has a line over 998 octets`);
    assert.equal(sha256(bodyOf(m.raw)), m.info.bodySha256);
    assert.ok(text.includes(`Message-ID: ${m.info.messageId}\r\n`));
    // The needle is in the decoded body exactly when the info says so (never in headers).
    const head = text.slice(0, text.indexOf('\r\n\r\n'));
    assert.equal(head.includes(NEEDLE), false);
  }
  assert.equal(a[49]!.info.size > 200 * 1024, true, 'every bigEvery-th message is near maxSize');
  assert.ok(a.some((m) => /=\?UTF-8\?[BQ]\?/.test(m.raw.toString('latin1'))), 'some RFC 2047 encoded words');
  assert.ok(a.some((m) => m.raw.includes('message/rfc822')), 'some nested messages');
  assert.ok(a.some((m) => m.info.needle) && a.some((m) => !m.info.needle));
  const med = sizeStats(Array.from({ length: 400 }, (_, i) => generateMessage({ seed: 1 }, i).info.size)).median;
  assert.ok(med > 4000 && med < 16000, `median size ${med} is near 8 KB`);
});

test('bench drivers: dot-stuffing round trip and FETCH literal extraction', () => {
  for (const s of ['a\r\n.b\r\n..c\r\n', '.start\r\nx\r\n', 'no dots\r\n', 'end\r\n.\r\n']) {
    const raw = Buffer.from(s);
    const stuffed = stuff(raw);
    assert.ok(stuffed.subarray(stuffed.length - 3).equals(Buffer.from('.\r\n')));
    assert.ok(!stuffed.subarray(0, stuffed.length - 3).toString().split('\r\n').some((l) => l === '.'), 'no bare "." line inside');
    assert.ok(unstuff(stuffed.subarray(0, stuffed.length - 3)).equals(raw), `round trip of ${JSON.stringify(s)}`);
  }
  const lits = fetchLiterals({ text: '* 1 FETCH (UID 4 BODY[HEADER.FIELDS (MESSAGE-ID)] {5} BODY[TEXT] {3} FLAGS (\\Seen))', literals: [Buffer.from('hello'), Buffer.from('abc')] });
  assert.equal(lits.get('BODY[HEADER.FIELDS (MESSAGE-ID)]')?.toString(), 'hello');
  assert.equal(lits.get('BODY[TEXT]')?.toString(), 'abc');
  assert.equal(fetchNumber('* 3 FETCH (UID 17 RFC822.SIZE 2048 FLAGS ())', 'RFC822.SIZE'), 2048);
  assert.equal(fetchNumber('* 3 FETCH (UID 17)', 'RFC822.SIZE'), null);
});

test('bench profile summary: VLQ decoding, window slicing and time charged to the src/ caller', () => {
  assert.deepEqual(decodeVlq('AAgBC'), [0, 0, 16, 1]);
  assert.deepEqual(decodeVlq('D'), [-1]);
  assert.throws(() => decodeVlq('!'), /bad VLQ/);
  const frame = (functionName: string, url: string): { functionName: string; url: string; lineNumber: number } => ({ functionName, url, lineNumber: 9 });
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', ''), children: [2, 4] },
      { id: 2, callFrame: frame('append', 'file:///x/src/store/sqlite/store.ts'), children: [3] },
      { id: 3, callFrame: frame('fsync', ''), children: [] },
      { id: 4, callFrame: frame('(idle)', ''), children: [] },
    ],
    startTime: 1_000_000,
    endTime: 1_000_000 + 40_000,
    // samples at +10 ms (fsync), +20 ms (fsync), +30 ms (append), +40 ms (idle)
    samples: [3, 3, 2, 4],
    timeDeltas: [10_000, 10_000, 10_000, 10_000],
  };
  const all = summarizeProfile(profile);
  assert.equal(all.owners[0]!.name, 'append', 'native time is charged to the src/ caller');
  assert.equal(all.owners[0]!.where, 'src/store/sqlite/store.ts:10');
  assert.ok(all.areas.some((a) => a.area === 'src/store'));
  const early = summarizeProfile(profile, 10, [[1_005_000, 1_015_000]]);
  assert.equal(early.functions.length, 1);
  assert.equal(early.functions[0]!.name, 'fsync', 'only samples inside the window count');
});

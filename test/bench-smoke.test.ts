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
import { benchDovecotAvailable } from '../support/dovecot-bench.js';

const ROOT = join(import.meta.dirname, '..');

/** The part of `npm run bench -- --json` output (bench/lib/report.ts BenchResult) that this test reads. */
interface Side {
  runs: Array<{ work?: number }>;
  warmupMs: number[];
  medianMs: number;
  /** Median work per second (fixed-time workloads count their work, e.g. imaptest's commands). */
  medianRate: number;
  peakMem: number;
  processes: number;
  checks: string[];
  error?: string;
}
interface BenchJson {
  smoke: boolean;
  runs: number;
  warmup: number;
  ratios: { speedRatio: string };
  sizes: Record<string, number>;
  workloads: Array<{ id: string; title: string; mailroom: Side; dovecot: Side | null; speedRatio: number | null }>;
}

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
    const res = JSON.parse(r.stdout) as BenchJson;
    assert.equal(res.smoke, true);
    assert.equal(res.warmup, 0, '--smoke runs no warm-up by default');
    assert.match(res.ratios.speedRatio, /above 1 = mailroom faster/);
    // The workloads, in order, as the usage line lists them for --only.
    const usage = (await runBench(['--help'])).stdout;
    const listed = /--only ([\w,-]+)\]/.exec(usage)?.[1]?.split(',');
    assert.ok(listed && listed.length > 0, `--help lists the workloads:\n${usage}`);
    assert.deepEqual(
      res.workloads.map((w) => w.id),
      listed,
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
        if (w.mailroom.runs.some((r) => r.work !== undefined)) {
          assert.ok(Math.abs(w.speedRatio * w.dovecot.medianRate - w.mailroom.medianRate) < 1e-6 * w.mailroom.medianRate, `${w.id}: speed ratio is mailroom work per second / Dovecot's`);
        } else {
          assert.ok(Math.abs(w.speedRatio * w.mailroom.medianMs - w.dovecot.medianMs) < 1e-6 * w.dovecot.medianMs, `${w.id}: speed ratio is Dovecot time / mailroom time`);
        }
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
    const res = JSON.parse(r.stdout) as BenchJson;
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

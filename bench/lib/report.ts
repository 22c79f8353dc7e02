/**
 * Benchmark output: the result model, the Markdown table, the SVG chart of the ratios, and JSON.
 * Speed ratio = Dovecot median time / mailroom median time = mailroom throughput / Dovecot throughput
 * (higher is better for mailroom: 2.0 = twice as fast). Memory ratio = mailroom peak / Dovecot peak (lower
 * is better for mailroom). Only measured runs count; warm-up runs are listed by their times alone.
 */
import { fmtBytes, fmtMs, median, type Measured, type TargetName } from './harness.js';

export interface SideResult {
  /** Measured runs only (warm-up runs excluded). */
  runs: Measured[];
  /** Wall times of the warm-up runs, ms (not in any median). */
  warmupMs: number[];
  medianMs: number;
  medianCpu: number;
  /** Median work per second (work = Measured.work, or 1 per run for fixed-work workloads). */
  medianRate: number;
  /** Median work per server CPU-second. */
  medianCpuRate: number;
  /** Median CPU seconds of the load generator during the measured section. */
  medianLoadCpu: number;
  peakMem: number;
  processes: number;
  details: string[];
  checks: string[];
  /** Set when a run failed (error or consistency check); the side then has no median. */
  error?: string;
}

export interface WorkloadResult {
  id: string;
  title: string;
  metric: string;
  mailroom: SideResult;
  dovecot: SideResult | null;
  /** Dovecot median time / mailroom median time (above 1 = mailroom faster); null without both. */
  speedRatio: number | null;
  /** mailroom peak memory / Dovecot peak memory (below 1 = mailroom smaller); null without both. */
  memRatio: number | null;
  /** mailroom work per server CPU-second / Dovecot's (above 1 = mailroom does more per CPU-second); null without both. */
  cpuRatio?: number | null;
}

/** What the ratios mean, carried in the JSON so it explains itself. */
export const RATIO_LEGEND = {
  speedRatio: 'Dovecot median time / mailroom median time = mailroom throughput / Dovecot throughput; above 1 = mailroom faster (higher is better)',
  memRatio: 'mailroom peak memory / Dovecot peak memory; below 1 = mailroom uses less (lower is better)',
  cpuRatio: 'mailroom work per server CPU-second / Dovecot work per server CPU-second; above 1 = mailroom uses less CPU for the same work (higher is better)',
} as const;

export interface BenchResult {
  startedAt: string;
  finishedAt: string;
  smoke: boolean;
  /** Measured runs per server and workload. */
  runs: number;
  /** Unmeasured warm-up runs per server and workload, before the measured ones. */
  warmup: number;
  ratios: typeof RATIO_LEGEND;
  host: { cpus: number; node: string; dovecot: string | null };
  mailroomRunner: string;
  sizes: Record<string, number>;
  corpus: { messages: number; bytes: number; medianSize: number; maxSize: number };
  notes: string[];
  workloads: WorkloadResult[];
}

export function summarize(runs: Measured[], warmupMs: number[], details: string[], checks: string[], error?: string): SideResult {
  const ok = error === undefined && runs.length > 0;
  return {
    runs,
    warmupMs,
    medianMs: ok ? median(runs.map((r) => r.ms)) : NaN,
    medianCpu: ok ? median(runs.map((r) => r.cpu)) : NaN,
    medianLoadCpu: ok ? median(runs.map((r) => r.loadCpu)) : NaN,
    medianRate: ok ? median(runs.map((r) => (r.work ?? 1) / (r.ms / 1000))) : NaN,
    medianCpuRate: ok ? median(runs.map((r) => (r.work ?? 1) / r.cpu)) : NaN,
    peakMem: runs.length ? Math.max(...runs.map((r) => r.peakMem)) : NaN,
    processes: runs.length ? Math.max(...runs.map((r) => r.processes)) : 0,
    details,
    checks,
    ...(error !== undefined ? { error } : {}),
  };
}

/**
 * Speed and CPU ratios of one workload (above 1 = mailroom better): fixed-work workloads compare median
 * times (Dovecot / mailroom), fixed-time ones (with Measured.work) compare median work per second; CPU
 * compares work per server CPU-second.
 */
export function ratios(m: SideResult, d: SideResult | null): { speedRatio: number | null; cpuRatio: number | null } {
  if (!d || m.error || d.error) return { speedRatio: null, cpuRatio: null };
  const byWork = m.runs.some((r) => r.work !== undefined);
  const speed = byWork ? m.medianRate / d.medianRate : d.medianMs / m.medianMs;
  const cpu = m.medianCpuRate / d.medianCpuRate;
  const ok = (r: number): number | null => (Number.isFinite(r) && r > 0 ? r : null);
  return { speedRatio: ok(speed), cpuRatio: ok(cpu) };
}

function ratioText(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return '-';
  return `${r.toFixed(2)}x`;
}

function gen(s: SideResult): string {
  const parts: string[] = [];
  if (Number.isFinite(s.medianLoadCpu)) parts.push(`load generator CPU ${s.medianLoadCpu.toFixed(2)} s`);
  if (s.processes > 1 && s.runs.length) parts.push(`peak RSS summed over processes ${fmtBytes(Math.max(...s.runs.map((r) => r.rssSum)))}`);
  return parts.length ? ` (${parts.join('; ')})` : '';
}

/** "warm-up 1.9 s; runs 1.2 s, 1.1 s" for the workload notes (warm-up times are not in any median). */
function runTimes(s: SideResult): string {
  const runs = `runs ${s.runs.map((r) => fmtMs(r.ms)).join(', ') || '-'}`;
  return s.warmupMs.length ? `warm-up ${s.warmupMs.map(fmtMs).join(', ')}; ${runs}` : runs;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function side(s: SideResult | null): string {
  if (!s) return 'not run';
  if (s.error) return 'FAILED';
  return fmtMs(s.medianMs);
}

/** The Markdown report (bench/results/latest.md). */
export function markdown(res: BenchResult): string {
  const L: string[] = [];
  L.push(`# mailroom vs Dovecot${res.smoke ? ' (smoke run)' : ''}`);
  L.push('');
  L.push(
    `${res.startedAt} · ${res.host.cpus} CPUs · Node ${res.host.node} · Dovecot ${res.host.dovecot ?? 'not installed'} · ` +
      `median of ${plural(res.runs, 'measured run')} per server ${res.warmup > 0 ? `after ${plural(res.warmup, 'warm-up run')}` : 'without warm-up'}, alternating mailroom/Dovecot · ` +
      `mailroom runs as a child process (${res.mailroomRunner})`,
  );
  L.push('');
  L.push(`Corpus: ${res.corpus.messages} messages populated per server, ${(res.corpus.bytes / 1048576).toFixed(1)} MB, median ${(res.corpus.medianSize / 1024).toFixed(1)} KB, largest ${(res.corpus.maxSize / 1048576).toFixed(2)} MB.`);
  L.push('');
  L.push('Speed = Dovecot time / mailroom time = mailroom throughput / Dovecot throughput (above 1 = mailroom faster, 2.00x = twice as fast). Memory, both servers: peak of the PSS summed over all their processes (process count in brackets when more than one), sampled every 250 ms, with each process’s peak RSS (VmHWM, less its shared pages) catching a spike between samples. CPU = server CPU seconds (median run).');
  L.push('');
  L.push('Work per CPU-second = the same work for less server CPU (mailroom work per CPU-second / Dovecot\'s, above 1 = mailroom better). Workloads that run for a fixed time (imaptest) count their work in commands: their speed is commands per second.');
  L.push('');
  L.push('| workload | mailroom | dovecot | speed (x Dovecot) | work per CPU-s (x Dovecot) | mailroom peak mem | dovecot peak mem | mailroom CPU | dovecot CPU |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const w of res.workloads) {
    const d = w.dovecot;
    L.push(
      `| ${w.title} | ${side(w.mailroom)} | ${side(d)} | ${ratioText(w.speedRatio)} | ${ratioText(w.cpuRatio ?? null)} | ${fmtBytes(w.mailroom.peakMem)}${w.mailroom.processes > 1 ? ` (${w.mailroom.processes})` : ''} | ${d ? `${fmtBytes(d.peakMem)} (${d.processes})` : '-'} | ${Number.isFinite(w.mailroom.medianCpu) ? w.mailroom.medianCpu.toFixed(2) + ' s' : '-'} | ${d && Number.isFinite(d.medianCpu) ? d.medianCpu.toFixed(2) + ' s' : '-'} |`,
    );
  }
  L.push('');
  L.push('## Workloads');
  L.push('');
  for (const w of res.workloads) {
    L.push(`- **${w.title}** (${w.metric}). mailroom: ${w.mailroom.error ? `FAILED: ${w.mailroom.error}` : (w.mailroom.details[0] ?? '')}; ${runTimes(w.mailroom)}${gen(w.mailroom)}.` +
      (w.dovecot ? ` Dovecot: ${w.dovecot.error ? `FAILED: ${w.dovecot.error}` : (w.dovecot.details[0] ?? '')}; ${runTimes(w.dovecot)}${gen(w.dovecot)}.` : ''));
    const checks = [...new Set([...w.mailroom.checks, ...(w.dovecot?.checks ?? [])])];
    if (checks.length) L.push(`  Consistency checks passed: ${checks.join('; ')}.`);
  }
  L.push('');
  L.push('## Sizes');
  L.push('');
  L.push(Object.entries(res.sizes).map(([k, v]) => `${k}=${v}`).join(', '));
  if (res.notes.length) {
    L.push('');
    L.push('## Notes');
    L.push('');
    for (const n of res.notes) L.push(`- ${n}`);
  }
  L.push('');
  return L.join('\n');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Panel {
  title: string;
  subtitle: string;
  /** Speed: above 1 is good for mailroom (green); memory: below 1 is. */
  higherIsBetter: boolean;
  values: Array<{ label: string; ratio: number | null; missing: string }>;
}

/** One panel of horizontal bars on a log2 axis centred on 1; returns SVG elements and the height used. */
function panel(p: Panel, top: number, W: number): { svg: string[]; height: number } {
  const rowH = 34;
  const left = 210;
  const right = 40;
  const head = 56;
  const plotW = W - left - right;
  const finite = p.values.map((v) => v.ratio).filter((r): r is number => r !== null && Number.isFinite(r) && r > 0);
  const maxLog = Math.max(2, ...finite.map((r) => Math.ceil(Math.abs(Math.log2(r)))));
  const x = (ratio: number): number => left + plotW / 2 + (Math.log2(ratio) / maxLog) * (plotW / 2);
  const y0 = top + head;
  const out: string[] = [];
  out.push(`<text x="${W / 2}" y="${top + 22}" text-anchor="middle" font-size="16" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<text x="${W / 2}" y="${top + 40}" text-anchor="middle" fill="#555">${esc(p.subtitle)}</text>`);
  for (let k = -maxLog; k <= maxLog; k++) {
    const gx = x(2 ** k);
    out.push(`<line x1="${gx.toFixed(1)}" y1="${y0 - 6}" x2="${gx.toFixed(1)}" y2="${y0 + p.values.length * rowH}" stroke="${k === 0 ? '#333' : '#ddd'}" stroke-width="${k === 0 ? 1.5 : 1}"/>`);
    const label = k >= 0 ? `${2 ** k}×` : `1/${2 ** -k}×`;
    out.push(`<text x="${gx.toFixed(1)}" y="${y0 + p.values.length * rowH + 18}" text-anchor="middle" fill="#555">${label}</text>`);
  }
  p.values.forEach((v, i) => {
    const y = y0 + i * rowH;
    out.push(`<text x="${left - 10}" y="${y + rowH / 2 + 4}" text-anchor="end">${esc(v.label)}</text>`);
    if (v.ratio === null || !Number.isFinite(v.ratio) || v.ratio <= 0) {
      out.push(`<text x="${x(1) + 8}" y="${y + rowH / 2 + 4}" fill="#a00">${esc(v.missing)}</text>`);
      return;
    }
    const x0 = x(1);
    const x1 = x(Math.min(2 ** maxLog, Math.max(2 ** -maxLog, v.ratio)));
    const good = p.higherIsBetter ? v.ratio > 1 : v.ratio <= 1;
    const color = good ? '#2e8b57' : '#c0504d';
    out.push(`<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y + 7}" width="${Math.max(1, Math.abs(x1 - x0)).toFixed(1)}" height="${rowH - 14}" fill="${color}"/>`);
    const tx = v.ratio <= 1 ? Math.min(x0, x1) - 6 : Math.max(x0, x1) + 6;
    out.push(`<text x="${tx.toFixed(1)}" y="${y + rowH / 2 + 4}" text-anchor="${v.ratio <= 1 ? 'end' : 'start'}">${v.ratio.toFixed(2)}×</text>`);
  });
  return { svg: out, height: head + p.values.length * rowH + 40 };
}

/**
 * The chart (bench/results/latest.svg): speed ratios (Dovecot time / mailroom time: right of 1 mailroom is
 * faster), then peak-memory ratios (mailroom / Dovecot: left of 1 mailroom is smaller), as horizontal bars on
 * a log2 axis centred on 1 (parity); green where mailroom is ahead, red where it is behind. Self-contained
 * SVG, no external fonts or scripts.
 */
export function svgChart(res: BenchResult): string {
  const W = 760;
  const why = (r: WorkloadResult): string => (r.mailroom.error ? 'mailroom failed' : r.dovecot?.error ? 'Dovecot failed' : 'no Dovecot result');
  const a = panel(
    {
      title: `speed: Dovecot time / mailroom time, higher is better${res.smoke ? ' (smoke run)' : ''}`,
      subtitle: `right of 1×: mailroom faster · left: slower · log scale · median of ${plural(res.runs, 'run')}${res.warmup > 0 ? ` after ${res.warmup} warm-up` : ''}`,
      higherIsBetter: true,
      values: res.workloads.map((r) => ({ label: r.title, ratio: r.speedRatio, missing: why(r) })),
    },
    0,
    W,
  );
  const b = panel(
    {
      title: 'peak memory: mailroom / Dovecot, lower is better',
      subtitle: 'left of 1×: mailroom smaller · PSS summed over all processes of each server',
      higherIsBetter: false,
      values: res.workloads.map((r) => ({ label: r.title, ratio: r.memRatio, missing: why(r) })),
    },
    a.height,
    W,
  );
  const H = a.height + b.height;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    ...a.svg,
    ...b.svg,
    '</svg>',
  ].join('\n') + '\n';
}

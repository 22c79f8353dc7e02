/**
 * Process accounting from /proc (Linux): memory and CPU of a server process tree.
 *
 * Memory of one process is VmHWM (peak resident set) after resetting it through /proc/<pid>/clear_refs
 * (Linux >= 4.0), so each workload gets its own peak. For a tree of processes (Dovecot: master, login,
 * one imap per connection) summing RSS would count shared libraries once per process, so the tree's memory
 * is the sum of PSS (proportional set size, /proc/<pid>/smaps_rollup), sampled while the workload runs, with
 * each process's VmHWM (reset at the start) catching a peak between samples.
 * CPU is utime + stime of the live processes plus cutime + cstime of the root (children that exited and
 * were reaped by it), in seconds.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

const CLK_TCK = 100;

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** pid and every descendant (by walking /proc/<n>/stat parent ids). */
export function processTree(root: number): number[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = read(`/proc/${name}/stat`);
    if (!st) continue;
    const close = st.lastIndexOf(')');
    const fields = st.slice(close + 2).split(' ');
    parent.set(Number(name), Number(fields[1]));
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    for (const [pid, ppid] of parent) if (ppid === out[i]) out.push(pid);
  }
  return out.filter((p) => parent.has(p));
}

/** kB value of a "Name:   123 kB" line in /proc/<pid>/status or smaps_rollup. */
function kb(text: string | null, name: string): number {
  if (!text) return 0;
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** Resets the peak RSS counter (VmHWM) of one process; false when the kernel refuses. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Peak and current resident set of one process, in bytes. */
export function rss(pid: number): { peak: number; current: number } {
  const st = read(`/proc/${pid}/status`);
  return { peak: kb(st, 'VmHWM') * 1024, current: kb(st, 'VmRSS') * 1024 };
}

/** Sum of PSS over the process tree, in bytes (falls back to RSS when smaps_rollup is missing). */
export function treePss(root: number): { bytes: number; processes: number; rssSum: number; peakEstimate: number } {
  const pids = processTree(root);
  let total = 0;
  let rssSum = 0;
  let peakEstimate = 0;
  for (const pid of pids) {
    const roll = read(`/proc/${pid}/smaps_rollup`);
    const status = read(`/proc/${pid}/status`);
    const pss = roll ? kb(roll, 'Pss') * 1024 : kb(status, 'VmRSS') * 1024;
    const rssNow = roll ? kb(roll, 'Rss') * 1024 : kb(status, 'VmRSS') * 1024;
    total += pss;
    rssSum += rssNow;
    // The kernel keeps each process's peak RSS (VmHWM) but no peak PSS: the peak less the pages now shared
    // with others (RSS - PSS) estimates it, and catches a spike between two samples.
    peakEstimate += Math.max(pss, kb(status, 'VmHWM') * 1024 - (rssNow - pss));
  }
  return { bytes: total, processes: pids.length, rssSum, peakEstimate };
}

/** Nanoseconds on CPU of every thread of one process (/proc/<pid>/task/<tid>/schedstat), or null. */
function threadsCpuNs(pid: number): number | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  let ns = 0;
  for (const tid of tids) {
    const s = read(`/proc/${pid}/task/${tid}/schedstat`);
    if (s) ns += Number(s.split(' ')[0]);
  }
  return ns;
}

/**
 * CPU seconds used by the tree so far: live processes from the scheduler's nanosecond counters (summed over
 * their threads: 100 Hz ticks would round hundreds of tiny Dovecot processes down to zero), plus the
 * cutime + cstime of the root (children it has reaped, in clock ticks).
 */
export function treeCpu(root: number): number {
  let secs = 0;
  for (const pid of processTree(root)) {
    const st = read(`/proc/${pid}/stat`);
    if (!st) continue;
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    // fields after ")": state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
    const ns = threadsCpuNs(pid);
    secs += ns !== null ? ns / 1e9 : (Number(f[11]) + Number(f[12])) / CLK_TCK;
    if (pid === root) secs += (Number(f[13]) + Number(f[14])) / CLK_TCK;
  }
  return secs;
}

/**
 * Samples memory while a workload runs. For a single process the kernel's peak is exact; for a tree the
 * PSS sum is sampled every `intervalMs` (and once at stop), and the maximum is kept.
 */
export class MemorySampler {
  #timer: NodeJS.Timeout | null = null;
  #max = 0;
  #procs = 0;
  #rssSum = 0;
  constructor(
    readonly root: number,
    readonly mode: 'single' | 'tree',
    readonly intervalMs = 250,
  ) {}

  start(): void {
    if (this.mode === 'single') {
      resetPeak(this.root);
      return;
    }
    for (const pid of processTree(this.root)) resetPeak(pid);
    this.sample();
    this.#timer = setInterval(() => this.sample(), this.intervalMs);
    this.#timer.unref();
  }

  sample(): void {
    if (this.mode === 'single') return;
    const t = treePss(this.root);
    this.#take(t.bytes, t);
  }

  #take(bytes: number, t: ReturnType<typeof treePss>): void {
    if (bytes > this.#max) this.#max = bytes;
    if (t.processes > this.#procs) this.#procs = t.processes;
    if (t.rssSum > this.#rssSum) this.#rssSum = t.rssSum;
  }

  /**
   * Stops sampling; returns the peak in bytes, the most processes seen, and the peak of RSS summed naively.
   * For a tree the peak is the largest PSS sum sampled, or the estimate from each live process's VmHWM
   * when that is larger (a spike between samples).
   */
  stop(): { peak: number; processes: number; rssSum: number } {
    if (this.mode === 'single') {
      const p = rss(this.root).peak;
      return { peak: p, processes: 1, rssSum: p };
    }
    if (this.#timer) clearInterval(this.#timer);
    const t = treePss(this.root);
    this.#take(Math.max(t.bytes, t.peakEstimate), t);
    return { peak: this.#max, processes: this.#procs, rssSum: this.#rssSum };
  }
}

/** Memory in use now: RSS of one process, or PSS summed over a tree (bytes). */
export function currentMemory(pid: number, mode: 'single' | 'tree'): number {
  return mode === 'single' ? rss(pid).current : treePss(pid).bytes;
}

/** The soft limit on open files of this process (from /proc), or null when unknown. */
export function openFileLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * Summarises a V8 CPU profile (.cpuprofile, as written by `node --cpu-prof`) into where the time went:
 * self time by function and by source area (our src/ folders, each dependency, Node internals, GC, idle).
 *
 *   node --import tsx bench/profile.ts bench/results/profile/mailroom.cpuprofile [--top 30]
 *
 * `npm run bench -- --cpu-prof` profiles the mailroom server over the whole benchmark and writes this summary
 * next to the profile (summary.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { SourceMap } from './lib/sourcemap.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber?: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Time not idle. */
  busyMs: number;
  functions: Array<{ name: string; where: string; ms: number; pct: number }>;
  areas: Array<{ area: string; ms: number; pct: number }>;
  /**
   * Self time charged to the nearest enclosing frame in our own src/ (so time in natives, Node internals
   * and dependencies counts for the src/ function that called them); GC and idle excluded.
   */
  owners: Array<{ name: string; where: string; ms: number; pct: number }>;
}

/**
 * Rewrites call frames that point into a bundle (which has a `.map` beside it) to the original source
 * file and line, in place. Returns how many frames were remapped.
 */
export function remapProfile(p: CpuProfile): number {
  const maps = new Map<string, SourceMap | null>();
  let n = 0;
  for (const node of p.nodes) {
    const cf = node.callFrame;
    if (!cf.url.startsWith('file://') || !/\.m?js$/.test(cf.url)) continue;
    let map = maps.get(cf.url);
    if (map === undefined) {
      const path = fileURLToPath(cf.url) + '.map';
      map = existsSync(path) ? SourceMap.load(path) : null;
      maps.set(cf.url, map);
    }
    if (!map) continue;
    const at = map.lookup(cf.lineNumber, cf.columnNumber ?? 0);
    if (!at) continue;
    cf.url = pathToFileURL(at.source).href;
    cf.lineNumber = at.line;
    n++;
  }
  return n;
}

/** Groups a script URL into an area: "src/imap-server", "dep:better-sqlite3", "node:internal", ... */
export function areaOf(url: string, name: string): string {
  if (!url) {
    if (name === '(garbage collector)') return 'GC';
    if (name === '(idle)') return 'idle';
    if (name === '(program)') return 'native/program';
    return 'native';
  }
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return `dep:${nm[1]}`;
  const src = /\/src\/([^/]+)\/(?:([^/]+)\/)?/.exec(url);
  if (src) return `src/${src[1]}`;
  if (url.startsWith('node:')) return 'node:internal';
  return url.replace(/^file:\/\//, '').split('/').slice(-2).join('/');
}

/**
 * Self time by function and area. With `windows` (monotonic-clock microseconds, the clock V8 stamps
 * samples with and process.hrtime reads), only samples inside those windows count.
 */
export function summarizeProfile(p: CpuProfile, top = 25, windows?: Array<[number, number]>): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  for (const n of p.nodes) byId.set(n.id, n);
  // Self time per node from samples and time deltas (exact), falling back to hit counts.
  const self = new Map<number, number>();
  let totalMs = (p.endTime - p.startTime) / 1000;
  if (p.samples && p.timeDeltas && p.samples.length === p.timeDeltas.length) {
    let t = p.startTime;
    const inWindow = (ts: number): boolean => !windows || windows.some(([a, b]) => ts >= a && ts <= b);
    for (let i = 0; i < p.samples.length; i++) {
      t += p.timeDeltas[i]!;
      if (!inWindow(t)) continue;
      const dt = p.timeDeltas[i + 1] ?? 0;
      self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + dt / 1000);
    }
    if (windows) totalMs = windows.reduce((a, [x, y]) => a + (y - x) / 1000, 0);
  } else {
    const hits = p.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0) || 1;
    const per = (p.endTime - p.startTime) / 1000 / hits;
    for (const n of p.nodes) self.set(n.id, (n.hitCount ?? 0) * per);
  }
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ownerOf = new Map<number, ProfileNode | null>();
  const findOwner = (id: number): ProfileNode | null => {
    if (ownerOf.has(id)) return ownerOf.get(id)!;
    const n = byId.get(id);
    let r: ProfileNode | null = null;
    if (n && /\/src\//.test(n.callFrame.url)) r = n;
    else {
      const up = parent.get(id);
      r = up === undefined ? null : findOwner(up);
    }
    ownerOf.set(id, r);
    return r;
  };
  const owners = new Map<string, { name: string; where: string; ms: number }>();
  const fns = new Map<string, { name: string; where: string; ms: number }>();
  const areas = new Map<string, number>();
  let idle = 0;
  for (const [id, ms] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const cf = n.callFrame;
    const area = areaOf(cf.url, cf.functionName);
    if (area === 'idle') {
      idle += ms;
      continue;
    }
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const where = cf.url ? `${cf.url.replace(/^file:\/\/.*?\/(src|node_modules|bench)\//, '$1/')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName}@${where}`;
    const f = fns.get(key) ?? { name: cf.functionName || '(anonymous)', where, ms: 0 };
    f.ms += ms;
    fns.set(key, f);
    if (area === 'GC') continue;
    const o = findOwner(id);
    const ocf = o?.callFrame;
    const owhere = ocf ? `${ocf.url.replace(/^file:\/\/.*?\/src\//, 'src/')}:${ocf.lineNumber + 1}` : '';
    const okey = ocf ? `${ocf.functionName}@${owhere}` : '(outside src/)';
    const oo = owners.get(okey) ?? { name: ocf ? ocf.functionName || '(anonymous)' : '(no src/ caller: startup, timers, sockets)', where: owhere, ms: 0 };
    oo.ms += ms;
    owners.set(okey, oo);
  }
  const busyMs = totalMs - idle;
  const pct = (ms: number): number => (busyMs > 0 ? (100 * ms) / busyMs : 0);
  return {
    totalMs,
    busyMs,
    functions: [...fns.values()].sort((a, b) => b.ms - a.ms).slice(0, top).map((f) => ({ ...f, pct: pct(f.ms) })),
    areas: [...areas.entries()].sort((a, b) => b[1] - a[1]).map(([area, ms]) => ({ area, ms, pct: pct(ms) })),
    owners: [...owners.values()].sort((a, b) => b.ms - a.ms).slice(0, top).map((f) => ({ ...f, pct: pct(f.ms) })),
  };
}

export function profileMarkdown(s: ProfileSummary, title: string): string {
  const L = [`# ${title}`, '', `Profiled ${(s.totalMs / 1000).toFixed(1)} s, busy ${(s.busyMs / 1000).toFixed(1)} s (the rest idle). Percentages are of busy time (self time).`, ''];
  L.push('| area | self ms | % |', '|---|---:|---:|');
  for (const a of s.areas.slice(0, 20)) L.push(`| ${a.area} | ${a.ms.toFixed(0)} | ${a.pct.toFixed(1)} |`);
  L.push('', 'Charged to the nearest src/ function (its own time plus the natives and dependencies it called):', '');
  L.push('| src function | where | ms | % |', '|---|---|---:|---:|');
  for (const f of s.owners) L.push(`| ${f.name.replace(/\|/g, '\\|')} | ${f.where} | ${f.ms.toFixed(0)} | ${f.pct.toFixed(1)} |`);
  L.push('', 'Self time by function:', '');
  L.push('| function | where | self ms | % |', '|---|---|---:|---:|');
  for (const f of s.functions) L.push(`| ${f.name.replace(/\|/g, '\\|')} | ${f.where} | ${f.ms.toFixed(0)} | ${f.pct.toFixed(1)} |`);
  L.push('');
  return L.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node --import tsx bench/profile.ts <file.cpuprofile> [--top N]\n');
    process.exit(2);
  }
  const ti = process.argv.indexOf('--top');
  const top = ti > 0 ? Number(process.argv[ti + 1]) : 30;
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  remapProfile(p);
  process.stdout.write(profileMarkdown(summarizeProfile(p, top), `CPU profile: ${file}`));
}

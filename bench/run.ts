/**
 * `npm run bench`: mailroom side by side with a private Dovecot (when installed), same users, same corpus,
 * same workloads, warm-up runs then measured runs alternating (mailroom, Dovecot, mailroom, Dovecot, ...),
 * medians and the speed ratio (Dovecot time / mailroom time, above 1 = mailroom faster) reported.
 *
 *   npm run bench -- spam [--smoke] [--messages N] ...   (the spam filter on vs off, and its accuracy: bench/spam.ts)
 *   npm run bench -- spam-mx [--smoke] ...                 (MX checks and spam filter together on vs off: bench/spam-mx.ts)
 *   npm run bench -- sieve [--messages N] [--runs N] [--rules N] ...   (100-rule Sieve script vs none: bench/sieve.ts)
 *   npm run bench -- jmap [--messages N] [--clients N] [--runs N] [--json]   (JMAP query/get/changes and EventSource fan-out: bench/jmap.ts)
 *   npm run bench -- web [--messages N] [--runs N] [--json]   (webmail: sign-in to first painted message list in Chromium: bench/web.ts)
 *   npm run bench -- [--smoke] [--only lmtp,lmtp-varied,pop3,pop3-reread,overview,mixed,search,idle,sort-arrival,...] [--runs N] [--warmup N] [--json]
 *                    [--out DIR] [--seed N] [--no-dovecot] [--tsx] [--cpu-prof] [--workers N]
 *                    [--big N] [--lmtp N] [--senders N] [--recipients N] [--pop3 N] [--clients N] [--cycles N]
 *                    [--mixed-mailbox N] [--idle N] [--max-message BYTES] [--big-every N] [--varied N]
 *
 * `--only sort` selects every row of the SORT/THREAD workload (the ids starting with "sort-").
 *
 * Writes <out>/latest.md (table), <out>/latest.svg (chart of the speed and memory ratios) and
 * <out>/latest.json; prints the Markdown (or, with --json, the JSON) on stdout and progress on stderr. Exit
 * status 1 when any run failed or any consistency check did not hold (warm-up runs included).
 */
import { mkdirSync, writeFileSync, existsSync, readdirSync, renameSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateMessage, sizeStats } from './corpus.js';
import {
  corpusIndexFor,
  corpusOptions,
  measure,
  parallel,
  type BenchConfig,
  type Measured,
  type RunContext,
  type Sizes,
  type Target,
  type TargetName,
  type UserSpec,
  type Workload,
} from './lib/harness.js';
import { MailroomPopulator, bundleServer, removeDir, startMailroom, tempDataDir, type MailroomServer } from './lib/mailroom-server.js';
import { RATIO_LEGEND, markdown, ratios, summarize, svgChart, type BenchResult, type SideResult, type WorkloadResult } from './lib/report.js';
import { benchDovecotAvailable, startBenchDovecot, type BenchDovecot } from '../support/dovecot-bench.js';
import { openFileLimit } from './lib/proc.js';
import { parseBenchArgs } from './lib/options.js';
import { lmtpDelivery, lmtpVaried } from './workloads/lmtp-delivery.js';
import { pop3Download } from './workloads/pop3-download.js';
import { pop3Reread } from './workloads/pop3-reread.js';
import { imapOverview } from './workloads/imap-overview.js';
import { imapMixed, imapMixedWide } from './workloads/imap-mixed.js';
import { imapSearch } from './workloads/imap-search.js';
import { imapIdle } from './workloads/imap-idle.js';
import { SORT_GROUP, imapSort } from './workloads/imap-sort.js';
import { imaptestMix } from './workloads/imaptest-mix.js';
import { fetchOverview2k } from './workloads/fetch-overview-2k.js';
import { profileMarkdown, remapProfile, summarizeProfile, type CpuProfile } from './profile.js';

export const WORKLOADS: Workload[] = [lmtpDelivery, lmtpVaried, pop3Download, pop3Reread, imapOverview, fetchOverview2k, imapMixed, imapMixedWide, imaptestMix, imapSearch, imapIdle, ...imapSort];

/** Names for several workloads at once in --only. */
const GROUPS: Record<string, string[]> = { [SORT_GROUP]: imapSort.map((w) => w.id) };

const HERE = dirname(fileURLToPath(import.meta.url));

export const FULL_SIZES: Sizes = {
  bigMailbox: 5000,
  lmtpMessages: 2000,
  lmtpSenders: 10,
  lmtpRecipients: 10,
  pop3Messages: 1000,
  mixedClients: 20,
  mixedWideClients: 50,
  mixedCycles: 10,
  mixedMailbox: 200,
  idleConnections: 1000,
  maxMessage: 5 * 1024 * 1024,
  bigEvery: 1000,
  varied: 1000,
};

export const SMOKE_SIZES: Sizes = {
  bigMailbox: 40,
  lmtpMessages: 20,
  lmtpSenders: 10,
  lmtpRecipients: 3,
  pop3Messages: 15,
  mixedClients: 3,
  mixedWideClients: 5,
  mixedCycles: 2,
  mixedMailbox: 20,
  idleConnections: 20,
  maxMessage: 64 * 1024,
  bigEvery: 25,
  varied: 15,
};

interface Options {
  cfg: BenchConfig;
  only: string[] | null;
  json: boolean;
  out: string;
  dovecot: boolean;
  tsx: boolean;
  cpuProf: boolean;
  /** `serve --workers N` for the mailroom child (default: serve's own default, one worker per CPU). */
  workers: number;
}

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function parseOptions(argv: string[]): Options {
  const { values, int } = parseBenchArgs(
    argv,
    {
      smoke: { type: 'boolean', default: false },
      only: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      json: { type: 'boolean', default: false },
      out: { type: 'string' },
      seed: { type: 'string' },
      'no-dovecot': { type: 'boolean', default: false },
      tsx: { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      workers: { type: 'string' },
      big: { type: 'string' },
      lmtp: { type: 'string' },
      senders: { type: 'string' },
      recipients: { type: 'string' },
      pop3: { type: 'string' },
      clients: { type: 'string' },
      cycles: { type: 'string' },
      'mixed-mailbox': { type: 'string' },
      idle: { type: 'string' },
      'max-message': { type: 'string' },
      'big-every': { type: 'string' },
      varied: { type: 'string' },
    },
    () =>
      'usage: npm run bench -- [--smoke] [--only ' + WORKLOADS.map((w) => w.id).join(',') + '] [--runs N] [--warmup N] [--json] [--out DIR] [--seed N]\n' +
      '       [--no-dovecot] [--tsx] [--cpu-prof] [--workers N] [--big N] [--lmtp N] [--senders N] [--recipients N] [--pop3 N] [--clients N] [--cycles N]\n' +
      '       [--mixed-mailbox N] [--idle N] [--max-message BYTES] [--big-every N] [--varied N]\n' +
      '       (--only ' + Object.keys(GROUPS).map((g) => `${g} = ${GROUPS[g]!.join(',')}`).join('; ') + ')\n',
  );
  const sizes: Sizes = { ...(values.smoke ? SMOKE_SIZES : FULL_SIZES) };
  const set = (key: keyof Sizes, name: Parameters<typeof int>[0], min: number): void => {
    const n = int(name, min);
    if (n !== undefined) sizes[key] = n;
  };
  set('bigMailbox', 'big', 1);
  set('lmtpMessages', 'lmtp', 1);
  set('lmtpSenders', 'senders', 1);
  set('lmtpRecipients', 'recipients', 1);
  set('pop3Messages', 'pop3', 1);
  set('mixedClients', 'clients', 1);
  set('mixedCycles', 'cycles', 1);
  set('mixedMailbox', 'mixed-mailbox', 2);
  set('idleConnections', 'idle', 1);
  set('maxMessage', 'max-message', 2048);
  set('bigEvery', 'big-every', 0);
  set('varied', 'varied', 1);
  const only = values.only ? values.only.split(',').map((s) => s.trim()).filter(Boolean).flatMap((id) => GROUPS[id] ?? [id]) : null;
  for (const id of only ?? []) if (!WORKLOADS.some((w) => w.id === id)) throw new Error(`unknown workload ${id} (known: ${WORKLOADS.map((w) => w.id).join(', ')})`);
  const maxConns = connectionsNeeded(sizes);
  const runs = int('runs', 1) ?? (values.smoke ? 1 : 3);
  const workers = Math.max(1, int('workers', 1) ?? availableParallelism());
  // One warm-up run per worker: connections go to the workers in turn, so after one run of a one-connection
  // workload (POP3, the header overview) the other workers would run their first measured run cold.
  const warmup = int('warmup', 0) ?? (values.smoke ? 0 : workers);
  // 40 connections per loopback address (127.0.0.1 ... 127.0.0.250, then 127.0.1.1 ...), under per-IP limits.
  const addresses = Array.from({ length: Math.ceil(maxConns / 40) + 1 }, (_, i) => `127.0.${Math.floor(i / 250)}.${(i % 250) + 1}`);
  return {
    cfg: {
      smoke: values.smoke ?? false,
      // Workloads see every run, warm-up included (see BenchConfig.runs).
      runs: warmup + runs,
      warmup,
      seed: int('seed', 0) ?? 20261127,
      sizes,
      sourceAddresses: addresses,
      password: 'bench-secret',
      domain: 'bench.test',
    },
    only,
    json: values.json ?? false,
    out: values.out ?? join(HERE, 'results'),
    dovecot: !(values['no-dovecot'] ?? false),
    tsx: values.tsx ?? false,
    cpuProf: values['cpu-prof'] ?? false,
    workers,
  };
}

/** Connections open at once at most: idle watchers, their per-account control connections (one per 50 watchers), the mixed clients and spare. */
function connectionsNeeded(sizes: Sizes): number {
  return sizes.idleConnections + Math.ceil(sizes.idleConnections / 50) + Math.max(sizes.mixedClients, sizes.mixedWideClients) + 64;
}

function dovecotVersion(): string | null {
  const r = spawnSync('/usr/sbin/dovecot', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split(' ')[0]! : null;
}

export async function runBench(opts: Options): Promise<BenchResult> {
  const { cfg } = opts;
  const startedAt = new Date().toISOString();
  const loadBefore = loadavg()[0]!;
  const workloads = WORKLOADS.filter((w) => !opts.only || opts.only.includes(w.id));
  const notes: string[] = [];
  const users = new Map<string, UserSpec>();
  for (const w of workloads) for (const u of w.users(cfg)) if (!users.has(u.address)) users.set(u.address, u);

  const dovecotReason = opts.dovecot ? benchDovecotAvailable() : 'disabled with --no-dovecot';
  // The IDLE workload keeps its connections open across runs (to both servers when the limit allows, else
  // to one at a time): this process needs a file descriptor for each.
  if (workloads.some((w) => w.id === 'idle')) {
    const need = cfg.sizes.idleConnections + 1024;
    const have = openFileLimit();
    if (have !== null && have < need) {
      throw new Error(`--idle ${cfg.sizes.idleConnections} needs about ${need} open files, the limit is ${have}: raise it (ulimit -n ${need}) or lower --idle`);
    }
  }
  let dovecot: BenchDovecot | null = null;
  let mailroom: MailroomServer | null = null;
  const dataDir = tempDataDir();
  const cleanup = async (): Promise<void> => {
    await Promise.all([mailroom?.stop().catch(() => undefined), dovecot?.stop().catch(() => undefined)]);
    removeDir(dataDir);
  };
  const onSignal = (): void => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // The server bundle builds while the mailboxes are filled.
    const bundling = opts.tsx ? Promise.resolve(null) : bundleServer();
    if (dovecotReason === null) {
      dovecot = await startBenchDovecot({ users: [...users.keys()].map((user) => ({ user, password: cfg.password })), maxConnections: connectionsNeeded(cfg.sizes) });
      log(`dovecot ${dovecotVersion() ?? '?'} listening (imap ${dovecot.imapPort}, pop3 ${dovecot.pop3Port}, lmtp ${dovecot.lmtpPort})`);
    } else {
      log(`dovecot side skipped: ${dovecotReason}`);
      notes.push(`Dovecot side not run: ${dovecotReason}.`);
    }

    // Populate both servers with the same bytes.
    const t0 = Date.now();
    const populator = await MailroomPopulator.open(dataDir);
    const corpus = corpusIndexFor(cfg);
    const sizes: number[] = [];
    try {
      for (const u of users.values()) {
        const msgs = u.messages ? Array.from({ length: u.messages.count }, (_, k) => generateMessage(corpusOptions(cfg), u.messages!.first + k)) : [];
        for (const m of msgs) {
          corpus.remember(m.info);
          sizes.push(m.info.size);
        }
        const items = msgs.map((m) => ({ raw: m.raw, flags: m.info.flags, internalDate: m.info.date }));
        dovecot?.populate(u.address, items);
        await populator.addUser(u.address, cfg.password, items);
      }
    } finally {
      await populator.close();
    }
    log(`populated ${users.size} users, ${sizes.length} messages per server in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (dovecot) {
      const t1 = Date.now();
      const withMail = [...users.values()].filter((u) => u.messages && u.messages.count > 0);
      let failed = 0;
      const d = dovecot;
      await parallel(withMail, 2, async (u) => {
        if (!(await d.index(u.address))) failed++;
      });
      log(`doveadm index of ${withMail.length} mailboxes in ${((Date.now() - t1) / 1000).toFixed(1)} s${failed ? ` (${failed} failed)` : ''}`);
      notes.push('Dovecot mailboxes were written as Maildir files with a dovecot-uidlist, then `doveadm index` built their indexes and caches (mailroom computes its MIME index at append).');
      if (failed) notes.push(`doveadm index failed for ${failed} mailboxes; Dovecot built those indexes on first access.`);
    }

    // Set-up wrote gigabytes without fsync (both servers); flush them now, so that their writeback does not
    // land in the first measured fsyncs of either server (ext4 commits wait for dirty data in ordered mode).
    const t2 = Date.now();
    spawnSync('sync', { stdio: 'ignore' });
    log(`flushed the set-up writes to disk (sync) in ${((Date.now() - t2) / 1000).toFixed(1)} s`);

    await bundling;
    const profDir = join(opts.out, 'profile');
    mailroom = await startMailroom(dataDir, { useTsx: opts.tsx, workers: opts.workers, ...(opts.cpuProf ? { cpuProfDir: profDir } : {}) });
    log(`mailroom listening (imap ${mailroom.imapPort}, pop3 ${mailroom.pop3Port}, lmtp ${mailroom.lmtpPort}), pid ${mailroom.pid}, ${mailroom.runner}`);

    const targets: Target[] = [
      { name: 'mailroom', host: '127.0.0.1', imapPort: mailroom.imapPort, pop3Port: mailroom.pop3Port, lmtpPort: mailroom.lmtpPort, pid: mailroom.pid, memMode: 'tree' },
      ...(dovecot ? [{ name: 'dovecot' as const, host: '127.0.0.1', imapPort: dovecot.imapPort, pop3Port: dovecot.pop3Port, lmtpPort: dovecot.lmtpPort, pid: dovecot.pid, memMode: 'tree' as const }] : []),
    ];

    const results: WorkloadResult[] = [];
    const warmup = cfg.warmup ?? 0;
    const measuredRuns = cfg.runs - warmup;
    for (const w of workloads) {
      const acc: Record<TargetName, { runs: Measured[]; warmupMs: number[]; details: string[]; checks: string[]; error?: string }> = {
        mailroom: { runs: [], warmupMs: [], details: [], checks: [] },
        dovecot: { runs: [], warmupMs: [], details: [], checks: [] },
      };
      for (let run = 0; run < cfg.runs; run++) {
        // Warm-up runs go through the same workload code and checks; only their numbers are set aside.
        const isWarmup = run < warmup;
        const label = isWarmup ? `warm-up ${run + 1}/${warmup}` : `run ${run - warmup + 1}/${measuredRuns}`;
        for (const target of targets) {
          const a = acc[target.name];
          if (a.error !== undefined) continue;
          const ctx: RunContext = {
            target,
            cfg,
            run,
            measure: (fn) => measure(target, fn),
            source: (i) => cfg.sourceAddresses[Math.floor(i / 40) % cfg.sourceAddresses.length]!,
            log,
          };
          try {
            const out = await w.run(ctx);
            if (isWarmup) a.warmupMs.push(out.measured.ms);
            else {
              a.runs.push(out.measured);
              a.details.push(out.detail);
            }
            for (const c of out.checks) if (!a.checks.includes(c)) a.checks.push(c);
            log(`${w.id} ${label} ${target.name}: ${out.measured.ms.toFixed(0)} ms, cpu ${out.measured.cpu.toFixed(2)} s, mem ${(out.measured.peakMem / 1048576).toFixed(0)} MB — ${out.detail}`);
          } catch (e) {
            const what = e instanceof Error ? `${e.name === 'ConsistencyError' ? 'consistency check failed: ' : ''}${e.message}` : String(e);
            a.error = isWarmup ? `in warm-up run ${run + 1}: ${what}` : what;
            log(`${w.id} ${label} ${target.name} FAILED: ${what}`);
          }
        }
      }
      const cmp = w.compare?.();
      if (cmp) notes.push(cmp);
      const m: SideResult = summarize(acc.mailroom.runs, acc.mailroom.warmupMs, acc.mailroom.details, acc.mailroom.checks, acc.mailroom.error);
      const d: SideResult | null = dovecot ? summarize(acc.dovecot.runs, acc.dovecot.warmupMs, acc.dovecot.details, acc.dovecot.checks, acc.dovecot.error) : null;
      // Speed: mailroom throughput / Dovecot throughput (above 1 = mailroom faster); CPU: work per CPU-second.
      const { speedRatio, cpuRatio } = ratios(m, d);
      // Memory: mailroom peak / Dovecot peak (below 1 = mailroom smaller).
      const memRatio = d && d.peakMem > 0 && m.peakMem > 0 ? m.peakMem / d.peakMem : null;
      results.push({ id: w.id, title: w.title, metric: w.metric, mailroom: m, dovecot: d, speedRatio, memRatio, cpuRatio });
    }

    // Anything the servers complained about during the run goes into the notes.
    const complaints = (name: string, log: string, re: RegExp): void => {
      const lines = log.split('\n').filter((l) => re.test(l));
      if (lines.length === 0) return;
      notes.push(`${name} logged ${lines.length} warning/error line(s), e.g.: ${lines.slice(0, 3).map((l) => '`' + l.slice(0, 200).replace(/`/g, "'") + '`').join(' ')}`);
    };
    complaints('mailroom', mailroom.log(), / (WARN|ERROR|FATAL) /);
    if (mailroom.exited()) notes.push(`mailroom exited during the run: ${mailroom.exited()}`);
    if (dovecot) complaints('Dovecot', dovecot.log(), /(Warning|Error|Fatal|Panic): /);

    const st = sizeStats(sizes);
    notes.push('Each server is measured alone: the load generator is this Node process (raw sockets, small pipelining drivers); mailroom runs `mailroom serve` as a child process with its default logging; Dovecot logs to a file with its defaults.');
    notes.push('Durability is on for both: mailroom fsyncs the blob and the SQLite commit before replying to a write that adds, copies or moves mail (flag changes are synced within 100 ms, the sync of an expunge starts when it commits); Dovecot uses its default mail_fsync=optimized (fsyncs new mail, not flag, expunge or index changes).');
    notes.push('Dovecot 2.3 runs one imap process per connection by design (imap-login in high-performance mode: service_count=0, 2 processes); its memory is the sum of PSS over all processes, which counts shared pages once.');
    notes.push(
      `Load average (1 min) ${loadBefore.toFixed(1)} at the start and ${loadavg()[0]!.toFixed(1)} at the end on ${cpus().length} CPUs: ` +
        'other work on the machine competes with both servers alike (runs alternate), but it widens the spread between runs.',
    );
    if (opts.cpuProf) notes.push('mailroom ran under --cpu-prof for this run: its times include the profiler overhead.');
    const result: BenchResult = {
      startedAt,
      finishedAt: new Date().toISOString(),
      smoke: cfg.smoke,
      runs: measuredRuns,
      warmup,
      ratios: RATIO_LEGEND,
      host: { cpus: cpus().length, node: process.versions.node, dovecot: dovecot ? dovecotVersion() : null },
      mailroomRunner: `${mailroom.runner === 'bundle' ? 'esbuild bundle of the CLI' : 'node --import tsx'}, serve --workers ${opts.workers}${opts.workers > 1 ? ' (a primary and its workers, all counted)' : ''}`,
      sizes: { ...cfg.sizes, runs: measuredRuns, warmup, seed: cfg.seed },
      corpus: { messages: st.count, bytes: st.total, medianSize: st.median, maxSize: st.max },
      notes,
      workloads: results,
    };
    return result;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

/**
 * Node writes one CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile per thread (tsx adds a loader thread):
 * keeps the newest main-thread (thread 0) profile as mailroom.cpuprofile.
 */
function tidyProfiles(dir: string): void {
  if (!existsSync(dir)) return;
  const main = readdirSync(dir)
    .map((f) => ({ f, parts: f.split('.') }))
    .filter(({ f, parts }) => f.startsWith('CPU.') && f.endsWith('.cpuprofile') && parts[4] === '0')
    .map(({ f }) => ({ f, mtime: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => a.mtime - b.mtime);
  const last = main[main.length - 1];
  if (last) renameSync(join(dir, last.f), join(dir, 'mailroom.cpuprofile'));
}

export function failures(res: BenchResult): string[] {
  const out: string[] = [];
  for (const w of res.workloads) {
    if (w.mailroom.error) out.push(`${w.id} mailroom: ${w.mailroom.error}`);
    if (w.dovecot?.error) out.push(`${w.id} dovecot: ${w.dovecot.error}`);
  }
  return out;
}

async function main(): Promise<void> {
  // `npm run bench -- spam [flags]`: the spam filter's throughput (on vs off) and accuracy (bench/spam.ts).
  if (process.argv[2] === 'spam') return (await import('./spam.js')).spamBench(process.argv.slice(3));
  // `npm run bench -- spam-mx [flags]`: MX checks and the spam filter together, on vs off (bench/spam-mx.ts).
  if (process.argv[2] === 'spam-mx') return (await import('./spam-mx.js')).spamMxBench(process.argv.slice(3));
  // `npm run bench -- sieve [flags]`: LMTP delivery to a user with a 100-rule Sieve script vs none (bench/sieve.ts).
  if (process.argv[2] === 'sieve') return (await import('./sieve.js')).sieveBench(process.argv.slice(3)).then(() => undefined);
  if (process.argv[2] === 'jmap') return (await import('./jmap.js')).jmapBench(process.argv.slice(3));
  if (process.argv[2] === 'web') return (await import('./web.js')).webBench(process.argv.slice(3));
  const opts = parseOptions(process.argv.slice(2));
  const res = await runBench(opts);
  if (opts.cpuProf) {
    const dir = join(opts.out, 'profile');
    tidyProfiles(dir);
    const file = join(dir, 'mailroom.cpuprofile');
    if (existsSync(file)) {
      const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
      // Frames in the bundle are mapped back to src/ through its source map (still on disk until exit).
      remapProfile(prof);
      writeFileSync(file, JSON.stringify(prof));
      const parts = [profileMarkdown(summarizeProfile(prof, 40), `mailroom CPU profile, whole server life (${opts.only?.join(', ') ?? 'all workloads'})`)];
      for (const w of res.workloads) {
        const windows = w.mailroom.runs.map((r) => r.window);
        if (windows.length) parts.push(profileMarkdown(summarizeProfile(prof, 20, windows), `${w.title}: measured sections only`));
      }
      writeFileSync(join(dir, 'summary.md'), parts.join('\n'));
      log(`CPU profile summary: ${join(dir, 'summary.md')}`);
    }
  }
  mkdirSync(opts.out, { recursive: true });
  const md = markdown(res);
  writeFileSync(join(opts.out, 'latest.md'), md);
  writeFileSync(join(opts.out, 'latest.svg'), svgChart(res));
  writeFileSync(join(opts.out, 'latest.json'), JSON.stringify(res, null, 2) + '\n');
  process.stdout.write(opts.json ? JSON.stringify(res, null, 2) + '\n' : md);
  const f = failures(res);
  if (f.length) {
    log(`${f.length} failure(s):\n  ${f.join('\n  ')}`);
    process.exitCode = 1;
  }
  log(`wrote ${join(opts.out, 'latest.md')}, latest.svg and latest.json`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    log(`fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 2;
  });
}

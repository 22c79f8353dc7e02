/**
 * Shared types and helpers of the benchmark: the servers under test (targets), the configuration, the
 * measurement wrapper (wall time, server CPU, server memory) and the consistency-check error.
 */
import { MemorySampler, treeCpu } from './proc.js';
import { generateMessage, type CorpusOptions, type MessageInfo } from '../corpus.js';
import { ImapConn, type Untagged } from './imap.js';

export type TargetName = 'mailroom' | 'dovecot';

export interface Target {
  name: TargetName;
  host: string;
  imapPort: number;
  pop3Port: number;
  lmtpPort: number;
  /** Root process of the server (mailroom: the node process; Dovecot: the master). */
  pid: number;
  /**
   * 'single': one process, peak from VmHWM; 'tree': PSS summed over the process tree, sampled (both servers
   * use 'tree' in `npm run bench`, so `serve --workers N` is counted over all its processes, like Dovecot).
   */
  memMode: 'single' | 'tree';
}

export interface Sizes {
  /** Messages in the big mailbox (overview, search). */
  bigMailbox: number;
  /** Messages delivered over LMTP per run. */
  lmtpMessages: number;
  lmtpSenders: number;
  /** Accounts the LMTP messages are spread over (round robin). */
  lmtpRecipients: number;
  /** Messages downloaded over POP3 per run (one fresh user per run). */
  pop3Messages: number;
  mixedClients: number;
  /** Clients of the wider mixed load (`mixed-50`). */
  mixedWideClients: number;
  mixedCycles: number;
  /** Messages in each mixed-load user's INBOX at the start. */
  mixedMailbox: number;
  idleConnections: number;
  /** Largest message in the corpus, in bytes. */
  maxMessage: number;
  /** One message of every N is maxMessage bytes (0 = none). */
  bigEvery: number;
  /** Messages of the varied corpus profile: the pop3-reread maildrop, and per lmtp-varied run. */
  varied: number;
}

export interface BenchConfig {
  smoke: boolean;
  /**
   * Runs per server of every workload, warm-up runs included: workloads see run indices 0..runs-1 and may
   * prepare for all of them (one POP3 user per run, IDLE connections kept until the last run, ...).
   */
  runs: number;
  /**
   * The first `warmup` runs (indices 0..warmup-1) are unmeasured warm-up: their consistency checks apply, but
   * their times, CPU and memory are not in the results. Absent = 0 (bench/multinode.ts has its own calibration).
   */
  warmup?: number;
  seed: number;
  sizes: Sizes;
  /** Loopback source addresses the load generators spread their connections over. */
  sourceAddresses: string[];
  password: string;
  domain: string;
}

export function corpusOptions(cfg: BenchConfig): CorpusOptions {
  return { seed: cfg.seed, maxSize: cfg.sizes.maxMessage, bigEvery: cfg.sizes.bigEvery, domain: cfg.domain };
}

/** A user every server gets, with INBOX holding corpus messages [first, first + count). */
export interface UserSpec {
  address: string;
  messages?: { first: number; count: number };
}

export interface Measured {
  ms: number;
  /** Server CPU seconds during the measured section. */
  cpu: number;
  /** Server peak memory during the measured section, bytes. */
  peakMem: number;
  /** Server processes (most seen). */
  processes: number;
  /** Peak of RSS summed over the processes (counts shared pages once per process; for reference). */
  rssSum: number;
  /** CPU seconds the load generator (this process) used meanwhile: it must stay well below the server's. */
  loadCpu: number;
  /** The measured section on the monotonic clock, in microseconds (to slice a server CPU profile). */
  window: [number, number];
  /**
   * Work done in the section, for workloads that run for a fixed time rather than a fixed amount of work
   * (imaptest's command count): speed then compares work per second. Absent = one unit (fixed work).
   */
  work?: number;
}

export interface RunOutcome {
  measured: Measured;
  /** Throughput or other detail for the report, e.g. "2000 msgs, 412 msg/s". */
  detail: string;
  /** Consistency checks that passed, each a short sentence. */
  checks: string[];
}

export interface RunContext {
  target: Target;
  cfg: BenchConfig;
  /** 0-based index of this run (each server sees the same indices); indices below `cfg.warmup` are warm-up. */
  run: number;
  /** Times `fn` and samples the server's CPU and memory meanwhile; `sample()` takes an extra memory sample. */
  measure<T>(fn: (sample: () => void) => Promise<T>): Promise<{ value: T; measured: Measured }>;
  /** Loopback source address for connection number i. */
  source(i: number): string;
  log(msg: string): void;
}

export interface Workload {
  id: string;
  title: string;
  /** What is measured, for the report ("time to deliver ..."). */
  metric: string;
  users(cfg: BenchConfig): UserSpec[];
  run(ctx: RunContext): Promise<RunOutcome>;
  /** After all runs: an informational comparison of what the two servers answered (a note), if any. */
  compare?(): string | null;
}

/** A consistency check failed: a message was lost, duplicated or corrupted, or a count is wrong. */
export class ConsistencyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConsistencyError';
  }
}

export function check(cond: boolean, what: string): void {
  if (!cond) throw new ConsistencyError(what);
}

export async function measure<T>(target: Target, fn: (sample: () => void) => Promise<T>): Promise<{ value: T; measured: Measured }> {
  // Collect the load generator's own garbage now rather than inside the measured section: at full size it
  // holds a large corpus index and the previous run's replies, and one full collection of that heap stalls
  // it (and so the server it drives) for up to a second. `npm run bench` starts node with --expose-gc.
  (globalThis as { gc?: () => void }).gc?.();
  const sampler = new MemorySampler(target.pid, target.memMode, 250);
  sampler.start();
  const cpu0 = treeCpu(target.pid);
  const own0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let value: T;
  try {
    value = await fn(() => sampler.sample());
  } catch (e) {
    sampler.stop();
    throw e;
  }
  const t1 = process.hrtime.bigint();
  const ms = Number(t1 - t0) / 1e6;
  const own = process.cpuUsage(own0);
  // Clamped: a child reaped meanwhile moves from nanosecond counters to the parent's tick-rounded cutime.
  const cpu = Math.max(0, treeCpu(target.pid) - cpu0);
  const mem = sampler.stop();
  return { value, measured: { ms, cpu, peakMem: mem.peak, processes: mem.processes, rssSum: mem.rssSum, loadCpu: (own.user + own.system) / 1e6, window: [Number(t0 / 1000n), Number(t1 / 1000n)] } };
}

/** Corpus metadata cache: message infos are needed by several checks; generating is the expensive part. */
export class CorpusIndex {
  readonly #infos = new Map<number, MessageInfo>();
  constructor(readonly opts: CorpusOptions) {}
  remember(info: MessageInfo): void {
    this.#infos.set(info.index, info);
  }
  info(index: number): MessageInfo {
    let i = this.#infos.get(index);
    if (!i) {
      i = generateMessage(this.opts, index).info;
      this.#infos.set(index, i);
    }
    return i;
  }
}

let corpusIndex: CorpusIndex | null = null;
export function corpusIndexFor(cfg: BenchConfig): CorpusIndex {
  const opts = corpusOptions(cfg);
  if (!corpusIndex || JSON.stringify(corpusIndex.opts) !== JSON.stringify(opts)) corpusIndex = new CorpusIndex(opts);
  return corpusIndex;
}

/** Connects (from source address number i) and logs in with LOGIN. */
export async function imapLogin(ctx: RunContext, user: string, i: number, onUntagged?: (u: Untagged) => void): Promise<ImapConn> {
  const c = await ImapConn.connect({ host: ctx.target.host, port: ctx.target.imapPort, localAddress: ctx.source(i), ...(onUntagged ? { onUntagged } : {}) });
  await c.login(user, ctx.cfg.password);
  return c;
}

/** Runs `fn` for items with at most `limit` in flight. */
export async function parallel<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const workers: Promise<void>[] = [];
  for (let w = 0; w < Math.min(limit, items.length); w++) {
    workers.push(
      (async () => {
        while (next < items.length) {
          const i = next++;
          await fn(items[i]!, i);
        }
      })(),
    );
  }
  await Promise.all(workers);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '-';
  if (n >= 1024 * 1024 * 1024) return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024).toFixed(0)} KB`;
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
}

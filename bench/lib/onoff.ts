/**
 * The on/off measurement the delivery benches share (bench/spam.ts, bench/mailauth.ts, bench/spam-mx.ts): two
 * services that differ in one feature, the same messages delivered to each over N SMTP/LMTP connections,
 * runs alternating off, on, off, on ... after a warm-up run of each; per run the wall time and this process's
 * CPU time (user + system); medians and the on/off throughput ratio.
 *
 * With BENCH_MARKS set, each run's window is written to stderr ("mark on|off RUN T0 T1", microseconds on the
 * clock V8 stamps profile samples with), to slice a `node --cpu-prof` profile by run.
 */
import { readFileSync } from 'node:fs';
import { LmtpConn } from './lmtp.js';

/** One message to deliver: envelope sender, recipients, and the octets. */
export interface Delivery {
  from: string;
  to: string[];
  raw: Buffer;
}

export interface DeliverOptions {
  connections: number;
  /** EHLO (SMTP) instead of LHLO. */
  ehlo?: boolean;
  /** The greeting name of connection c (a sending host keeps its name across runs); default bench.localhost. */
  helo?: (c: number) => string;
}

/**
 * Delivers `msgs` to 127.0.0.1:`port`, each connection taking the next message when its last one is
 * answered. Resolves with the wall time in ms; rejects when a message is not accepted (250 for every recipient).
 */
export async function deliverOver(port: number, msgs: readonly Delivery[], o: DeliverOptions): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(o.connections, msgs.length) }, async (_x, c) => {
      const conn = await LmtpConn.connect({ host: '127.0.0.1', port, ...(o.ehlo ? { ehlo: true } : {}), ...(o.helo ? { lhlo: o.helo(c) } : {}) });
      try {
        for (;;) {
          const i = next++;
          if (i >= msgs.length) break;
          const m = msgs[i]!;
          const replies = await conn.deliver(m.from, m.to, m.raw);
          const bad = replies.find((r) => r.code !== 250);
          if (bad || replies.length === 0) throw new Error(`message ${i}: ${bad ? `${bad.code} ${bad.lines.join(' ')}` : 'no reply'}`);
        }
      } finally {
        await conn.quit();
      }
    }),
  );
  return performance.now() - started;
}

/** One side of the comparison, with its measured runs. */
export interface Side {
  on: boolean;
  port: number;
  /** Wall time (ms) and CPU time (ms, every thread of the process) of each measured run. */
  times: number[];
  cpu: number[];
  /**
   * CPU time (ms) of the event-loop thread alone in each measured run (Linux; absent elsewhere): with
   * work on other threads (mailauth/pool.ts), the part that bounds throughput on an idle machine.
   */
  loop?: number[];
}

/** CPU time (ms) of the calling thread so far, from /proc/thread-self/stat (10 ms ticks); null when unreadable. */
export function threadCpuMs(): number | null {
  try {
    const s = readFileSync('/proc/thread-self/stat', 'latin1');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Runs 0 (warm-up, not recorded) to `runs`, each side in turn (off first); `batch(run)` gives the messages of
 * a run, `deliver` sends them to one side. Progress goes to stderr prefixed with `label`.
 */
export async function alternate<S extends Side>(
  sides: readonly S[],
  runs: number,
  batch: (run: number) => readonly Delivery[],
  deliver: (side: S, msgs: readonly Delivery[]) => Promise<number>,
  label: string,
): Promise<void> {
  for (let run = 0; run <= runs; run++) {
    const msgs = batch(run);
    for (const s of sides) {
      const cpu0 = process.cpuUsage();
      const loop0 = threadCpuMs();
      const t0 = process.hrtime.bigint() / 1000n;
      const ms = await deliver(s, msgs);
      const loop1 = threadCpuMs();
      if (process.env['BENCH_MARKS']) process.stderr.write(`mark ${s.on ? 'on' : 'off'} ${run} ${t0} ${process.hrtime.bigint() / 1000n}\n`);
      const cpu = process.cpuUsage(cpu0);
      if (run > 0) {
        s.times.push(ms);
        s.cpu.push((cpu.user + cpu.system) / 1000);
        if (loop0 !== null && loop1 !== null) (s.loop ??= []).push(loop1 - loop0);
      }
      process.stderr.write(`[${label}] run ${run}${run === 0 ? ' (warm-up)' : ''} ${s.on ? 'on ' : 'off'}: ${(msgs.length / (ms / 1000)).toFixed(0)} msg/s\n`);
    }
  }
}

/**
 * Throughput on / off from the median times; the same from the median CPU times (the machine's load cancels
 * out); and from the event-loop thread's median CPU times (null when not measured).
 */
export function ratios(off: Side, on: Side): { ratio: number; cpuRatio: number; loopRatio: number | null } {
  const loopRatio = off.loop?.length && on.loop?.length ? median(off.loop) / median(on.loop) : null;
  return { ratio: median(off.times) / median(on.times), cpuRatio: median(off.cpu) / median(on.cpu), loopRatio };
}

/**
 * A markdown table row: label, median time, throughput, CPU per message (and the event loop's share, when
 * `loop`), every run's time.
 */
export function sideRow(label: string, s: Side, messages: number, loop = false): string {
  const t = median(s.times);
  const l = loop ? ` | ${s.loop?.length ? `${(median(s.loop) / messages).toFixed(2)} ms` : 'n/a'}` : '';
  return `| ${label} | ${t.toFixed(0)} ms | ${(messages / (t / 1000)).toFixed(0)} msg/s | ${(median(s.cpu) / messages).toFixed(2)} ms${l} | ${s.times.map((x) => x.toFixed(0)).join(', ')} ms |`;
}

/**
 * Command-line flags of a bench: `--<kebab-name> N` for each numeric option of `defaults`, `--json`,
 * `--out DIR`, and `--smoke` (the `smoke` sizes).
 */
export function parseBenchFlags<T extends { json: boolean; out: string }>(argv: readonly string[], defaults: T, smoke: Partial<T>): T {
  const o = { ...defaults };
  const numeric = new Map(Object.keys(o).filter((k) => typeof o[k as keyof T] === 'number').map((k) => [`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, k]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const key = numeric.get(a);
    if (key) (o as Record<string, unknown>)[key] = Number(argv[++i]);
    else if (a === '--json') o.json = true;
    else if (a === '--out') o.out = argv[++i]!;
    else if (a === '--smoke') Object.assign(o, smoke);
    else throw new Error(`unknown flag ${a}`);
  }
  return o;
}

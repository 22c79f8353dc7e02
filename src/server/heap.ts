/**
 * V8 heap sizing for a long-running `mailroom serve` process, set once when serve starts (each worker of
 * `serve --workers N` sets its own). Two parts of the heap grew far past what a server keeps alive
 * (~25 MB live under the bench's mixed IMAP load, against 80-100 MB of heap without these settings):
 *
 * - The old generation: V8 lets it grow up to four times its live size between two full collections when
 *   the program allocates fast, which suits a batch job. Most of that growth was garbage promoted out of
 *   the young generation (objects of commands in flight). A fixed growth of HEAP_GROWING_PERCENT keeps the
 *   heap near its live size; the full collections it adds are of a small heap (concurrent marking).
 * - The young generation: its two semi-spaces double up to 16 MB each (32 MB resident) under any burst of
 *   allocation and stay there. --max-semi-space-size cannot be changed once the heap exists, but the growth
 *   factor can: keepHeapSettings() lets the new space grow while it is below YOUNG_GENERATION_CAP and stops
 *   its growth for good once it has reached it. That is checked after each collection, so a burst of
 *   allocation can overshoot the cap by a doubling before the check runs. The workers of
 *   `serve --workers N` get V8's own limit on node's command line (workerHeapArgs, a power of two, where V8
 *   holds it exactly) and hold WORKER_YOUNG_GENERATION_CAP below it at run time (tuneWorkerHeap): a burst
 *   can overshoot that cap only up to the command line's limit.
 *
 * Tried for the workers at the 50-client mixed load without a gain in peak memory: --single-threaded-gc
 * (149.7 MB against 144.6 MB), a glibc mmap threshold of 64 KB instead of 1 MB (140.3 and 142.0 MB against
 * 141.9 and 139.8 MB). For the primary (12.7-13.1 MB PSS idle, 13.5-14.5 MB under load; a bare node process
 * is 8.4 MB) --lite-mode, --jitless, --max-lazy or --single-threaded-gc changed its PSS by under 0.7 MB.
 *
 * An operator's own choice wins: a flag given to node (`node --heap-growing-percent=0 ...` restores V8's
 * heuristics for the old generation, `--max-semi-space-size=N` or `--semi-space-growth-factor=N` for the
 * young one) is left alone.
 */
import { keepHeapSettings, type HeapSettings } from '../lib/heap-flags.js';

/**
 * Old-generation growth between full collections, percent of the live size after the last one. 30 did not
 * lower the peak of the 50-client mixed load with two workers (137.5 and 139.9 MB against 138.9 and 134.1 MB,
 * runs alternated). A worker's heap there is ~37 MB (12 MB young, ~21 MB old, 3 MB code) for 19.7 MB live
 * (heap snapshot): 2.1 MB of it module source text, ~3.5 MB compiled code and its metadata, 0.9 MB in
 * 10,080 Date objects (about one per message of the 50 mailboxes).
 */
export const HEAP_GROWING_PERCENT = 50;
/**
 * Largest young generation (both semi-spaces), bytes. 16 MB: a scavenge every ~8 MB allocated. Held
 * exactly, 8 MB cost 15-33% more server CPU than 16 MB in one process (LMTP 2.75 s against 2.34 s, FETCH
 * overview 0.57 s against 0.38 s, the 50-client mixed load 2.65 s against 2.09 s) for 12 MB less peak
 * memory; V8's own 32 MB would cost 16 MB more again.
 */
export const YOUNG_GENERATION_CAP = 16 * 1024 * 1024;
/**
 * The young generation of each worker of `serve --workers N`, bytes: 12 MB. V8 takes only a power of two for
 * its largest semi-space, so a worker starts with --max-semi-space-size=8 (16 MB at most, what a single
 * process holds) and holds 12 MB at run time (WORKER_YOUNG_CAP_ENV; keepHeapSettings with `regrow`).
 * Two pairs of `--workers 2` runs side by side, 12 MB against 16 MB: the 50-client mixed load peaked at
 * 141 and 148 MB against 144 and 153 MB (medians of three), the 20-client one at 127 against 136 MB, at the
 * same server CPU (FETCH overview of 2,000 messages x 50: 0.36-0.45 s against 0.38-0.51 s; 50-client mixed
 * 2.0-3.3 s either way). 8 MB (`--max-semi-space-size=4`) saved 19 MB at the 50-client load but cost that
 * FETCH overview 45% more CPU (0.48 s against 0.33 s): a session's responses in flight outlive a 4 MB
 * semi-space and are promoted.
 */
export const WORKER_YOUNG_GENERATION_CAP = 12 * 1024 * 1024;
/** The environment variable that tells a worker the young-generation cap it holds (set by its primary). */
export const WORKER_YOUNG_CAP_ENV = 'MAILROOM_YOUNG_CAP';
/**
 * The young generation of the primary of `serve --workers N`, bytes: V8's first growth step. The primary
 * accepts connections and relays the workers' messages, allocating little, yet its new space doubled to
 * 4 MB during start-up and stayed there. Capped at 2 MB its V8 heap is 7.5 MB instead of 9.7 MB; its PSS
 * after 300 IMAP connections was 12.8-13.2 MB against 13.5-13.7 MB (only the pages it wrote count).
 */
export const PRIMARY_YOUNG_GENERATION_CAP = 2 * 1024 * 1024;

/** The flags in `execArgv` and NODE_OPTIONS, `_` spelt `-`. */
function givenFlags(execArgv: readonly string[], nodeOptions: string): string[] {
  return [...execArgv, ...nodeOptions.split(/\s+/)].map((a) => a.replace(/_/g, '-'));
}

function isGiven(given: readonly string[], name: string): boolean {
  return given.some((a) => a === name || a.startsWith(`${name}=`));
}

/** The serve-time settings that node's command line (`execArgv`, NODE_OPTIONS) does not set itself. */
function missingSettings(execArgv: readonly string[], nodeOptions: string, youngCap = YOUNG_GENERATION_CAP): HeapSettings {
  const given = givenFlags(execArgv, nodeOptions);
  const settings: HeapSettings = {};
  if (!isGiven(given, '--heap-growing-percent')) settings.growingPercent = HEAP_GROWING_PERCENT;
  if (!isGiven(given, '--max-semi-space-size') && !isGiven(given, '--semi-space-growth-factor')) settings.youngCap = youngCap;
  return settings;
}

/** Stops holding the settings of the last tuneHeap (null when none are held). */
let release: (() => void) | null = null;

/**
 * Applies the serve-time heap settings that node's command line (`execArgv`, NODE_OPTIONS) does not set
 * itself, and keeps them. Returns what it set, for the log. Call early, before the server allocates its
 * working set. A later call replaces the settings of an earlier one: `serve` starts every process with the
 * primary's small young generation (PRIMARY_YOUNG_GENERATION_CAP) and raises it to `youngCap`'s default once
 * it knows the process serves connections itself; a young generation only grows, so starting large would
 * leave the primary with what its start-up grew.
 */
export function tuneHeap(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env['NODE_OPTIONS'] ?? '', youngCap = YOUNG_GENERATION_CAP): string[] {
  const settings = missingSettings(execArgv, nodeOptions, youngCap);
  const set: string[] = [];
  if (settings.growingPercent !== undefined) set.push(`heap-growing-percent=${settings.growingPercent}`);
  if (settings.youngCap !== undefined) set.push(`young-generation-cap=${settings.youngCap / 1048576}MB`);
  release?.();
  release = set.length ? keepHeapSettings(settings) : null;
  return set;
}

/** The smallest power of two at or above n (n >= 1). */
function powerOfTwoAtLeast(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}

/**
 * The node flags a worker process of `serve --workers N` is started with, beside its parent's own: the
 * old-generation growth, and V8's own limit of the young generation (the power of two at or above
 * WORKER_YOUNG_GENERATION_CAP), given where V8 reads them before the heap exists. What the operator gave
 * node is left alone (and inherited).
 */
export function workerHeapArgs(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env['NODE_OPTIONS'] ?? ''): string[] {
  const settings = missingSettings(execArgv, nodeOptions);
  const args: string[] = [];
  if (settings.growingPercent !== undefined) args.push(`--heap-growing-percent=${settings.growingPercent}`);
  // Two semi-spaces make the young generation.
  if (settings.youngCap !== undefined) args.push(`--max-semi-space-size=${powerOfTwoAtLeast(WORKER_YOUNG_GENERATION_CAP / 2 / 1048576)}`);
  return args;
}

/** The environment of a worker beside workerHeapArgs: the young-generation cap it holds, unless the operator set one. */
export function workerHeapEnv(execArgv: readonly string[] = process.execArgv, nodeOptions: string = process.env['NODE_OPTIONS'] ?? ''): Record<string, string> {
  return missingSettings(execArgv, nodeOptions).youngCap !== undefined ? { [WORKER_YOUNG_CAP_ENV]: String(WORKER_YOUNG_GENERATION_CAP) } : {};
}

/**
 * In a worker: holds the young-generation cap its primary set in WORKER_YOUNG_CAP_ENV, growing back to it
 * after V8 shrinks the new space (its --max-semi-space-size bounds any overshoot). Returns what it set.
 */
export function tuneWorkerHeap(env: NodeJS.ProcessEnv = process.env): string[] {
  const cap = Number(env[WORKER_YOUNG_CAP_ENV]);
  if (!Number.isInteger(cap) || cap <= 0) return [];
  release?.();
  release = keepHeapSettings({ youngCap: cap, regrow: true });
  return [`young-generation-cap=${cap / 1048576}MB`];
}

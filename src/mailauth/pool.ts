/**
 * A small pool of worker threads for the CPU-heavy per-message checks of delivery: the SMTP MX's checks
 * (mx.ts: SPF, DKIM, DMARC, ARC) and the spam filter's tokenizing (spam/filter.ts). The event loop,
 * which also serves every connection and the store, then only sends the message bytes and receives the
 * results; the tasks themselves (tasks.ts) are the same functions the in-process path calls, so the results
 * are identical.
 *
 * - Lazy: no thread starts before the first task; then up to `size` threads (default: the CPU count less
 *   one, at least 1, at most 4), each running up to PER_WORKER tasks at a time (tasks wait on DNS).
 * - Bounded: at most `maxQueue` tasks wait for a thread; beyond that run() rejects with BUSY at once.
 * - Never loses work: a task whose thread crashed, or that took longer than `timeoutMs`, rejects with
 *   CRASHED or TIMEOUT; callers then do the work in-process. A thread that answered nothing during that
 *   time is stuck and is ended (its other tasks reject too); a crashed or ended thread is replaced by the
 *   next task. Callers treat every rejection so.
 * - Threads are unreferenced while idle: an idle pool never keeps a process alive.
 * - Few wake-ups: a thread has at most one batch of tasks on its way at a time. Tasks made while a batch
 *   is out wait (at most HOLD_MS) and go together with the thread's next answer, when it is awake anyway;
 *   waking a thread costs both threads more than the message itself, and on a loaded machine the thread
 *   that posts to a sleeping one often loses its CPU for a while.
 *
 * The worker runs this very module (its URL), which serves tasks when it finds itself on a pool thread. A
 * bundled build has no file of its own for it (the module is then part of a larger file whose top level
 * may do anything): there run() rejects with UNAVAILABLE and everything runs in-process, as it does with
 * size 0 (configurePool) or when threads cannot start.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { heldAcrossWorker } from '../lib/heap-flags.js';
import type { TaskKind, TaskPayload, TaskResult } from './tasks.js';
import { TOKEN_ID_KEY } from '../spam/token-ids.js';

const TAG = 'mailroom-check-pool';
/** Tasks one thread runs at a time (the rest wait in the queue). */
const PER_WORKER = 8;
/** Longest time a task waits to go with its thread's next answer while a batch is out (see #send). */
const HOLD_MS = 2;

export type PoolErrorCode = 'BUSY' | 'CRASHED' | 'TIMEOUT' | 'CLOSED' | 'UNAVAILABLE';

export class PoolError extends Error {
  constructor(readonly code: PoolErrorCode) {
    super(`check pool: ${code}`);
  }
}

export interface PoolOptions {
  /** Threads at most (0: none, every run() rejects UNAVAILABLE). */
  size?: number;
  /** Tasks waiting for a thread at most. Default 64 per thread. */
  maxQueue?: number;
  /** A task taking longer ends its thread. Default 30 s (DNS time-outs included). */
  timeoutMs?: number;
}

interface Pending {
  id: number;
  kind: TaskKind;
  payload: unknown;
  transfer: ArrayBuffer[];
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  timer?: NodeJS.Timeout;
  /** When it was handed to its thread (performance.now()). */
  sentAt?: number;
}

interface Thread {
  worker: Worker;
  running: Map<number, Pending>;
  /** Tasks to post together (one message, one wake-up for all): at the end of this turn, or with the next answer. */
  outbox: Pending[];
  /** Tasks posted and not answered yet (the batch out). */
  out: number;
  /** When the outbox is posted: an immediate (nothing out) or a HOLD_MS timer (a batch out); null when empty. */
  flushAt: NodeJS.Immediate | NodeJS.Timeout | null;
  dead: boolean;
  /** It answered a task (it started fine). */
  answered: boolean;
  /** When it last answered (performance.now()). */
  lastAnswer: number;
}

/** A thread's answer to one task. */
interface Answer {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: string;
}

/** Threads that die before answering anything, in a row, before the pool gives up (UNAVAILABLE). */
const MAX_FAILED_STARTS = 3;

/** The URL the worker imports, or null when this module is not a file of its own (a bundle). */
function ownUrl(): string | null {
  const url = import.meta.url;
  return /\/pool\.(?:ts|js)$/.test(url) ? url : null;
}

/** For a TypeScript source tree run through tsx: the loader the thread registers first. */
function loaderFor(url: string): string | null {
  if (!url.endsWith('.ts')) return null;
  try {
    return import.meta.resolve('tsx/esm/api');
  } catch {
    return null;
  }
}

const BOOT = `
const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.loader) (await import(workerData.loader)).register();
  await import(workerData.url);
})().catch((e) => { process.exitCode = 1; throw e; });
`;

export class CheckPool {
  readonly size: number;
  readonly #maxQueue: number;
  readonly #timeoutMs: number;
  readonly #url: string | null;
  readonly #threads: Thread[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 1;
  #closed = false;
  #failedStarts = 0;
  /** Threads started so far (for tests and metrics). */
  started = 0;
  /** Messages that carried tasks to threads so far (for tests and metrics). */
  posts = 0;

  constructor(opts: PoolOptions = {}) {
    this.size = Math.max(0, Math.floor(opts.size ?? defaultPoolSize()));
    this.#maxQueue = opts.maxQueue ?? 64 * Math.max(1, this.size);
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#url = ownUrl();
  }

  /** Whether run() can use threads at all. */
  get available(): boolean {
    return this.size > 0 && this.#url !== null && !this.#closed && this.#failedStarts < MAX_FAILED_STARTS;
  }

  /** Runs a task on a thread. `transfer`: ArrayBuffers in the payload handed over without copying. */
  run<K extends TaskKind>(kind: K, payload: TaskPayload<K>, transfer: ArrayBuffer[] = []): Promise<TaskResult<K>> {
    if (!this.available) return Promise.reject(new PoolError(this.#closed ? 'CLOSED' : 'UNAVAILABLE'));
    return new Promise<TaskResult<K>>((resolve, reject) => {
      const p: Pending = { id: this.#nextId++, kind, payload, transfer, resolve: resolve as (v: unknown) => void, reject };
      const t = this.#pick();
      if (t) this.#send(t, p);
      else if (this.#queue.length < this.#maxQueue) this.#queue.push(p);
      else reject(new PoolError('BUSY'));
    });
  }

  /** Ends every thread; waiting and running tasks reject with CLOSED. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const p of this.#queue.splice(0)) p.reject(new PoolError('CLOSED'));
    await Promise.all(this.#threads.splice(0).map((t) => this.#end(t, 'CLOSED')));
  }

  /** A thread with room for a task, started when needed; null when all are full. */
  #pick(): Thread | null {
    let best: Thread | null = null;
    for (const t of this.#threads) if (t.running.size < PER_WORKER && (!best || t.running.size < best.running.size)) best = t;
    if (best && best.running.size === 0) return best;
    if (this.#threads.length < this.size) {
      const t = this.#start();
      if (t) return t;
    }
    return best;
  }

  #start(): Thread | null {
    let worker: Worker;
    try {
      worker = new Worker(BOOT, { eval: true, workerData: { [TAG]: true, url: this.#url, loader: loaderFor(this.#url!), tokenIdKey: TOKEN_ID_KEY } });
    } catch {
      return null;
    }
    heldAcrossWorker(worker);
    this.started++;
    const t: Thread = { worker, running: new Map(), outbox: [], out: 0, flushAt: null, dead: false, answered: false, lastAnswer: -Infinity };
    worker.unref();
    worker.on('message', (answers: Answer[]) => {
      t.lastAnswer = performance.now();
      t.out = Math.max(0, t.out - answers.length);
      // The thread is awake now: what waited for it goes at once.
      if (t.outbox.length) this.#flush(t);
      for (const m of answers) {
        const p = t.running.get(m.id);
        if (!p) continue;
        t.running.delete(m.id);
        clearTimeout(p.timer);
        t.answered = true;
        this.#failedStarts = 0;
        if (m.ok) p.resolve(m.value);
        else p.reject(new Error(m.error ?? 'task failed'));
      }
      this.#settled(t);
    });
    worker.on('error', () => void this.#end(t, 'CRASHED'));
    worker.on('exit', () => void this.#end(t, 'CRASHED'));
    this.#threads.push(t);
    return t;
  }

  #send(t: Thread, p: Pending): void {
    t.running.set(p.id, p);
    if (t.running.size === 1) t.worker.ref();
    p.sentAt = performance.now();
    p.timer = setTimeout(() => {
      if (!t.running.has(p.id)) return;
      t.running.delete(p.id);
      if (!t.outbox.includes(p)) t.out = Math.max(0, t.out - 1); // a late answer of it is not waited for
      p.reject(new PoolError('TIMEOUT'));
      // A thread that answered nothing since is stuck (on this task or another): its tasks go elsewhere.
      // One that answers others is only waiting (on DNS, say) and keeps them.
      if (t.lastAnswer < p.sentAt!) void this.#end(t, 'CRASHED');
      else this.#settled(t);
    }, this.#timeoutMs);
    p.timer.unref();
    // Waking a sleeping thread costs more than the message: the tasks of one turn go together, and while
    // a batch is out, with the thread's next answer (or after HOLD_MS).
    if (t.outbox.push(p) === 1) t.flushAt = t.out > 0 ? setTimeout(() => this.#flush(t), HOLD_MS).unref() : setImmediate(() => this.#flush(t));
  }

  #flush(t: Thread): void {
    if (t.flushAt) {
      clearTimeout(t.flushAt as NodeJS.Timeout);
      clearImmediate(t.flushAt as NodeJS.Immediate);
      t.flushAt = null;
    }
    const batch = t.outbox.splice(0);
    if (t.dead || !batch.length) return;
    this.posts++;
    t.out += batch.length;
    try {
      t.worker.postMessage(
        batch.map((p) => ({ id: p.id, kind: p.kind, payload: p.payload })),
        batch.flatMap((p) => p.transfer),
      );
    } catch (e) {
      t.out -= batch.length;
      for (const p of batch) {
        t.running.delete(p.id);
        clearTimeout(p.timer);
        p.reject(e);
      }
      this.#settled(t);
    }
  }

  /** A task of `t` ended: unreference an idle thread, give it the next waiting task. */
  #settled(t: Thread): void {
    while (this.#queue.length && !t.dead && t.running.size < PER_WORKER) this.#send(t, this.#queue.shift()!);
    if (t.running.size === 0 && !t.dead) t.worker.unref();
  }

  async #end(t: Thread, code: PoolErrorCode): Promise<void> {
    if (t.dead) return;
    t.dead = true;
    if (!t.answered && code === 'CRASHED') this.#failedStarts++;
    const i = this.#threads.indexOf(t);
    if (i >= 0) this.#threads.splice(i, 1);
    for (const p of t.running.values()) {
      clearTimeout(p.timer);
      p.reject(new PoolError(code));
    }
    t.running.clear();
    t.outbox.length = 0;
    t.out = 0;
    await t.worker.terminate().catch(() => undefined);
    // Waiting tasks go to a new thread (or a remaining one), or back to their callers.
    if (!this.available) for (const p of this.#queue.splice(0)) p.reject(new PoolError('UNAVAILABLE'));
    while (this.#queue.length) {
      const next = this.#pick();
      if (!next) break;
      this.#send(next, this.#queue.shift()!);
    }
  }
}

/** Threads for a pool by default: the CPUs less one (the event loop's), at least 1, at most 4. */
export function defaultPoolSize(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

let shared: CheckPool | null = null;
let sharedOptions: PoolOptions = {};

/** The process's pool (made on first use with the options of configurePool). */
export function checkPool(): CheckPool {
  shared ??= new CheckPool(sharedOptions);
  return shared;
}

/**
 * Sets the options of the process's pool (size 0: every check in-process); the current pool, if any, is
 * closed and the next checkPool() makes a new one.
 */
export function configurePool(opts: PoolOptions): void {
  sharedOptions = { ...opts };
  const old = shared;
  shared = null;
  void old?.close();
}

// On a pool thread: serve tasks.
if (!isMainThread && parentPort && (workerData as Record<string, unknown> | null)?.[TAG]) {
  const port = parentPort;
  // Answers of one turn go together, as the tasks came (one wake-up of the event loop for all).
  let answers: Answer[] = [];
  const answer = (a: Answer): void => {
    if (answers.push(a) === 1) {
      setImmediate(() => {
        const batch = answers;
        answers = [];
        port.postMessage(batch);
      });
    }
  };
  // Messages wait in the port until the listener is added.
  void import('./tasks.js').then(({ runBatch }) => {
    port.on('message', (tasks: Array<{ id: number; kind: TaskKind; payload: unknown }>) => {
      const running = runBatch(tasks);
      for (const [i, m] of tasks.entries()) {
        running[i]!.then(
          (value) => answer({ id: m.id, ok: true, value }),
          (e: unknown) => answer({ id: m.id, ok: false, error: e instanceof Error ? e.message : String(e) }),
        );
      }
    });
  });
}

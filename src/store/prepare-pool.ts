/**
 * Prepares appended messages (line endings, MIME index, search text, their serialization) on a worker
 * thread, so deliveries and APPENDs leave the event loop free for the sessions meanwhile; on two cores the
 * work then runs beside the main thread. Small messages are prepared inline: handing them over costs about
 * as much as the work. One process-wide worker, started on first use and unref'd (it never keeps the
 * process alive); if it cannot start or dies, messages are prepared inline.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { prepareStoredForm, type StoredForm } from './message-prep.js';
import { StoreError, type StoreErrorCode } from './types.js';

/** Messages up to this size are prepared on the calling thread (handing over costs ~0.1 ms of this thread). */
const INLINE_MAX = 1024;

type Reply = { id: number; form?: Omit<StoredForm, 'data'> & { data: Uint8Array | null }; error?: { code: StoreErrorCode | null; message: string } };

class PreparePool {
  #worker: Worker | null = null;
  #broken = false;
  #nextId = 1;
  readonly #waiting = new Map<number, { raw: Buffer; resolve: (f: StoredForm) => void; reject: (e: unknown) => void }>();

  prepare(raw: Buffer): Promise<StoredForm> {
    const w = raw.length > INLINE_MAX ? this.#ensure() : null;
    if (!w) return Promise.resolve().then(() => prepareStoredForm(raw));
    const id = this.#nextId++;
    return new Promise<StoredForm>((resolve, reject) => {
      this.#waiting.set(id, { raw, resolve, reject });
      if (this.#waiting.size === 1) w.ref();
      // One copy into a buffer of its own, transferred (structured clone would copy all of a shared buffer).
      const copy = new Uint8Array(raw.length);
      copy.set(raw);
      w.postMessage({ id, raw: copy }, [copy.buffer]);
    });
  }

  #ensure(): Worker | null {
    if (this.#worker || this.#broken) return this.#worker;
    try {
      const w = startWorker();
      if (!w) {
        this.#broken = true;
        return null;
      }
      w.unref();
      w.on('message', (r: Reply) => this.#settle(r));
      w.on('error', () => this.#fail(w));
      w.on('exit', () => this.#fail(w));
      this.#worker = w;
      return w;
    } catch {
      this.#broken = true;
      return null;
    }
  }

  /** Messages the worker prepared (for tests and benchmarks). */
  offThread = 0;

  #settle(r: Reply): void {
    const job = this.#waiting.get(r.id);
    if (!job) return;
    this.offThread++;
    this.#waiting.delete(r.id);
    if (this.#waiting.size === 0) this.#worker?.unref();
    if (r.error) {
      job.reject(r.error.code ? new StoreError(r.error.code, r.error.message) : new Error(r.error.message));
      return;
    }
    const f = r.form!;
    job.resolve({ ...f, data: f.data ? Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength) : job.raw });
  }

  /** The worker is gone: what it held is prepared inline, and so is everything after. */
  #fail(w: Worker): void {
    if (this.#worker !== w) return;
    this.#worker = null;
    this.#broken = true;
    const jobs = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const j of jobs) {
      try {
        j.resolve(prepareStoredForm(j.raw));
      } catch (e) {
        j.reject(e);
      }
    }
  }
}

/**
 * The worker module beside this one: compiled (.js), or the TypeScript source when running from sources
 * (tests), where the worker first registers the same loader (tsx) the main thread runs under. Null when
 * neither can start.
 */
function startWorker(): Worker | null {
  const js = new URL('./prepare-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return new Worker(js);
  const ts = new URL('./prepare-worker.ts', import.meta.url);
  if (!existsSync(fileURLToPath(ts))) return null;
  let loader: string;
  try {
    loader = import.meta.resolve('tsx/esm/api');
  } catch {
    return null;
  }
  const boot = `import(${JSON.stringify(loader)}).then((m) => { m.register(); return import(${JSON.stringify(ts.href)}); })`;
  return new Worker(boot, { eval: true });
}

const pool = new PreparePool();

/** prepareStoredForm on the prepare worker (or inline for small messages). Throws StoreError TOO_BIG. */
export function prepareForStore(raw: Buffer): Promise<StoredForm> {
  return pool.prepare(raw);
}

/** How many messages the worker has prepared in this process (0 when it never started). */
export function preparedOffThread(): number {
  return pool.offThread;
}

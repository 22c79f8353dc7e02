/**
 * WAL checkpoints off the event loop.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past wal_autocheckpoint pages, on
 * the committing thread: it copies the WAL's pages into the database file and fsyncs the WAL and the
 * database, holding the event loop for milliseconds each time (with messages kept in the database, about
 * every hundred deliveries). A Checkpointer is a worker thread with its own connection that runs
 * PRAGMA wal_checkpoint(PASSIVE) at most every INTERVAL_MS while commits are being made; the store calls
 * committed() after each commit, which costs an atomic add (and a wake-up only when the worker sleeps).
 * Passive checkpoints never block readers or writers. The store keeps SQLite's automatic checkpoint as a
 * fallback at a higher threshold, so a worker that falls behind or fails cannot let the WAL grow unbounded.
 * When several processes share the file (serve --workers N) one of them runs a thread that watches
 * PRAGMA data_version instead (watchOthers): it checkpoints after anyone's commits, the others none.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { heldAcrossWorker } from '../../lib/heap-flags.js';

/** Least time between two checkpoints while commits keep coming. */
const INTERVAL_MS = 200;

// The worker is evaluated from source (it must also run from a bundled build, where no separate worker file
// exists) and is CommonJS; it loads the same better-sqlite3 as the store.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const state = new Int32Array(workerData.state);
const db = new Database(workerData.file, { timeout: 0, fileMustExist: true });
db.pragma('synchronous = NORMAL');
let done = -1; // checkpoint once at start: commits made while the thread started went unseen
let version = -1;
while (Atomics.load(state, 1) === 0) {
  if (workerData.watchOthers) {
    // Commits of other processes are not signalled: data_version moves when any other connection commits.
    Atomics.wait(state, 1, 0, workerData.intervalMs);
    try {
      const v = db.pragma('data_version', { simple: true });
      if (v === version) continue;
      version = v;
    } catch {
      continue;
    }
  } else if (Atomics.load(state, 0) === done) {
    Atomics.wait(state, 0, done, 1000);
    continue;
  } else {
    Atomics.wait(state, 1, 0, workerData.intervalMs);
  }
  done = Atomics.load(state, 0);
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    Atomics.add(state, 2, 1);
  } catch {
    // Busy or failing: the next round (or the store's automatic checkpoint) covers it.
  }
}
db.close();
`;

export class Checkpointer {
  private readonly worker: Worker;
  /** [commits signalled, closing, checkpoints run] */
  private readonly state = new Int32Array(new SharedArrayBuffer(12));
  private readonly exited: Promise<void>;

  /** `watchOthers`: checkpoint after the commits of every process on the file, not only the signalled ones. */
  constructor(dbFile: string, watchOthers = false) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver, file: dbFile, state: this.state.buffer, intervalMs: INTERVAL_MS, watchOthers },
    });
    heldAcrossWorker(this.worker); // starting it resets V8's flags to the command line's (lib/heap-flags.ts)
    this.worker.unref(); // never keeps a process (a CLI command) alive
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('error', () => undefined); // a failed worker leaves checkpoints to SQLite's fallback
  }

  /** Tells the worker that a commit was made. */
  committed(): void {
    Atomics.add(this.state, 0, 1);
    Atomics.notify(this.state, 0, 1);
  }

  /** Checkpoints the worker has run (for tests). */
  get runs(): number {
    return Atomics.load(this.state, 2);
  }

  /** Stops the worker after its current checkpoint. */
  async close(): Promise<void> {
    this.worker.ref(); // keep the process up until the worker has closed its connection
    Atomics.store(this.state, 1, 1);
    Atomics.notify(this.state, 0);
    Atomics.notify(this.state, 1);
    await this.exited;
  }
}

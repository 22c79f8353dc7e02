/**
 * SqliteConnection: the part of the SQLite store core that talks to the database file: the connection and
 * its prepared statements, transactions, the commit queue (group commit), the off-thread WAL sync and the
 * WAL checkpointer (checkpointer.ts). core.ts (SqliteCore) extends it with the change bus, blobs and caches; the design
 * notes (durability, group commit, hot paths) are in core.ts's header.
 *
 * Members are shared by the part files of the backend (core.ts, directory.ts, mailboxes.ts, mail-*.ts,
 * maildrop.ts, queue.ts) and are not part of any public interface.
 */
import { record } from '../../lib/metrics.js';
import { close as closeCb, closeSync, fdatasync, open as openCb } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { StoreError } from '../types.js';
import { Checkpointer } from './checkpointer.js';
import type { BlobDir } from './blobs.js';
import { mapError } from './rows.js';
import { prepareStatements, type Statement, type Statements } from './statements.js';

/** Longest a group of durable writes waits for appends still writing their blob files (see groupCommit). */
const GROUP_MAX_WAIT_MS = 5;
/** Longest time a flag change stays committed but not yet synced when no durable write comes along. */
const LAZY_SYNC_MS = 100;
/**
 * WAL fdatasyncs in flight at once (see walSync). A commit that arrives while one runs starts its own at
 * once instead of waiting for it to end (on a busy event loop, for that completion to be noticed too); the
 * kernel joins concurrent syncs into the same journal commit where it can. Two keep the disk's queue full;
 * more would only take thread-pool threads from blob writes and reads.
 */
const SYNCS_IN_FLIGHT = 2;
/**
 * A group commit that finds the write lock taken by another process (the other workers of serve
 * --workers N, a CLI command) tries again without holding the event loop (SQLite's own busy handler would
 * sleep on this thread, stalling every session of the process for each collision): every BUSY_RETRY_MS
 * while it has waited less than BUSY_STEADY_MS (another worker's group commit holds the lock for 1-3 ms),
 * then doubling up to BUSY_RETRY_MAX_MS (a long writer: a CLI command, a compaction). Doubling from the
 * first retry (1, 2, 4, 8 ms) made a collision between two workers wait ~11 ms on an idle machine, mostly
 * after the lock was free again; a failed attempt costs some tens of microseconds. After BUSY_GIVE_UP_MS
 * (the connection's busy timeout) the group fails.
 */
const BUSY_RETRY_MS = 1;
const BUSY_STEADY_MS = 16;
const BUSY_RETRY_MAX_MS = 16;
const BUSY_GIVE_UP_MS = 5000;

/** An append writing its blob files (startWriter .. endWriter); `epoch`: the group count when it started. */
export interface BlobWriter {
  epoch: number;
  done: boolean;
}

/** One WAL fdatasync: the commits it covers and the file descriptor it syncs (see walSync). */
interface WalSync {
  covers: number;
  fd: WalFd | null;
  /** Settled: null while it runs, then ok or the error. */
  outcome: { ok: true } | { ok: false; error: unknown } | null;
}

/** The WAL file opened for syncing; closed once replaced (after a failure) and no sync uses it. */
interface WalFd {
  fd: number;
  users: number;
  stale: boolean;
}

/** Commits after which a store with fsync on hands WAL checkpoints to its Checkpointer (see startCheckpointer). */
const CHECKPOINTER_AFTER = 32;
/**
 * SQLite's automatic checkpoint once the Checkpointer runs: pages (of 4 KiB) the WAL may reach before a
 * COMMIT checkpoints on the event loop after all (default 1000). Passive checkpoints that run while commits
 * keep coming may leave the WAL unable to restart from its beginning for a while; this bounds it.
 */
const FALLBACK_CHECKPOINT_PAGES = 10_000;

export class SqliteConnection {
  readonly db: Database.Database;
  readonly blobs: BlobDir;
  /** The data directory's realpath. */
  readonly key: string;
  readonly st: Statements;
  readonly pending = new Set<Promise<unknown>>();
  closed = false;
  readonly commitQueue: Array<{ fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void; durable: boolean }> = [];
  /** Items of commitQueue that do not wait for a sync (flag changes, \Recent claims, expunges). */
  queuedLazy = 0;
  /** While group commits find the write lock taken: since when, and the next retry's delay (see flushCommits). */
  busySince: number | null = null;
  busyDelay = BUSY_RETRY_MS;
  /** A background WAL sync is scheduled for flag-only commits (see groupCommit). */
  lazySyncTimer: NodeJS.Timeout | null = null;
  flushScheduled = false;
  /** Appends writing their blob files (startWriter .. endWriter). */
  readonly writers = new Set<BlobWriter>();
  /** Bumped when a group opens (its first write is queued); writers remember the epoch they started in. */
  epoch = 0;
  groupEpoch = 0;
  /** Writers that started before the open group and have not queued or failed yet. */
  olderWriters = 0;
  groupTimer: NodeJS.Timeout | null = null;
  /**
   * Group-commit counters, for benchmarks: write transactions of the append queue and appends in them;
   * `busy`: groups that found the write lock taken (collisions), their attempts that failed, and the time
   * from the first failure to the commit, in ms.
   */
  readonly stats: {
    commits: number;
    grouped: number;
    /** Blob directory fsyncs (shared by blobs written together). */
    readonly dirSyncs: number;
    busy: { collisions: number; retries: number; waitMs: number };
  };
  readonly stmtCache = new Map<string, Statement>();
  /** Off-thread WAL sync (see the header and walSync); false when SQLite syncs itself or fsync is off. */
  readonly asyncWalSync: boolean;
  /** The WAL checkpoint worker, started after CHECKPOINTER_AFTER commits when fsync is on (see tx). */
  checkpointer: Checkpointer | null = null;
  /** Who checkpoints this database's WAL (see setCheckpointRole). */
  checkpointRole: 'own' | 'shared' | 'none' = 'own';
  /** Commits made, and how many of them a completed WAL fdatasync covers. */
  commitSeq = 0;
  syncedSeq = 0;
  /** Commits made outside the commit queue (run() syncs after an operation that made one). */
  directCommits = 0;
  /** WAL syncs started and not yet applied, in the order they started (see walSync). */
  syncs: WalSync[] = [];
  syncWaiters: Array<{ target: number; resolve: () => void; reject: (e: unknown) => void }> = [];
  /** The WAL file, opened at the first sync (fd; the callback API costs less per call than FileHandle's). */
  walFd: WalFd | null = null;
  /** Opening the WAL file for the first sync (shared by the syncs that start meanwhile). */
  walOpening: Promise<WalFd> | null = null;
  /** WAL fdatasyncs issued (for tests and benchmarks). */
  walSyncCount = 0;
  /**
   * Runs a function in a transaction (a savepoint when nested). One wrapper made once: creating one per
   * call with db.transaction(fn) showed in profiles of flag-change-heavy loads.
   */
  readonly inTx: Database.Transaction<(fn: () => unknown) => unknown>;

  /** The connection's busy timeout (ms), switched off around a group commit's BEGIN (see flushCommits). */
  readonly busyTimeout: number;
  readonly busyTimeoutStatements: { off: Statement; on: Statement };

  constructor(db: Database.Database, blobs: BlobDir, key: string, asyncWalSync: boolean) {
    this.asyncWalSync = asyncWalSync;
    this.db = db;
    this.busyTimeout = Number(db.pragma('busy_timeout', { simple: true }));
    this.busyTimeoutStatements = { off: db.prepare('PRAGMA busy_timeout = 0'), on: db.prepare(`PRAGMA busy_timeout = ${this.busyTimeout}`) };
    this.inTx = db.transaction((fn: () => unknown) => fn());
    this.blobs = blobs;
    this.key = key;
    this.st = prepareStatements(db);
    this.stats = {
      commits: 0,
      grouped: 0,
      get dirSyncs(): number {
        return blobs.dirSyncCount;
      },
      busy: { collisions: 0, retries: 0, waitMs: 0 },
    };
  }

  /**
   * A prepared statement for `text`, prepared once per store (preparing costs tens of microseconds per call
   * on paths like LIST, SELECT and the outbound queue). Reader statements come back in the default row mode;
   * callers set pluck/raw per use.
   */
  sql(text: string): Statement {
    let st = this.stmtCache.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.stmtCache.set(text, st);
    } else if (st.reader) {
      st.raw(false);
      st.pluck(false);
    }
    return st;
  }

  /** Runs an operation, tracking it for close() and mapping low-level errors to StoreError codes. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError('TEMPORARY', 'store is closed'));
    const p = (async () => {
      const direct = this.directCommits;
      try {
        const v = await fn();
        if (this.directCommits !== direct) await this.walSync();
        return v;
      } catch (e) {
        throw mapError(e);
      }
    })();
    this.pending.add(p);
    const started = performance.now();
    const done = () => {
      this.pending.delete(p);
      record.storeLatency('sqlite', performance.now() - started);
    };
    p.then(done, done);
    return p;
  }

  /**
   * Group commit for appends and the frequent message writes (flag changes, expunges, copies and moves,
   * POP3 commits): commit functions queued within one turn of the event loop run in one write transaction,
   * each inside its own savepoint (one failing operation does not affect the others). Each promise settles
   * once the WAL holding its COMMIT has been synced (walSync), except with `durable` false (flag changes
   * and \Recent claims): those settle at COMMIT, and a background sync within LAZY_SYNC_MS (or the next
   * durable write's, whichever comes first) makes them durable. Dovecot's default (mail_fsync=optimized)
   * does not fsync flag changes at all; new, copied, moved and removed mail is always synced before the
   * reply.
   *
   * Group commit proper, for a queue of durable writes only: while SYNCS_IN_FLIGHT WAL syncs run, they are
   * queued and committed together when one ends; with fewer running, the group commits at the next turn and
   * starts its own sync beside the running one (waiting for that one to end first left every session idle
   * for a whole sync: with ten LMTP sessions, about a fifth of the delivery time); and when the group
   * opens while other appends are still writing their blob files, it waits for those writers (each ends
   * by queueing its own commit or failing), at most GROUP_MAX_WAIT_MS. So concurrent deliveries, small and
   * large, share one write transaction and one sync instead of one each, which counts when fsyncs are
   * slow. A queue that holds a write nobody syncs for is committed at the next turn of the event loop,
   * whole and in order: flag changes, \Recent claims and expunges never wait for a sync or a blob writer.
   */
  groupCommit<T>(fn: () => T, writer?: BlobWriter, durable = true): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (writer) this.endWriter(writer);
      if (this.commitQueue.length === 0) {
        this.groupEpoch = ++this.epoch;
        this.olderWriters = this.writers.size;
      }
      this.commitQueue.push({ fn, resolve: resolve as (v: unknown) => void, reject, durable });
      if (!durable) this.queuedLazy++;
      this.scheduleFlush();
    });
  }

  /** Registers an append whose blob write is starting; endWriter (or its groupCommit) ends it. */
  startWriter(): BlobWriter {
    const w = { epoch: this.epoch, done: false };
    this.writers.add(w);
    return w;
  }

  /** The writer queued its commit or failed; idempotent. The open group flushes once its older writers are done. */
  endWriter(w: BlobWriter): void {
    if (w.done) return;
    w.done = true;
    this.writers.delete(w);
    if (this.commitQueue.length > 0 && w.epoch < this.groupEpoch && --this.olderWriters === 0) this.scheduleFlush();
  }

  /**
   * Flushes the commit queue at the next turn of the event loop; a queue of durable writes only waits while
   * SYNCS_IN_FLIGHT WAL syncs run (runSync calls again when one ends) and for the group's older blob
   * writers, at most GROUP_MAX_WAIT_MS (see groupCommit).
   */
  scheduleFlush(): void {
    if (this.flushScheduled || this.commitQueue.length === 0) return;
    if (this.queuedLazy === 0) {
      if (this.syncs.length >= SYNCS_IN_FLIGHT) return;
      if (this.olderWriters > 0) {
        this.groupTimer ??= setTimeout(() => {
          this.groupTimer = null;
          this.olderWriters = 0;
          this.scheduleFlush();
        }, GROUP_MAX_WAIT_MS);
        return;
      }
    }
    if (this.groupTimer) {
      clearTimeout(this.groupTimer);
      this.groupTimer = null;
    }
    this.flushScheduled = true;
    setImmediate(() => this.flushCommits());
  }

  flushCommits(): void {
    this.flushScheduled = false;
    const batch = this.commitQueue.splice(0);
    this.queuedLazy = 0;
    if (batch.length === 0) return;
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    let began = false;
    try {
      // BEGIN IMMEDIATE fails at once when another process holds the write lock (retried below).
      this.busyTimeoutStatements.off.get();
      this.tx(() => {
        began = true;
        if (batch.length === 1) {
          // One write alone needs no savepoint of its own: when it throws, the transaction rolls back whole
          // and the catch below rejects it, as a rolled-back savepoint would have (two statements saved).
          outcomes.push({ ok: true, value: batch[0]!.fn() });
          return;
        }
        for (const item of batch) {
          try {
            outcomes.push({ ok: true, value: this.inTx(item.fn) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      }, true);
    } catch (error) {
      if (!began && this.retryWhenBusy(batch, error)) return;
      this.busyEnded();
      for (const item of batch) item.reject(error);
      return;
    } finally {
      this.busyTimeoutStatements.on.get();
    }
    this.busyEnded();
    this.stats.commits++;
    this.stats.grouped += batch.length;
    const settle = (durable: boolean, syncError?: unknown): void =>
      batch.forEach((item, i) => {
        if (item.durable !== durable) return;
        const o = outcomes[i]!;
        if (!o.ok) item.reject(o.error);
        else if (syncError !== undefined) item.reject(syncError);
        else item.resolve(o.value);
      });
    settle(false);
    if (batch.some((item) => item.durable)) this.walSync().then(() => settle(true), (e: unknown) => settle(true, mapError(e)));
    else this.syncLater();
  }

  /**
   * The write lock was taken by another process before the group began: puts the group back at the head
   * of the queue (writes queued meanwhile join it) and flushes again after a short wait. False when the
   * error is not SQLITE_BUSY or the lock has been taken for BUSY_GIVE_UP_MS (the group then fails).
   */
  private retryWhenBusy(batch: SqliteConnection['commitQueue'], error: unknown): boolean {
    if (!(error instanceof Error) || !(error as { code?: string }).code?.startsWith('SQLITE_BUSY')) return false;
    const now = performance.now();
    if (this.busySince === null) {
      this.busySince = now;
      this.stats.busy.collisions++;
    }
    if (now - this.busySince >= BUSY_GIVE_UP_MS) return false;
    this.stats.busy.retries++;
    this.commitQueue.unshift(...batch);
    this.queuedLazy = this.commitQueue.filter((item) => !item.durable).length;
    this.flushScheduled = true;
    setTimeout(() => this.flushCommits(), this.busyDelay);
    if (now - this.busySince >= BUSY_STEADY_MS) this.busyDelay = Math.min(BUSY_RETRY_MAX_MS, this.busyDelay * 2);
    return true;
  }

  /** The group committed or failed: the wait (if any) is over. */
  private busyEnded(): void {
    if (this.busySince === null) return;
    this.stats.busy.waitMs += performance.now() - this.busySince;
    this.busySince = null;
    this.busyDelay = BUSY_RETRY_MS;
  }

  /** Starts a WAL sync within LAZY_SYNC_MS for commits nobody waits for (see groupCommit). */
  syncLater(): void {
    if (this.lazySyncTimer || !this.asyncWalSync) return;
    this.lazySyncTimer = setTimeout(() => {
      this.lazySyncTimer = null;
      // A failure here reaches the next write that waits for a sync (the WAL is reopened and synced again).
      this.walSync().catch(() => undefined);
    }, LAZY_SYNC_MS);
    this.lazySyncTimer.unref();
  }

  /**
   * Resolves once a WAL fdatasync that started after commit number `target` (default: the latest) has
   * completed. A sync starts at once when fewer than SYNCS_IN_FLIGHT run (each covers every commit made
   * before it started); otherwise the caller waits for the next one, which starts when one ends and covers
   * everybody queued meanwhile. Outcomes are applied in the order the syncs started: a failed sync rejects
   * the waiters it covers that no earlier sync satisfied (their commits are visible but may not be durable),
   * even when a later sync succeeds, and the WAL file is reopened for the syncs after it.
   */
  walSync(target = this.commitSeq): Promise<void> {
    if (!this.asyncWalSync || this.syncedSeq >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.syncWaiters.push({ target, resolve, reject });
      this.kickSync();
    });
  }

  /** Starts a sync when a waiter is not covered by one already running and fewer than SYNCS_IN_FLIGHT run. */
  kickSync(): void {
    if (this.syncWaiters.length === 0 || this.syncs.length >= SYNCS_IN_FLIGHT) return;
    const covered = this.syncs.length > 0 ? this.syncs[this.syncs.length - 1]!.covers : this.syncedSeq;
    if (!this.syncWaiters.some((w) => w.target > covered)) return;
    const sync: WalSync = { covers: this.commitSeq, fd: null, outcome: null };
    this.syncs.push(sync);
    this.walSyncCount++;
    void this.runSync(sync);
  }

  private async runSync(sync: WalSync): Promise<void> {
    try {
      const f = this.walFd ?? (await this.openWal());
      sync.fd = f;
      f.users++;
      await new Promise<void>((res, rej) => fdatasync(f.fd, (e) => (e ? rej(e) : res())));
      sync.outcome = { ok: true };
    } catch (error) {
      sync.outcome = { ok: false, error };
      // Later syncs use a freshly opened WAL file; this descriptor closes once no sync uses it.
      const f = sync.fd;
      if (f && this.walFd === f) this.walFd = null;
      if (f) f.stale = true;
    }
    const f = sync.fd;
    if (f && --f.users === 0 && f.stale) closeCb(f.fd, () => undefined);
    this.applySyncs();
    this.kickSync();
    this.scheduleFlush();
  }

  /** Opens the WAL file for syncing (once for syncs that start together). */
  private openWal(): Promise<WalFd> {
    this.walOpening ??= new Promise<WalFd>((res, rej) =>
      openCb(join(this.key, 'mail.db-wal'), 'r+', (e, fd) => {
        this.walOpening = null;
        if (e) return rej(e);
        const f: WalFd = { fd, users: 0, stale: false };
        this.walFd = f;
        res(f);
      }),
    );
    return this.walOpening;
  }

  /** Applies the outcomes of the finished syncs at the head of `syncs` (start order) to the waiters. */
  private applySyncs(): void {
    for (let head = this.syncs[0]; head?.outcome; head = this.syncs[0]) {
      this.syncs.shift();
      const { covers, outcome } = head;
      if (outcome.ok) this.syncedSeq = Math.max(this.syncedSeq, covers);
      const error = outcome.ok ? undefined : { reason: outcome.error };
      const waiting = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiting) {
        if (w.target <= this.syncedSeq) w.resolve();
        else if (error && w.target <= covers) w.reject(error.reason);
        else this.syncWaiters.push(w);
      }
    }
  }

  /** A read transaction (BEGIN DEFERRED): one consistent snapshot for several statements. */
  readTx<T>(fn: () => T): T {
    return this.inTx.deferred(fn) as T;
  }

  /** A write transaction holding the database write lock from its start (BEGIN IMMEDIATE). */
  tx<T>(fn: () => T, grouped = false): T {
    const v = this.inTx.immediate(fn) as T;
    this.commitSeq++;
    if (!grouped) this.directCommits++;
    if (this.checkpointer) this.checkpointer.committed();
    else if (this.checkpointRole === 'own' && this.commitSeq === CHECKPOINTER_AFTER && this.asyncWalSync && !this.closed) this.startCheckpointer();
    return v;
  }

  /**
   * Several processes serving one directory (serve --workers N) checkpoint once: 'shared' runs the
   * Checkpointer for the commits of every process (it watches data_version), 'none' leaves checkpoints to the
   * process that has 'shared' (SQLite's automatic checkpoint stays as the fallback, as with a Checkpointer),
   * 'own' (the default) checkpoints this process's commits once it has made a few.
   */
  setCheckpointRole(role: 'own' | 'shared' | 'none'): void {
    this.checkpointRole = role;
    if (this.closed) return;
    if (role === 'shared' && this.asyncWalSync) this.startCheckpointer(true);
    else if (role !== 'shared' && this.checkpointer) {
      void this.checkpointer.close();
      this.checkpointer = null;
    }
    if (role === 'none') this.db.pragma(`wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);
  }

  /**
   * Moves WAL checkpoints to a Checkpointer (checkpointer.ts: fsyncs on the thread pool) once this store has made a few commits (a
   * CLI command that makes one or two never starts it). SQLite's own checkpoint stays on as the fallback.
   */
  startCheckpointer(watchOthers = false): void {
    if (this.checkpointer) return;
    try {
      this.checkpointer = new Checkpointer(join(this.key, 'mail.db'), watchOthers);
      this.db.pragma(`wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);
    } catch {
      this.checkpointer = null; // it could not open the file: SQLite keeps checkpointing in COMMIT
    }
  }

  /** Stops the timers and the Checkpointer and syncs what is committed (close(), after pending work). */
  async stopCommitting(): Promise<void> {
    if (this.lazySyncTimer) clearTimeout(this.lazySyncTimer);
    this.lazySyncTimer = null;
    await this.checkpointer?.close();
    this.checkpointer = null;
    await this.walSync().catch(() => undefined);
    while (this.syncs.length > 0) await new Promise((resolve) => setImmediate(resolve));
    if (this.walFd !== null) closeSync(this.walFd.fd);
    this.walFd = null;
  }
}

/**
 * Blob files of the SQLite store: one immutable file per appended message larger than the store's inlineMax
 * (smaller ones are rows of blob_inline, see schema.ts) and per queued outbound message (copies share it
 * through a reference count in the database), under <dataDir>/blobs/<2 hex>/<id> (256 shards keep
 * directories small).
 *
 * Why one file per message rather than content addressing: a fresh, never-reused name per append means a
 * blob can only become referenced by the transaction that inserts its first row, so deleting an unreferenced
 * blob can never race with a concurrent append of identical content; content addressing would save space
 * only for identical deliveries (copies already share a blob here) at the price of that race.
 *
 * Blob ids are "<24 hex>-<writer>", where the writer is a random number drawn by each BlobDir when it opens
 * (ids written by older versions carry a process id there instead). While open, the BlobDir holds an
 * exclusive lock on blobs/writers/<writer>, a tiny SQLite database it opened in exclusive locking mode and
 * wrote once; the kernel drops that (POSIX) lock when the connection closes or the process dies, by any
 * signal, in any PID namespace. writerState() asks for the lock: held means the writer is live and may
 * still commit its blobs; free means it is gone and its unreferenced blobs are orphans at once; no lock
 * file (an older version's pid) means unknown, and only age can tell. Process ids are never consulted: in
 * another PID namespace (a server and a CLI in two containers sharing the data directory, both PID 1) they
 * mean nothing.
 *
 * Durability: write() creates the file exclusively, writes, fsyncs the file and then its directory, so
 * when it resolves the blob survives power loss; only then may a row pointing at it commit.
 */
import {
  closeSync,
  fsync as fsyncCb,
  fsyncSync,
  mkdirSync,
  open as openCb,
  openSync,
  readSync,
  readdirSync,
  statSync,
  unlink as unlinkCb,
  renameSync,
  unlinkSync,
  write as writeCb,
} from 'node:fs';
import { mkdir, open, unlink } from 'node:fs/promises';
import { randomInt } from 'node:crypto';
import { join, sep } from 'node:path';
import Database from 'better-sqlite3';
import { randomString } from '../../lib/random.js';

const BLOB_ID_RE = /^([0-9a-f]{24})-(\d+)$/;
/** Consecutive new blob ids in one shard directory (see BlobDir.newId). */
const SHARD_RUN = 32;
/**
 * Unlinks of dropped blobs in flight at once (see removeLater): enough to keep the disk busy, few enough
 * to leave the thread pool to the reads, writes and fsyncs that sessions wait for.
 */
const UNLINKS_IN_FLIGHT = 2;
/** What the lock file of a writer says: 'unknown' when there is none (or it is unreadable). */
export type WriterState = 'live' | 'dead' | 'unknown';

export function isBlobId(id: string): boolean {
  return BLOB_ID_RE.test(id);
}

export class BlobDir {
  readonly root: string;
  private readonly fsync: boolean;

  /** This BlobDir's writer number, the suffix of every id it makes (random: unique across processes). */
  readonly writer = String(randomInt(2 ** 47, 2 ** 48));
  private readonly lockDir: string;
  private lock: Database.Database | null = null;

  constructor(dataDir: string, fsync: boolean) {
    this.root = join(dataDir, 'blobs');
    this.lockDir = join(this.root, 'writers');
    this.fsync = fsync;
  }

  /** Shard directories known to exist (created lazily on first write). */
  private readonly shards = new Set<string>();

  /** Creates the blob root (durably). Shard directories are created on first use. */
  init(): void {
    const created = mkdirSync(this.root, { recursive: true });
    if (created !== undefined && this.fsync) fsyncDir(join(this.root, '..'));
    this.takeLock();
  }

  /**
   * Creates this writer's lock file and holds its lock until releaseLock(). The file is locked under a
   * temporary name and renamed into place, so nobody ever finds it unlocked while this writer lives.
   */
  private takeLock(): void {
    mkdirSync(this.lockDir, { recursive: true });
    const tmp = join(this.lockDir, `.${this.writer}.tmp`);
    const db = new Database(tmp);
    try {
      db.pragma('journal_mode = MEMORY');
      db.pragma('locking_mode = EXCLUSIVE');
      // The first write takes the exclusive lock; in exclusive locking mode it is never given back.
      db.exec('CREATE TABLE IF NOT EXISTS writer (x INTEGER); INSERT INTO writer VALUES (1)');
      renameSync(tmp, join(this.lockDir, this.writer));
    } catch (e) {
      db.close();
      throw e;
    }
    this.lock = db;
  }

  /** Removes the lock file and lets go of the lock (at close, once no write of this BlobDir is pending). */
  releaseLock(): void {
    if (!this.lock) return;
    try {
      unlinkSync(join(this.lockDir, this.writer));
    } catch {
      // already gone
    }
    this.lock.close();
    this.lock = null;
  }

  /**
   * Whether `writer` (another BlobDir's, in this process or any other) is live: its lock file's lock is held.
   * A read needs a shared lock, which fails at once (timeout 0) while the owner holds the exclusive one.
   */
  writerState(writer: string): WriterState {
    if (writer === this.writer) return 'live';
    const path = join(this.lockDir, writer);
    let db: Database.Database;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true, timeout: 0 });
    } catch {
      return 'unknown';
    }
    try {
      db.prepare('SELECT count(*) FROM writer').get();
      return 'dead';
    } catch (e) {
      return (e as { code?: string }).code === 'SQLITE_BUSY' ? 'live' : 'unknown';
    } finally {
      db.close();
    }
  }

  /** Removes the lock files of writers that are gone (checked again first). */
  removeDeadLocks(): void {
    let names: string[];
    try {
      names = readdirSync(this.lockDir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!/^\d+$/.test(name) || this.writerState(name) !== 'dead') continue;
      try {
        unlinkSync(join(this.lockDir, name));
      } catch {
        // vanished meanwhile
      }
    }
  }

  private async ensureShard(shard: string): Promise<void> {
    if (this.shards.has(shard)) return;
    const created = await mkdir(join(this.root, shard), { recursive: true });
    // A new directory entry must be durable before a committed row can depend on files inside it.
    if (created !== undefined && this.fsync) await fsyncDirAsync(this.root);
    this.shards.add(shard);
  }

  /**
   * A fresh blob id. The shard (first byte) stays the same for SHARD_RUN consecutive ids, so blobs written
   * at the same time share a directory and one directory fsync covers several of them (see syncDir); over
   * time the shards are still spread evenly.
   */
  newId(): string {
    if (this.shardRun === 0) {
      this.shardPrefix = randomString(1, 'hex');
      this.shardRun = SHARD_RUN;
    }
    this.shardRun--;
    return `${this.shardPrefix}${randomString(11, 'hex')}-${this.writer}`;
  }

  /** Directory fsyncs issued by syncDir (for benchmarks). */
  dirSyncCount = 0;
  private shardPrefix = '';
  private shardRun = 0;
  /** Per directory: the fsync in progress and the one queued behind it (shared by all who wait for it). */
  private readonly dirSyncs = new Map<string, { running: Promise<void> | null; next: Promise<void> | null }>();

  /**
   * Makes every directory entry created before the call durable. Concurrent callers share fsyncs: a caller
   * arriving while one runs (which may have started before its entry existed) waits for the next one, which
   * starts when the running one ends and serves everyone queued meanwhile.
   */
  syncDir(dir: string): Promise<void> {
    let st = this.dirSyncs.get(dir);
    if (!st) {
      st = { running: null, next: null };
      this.dirSyncs.set(dir, st);
    }
    const state = st;
    if (!state.running) {
      this.dirSyncCount++;
      state.running = fsyncDirAsync(dir).finally(() => {
        state.running = null;
        if (!state.next) this.dirSyncs.delete(dir);
      });
      return state.running;
    }
    state.next ??= state.running
      .catch(() => undefined)
      .then(() => {
        state.next = null;
        return this.syncDir(dir);
      });
    return state.next;
  }

  path(id: string): string {
    if (!BLOB_ID_RE.test(id)) throw new Error(`bad blob id ${id}`);
    // What join(root, shard, id) gives (root is normalised and the id checked), without normalising per read.
    return `${this.root}${sep}${id.slice(0, 2)}${sep}${id}`;
  }

  /**
   * Writes a new blob durably (file and directory fsynced when enabled). The file is created, written and
   * synced on the thread pool through the callback API (no FileHandle and promise per step: the deliveries'
   * event loop pays for each round trip); closing the synced file is a quick call made on this thread.
   */
  async write(id: string, data: Buffer): Promise<void> {
    const p = this.path(id);
    await this.ensureShard(id.slice(0, 2));
    const fd = await new Promise<number>((resolve, reject) => openCb(p, 'wx', 0o600, (e, fd) => (e ? reject(e) : resolve(fd))));
    try {
      let off = 0;
      while (off < data.length) off += await writeAt(fd, data, off);
      // The file's data and its directory entry must both be durable before a row may point at the blob;
      // the two fsyncs are independent, so they run together (the journal often commits them as one).
      if (this.fsync) await Promise.all([fsyncFd(fd), this.syncDir(join(this.root, id.slice(0, 2)))]);
    } catch (e) {
      closeSync(fd);
      await unlink(p).catch(() => undefined);
      throw e;
    }
    closeSync(fd);
  }

  /** Reads [start, end) of a blob. The caller clamps the range to the blob's size. */
  async read(id: string, start: number, end: number): Promise<Buffer> {
    const len = Math.max(0, end - start);
    const fh = await open(this.path(id), 'r');
    try {
      const buf = Buffer.allocUnsafe(len);
      let off = 0;
      while (off < len) {
        const { bytesRead } = await fh.read(buf, off, len - off, start + off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return off === len ? buf : buf.subarray(0, off);
    } finally {
      await fh.close();
    }
  }

  /**
   * Reads [start, end) of a blob synchronously (open, pread, close without leaving the thread). For small
   * reads this beats the three thread-pool round trips of read(); callers keep large reads asynchronous so
   * the event loop is never held for long. Throws ENOENT like read(). Reads into `into` when the bytes fit.
   */
  readSync(id: string, start: number, end: number, into?: Buffer): Buffer {
    const len = Math.max(0, end - start);
    const fd = openSync(this.path(id), 'r');
    try {
      const buf = into && into.length >= len ? into.subarray(0, len) : Buffer.allocUnsafe(len);
      let off = 0;
      while (off < len) {
        const n = readSync(fd, buf, off, len - off, start + off);
        if (n === 0) break;
        off += n;
      }
      return off === len ? buf : buf.subarray(0, off);
    } finally {
      closeSync(fd);
    }
  }

  /**
   * Opens a blob file for reading on this thread and returns its descriptor (the caller closes it), so a
   * large blob can be read in pieces without opening it again for each. Throws ENOENT like read().
   */
  openSync(id: string): number {
    return openSync(this.path(id), 'r');
  }

  /** Blob files waiting for removeLater's unlinks, oldest first; unlinkHead is the next to go. */
  private unlinkQueue: string[] = [];
  private unlinkHead = 0;
  private unlinking = 0;
  private unlinkIdle: Array<() => void> = [];

  /**
   * Queues best-effort removals of blobs a commit dropped and returns at once. Queueing costs nothing per
   * blob (a POP3 QUIT of 10,000 messages used to spend ~100 ms of its reply creating 10,000 unlink
   * promises); the unlinks then run UNLINKS_IN_FLIGHT at a time. drained() resolves when the queue is empty.
   */
  removeLater(ids: readonly string[]): void {
    for (const id of ids) this.unlinkQueue.push(this.path(id));
    this.pumpUnlinks();
  }

  /** Resolves once every removal queued so far has been attempted. */
  drained(): Promise<void> {
    if (this.unlinking === 0 && this.unlinkHead >= this.unlinkQueue.length) return Promise.resolve();
    return new Promise((resolve) => this.unlinkIdle.push(resolve));
  }

  private pumpUnlinks(): void {
    while (this.unlinking < UNLINKS_IN_FLIGHT && this.unlinkHead < this.unlinkQueue.length) {
      const path = this.unlinkQueue[this.unlinkHead++]!;
      this.unlinking++;
      unlinkCb(path, this.unlinked);
    }
    if (this.unlinkHead >= this.unlinkQueue.length) {
      this.unlinkQueue = [];
      this.unlinkHead = 0;
      if (this.unlinking === 0) for (const wake of this.unlinkIdle.splice(0)) wake();
    }
  }

  private readonly unlinked = (): void => {
    // Errors are ignored: the file may be gone already, and a leftover is an orphan for the open-time sweep.
    this.unlinking--;
    this.pumpUnlinks();
  };

  /** Best-effort removal (after the commit that dropped the last reference). */
  async remove(id: string): Promise<void> {
    await unlink(this.path(id)).catch(() => undefined);
  }

  /** Every blob file present: [id, mtimeMs]. Files with foreign names are ignored. */
  listSync(): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (const shard of readdirSync(this.root)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      const dir = join(this.root, shard);
      for (const name of readdirSync(dir)) {
        if (!BLOB_ID_RE.test(name)) continue;
        try {
          out.push([name, statSync(join(dir, name)).mtimeMs]);
        } catch {
          // vanished meanwhile
        }
      }
    }
    return out;
  }

  removeSync(id: string): void {
    try {
      unlinkSync(this.path(id));
    } catch {
      // already gone
    }
  }
}

/** The writer encoded in a blob id (a BlobDir's writer number, or an older version's pid), or null. */
export function blobWriter(id: string): string | null {
  return BLOB_ID_RE.exec(id)?.[2] ?? null;
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsync of a directory: opening and closing it stay on this thread, only the fsync uses the pool. */
async function fsyncDirAsync(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/** One write(2) of data[off..] at file offset off on the thread pool; resolves the bytes written. */
function writeAt(fd: number, data: Buffer, off: number): Promise<number> {
  return new Promise((resolve, reject) => writeCb(fd, data, off, data.length - off, off, (e, n) => (e ? reject(e) : resolve(n))));
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsyncCb(fd, (e) => (e ? reject(e) : resolve())));
}


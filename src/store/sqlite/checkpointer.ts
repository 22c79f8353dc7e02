/**
 * WAL checkpoints that keep their fsyncs off the event loop, without a thread of their own.
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past wal_autocheckpoint pages, on
 * the committing thread: it fsyncs the WAL, copies the WAL's pages into the database file and fsyncs the
 * database, holding the event loop for milliseconds each time (11-77 ms under the bench's IMAP loads), nearly
 * all of it in the two fsyncs. A Checkpointer runs PRAGMA wal_checkpoint(PASSIVE) on a connection of its own
 * at most every INTERVAL_MS while commits are being made (the store calls committed() after each commit), with
 * synchronous=OFF so that SQLite copies the pages and syncs nothing; the two fsyncs run on the thread pool:
 *
 *   1. a second connection of ours opens a read transaction (its snapshot ends at the WAL's last frame, M);
 *   2. fdatasync of the WAL: every frame up to M is durable;
 *   3. the checkpoint copies frames into the database file. A reader's snapshot bounds what a checkpoint
 *      may copy, so it copies no frame past M: none that step 2 did not cover;
 *   4. fdatasync of the database file;
 *   5. the read transaction ends.
 *
 * Once a checkpoint has copied every frame, the next writer starts the WAL again from its beginning, over
 * the copied frames; it can do so only when no reader holds a snapshot in the WAL, so the read transaction of
 * step 1 keeps the frames in place until step 4 made their copies durable: a power loss at any point finds
 * each page either in the synced WAL or in the synced database, as with SQLite's own checkpoint. (When the
 * WAL was already all copied at step 1, the reader reads the database file alone, and the checkpoint, which
 * needs all such readers gone, copies nothing.)
 *
 * This used to run on a worker thread, with SQLite syncing: a second V8 isolate, 8.5 MB resident for a loop
 * that waits; the copying is all that is left on the event loop (pages already in the page cache).
 * Passive checkpoints never block readers or writers. The store keeps SQLite's automatic checkpoint as a
 * fallback at a higher threshold, so a checkpointer that falls behind or fails cannot let the WAL grow
 * unbounded. When several processes share the file (serve --workers N) one of them runs a checkpointer that
 * watches PRAGMA data_version instead (watchOthers): it checkpoints after anyone's commits, the others none.
 */
import { fdatasync, openSync, closeSync } from 'node:fs';
import Database from 'better-sqlite3';

/**
 * Least time between two checkpoints while commits keep coming. A checkpoint copies every page written since
 * the last one, once: under a steady load of flag changes and appends the same few pages (a mailbox row, the
 * leaves of its message rows) are rewritten by every commit, so a longer interval copies and syncs each of
 * them fewer times. The WAL holds about a second of commits more (a few MB under the bench's IMAP loads).
 */
const INTERVAL_MS = 1000;

/**
 * Descriptors of database files opened for fdatasync, by path, kept for the life of the process. SQLite
 * holds POSIX record locks on the database file, and those belong to the process: closing any other
 * descriptor of the file would drop them under the store's own connection. One per database file.
 */
const dbFds = new Map<string, number>();

function dbFd(file: string): number {
  let fd = dbFds.get(file);
  if (fd === undefined) {
    fd = openSync(file, 'r');
    dbFds.set(file, fd);
  }
  return fd;
}

function sync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
}

export class Checkpointer {
  /** Runs the checkpoints (synchronous=OFF: it syncs nothing itself). */
  readonly #db: Database.Database;
  /** Holds the read transaction of a round (steps 1 and 5). */
  readonly #reader: Database.Database;
  readonly #begin: Database.Statement;
  readonly #snapshot: Database.Statement;
  readonly #end: Database.Statement;
  readonly #checkpoint: Database.Statement;
  readonly #dataVersion: Database.Statement;
  readonly #walFile: string;
  readonly #dbFd: number;
  readonly #watchOthers: boolean;
  #walFd: number | null = null;
  /** Commits signalled since the last round started. */
  #dirty = true; // checkpoint once at start: commits made before it went unseen
  #version = -1;
  #timer: NodeJS.Timeout | null = null;
  #round: Promise<void> | null = null;
  #closed = false;
  #runs = 0;

  /** `watchOthers`: checkpoint after the commits of every process on the file, not only the signalled ones. */
  constructor(dbFile: string, watchOthers = false) {
    this.#db = new Database(dbFile, { timeout: 0, fileMustExist: true });
    try {
      this.#reader = new Database(dbFile, { timeout: 0, fileMustExist: true });
    } catch (e) {
      this.#db.close();
      throw e;
    }
    try {
      this.#db.pragma('synchronous = OFF');
      // Neither connection reads more than a page or two (the checkpoint copies through a buffer of its own).
      this.#db.pragma('cache_size = 8');
      this.#reader.pragma('cache_size = 8');
      this.#begin = this.#reader.prepare('BEGIN');
      this.#snapshot = this.#reader.prepare('SELECT count(*) FROM sqlite_master');
      this.#end = this.#reader.prepare('COMMIT');
      this.#checkpoint = this.#db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
      this.#dataVersion = this.#db.prepare('PRAGMA data_version').pluck();
      this.#dbFd = dbFd(dbFile);
    } catch (e) {
      this.#db.close();
      this.#reader.close();
      throw e;
    }
    this.#walFile = `${dbFile}-wal`;
    this.#watchOthers = watchOthers;
    this.#schedule(0);
  }

  /** Tells the checkpointer that a commit was made. */
  committed(): void {
    this.#dirty = true;
    if (!this.#watchOthers) this.#schedule(INTERVAL_MS);
  }

  /** Checkpoints run (for tests). */
  get runs(): number {
    return this.#runs;
  }

  /** Stops checkpointing after the current round and closes the connections. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#round;
    this.#db.close();
    this.#reader.close();
    if (this.#walFd !== null) closeSync(this.#walFd);
    this.#walFd = null;
  }

  #schedule(ms: number): void {
    if (this.#timer || this.#round || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#round = this.#run().finally(() => {
        this.#round = null;
        // Commits made during the round, or the next look at other processes' commits.
        if (this.#dirty || this.#watchOthers) this.#schedule(INTERVAL_MS);
      });
    }, ms);
    this.#timer.unref(); // never keeps a process (a CLI command) alive
  }

  /** One round: a checkpoint when something was committed since the last one. Never rejects. */
  async #run(): Promise<void> {
    if (this.#closed) return;
    try {
      if (this.#watchOthers) {
        // Commits of other processes are not signalled: data_version moves when any other connection commits.
        const v = this.#dataVersion.get() as number;
        if (v !== this.#version) this.#dirty = true;
        this.#version = v;
      }
      if (!this.#dirty) return;
      this.#dirty = false;
      await this.#checkpointDurably();
      this.#runs++;
    } catch {
      // Busy or failing: the next round (or the store's automatic checkpoint) covers it.
    }
  }

  async #checkpointDurably(): Promise<void> {
    this.#begin.run();
    try {
      this.#snapshot.get();
      this.#walFd ??= openSync(this.#walFile, 'r');
      await sync(this.#walFd);
      if (this.#closed) return;
      const [r] = this.#checkpoint.all() as Array<{ busy: number; log: number; checkpointed: number }>;
      // Whether this call copied anything is not reported (checkpointed counts every frame copied since the
      // WAL last started over): syncing a database file with nothing to write costs next to nothing.
      if (r && r.checkpointed > 0) await sync(this.#dbFd);
    } finally {
      this.#end.run();
    }
  }
}

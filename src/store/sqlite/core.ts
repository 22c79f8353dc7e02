/**
 * SqliteCore: the one core that the four parts of the embedded SQLite store (directory.ts, mail.ts,
 * maildrop.ts, queue.ts) share: better-sqlite3 in WAL mode, with small messages kept in the database
 * (blob_inline, up to inlineMax) and larger ones as files. It extends SqliteConnection (commit.ts:
 * connection, statements, transactions, group commit, WAL sync, checkpointer) with the change bus and the
 * cross-process poll, blob files, background garbage collection, the open-time orphan sweep and the
 * list/changes caches (caches.ts). index.ts opens it and hands out the parts.
 *
 * Durability: a blob file is written and fsynced (file, then directory) before the transaction that inserts
 * the row pointing at it (an inline blob is part of that transaction), and no write operation that adds,
 * copies or moves mail resolves before the WAL holding its commit has been fsynced, so a resolved promise
 * means the new mail survives power loss. An expunge resolves at COMMIT (a crash before its sync brings the
 * messages back, never loses one); one that frees blobs starts its sync at once and drops them after it, one
 * whose rows are held for readers (held.ts) is synced as a flag change is.
 * Flag changes and \Recent claims resolve at COMMIT and are synced within LAZY_SYNC_MS (or by the next
 * durable write), as Dovecot's default mail_fsync=optimized leaves flag changes unsynced (see groupCommit).
 * SQLite runs with synchronous=NORMAL (commits append WAL frames without syncing; checkpoints still sync
 * the WAL and the database file) and the store syncs the WAL itself with fdatasync on the thread pool after
 * each commit (see walSync): the same guarantee as synchronous=FULL, without holding the event loop for the
 * ~1 ms of each fsync, and commits made while a sync is running share the next one. Other sessions may read
 * a commit before its sync ends; the change events of durable writes (IDLE wake-ups) are sent only after
 * it, those of flag changes at COMMIT. With `fsync: false` (tests only) both are relaxed.
 *
 * Concurrency: better-sqlite3 is synchronous, so each transaction runs to completion without yielding to the
 * event loop; operations on one store (and on several stores opened on the same directory in this process)
 * never interleave inside a transaction. Transactions take the write lock up front (BEGIN IMMEDIATE) and
 * busy_timeout covers other processes (e.g. the CLI) using the same database.
 *
 * Sharing (SqliteHub): there is no hidden module state. What stores opened on one data directory in one
 * process share is an explicit SqliteHub the caller passes at open (SqliteStoreOptions `hub`): the ChangeBus (a
 * commit through any of them wakes the subscribers of all at once, without the poll's latency), the POP3
 * maildrop locks, and the set of blobs being written. Without a hub each store makes its own; it then sees
 * the others' commits through the data_version poll, exactly as it sees another process's, and its maildrop
 * locks exclude only sessions of that store: stores on one directory in one process that serve POP3 must
 * share a hub. Across processes, the workers of `serve --workers N` set the hub's `link`
 * (server/cluster-worker.ts): each commit's wake-up is pushed to the other workers at once (receive), and
 * maildrop locks are taken from the primary process; other processes on the directory (the CLI) are seen
 * through the poll only. A hub is bound to the first directory opened with it (opening another directory
 * with it is INVALID).
 * Changes committed by another process (or an instance with another hub) are noticed by polling
 * PRAGMA data_version every POLL_MS while anyone is subscribed; the poller compares the subscribed
 * mailboxes' HIGHESTMODSEQ with the last value announced through this hub and wakes only for changes not
 * already announced, so commits through the hub are never announced twice.
 * The open-time orphan sweep removes a blob file no row references when its writer is gone, or it is older
 * than the grace period (by mtime) and its writer is unknown; never while its writer is live. Liveness is
 * the lock each open store holds on its writer's lock file (blobs.ts), which the kernel drops when the
 * process dies, in any PID namespace; process ids are never consulted. A blob of this store's own writer is
 * taken once it is not in the hub's in-flight set and older than OWN_WRITE_GRACE_MS (or the grace, when
 * shorter); the sweep and compaction are in maintenance.ts.
 *
 * Hot paths (numbers in bench/store/sqlite-paths.ts): small blob reads are synchronous; concurrent appends
 * share one commit (durable writes queued while a WAL sync runs commit together when it ends) and their
 * directory fsyncs; listMessages/status of big mailboxes and repeated changesSince calls are served from per-mailbox
 * caches that are valid for one HIGHESTMODSEQ (read from the database on every call, so changes committed
 * by other instances or processes are never missed) and brought forward through the change log; envelope
 * reads take `message_envelopes` (readMessages) instead of parsing whole MIME indexes. Cached rows are
 * never handed out: every call builds fresh objects, except listMessages, whose frozen objects are shared
 * (caches.ts ListCacheEntry.metas).
 *
 * Members are shared by the part files of the backend and are not part of any public interface.
 */
import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { ChangeEvent, Mailbox } from '../types.js';
import { StoreError } from '../types.js';
import type { Envelope } from '../../mime/types.js';
import { ChangeBus, type ProcessLink } from '../bus.js';
import { ExpungeHolds } from '../holds.js';
import { ListFeed, pollLists } from './mailbox-list.js';
import { heldMailboxes, sweepHeld } from './held.js';
import { BlobDir } from './blobs.js';
import { compactDatabase, sweepOrphanBlobs } from './maintenance.js';
import { SCHEMA_SQL, SCHEMA_VERSION } from './schema.js';
import { initQuota } from './quota.js';
import type { QuotaDefaults } from '../quota.js';
import { SqliteConnection } from './commit.js';
import { ChangesCache, ListCache } from './caches.js';
import { chunks } from '../helpers.js';
import {
  CHUNK,
  ENVELOPE_OF_MIME,
  FEW_UIDS,
  IN_LIST,
  cleanUids,
  mapError,
  padChunk,
  toMailbox,
  type FullMsgRow,
  type MailboxRow,
  type UserRow,
} from './rows.js';

const FILL_ENVELOPES_SQL = `INSERT OR IGNORE INTO message_envelopes (mailbox_id, uid, envelope)
  SELECT m.mailbox_id, m.uid, ${ENVELOPE_OF_MIME} FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id
  WHERE ${ENVELOPE_OF_MIME} IS NOT NULL`;


/**
 * Reads of at most this many bytes are done synchronously (page-cache reads of this size take tens of
 * microseconds; the async path costs three thread-pool hops per read, each waking this thread). Messages
 * and their attachments mostly fit (and POP3 reads in chunks of this size), so RETR and FETCH BODY[] read
 * them in one call on this thread; larger reads stay asynchronous so a cold disk read of a big message
 * never holds the event loop for long.
 */
export const SYNC_READ_MAX = 256 * 1024;
/**
 * Default largest appended message kept in the database rather than a file (see schema.ts, blob_inline). A
 * file costs a create, a write, an fsync and a share of a directory fsync (on ext4 the fsyncs cost more CPU
 * than the rest of a delivery); in the database the bytes ride the commit's one WAL sync. Most mail is
 * smaller than this (median ~8 KB); attachments stay in files, where reads need not copy them out of SQLite.
 */
export const INLINE_MAX = 64 * 1024;
/** Dropped inline blobs deleted per background transaction (see collectGarbage). */
const GARBAGE_BATCH = 256;
/**
 * No memory-mapped reads. Measured on 100k messages: mmap cut a full-mailbox SEARCH BODY from ~890 to ~660
 * CPU ms, but every database page touched then counts in the process's resident size (86 MB -> 650 MB after
 * one such search): page cache, yet indistinguishable from heap for anyone reading RSS, and not worth 25%.
 */
const MMAP_SIZE = 0;
/**
 * SQLite's page cache per connection, KiB. It fills with whatever pages were read last, message bodies kept
 * in blob_inline included, and stays resident: 32 MB per connection (each worker of `serve --workers N` has
 * one) was most of the growth of a busy server's resident size. Pages beyond it are read again from the
 * operating system's page cache (a pread, microseconds); the hot index pages stay in it. 2 MB (SQLite's
 * default) against 8 MB: 6 MB less resident under the bench's LMTP and IMAP loads, with the same CPU time
 * for SEARCH BODY, SORT and FETCH overviews of a 5,000-message mailbox.
 */
const CACHE_KIB = 2000;
/** Unreferenced blobs of an unknown writer newer than this (by mtime) are left alone by the open-time sweep. */
export const DEFAULT_SWEEP_GRACE_MS = 60 * 60 * 1000;

/** Cross-process change poll interval (only while some mailbox has subscribers). */
const POLL_MS = 200;

/**
 * What stores opened on one data directory in one process may share (see the header): pass the same hub to
 * each open. Holds no connection; it lives as long as its holders keep it.
 */
export class SqliteHub {
  /** The realpath of the data directory this hub serves; set by the first open. */
  dir: string | null = null;
  readonly bus = new ChangeBus();
  /** Open stores using this hub; the first one's connection runs the cross-process poll. */
  readonly cores = new Set<SqliteCore>();
  /** Highest MODSEQ announced (or seen at subscribe time) per subscribed mailbox. */
  readonly announced = new Map<number, number>();
  poller: NodeJS.Timeout | null = null;
  dataVersion = -1;
  /** Views of this process holding expunged messages (../holds.ts); a sweep runs on an open store. */
  readonly holds = new ExpungeHolds((mailboxId) => {
    for (const c of this.cores) if (!c.closed) return sweepHeld(c, mailboxId);
  });
  /** Blob ids written through this hub whose row has not committed yet. */
  readonly inflight = new Set<string>();
  /** POP3 maildrop locks held (user ids). */
  readonly maildrops = new Set<number>();
  /** The other workers of `serve --workers N` (wake-ups pushed at once, maildrop locks); null alone. */
  link: ProcessLink | null = null;
  /** Mailbox list events: listeners and what was announced (mailbox-list.ts). */
  readonly lists = new ListFeed();

  /**
   * A change committed by a linked process: wakes this process's subscribers, as the poll would, at once
   * (unless the poll already announced that modseq).
   */
  receive(ev: ChangeEvent): void {
    const prev = this.announced.get(ev.mailboxId);
    if (prev !== undefined && ev.highestModseq <= prev) return;
    if (prev !== undefined) this.announced.set(ev.mailboxId, ev.highestModseq);
    this.bus.emit(ev);
  }
}

export interface SqliteCoreOptions {
  dataDir: string;
  fsync?: boolean;
  /** Unreferenced blobs younger than this (by mtime) are kept at open; those of a live writer always are. */
  sweepGraceMs?: number;
  /** Appended messages up to this many octets are kept in the database (blob_inline), larger ones in files. */
  inlineMax?: number;
  /**
   * For measurements only, when fsync is on: 'FULL' syncs the WAL inside each commit on this thread,
   * 'NORMAL' never syncs commits (may lose the last ones on power loss). Default: the off-thread WAL sync.
   */
  synchronous?: 'FULL' | 'NORMAL';
  /** Shared with other stores on the same directory in this process (see the header). */
  hub?: SqliteHub;
  /** The protocol layer's envelope rendering kept at append (StoreOptions.envelopeText). */
  envelopeText?: (envelope: Envelope) => string | null;
  /** StoreOptions.expungeGraceMs. */
  expungeGraceMs?: number;
  /** StoreOptions.quota: limits of users without their own (quota.ts). */
  quota?: QuotaDefaults;
}

export class SqliteCore extends SqliteConnection {
  readonly hub: SqliteHub;
  /** Appended blobs up to this size go into blob_inline (see append). */
  readonly inlineMax: number;
  readonly envelopeText: ((envelope: Envelope) => string | null) | undefined;
  /** Expunged messages stay readable at least this long (StoreOptions.expungeGraceMs; held.ts). */
  readonly expungeGraceMs: number;
  /** Limits of users without their own (StoreOptions.quota; quota.ts). */
  readonly quotaDefaults: QuotaDefaults;
  readonly unsubscribers = new Set<() => void>();
  /** listMessages rows per mailbox (see ListCache) and changesSince answers (see ChangesCache). */
  readonly lists = new ListCache((mailboxId) => this.hub.bus.has(mailboxId));
  readonly changes = new ChangesCache();
  /** A commit listed inline blobs in blob_garbage (see collectGarbage), and the collection running. */
  garbageWanted = false;
  garbageRun: Promise<void> | null = null;

  private constructor(db: Database.Database, blobs: BlobDir, key: string, hub: SqliteHub, asyncWalSync: boolean, opts: SqliteCoreOptions) {
    super(db, blobs, key, asyncWalSync);
    this.hub = hub;
    this.inlineMax = opts.inlineMax ?? INLINE_MAX;
    this.envelopeText = opts.envelopeText;
    this.expungeGraceMs = Math.max(0, opts.expungeGraceMs ?? 0);
    this.quotaDefaults = { ...opts.quota };
  }

  /** An expunge of this mailbox keeps its messages readable (held.ts). */
  holdsExpunged(mailboxId: number): boolean {
    return this.expungeGraceMs > 0 || this.hub.holds.holding(mailboxId);
  }

  /** Rows were held: with a grace, sweep them once it has passed (holds moving sweep them too). */
  heldAdded(mailboxId: number): void {
    if (this.expungeGraceMs <= 0) return;
    setTimeout(() => sweepHeld(this, mailboxId), this.expungeGraceMs + 50).unref();
  }

  /** Opens the core: creates the directory, schema and blob shards, then sweeps orphan blobs. */
  static async open(opts: SqliteCoreOptions): Promise<SqliteCore> {
    const fsync = opts.fsync ?? true;
    mkdirSync(opts.dataDir, { recursive: true });
    const key = realpathSync(opts.dataDir);
    const hub = opts.hub ?? new SqliteHub();
    if (hub.dir !== null && hub.dir !== key) throw new StoreError('INVALID', 'this hub serves another data directory');
    const db = new Database(join(key, 'mail.db'), { timeout: 5000 });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${fsync ? (opts.synchronous === 'FULL' ? 'FULL' : 'NORMAL') : 'OFF'}`);
      db.pragma('foreign_keys = OFF');
      db.pragma(`cache_size = -${CACHE_KIB}`);
      db.pragma('temp_store = MEMORY');
      db.pragma(`mmap_size = ${MMAP_SIZE}`);
      // A WAL that grew during a burst is cut back to this size when it restarts.
      db.pragma('journal_size_limit = 67108864');
      db.transaction(() => {
        const hadEnvelopes = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'message_envelopes'").get() !== undefined;
        db.exec(SCHEMA_SQL);
        // messages.saved_date arrived after version 1 (see schema.ts).
        if (!db.prepare("SELECT 1 FROM pragma_table_info('messages') WHERE name = 'saved_date'").get()) db.exec('ALTER TABLE messages ADD COLUMN saved_date INTEGER');
        // users.admin (the administrator role) arrived later still.
        if (!db.prepare("SELECT 1 FROM pragma_table_info('users') WHERE name = 'admin'").get()) db.exec('ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0');
        // First open of a database written before message_envelopes existed: fill it (see schema.ts).
        if (!hadEnvelopes) db.exec(FILL_ENVELOPES_SQL);
        // Usage counters and their triggers; counted once for a database from before quotas (quota.ts).
        initQuota(db);
        const v = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema_version') as { value: string } | undefined;
        if (!v) db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
        else if (Number(v.value) !== SCHEMA_VERSION) throw new Error(`unsupported store schema version ${v.value}`);
      }).immediate();
    } catch (e) {
      db.close();
      throw mapError(e);
    }
    const blobs = new BlobDir(key, fsync);
    blobs.init();
    hub.dir = key;
    const core = new SqliteCore(db, blobs, key, hub, fsync && opts.synchronous === undefined, opts);
    hub.cores.add(core);
    core.sweepOrphans(opts.sweepGraceMs ?? DEFAULT_SWEEP_GRACE_MS);
    // Inline blobs dropped before the last close (or crash) but not yet deleted.
    if (core.st.garbageBatch.get(1) !== undefined) core.collectGarbage();
    // Held expunged messages of sessions gone with the last process (or still in their grace).
    for (const id of heldMailboxes(core)) {
      sweepHeld(core, id);
      core.heldAdded(id);
    }
    return core;
  }

  emit(userId: number, mailboxId: number, highestModseq: number): void {
    const ev: ChangeEvent = { userId, mailboxId, highestModseq };
    const prev = this.hub.announced.get(mailboxId);
    if (prev !== undefined && highestModseq > prev) this.hub.announced.set(mailboxId, highestModseq);
    this.hub.bus.emit(ev);
    this.hub.link?.publish(ev);
  }

  /** Starts the shared cross-process poll if someone listens and it is not running. */
  ensurePoller(): void {
    const sh = this.hub;
    if (sh.poller) return;
    sh.poller = setInterval(() => SqliteCore.poll(sh), POLL_MS);
    sh.poller.unref();
  }

  /** One cross-process poll: wakes subscribers of mailboxes changed by other processes. */
  static poll(sh: SqliteHub): void {
    const ids = sh.bus.mailboxIds();
    const store = sh.cores.values().next().value as SqliteCore | undefined;
    if ((ids.length === 0 && !sh.lists.bus.active) || !store) {
      if (sh.poller) clearInterval(sh.poller);
      sh.poller = null;
      sh.announced.clear();
      sh.lists.reset();
      return;
    }
    try {
      const v = store.db.pragma('data_version', { simple: true }) as number;
      if (v === sh.dataVersion) return;
      sh.dataVersion = v;
      // Mailbox list changes first: a listener hears of a delete before the deleted mailbox's last wake-up.
      pollLists(sh.lists, store);
      const found = new Set<number>();
      for (const c of chunks(ids, CHUNK)) {
        const rows = store
          .sql(`SELECT id, user_id, highest_modseq FROM mailboxes WHERE id IN (${IN_LIST})`)
          .all(...padChunk(c)) as Array<{ id: number; user_id: number; highest_modseq: number }>;
        for (const r of rows) {
          found.add(r.id);
          const prev = sh.announced.get(r.id);
          if (prev === undefined || r.highest_modseq > prev) {
            sh.announced.set(r.id, r.highest_modseq);
            if (prev !== undefined) sh.bus.emit({ userId: r.user_id, mailboxId: r.id, highestModseq: r.highest_modseq });
          }
        }
      }
      for (const id of ids) {
        const prev = sh.announced.get(id);
        if (!found.has(id) && prev !== undefined) {
          // Deleted by another process: one last wake-up (readers then get NOT_FOUND).
          sh.announced.delete(id);
          sh.bus.emit({ userId: 0, mailboxId: id, highestModseq: prev + 1 });
        }
      }
    } catch {
      // Busy or closing: try again on the next tick.
    }
  }

  mailboxRow(mailboxId: number): MailboxRow {
    const r = this.st.mailbox.get(mailboxId) as MailboxRow | undefined;
    if (!r) throw new StoreError('NOT_FOUND', 'no such mailbox');
    return r;
  }

  userRow(userId: number): UserRow {
    const r = this.st.userById.get(userId) as UserRow | undefined;
    if (!r) throw new StoreError('NOT_FOUND', 'no such user');
    return r;
  }

  mailboxWithSub(r: MailboxRow): Mailbox {
    return toMailbox(r, this.st.isSubscribed.get(r.user_id, r.name) !== undefined);
  }

  /** Subscribes to one mailbox's change events through the hub's bus (MailStore.subscribe). */
  subscribe(mailboxId: number, listener: (ev: ChangeEvent) => void): () => void {
    if (this.closed) throw new StoreError('TEMPORARY', 'store is closed');
    const off = this.hub.bus.subscribe(mailboxId, listener);
    if (!this.hub.announced.has(mailboxId)) {
      const r = this.st.mailbox.get(mailboxId) as MailboxRow | undefined;
      if (r) this.hub.announced.set(mailboxId, r.highest_modseq);
    }
    this.ensurePoller();
    const unsub = () => {
      off();
      this.unsubscribers.delete(unsub);
    };
    this.unsubscribers.add(unsub);
    return unsub;
  }

  rowsIn(mailboxId: number, uids: readonly number[]): FullMsgRow[] {
    const out: FullMsgRow[] = [];
    for (const c of chunks(cleanUids(uids), CHUNK)) {
      if (c.length > FEW_UIDS) out.push(...(this.st.messagesIn.all(mailboxId, ...padChunk(c)) as FullMsgRow[]));
      else {
        for (const uid of c) {
          const r = this.st.messageOne.get(mailboxId, uid) as FullMsgRow | undefined;
          if (r) out.push(r);
        }
      }
    }
    return out;
  }

  /**
   * Unlinks the files of blobs a commit just dropped, without making the operation wait: they are garbage
   * once the commit is durable (a crash before the unlink leaves orphans for the open-time sweep), and an
   * ext4 unlink costs ~0.1-0.2 ms, so a POP3 QUIT or EXPUNGE of 1,000 messages would otherwise wait tens of
   * milliseconds for its reply. close() and settled() wait for them.
   */
  unlinkAll(ids: readonly string[]): void {
    if (ids.length > 0) this.blobs.removeLater(ids);
    if (this.garbageWanted) this.collectGarbage();
  }

  /** Unlinks waiting for a WAL sync (see unlinkAfterSync). */
  readonly afterSync = new Set<Promise<void>>();

  /**
   * Like unlinkAll, after the WAL sync covering the latest commit, for operations that resolve before that
   * sync (expunges): a row that survives a crash then always has its file. A failed sync leaves the files
   * for the open-time sweep.
   */
  unlinkAfterSync(ids: readonly string[]): void {
    const p = this.walSync().then(
      () => this.unlinkAll(ids),
      () => undefined,
    );
    this.afterSync.add(p);
    void p.finally(() => this.afterSync.delete(p));
  }

  /** Resolves when background work (unlinks of dropped blobs, deletion of dropped inline blobs) has finished. */
  async settled(): Promise<void> {
    while (this.afterSync.size > 0) await Promise.allSettled([...this.afterSync]);
    await this.blobs.drained();
    while (this.garbageRun) await this.garbageRun;
  }

  /**
   * Deletes the rows of dropped blobs listed in blob_garbage (blob_inline, blob_data, blob_headers),
   * GARBAGE_BATCH blobs per transaction, each batch in its own turn of the event loop so sessions are served
   * in between. The deletes are not synced before the next batch (a crash may leave them listed: they are
   * collected again). Stops when the store closes.
   */
  collectGarbage(): void {
    this.garbageWanted = true;
    if (this.garbageRun || this.closed) return;
    this.garbageRun = (async () => {
      try {
        while (this.garbageWanted && !this.closed) {
          this.garbageWanted = false;
          for (;;) {
            await new Promise((resolve) => setImmediate(resolve));
            if (this.closed) return;
            const ids = this.st.garbageBatch.all(GARBAGE_BATCH) as string[];
            if (ids.length === 0) break;
            const json = JSON.stringify(ids);
            await this.groupCommit(
              () => {
                this.st.deleteBlobInlineJson.run(json);
                this.st.deleteBlobDataJson.run(json);
                this.st.deleteBlobHeadersJson.run(json);
                this.st.deleteGarbageJson.run(json);
              },
              undefined,
              false,
            );
          }
        }
      } catch {
        // Left listed; collected by the next run or at the next open.
      } finally {
        this.garbageRun = null;
      }
    })();
  }

  /**
   * Removes blob files no row references (a crash between blob write and row commit): at once when their
   * writer is gone, after `graceMs` when it is unknown, never while it is live. Synchronous.
   */
  sweepOrphans(graceMs: number): number {
    return sweepOrphanBlobs(this, graceMs);
  }

  /** Gives the space of deleted messages back to the file system (maintenance.ts compactDatabase). */
  async compact(): Promise<{ before: number; after: number }> {
    await this.settled();
    return this.run(async () => compactDatabase(this));
  }

  /** For tests and maintenance: sweeps orphan blobs now. Returns how many files were removed. */
  async sweep(graceMs = DEFAULT_SWEEP_GRACE_MS): Promise<number> {
    return this.run(async () => this.sweepOrphans(graceMs));
  }

  /** Reads [start, end) of a blob from blob_inline or else its file, on this thread (small reads only). */
  readBlobSync(blobId: string, start: number, end: number): Buffer {
    if (end <= start) return Buffer.alloc(0);
    return this.readInline(blobId, start, end, -1) ?? this.blobs.readSync(blobId, start, end);
  }

  /** [start, end) of an inline blob (the whole value when that is all of it: no substr copy), or undefined. */
  readInline(blobId: string, start: number, end: number, size: number): Buffer | undefined {
    if (start === 0 && end === size) return this.st.blobInline.get(blobId) as Buffer | undefined;
    return this.st.blobInlineRange.get(start + 1, end - start, blobId) as Buffer | undefined;
  }

  /** Writes a blob, registering it as in flight until `commit` settles; unlinks it when `commit` throws. */
  withBlob<T>(data: Buffer, commit: (blobId: string) => T | Promise<T>): Promise<T> {
    return this.withBlobs([data], (ids) => commit(ids[0]!));
  }

  /**
   * Writes blobs (all at once), registered as in flight until `commit` settles, then commits with their
   * ids in order. When a write fails the files already written are unlinked and its error is thrown; when
   * `commit` throws, every file is unlinked before the error goes on. A crash in between leaves files no
   * row references, which the open-time sweep removes.
   */
  async withBlobs<T>(data: readonly Buffer[], commit: (blobIds: string[]) => T | Promise<T>): Promise<T> {
    const ids = data.map(() => this.blobs.newId());
    for (const id of ids) this.hub.inflight.add(id);
    const removeAll = (which: readonly string[]): Promise<unknown> => Promise.all(which.map((id) => this.blobs.remove(id)));
    try {
      if (ids.length === 1) await this.blobs.write(ids[0]!, data[0]!);
      else {
        const writes = await Promise.allSettled(data.map((d, i) => this.blobs.write(ids[i]!, d)));
        const failed = writes.find((w): w is PromiseRejectedResult => w.status === 'rejected');
        if (failed) {
          await removeAll(ids.filter((_, i) => writes[i]!.status === 'fulfilled'));
          throw failed.reason;
        }
      }
      try {
        return await commit(ids);
      } catch (e) {
        await removeAll(ids);
        throw e;
      }
    } finally {
      for (const id of ids) this.hub.inflight.delete(id);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    while (this.afterSync.size > 0) await Promise.allSettled([...this.afterSync]);
    await this.blobs.drained();
    while (this.garbageRun) await this.garbageRun; // stops after its current batch (closed is set)
    await this.stopCommitting();
    for (const u of [...this.unsubscribers]) u();
    this.lists.close();
    const hub = this.hub;
    hub.cores.delete(this);
    if (hub.cores.size === 0) {
      if (hub.poller) clearInterval(hub.poller);
      hub.poller = null;
      hub.announced.clear();
      hub.lists.reset();
    }
    this.blobs.releaseLock();
    this.db.close();
  }
}

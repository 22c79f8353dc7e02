/**
 * SqliteMailStore: the embedded MailStore (better-sqlite3, WAL) with small messages kept in the database
 * (blob_inline, up to inlineMax) and larger ones as files.
 *
 * Durability: a blob file is written and fsynced (file, then directory) before the transaction that inserts
 * the row pointing at it (an inline blob is part of that transaction), and no write operation that adds,
 * copies, moves or removes mail resolves before the WAL holding its commit has been fsynced, so a resolved
 * promise means the change survives power loss.
 * Flag changes and \Recent claims resolve at COMMIT and are synced within LAZY_SYNC_MS (or by the next
 * durable write), as Dovecot's default mail_fsync=optimized leaves flag changes unsynced (see groupCommit).
 * SQLite runs with synchronous=NORMAL (commits append WAL frames without syncing; checkpoints still sync
 * the WAL and the database file) and the store syncs the WAL itself with fdatasync on the thread pool after
 * each commit (see walSync): the same guarantee as synchronous=FULL, without holding the event loop for the
 * ~1 ms of each fsync, and commits made while a sync is running share the next one. Other sessions may read a commit before its sync ends;
 * the change events of durable writes (IDLE wake-ups) are sent only after it, those of flag changes at
 * COMMIT. With `fsync: false` (tests only) both are relaxed.
 *
 * Concurrency: better-sqlite3 is synchronous, so each transaction runs to completion without yielding to the
 * event loop; operations on one store (and on several stores opened on the same directory in this process)
 * never interleave inside a transaction. Transactions take the write lock up front (BEGIN IMMEDIATE) and
 * busy_timeout covers other processes (e.g. the CLI) using the same database.
 *
 * Change bus: stores opened on the same data directory in one process share one ChangeBus through a
 * module-level registry keyed by the directory's realpath, so a commit through any instance wakes the
 * subscribers of all of them at once (polling PRAGMA data_version would add latency and a timer per store).
 * The same registry holds the POP3 maildrop locks and the set of blobs being written by this process.
 * Changes committed by another process on the same directory (the CLI importing mail, a delivery process)
 * are noticed by polling PRAGMA data_version every POLL_MS while anyone is subscribed; the poller compares
 * the subscribed mailboxes' HIGHESTMODSEQ with the last value announced in this process and wakes only
 * for changes not already announced, so in-process commits are never announced twice.
 *
 * Hot paths (numbers in bench-paths.ts): small blob reads are synchronous; concurrent appends share one
 * commit (the group waits briefly for appends still writing their blobs) and their directory fsyncs;
 * listMessages/status of big mailboxes and repeated changesSince calls are served from per-mailbox caches
 * that are valid for one HIGHESTMODSEQ (read from the database on every call, so changes committed by
 * other instances or processes are never missed) and brought forward through the change log; header
 * overviews read envelopes from `message_envelopes` (getEnvelopes) instead of parsing whole MIME indexes.
 * Cached rows are never handed out: every call builds fresh objects.
 */
import { closeSync, close as closeCb, fdatasync, mkdirSync, open as openCb, realpathSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type {
  AppendOptions,
  AppendResult,
  Alias,
  ByteRange,
  ChangeEvent,
  Changes,
  CopyResult,
  MailStore,
  Mailbox,
  MailboxStatus,
  MaildropCommit,
  MessageEnvelopeRecord,
  MessageHeaderRecord,
  MessageMeta,
  MessageRecord,
  OutboundMessage,
  SpecialUse,
  StoreFlagsOptions,
  StoreFlagsResult,
  TextScope,
  User,
} from '../types.js';
import { StoreError } from '../types.js';
import type { Envelope, MessageIndex } from '../../mime/types.js';
import { DEFAULT_MAILBOXES, HEADER_ROW_MAX, checkSpecialUse, prepareStoredForm } from '../message-prep.js';
import { MAX_MESSAGE_SIZE } from '../../lib/limits.js';
import { ChangeBus } from '../bus.js';
import { FLAG_DELETED, FLAG_SEEN, applyFlagOp, flagList, parseFlags } from '../flags.js';
import { isObjectId, newObjectId } from '../ids.js';
import { normalizeMailboxName } from '../names.js';
import { Checkpointer } from './checkpointer.js';
import { BlobDir, blobWriterPid, processAlive } from './blobs.js';
import { SCHEMA_SQL, SCHEMA_VERSION } from './schema.js';

/**
 * The listMessages cache keeps mailboxes of at least LIST_CACHE_MIN_ROWS messages (tiny ones are cheaper
 * to read than to bring forward; a 200-message INBOX re-SELECTed between changes is not) and
 * LIST_CACHE_MAX_ROWS rows in all (about 200 bytes each). A stale entry is updated from the
 * change log when the delta is at most an eighth of the mailbox (or LIST_CACHE_DELTA_MIN rows), else reread.
 */
const LIST_CACHE_MIN_ROWS = 64;
const LIST_CACHE_MAX_ROWS = 200_000;
const LIST_CACHE_DELTA_MIN = 256;

interface ListCacheEntry {
  highest: number;
  rows: RawMsgRow[];
}

/**
 * Applies a change-log delta to rows in uid order: expunged uids leave, changed rows replace theirs, rows
 * not present yet (new appends, always above the existing uids but merged generally) are inserted in order.
 */
function applyDelta(rows: readonly RawMsgRow[], changed: readonly RawMsgRow[], gone: readonly number[]): RawMsgRow[] {
  const drop = new Set(gone);
  const upd = new Map<number, RawMsgRow>();
  for (const r of changed) upd.set(r[0], r);
  const out: RawMsgRow[] = [];
  for (const r of rows) {
    if (drop.has(r[0])) continue;
    const u = upd.get(r[0]);
    if (u) {
      out.push(u);
      upd.delete(r[0]);
    } else out.push(r);
  }
  if (upd.size === 0) return out;
  const added = [...upd.values()].filter((r) => !drop.has(r[0]));
  added.sort((a, b) => a[0] - b[0]);
  const last = out.length > 0 ? out[out.length - 1]![0] : 0;
  if (added.length > 0 && added[0]![0] > last) return out.concat(added);
  return out.concat(added).sort((a, b) => a[0] - b[0]);
}

/** The counts of status() from cached rows (the same sums as the status statement). */
function statusOf(rows: readonly RawMsgRow[], firstRecent: number): { messages: number; unseen: number; deleted: number; size: number; recent: number } {
  let unseen = 0;
  let deleted = 0;
  let size = 0;
  let recent = 0;
  for (const r of rows) {
    if ((r[3] & FLAG_SEEN) === 0) unseen++;
    if ((r[3] & FLAG_DELETED) !== 0) deleted++;
    size += r[6];
    if (r[0] >= firstRecent) recent++;
  }
  return { messages: rows.length, unseen, deleted, size, recent };
}

const ENVELOPE_OF_MIME = "json_extract(d.mime, '$.envelope')";
const FILL_ENVELOPES_SQL = `INSERT OR IGNORE INTO message_envelopes (mailbox_id, uid, envelope)
  SELECT m.mailbox_id, m.uid, ${ENVELOPE_OF_MIME} FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id
  WHERE ${ENVELOPE_OF_MIME} IS NOT NULL`;

/** Up to this many uids are read with point lookups instead of an IN list. */
const FEW_UIDS = 8;
/** Rows per query of the uid-range paths of getMessages/getEnvelopes. */
const RANGE_BATCH = 512;

/** Longest a commit group waits for appends still writing their blobs (see groupCommit). */
const GROUP_MAX_WAIT_MS = 5;
/** Longest time a flag change stays committed but not yet synced when no durable write comes along. */
const LAZY_SYNC_MS = 100;

interface BlobWriter {
  epoch: number;
  done: boolean;
}

/** UIDs per `IN (...)` query: statements are prepared once for this many parameters (padded). */
const CHUNK = 256;
/**
 * Reads of at most this many bytes are done synchronously (page-cache reads of this size take tens of
 * microseconds; the async path costs three thread-pool hops per read, each waking this thread). Messages
 * and their attachments mostly fit (and POP3 reads in chunks of this size), so RETR and FETCH BODY[] read
 * them in one call on this thread; larger reads stay asynchronous so a cold disk read of a big message
 * never holds the event loop for long.
 */
const SYNC_READ_MAX = 256 * 1024;
/**
 * Default largest appended message kept in the database rather than a file (see schema.ts, blob_inline). A
 * file costs a create, a write, an fsync and a share of a directory fsync (on ext4 the fsyncs cost more CPU
 * than the rest of a delivery); in the database the bytes ride the commit's one WAL sync. Most mail is
 * smaller than this (median ~8 KB); attachments stay in files, where reads need not copy them out of SQLite.
 */
export const INLINE_MAX = 64 * 1024;
/** Commits after which a store with fsync on hands WAL checkpoints to a worker thread (see startCheckpointer). */
const CHECKPOINTER_AFTER = 32;
/**
 * SQLite's automatic checkpoint once the worker checkpoints: pages (of 4 KiB) the WAL may reach before a
 * COMMIT checkpoints on the event loop after all (default 1000). Passive checkpoints that run while commits
 * keep coming may leave the WAL unable to restart from its beginning for a while; this bounds it.
 */
const FALLBACK_CHECKPOINT_PAGES = 10_000;
/** Dropped inline blobs deleted per background transaction (see collectGarbage). */
const GARBAGE_BATCH = 256;
/**
 * No memory-mapped reads. Measured on 100k messages: mmap cut a full-mailbox SEARCH BODY from ~890 to ~660
 * CPU ms, but every database page touched then counts in the process's resident size (86 MB -> 650 MB after
 * one such search): page cache, yet indistinguishable from heap for anyone reading RSS, and not worth 25%.
 */
const MMAP_SIZE = 0;
/**
 * changesSince answers cached per mailbox for the most recent `since` (10,000 IDLE sessions woken by one
 * append all ask the same question): reused while the mailbox's HIGHESTMODSEQ is unchanged, which is exact
 * because every change bumps it in the same transaction. Deltas above CHANGES_CACHE_ROWS are not cached.
 */
const CHANGES_CACHE_MAILBOXES = 256;
const CHANGES_CACHE_ROWS = 256;
/** Blobs newer than this whose writer is alive are left alone by the open-time sweep. */
const DEFAULT_SWEEP_GRACE_MS = 60 * 60 * 1000;

/** Cross-process change poll interval (only while some mailbox has subscribers). */
const POLL_MS = 200;

interface Shared {
  bus: ChangeBus;
  /** Open stores on this directory; the first one's connection runs the cross-process poll. */
  stores: Set<SqliteMailStore>;
  /** Highest MODSEQ announced (or seen at subscribe time) per subscribed mailbox. */
  announced: Map<number, number>;
  poller: NodeJS.Timeout | null;
  dataVersion: number;
  /** Blob ids written by this process whose row has not committed yet. */
  inflight: Set<string>;
  /** POP3 maildrop locks held (user ids). */
  maildrops: Set<number>;
  opens: number;
}

const registry = new Map<string, Shared>();

interface UserRow {
  id: number;
  address: string;
  password_hash: string;
  created_at: number;
}

interface MailboxRow {
  id: number;
  user_id: number;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  first_recent: number;
  special_use: string | null;
  object_id: string;
  subscribed?: number;
}

interface MsgRow {
  uid: number;
  email_id: string;
  thread_id: string;
  flags: number;
  keywords: string;
  internal_date: number;
  size: number;
  modseq: number;
}

interface FullMsgRow extends MsgRow {
  blob_id: string;
  retrieved_at: number | null;
}

interface OutboundRow {
  id: string;
  sender: string;
  recipients: string;
  attempts: number;
  created_at: number;
  next_attempt_at: number;
  last_error: string | null;
  size: number;
  blob_id: string;
}

const MSG_COLS = 'uid, email_id, thread_id, flags, keywords, internal_date, size, modseq';
/** The uid and the stored envelope (JSON from blob_data for rows written before message_envelopes). */
const ENVELOPE_COLS = `m.uid,
  coalesce(e.envelope, (SELECT ${ENVELOPE_OF_MIME} FROM blob_data d WHERE d.blob_id = m.blob_id))`;
/**
 * The uid, the stored header block, and for messages without one (headers over HEADER_ROW_MAX, rows written
 * before blob_headers) the blob id and header length from the MIME index, to read it from the blob.
 */
const HEADER_COLS = `m.uid, h.header, m.blob_id,
  CASE WHEN h.header IS NULL THEN (SELECT json_extract(d.mime, '$.root.headerEnd') FROM blob_data d WHERE d.blob_id = m.blob_id) END`;
const IN_LIST = Array.from({ length: CHUNK }, () => '?').join(',');

export interface SqliteMailStoreOptions {
  dataDir: string;
  fsync?: boolean;
  /** Unreferenced blobs younger than this are kept at open unless their writer process is gone. */
  sweepGraceMs?: number;
  /** Appended messages up to this many octets are kept in the database (blob_inline), larger ones in files. */
  inlineMax?: number;
  /**
   * For measurements only, when fsync is on: 'FULL' syncs the WAL inside each commit on this thread,
   * 'NORMAL' never syncs commits (may lose the last ones on power loss). Default: the off-thread WAL sync.
   */
  synchronous?: 'FULL' | 'NORMAL';
}

function toUser(r: UserRow): User {
  return { id: r.id, address: r.address, passwordHash: r.password_hash, createdAt: new Date(r.created_at) };
}

function toMailbox(r: MailboxRow, subscribed: boolean): Mailbox {
  return {
    id: r.id,
    userId: r.user_id,
    name: r.name,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    specialUse: (r.special_use as SpecialUse | null) ?? null,
    subscribed,
    mailboxObjectId: r.object_id,
  };
}

function splitKeywords(s: string): string[] {
  return s.length === 0 ? [] : s.split(' ');
}

function toMeta(r: MsgRow): MessageMeta {
  return {
    uid: r.uid,
    emailId: r.email_id,
    threadId: r.thread_id,
    flags: flagList(r.flags, splitKeywords(r.keywords)),
    internalDate: new Date(r.internal_date),
    size: r.size,
    modseq: r.modseq,
  };
}

/** A row of MSG_COLS in raw (array) mode: skips building an intermediate object per row. */
type RawMsgRow = [number, string, string, number, string, number, number, number];
/** MSG_COLS plus one JSON column (MIME index or envelope). */
type RawRecordRow = [number, string, string, number, string, number, number, number, string];
/** UID, the stored header block, or (when there is none) the blob id and the header's length. */
type RawHeaderRow = [number, Buffer | null, string, number | null];

function rawToMeta(r: RawMsgRow | RawRecordRow): MessageMeta {
  return {
    uid: r[0],
    emailId: r[1],
    threadId: r[2],
    flags: flagList(r[3], splitKeywords(r[4])),
    internalDate: new Date(r[5]),
    size: r[6],
    modseq: r[7],
  };
}

function toOutbound(r: OutboundRow): OutboundMessage {
  return {
    id: r.id,
    sender: r.sender,
    recipients: JSON.parse(r.recipients) as string[],
    attempts: r.attempts,
    createdAt: new Date(r.created_at),
    nextAttemptAt: new Date(r.next_attempt_at),
    lastError: r.last_error,
    size: r.size,
  };
}

/** Sorted, deduplicated positive integer UIDs. */
function cleanUids(uids: readonly number[]): number[] {
  const out = Array.from(new Set(uids.filter((u) => Number.isSafeInteger(u) && u > 0)));
  out.sort((a, b) => a - b);
  return out;
}

function chunks<T>(arr: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < arr.length; i += size) out.push(arr.slice(i, i + size));
  return out;
}

function padChunk(c: readonly number[]): number[] {
  const out = c.slice();
  while (out.length < CHUNK) out.push(-1);
  return out;
}

function normalizeAddress(address: string): string {
  if (typeof address !== 'string') throw new StoreError('INVALID', 'address must be a string');
  const a = address.trim().toLowerCase();
  // eslint-disable-next-line no-control-regex
  if (a.length === 0 || a.length > 320 || /[\s\u0000-\u001f\u007f]/.test(a)) throw new StoreError('INVALID', 'invalid address');
  return a;
}

function normalizeDomain(domain: string): string {
  const d = normalizeAddress(domain);
  if (d.includes('@')) throw new StoreError('INVALID', 'invalid domain');
  return d;
}

function mapError(e: unknown): unknown {
  if (e instanceof StoreError) return e;
  if (e instanceof Database.SqliteError) {
    const code = e.code;
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED') || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_FULL') {
      return new StoreError('TEMPORARY', `database temporarily unavailable (${code})`, { cause: e });
    }
  }
  const errno = (e as NodeJS.ErrnoException | null)?.code;
  if (errno === 'ENOSPC' || errno === 'EIO' || errno === 'EMFILE' || errno === 'ENFILE' || errno === 'EDQUOT') {
    return new StoreError('TEMPORARY', `storage temporarily unavailable (${errno})`, { cause: e });
  }
  return e;
}

export class SqliteMailStore implements MailStore {
  private readonly db: Database.Database;
  private readonly blobs: BlobDir;
  private readonly shared: Shared;
  private readonly key: string;
  private readonly pending = new Set<Promise<unknown>>();
  /** Per mailbox, the queued claimRecent: resolves to the FIRST_RECENT it sets (see claimRecent). */
  private readonly recentClaims = new Map<number, Promise<number>>();
  private readonly unsubscribers = new Set<() => void>();
  private closed = false;
  private readonly commitQueue: Array<{ fn: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void; durable: boolean }> = [];
  /** A background WAL sync is scheduled for flag-only commits (see groupCommit). */
  private lazySyncTimer: NodeJS.Timeout | null = null;
  private flushScheduled = false;
  private readonly writers = new Set<BlobWriter>();
  /** Bumped when a commit group opens; writers remember the epoch they started in. */
  private epoch = 0;
  private groupEpoch = 0;
  /** Writers that started before the open group and have not queued or failed yet. */
  private olderWriters = 0;
  private groupTimer: NodeJS.Timeout | null = null;
  /** Group-commit counters, for benchmarks: write transactions of the append queue and appends in them. */
  readonly stats: { commits: number; grouped: number; /** Blob directory fsyncs (shared by blobs written together). */ readonly dirSyncs: number };
  /** listMessages rows per mailbox (see cachedList), least recently used first; listCacheRows counts their rows. */
  private readonly listCache = new Map<number, ListCacheEntry>();
  private listCacheRows = 0;
  private readonly stmtCache = new Map<string, Database.Statement>();
  private readonly changesCache = new Map<number, { since: number; highest: number; changed: RawMsgRow[]; expunged: number[] }>();
  private readonly st: ReturnType<SqliteMailStore['prepare']>;
  /** Off-thread WAL sync (see the header and walSync); false when SQLite syncs itself or fsync is off. */
  private readonly asyncWalSync: boolean;
  /** Appended blobs up to this size go into blob_inline (see append). */
  private readonly inlineMax: number;
  /** The WAL checkpoint worker, started after CHECKPOINTER_AFTER commits when fsync is on (see tx). */
  private checkpointer: Checkpointer | null = null;
  /** A commit listed inline blobs in blob_garbage (see collectGarbage), and the collection running. */
  private garbageWanted = false;
  private garbageRun: Promise<void> | null = null;
  /** Commits made, and how many of them a completed WAL fdatasync covers. */
  private commitSeq = 0;
  private syncedSeq = 0;
  /** Commits made outside the commit queue (run() syncs after an operation that made one). */
  private directCommits = 0;
  private syncRunning = false;
  private syncWaiters: Array<{ target: number; resolve: () => void; reject: (e: unknown) => void }> = [];
  /** The WAL file, opened at the first sync (fd; the callback API costs less per call than FileHandle's). */
  private walFd: number | null = null;
  /**
   * Runs a function in a transaction (a savepoint when nested). One wrapper made once: creating one per
   * call with db.transaction(fn) showed in profiles of flag-change-heavy loads.
   */
  private readonly inTx: Database.Transaction<(fn: () => unknown) => unknown>;

  private constructor(db: Database.Database, blobs: BlobDir, key: string, shared: Shared, asyncWalSync: boolean, inlineMax: number) {
    this.asyncWalSync = asyncWalSync;
    this.inlineMax = inlineMax;
    this.db = db;
    this.inTx = db.transaction((fn: () => unknown) => fn());
    this.blobs = blobs;
    this.key = key;
    this.shared = shared;
    this.st = this.prepare();
    this.stats = {
      commits: 0,
      grouped: 0,
      get dirSyncs(): number {
        return blobs.dirSyncCount;
      },
    };
  }

  /** Opens the store: creates the directory, schema and blob shards, then sweeps orphan blobs. */
  static async open(opts: SqliteMailStoreOptions): Promise<SqliteMailStore> {
    const fsync = opts.fsync ?? true;
    mkdirSync(opts.dataDir, { recursive: true });
    const key = realpathSync(opts.dataDir);
    const db = new Database(join(key, 'mail.db'), { timeout: 5000 });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${fsync ? (opts.synchronous === 'FULL' ? 'FULL' : 'NORMAL') : 'OFF'}`);
      db.pragma('foreign_keys = OFF');
      db.pragma('cache_size = -32000');
      db.pragma('temp_store = MEMORY');
      db.pragma(`mmap_size = ${MMAP_SIZE}`);
      // A WAL that grew during a burst is cut back to this size when it restarts.
      db.pragma('journal_size_limit = 67108864');
      db.transaction(() => {
        const hadEnvelopes = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'message_envelopes'").get() !== undefined;
        db.exec(SCHEMA_SQL);
        // First open of a database written before message_envelopes existed: fill it (see schema.ts).
        if (!hadEnvelopes) db.exec(FILL_ENVELOPES_SQL);
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
    let shared = registry.get(key);
    if (!shared) {
      shared = {
        bus: new ChangeBus(),
        stores: new Set(),
        announced: new Map(),
        poller: null,
        dataVersion: -1,
        inflight: new Set(),
        maildrops: new Set(),
        opens: 0,
      };
      registry.set(key, shared);
    }
    shared.opens++;
    const store = new SqliteMailStore(db, blobs, key, shared, fsync && opts.synchronous === undefined, opts.inlineMax ?? INLINE_MAX);
    shared.stores.add(store);
    store.sweepOrphans(opts.sweepGraceMs ?? DEFAULT_SWEEP_GRACE_MS);
    // Inline blobs dropped before the last close (or crash) but not yet deleted.
    if (store.st.garbageBatch.get(1) !== undefined) store.collectGarbage();
    return store;
  }

  private prepare() {
    const db = this.db;
    return {
      userByAddress: db.prepare('SELECT * FROM users WHERE address = ?'),
      userById: db.prepare('SELECT * FROM users WHERE id = ?'),
      insertUser: db.prepare('INSERT INTO users (address, password_hash, created_at) VALUES (?, ?, ?)'),
      mailbox: db.prepare('SELECT * FROM mailboxes WHERE id = ?'),
      mailboxByName: db.prepare('SELECT * FROM mailboxes WHERE user_id = ? AND name = ?'),
      isSubscribed: db.prepare('SELECT 1 FROM subscriptions WHERE user_id = ? AND name = ?'),
      insertMailbox: db.prepare(
        'INSERT INTO mailboxes (user_id, name, uid_validity, uid_next, highest_modseq, first_recent, special_use, object_id) VALUES (?, ?, ?, 1, 1, 1, ?, ?)',
      ),
      bumpMailbox: db.prepare('UPDATE mailboxes SET uid_next = ?, highest_modseq = ? WHERE id = ?'),
      claimRecent: db.prepare('UPDATE mailboxes SET first_recent = ? WHERE id = ?'),
      recentState: db.prepare('SELECT first_recent, uid_next FROM mailboxes WHERE id = ?').raw(true),
      setModseq: db.prepare('UPDATE mailboxes SET highest_modseq = ? WHERE id = ?'),
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?'),
      setMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      keyword: db.prepare('SELECT spelling FROM mailbox_keywords WHERE mailbox_id = ? AND lower = ?'),
      insertKeyword: db.prepare('INSERT INTO mailbox_keywords (mailbox_id, lower, spelling) VALUES (?, ?, ?)'),
      insertBlob: db.prepare('INSERT INTO blobs (id, size, refs) VALUES (?, ?, 1)'),
      refBlob: db.prepare('UPDATE blobs SET refs = refs + 1 WHERE id = ?'),
      // No RETURNING: inside a savepoint (every group-commit item) with temp_store=MEMORY, each UPDATE ...
      // RETURNING took ~0.2 ms (an expunge of 10,000 messages: 1.7 s); UPDATE then SELECT takes ~8 us.
      unrefBlob: db.prepare('UPDATE blobs SET refs = refs - 1 WHERE id = ?'),
      blobRefs: db.prepare('SELECT refs FROM blobs WHERE id = ?').pluck(),
      deleteBlob: db.prepare('DELETE FROM blobs WHERE id = ?'),
      deleteBlobData: db.prepare('DELETE FROM blob_data WHERE blob_id = ?'),
      insertBlobData: db.prepare('INSERT INTO blob_data (blob_id, mime, text_headers, text_body) VALUES (?, ?, ?, ?)'),
      insertMessage: db.prepare(
        'INSERT INTO messages (mailbox_id, uid, email_id, thread_id, flags, keywords, internal_date, size, modseq, blob_id, retrieved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      deleteMessage: db.prepare('DELETE FROM messages WHERE mailbox_id = ? AND uid = ?'),
      insertTombstone: db.prepare('INSERT OR REPLACE INTO tombstones (mailbox_id, uid, modseq) VALUES (?, ?, ?)'),
      updateFlags: db.prepare('UPDATE messages SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?'),
      setRetrieved: db.prepare('UPDATE messages SET retrieved_at = ? WHERE mailbox_id = ? AND uid = ?'),
      listMessagesRaw: db.prepare(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = ? ORDER BY uid`).raw(true),
      messageOne: db.prepare(`SELECT ${MSG_COLS}, blob_id, retrieved_at FROM messages WHERE mailbox_id = ? AND uid = ?`),
      blobOf: db.prepare('SELECT blob_id, size FROM messages WHERE mailbox_id = ? AND uid = ?'),
      messagesIn: db.prepare(`SELECT ${MSG_COLS}, blob_id, retrieved_at FROM messages WHERE mailbox_id = ? AND uid IN (${IN_LIST}) ORDER BY uid`),
      recordsRange: db
        .prepare(
          `SELECT m.uid, m.email_id, m.thread_id, m.flags, m.keywords, m.internal_date, m.size, m.modseq, d.mime
           FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id
           WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid LIMIT ${RANGE_BATCH}`,
        )
        .raw(true),
      envelopesRange: db
        .prepare(
          `SELECT ${ENVELOPE_COLS} FROM messages m LEFT JOIN message_envelopes e ON e.mailbox_id = m.mailbox_id AND e.uid = m.uid
           WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid LIMIT ${RANGE_BATCH}`,
        )
        .raw(true),
      envelopesIn: db
        .prepare(
          `SELECT ${ENVELOPE_COLS} FROM messages m LEFT JOIN message_envelopes e ON e.mailbox_id = m.mailbox_id AND e.uid = m.uid
           WHERE m.mailbox_id = ? AND m.uid IN (${IN_LIST}) ORDER BY m.uid`,
        )
        .raw(true),
      recordOne: db
        .prepare(
          `SELECT m.uid, m.email_id, m.thread_id, m.flags, m.keywords, m.internal_date, m.size, m.modseq, d.mime
           FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid = ?`,
        )
        .raw(true),
      envelopeOne: db
        .prepare(
          `SELECT ${ENVELOPE_COLS} FROM messages m LEFT JOIN message_envelopes e ON e.mailbox_id = m.mailbox_id AND e.uid = m.uid
           WHERE m.mailbox_id = ? AND m.uid = ?`,
        )
        .raw(true),
      headersRange: db
        .prepare(
          `SELECT ${HEADER_COLS} FROM messages m LEFT JOIN blob_headers h ON h.blob_id = m.blob_id
           WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? ORDER BY m.uid LIMIT ${RANGE_BATCH}`,
        )
        .raw(true),
      headersIn: db
        .prepare(
          `SELECT ${HEADER_COLS} FROM messages m LEFT JOIN blob_headers h ON h.blob_id = m.blob_id
           WHERE m.mailbox_id = ? AND m.uid IN (${IN_LIST}) ORDER BY m.uid`,
        )
        .raw(true),
      headerOne: db
        .prepare(`SELECT ${HEADER_COLS} FROM messages m LEFT JOIN blob_headers h ON h.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid = ?`)
        .raw(true),
      insertBlobHeader: db.prepare('INSERT INTO blob_headers (blob_id, header) VALUES (?, ?)'),
      deleteBlobHeader: db.prepare('DELETE FROM blob_headers WHERE blob_id = ?'),
      insertBlobInline: db.prepare('INSERT INTO blob_inline (blob_id, raw) VALUES (?, ?)'),
      blobInline: db.prepare('SELECT raw FROM blob_inline WHERE blob_id = ?').pluck(),
      blobInlineRange: db.prepare('SELECT substr(raw, ?, ?) FROM blob_inline WHERE blob_id = ?').pluck(),
      garbageOne: db.prepare('INSERT OR IGNORE INTO blob_garbage (blob_id) SELECT blob_id FROM blob_inline WHERE blob_id = ?'),
      listGarbageJson: db.prepare('INSERT OR IGNORE INTO blob_garbage (blob_id) SELECT value FROM json_each(?)'),
      inlineIn: db.prepare('SELECT blob_id FROM blob_inline WHERE blob_id IN (SELECT value FROM json_each(?))').pluck(),
      garbageBatch: db.prepare('SELECT blob_id FROM blob_garbage LIMIT ?').pluck(),
      deleteBlobInlineJson: db.prepare('DELETE FROM blob_inline WHERE blob_id IN (SELECT value FROM json_each(?))'),
      deleteGarbageJson: db.prepare('DELETE FROM blob_garbage WHERE blob_id IN (SELECT value FROM json_each(?))'),
      // Set-based forms of the row deletions, the list passed as one JSON array (see deleteRows).
      deleteMessagesJson: db.prepare('DELETE FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))'),
      deleteEnvelopesJson: db.prepare('DELETE FROM message_envelopes WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))'),
      insertTombstonesJson: db.prepare('INSERT OR REPLACE INTO tombstones (mailbox_id, uid, modseq) SELECT ?, value, ? FROM json_each(?)'),
      unrefBlobsJson: db.prepare('UPDATE blobs SET refs = refs - 1 WHERE id IN (SELECT value FROM json_each(?))'),
      unrefBlobBy: db.prepare('UPDATE blobs SET refs = refs - ? WHERE id = ?'),
      deadBlobsJson: db.prepare('SELECT id FROM blobs WHERE id IN (SELECT value FROM json_each(?)) AND refs <= 0').pluck(),
      deleteBlobsJson: db.prepare('DELETE FROM blobs WHERE id IN (SELECT value FROM json_each(?))'),
      deleteBlobDataJson: db.prepare('DELETE FROM blob_data WHERE blob_id IN (SELECT value FROM json_each(?))'),
      deleteBlobHeadersJson: db.prepare('DELETE FROM blob_headers WHERE blob_id IN (SELECT value FROM json_each(?))'),
      insertEnvelope: db.prepare('INSERT OR REPLACE INTO message_envelopes (mailbox_id, uid, envelope) VALUES (?, ?, ?)'),
      copyEnvelope: db.prepare(
        'INSERT OR REPLACE INTO message_envelopes (mailbox_id, uid, envelope) SELECT ?, ?, envelope FROM message_envelopes WHERE mailbox_id = ? AND uid = ?',
      ),
      deleteEnvelope: db.prepare('DELETE FROM message_envelopes WHERE mailbox_id = ? AND uid = ?'),
      recordsIn: db.prepare(
        `SELECT m.uid, m.email_id, m.thread_id, m.flags, m.keywords, m.internal_date, m.size, m.modseq, d.mime
         FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id
         WHERE m.mailbox_id = ? AND m.uid IN (${IN_LIST}) ORDER BY m.uid`,
      ).raw(true),
      allFull: db.prepare(`SELECT ${MSG_COLS}, blob_id, retrieved_at FROM messages WHERE mailbox_id = ? ORDER BY uid`),
      deletedUids: db.prepare(`SELECT uid FROM messages WHERE mailbox_id = ? AND (flags & ${FLAG_DELETED}) != 0 ORDER BY uid`),
      deletedUidsIn: db.prepare(
        `SELECT uid FROM messages WHERE mailbox_id = ? AND (flags & ${FLAG_DELETED}) != 0 AND uid IN (${IN_LIST}) ORDER BY uid`,
      ),
      changedSinceRaw: db.prepare(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`).raw(true),
      tombstonesSince: db.prepare('SELECT uid FROM tombstones WHERE mailbox_id = ? AND modseq > ? ORDER BY uid').pluck(),
      highestModseq: db.prepare('SELECT highest_modseq FROM mailboxes WHERE id = ?').pluck(),
      status: db.prepare(
        `SELECT count(*) AS messages,
                coalesce(sum((flags & ${FLAG_SEEN}) = 0), 0) AS unseen,
                coalesce(sum((flags & ${FLAG_DELETED}) != 0), 0) AS deleted,
                coalesce(sum(size), 0) AS size,
                coalesce(sum(uid >= ?), 0) AS recent
         FROM messages WHERE mailbox_id = ?`,
      ),
      searchIn: {
        header: db.prepare(
          `SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid IN (${IN_LIST}) AND instr(d.text_headers, ?) > 0`,
        ),
        body: db.prepare(
          `SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid IN (${IN_LIST}) AND instr(d.text_body, ?) > 0`,
        ),
        text: db.prepare(
          `SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid IN (${IN_LIST}) AND (instr(d.text_headers, ?) > 0 OR instr(d.text_body, ?) > 0)`,
        ),
      },
      searchRange: {
        header: db.prepare(
          'SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? AND instr(d.text_headers, ?) > 0',
        ),
        body: db.prepare(
          'SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? AND instr(d.text_body, ?) > 0',
        ),
        text: db.prepare(
          'SELECT m.uid FROM messages m JOIN blob_data d ON d.blob_id = m.blob_id WHERE m.mailbox_id = ? AND m.uid BETWEEN ? AND ? AND (instr(d.text_headers, ?) > 0 OR instr(d.text_body, ?) > 0)',
        ),
      },
      threadRef: db.prepare('SELECT thread_id FROM thread_refs WHERE user_id = ? AND message_id = ?'),
      insertThreadRef: db.prepare('INSERT OR IGNORE INTO thread_refs (user_id, message_id, thread_id) VALUES (?, ?, ?)'),
      retrievedBefore: db.prepare('SELECT uid FROM messages WHERE mailbox_id = ? AND retrieved_at IS NOT NULL AND retrieved_at <= ? ORDER BY uid'),
      outbound: db.prepare('SELECT * FROM outbound WHERE id = ?'),
      emailIdExists: db.prepare('SELECT 1 FROM messages WHERE email_id = ?'),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // plumbing

  /**
   * A prepared statement for `text`, prepared once per store (preparing costs tens of microseconds per call
   * on paths like LIST, SELECT and the outbound queue). Reader statements come back in the default row mode;
   * callers set pluck/raw per use.
   */
  private sql(text: string): Database.Statement {
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
  private run<T>(fn: () => Promise<T>): Promise<T> {
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
    const done = () => this.pending.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Group commit for appends and the frequent message writes (flag changes, expunges, copies and moves,
   * POP3 commits): queued commit functions run in one write transaction, each inside its own savepoint (one
   * failing operation does not affect the others), so concurrent writers share one COMMIT and one WAL
   * fsync. Each promise settles once the WAL holding the shared COMMIT has been synced (walSync), except
   * with `durable` false (flag changes and \Recent claims): those settle at COMMIT, and a background sync
   * within LAZY_SYNC_MS (or the next durable write's, whichever comes first) makes them durable. Dovecot's
   * default (mail_fsync=optimized) does not fsync flag changes at all; new, copied, moved and removed mail
   * is always synced before the reply.
   *
   * When a group opens while other appends are still writing their blobs, it waits for those writers
   * (each ends by queueing its own commit or failing), at most GROUP_MAX_WAIT_MS, so that concurrent
   * deliveries really share a commit instead of trickling in one or two per event-loop turn. Writers that
   * start after the group opened do not hold it.
   */
  private groupCommit<T>(fn: () => T, writer?: BlobWriter, durable = true): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (writer) this.endWriter(writer);
      const opens = this.commitQueue.length === 0;
      this.commitQueue.push({ fn, resolve: resolve as (v: unknown) => void, reject, durable });
      if (!opens) return;
      this.groupEpoch = ++this.epoch;
      this.olderWriters = this.writers.size;
      if (this.olderWriters === 0) this.scheduleFlush();
      else this.groupTimer ??= setTimeout(() => this.scheduleFlush(), GROUP_MAX_WAIT_MS);
    });
  }

  /** Registers an append whose blob write is starting (see groupCommit). */
  private startWriter(): BlobWriter {
    const w = { epoch: this.epoch, done: false };
    this.writers.add(w);
    return w;
  }

  /** The writer queued its commit or failed; idempotent. The open group flushes once its older writers are done. */
  private endWriter(w: BlobWriter): void {
    if (w.done) return;
    w.done = true;
    this.writers.delete(w);
    if (this.commitQueue.length > 0 && w.epoch < this.groupEpoch && --this.olderWriters === 0) this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.groupTimer) {
      clearTimeout(this.groupTimer);
      this.groupTimer = null;
    }
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushCommits());
  }

  private flushCommits(): void {
    this.flushScheduled = false;
    const batch = this.commitQueue.splice(0);
    if (batch.length === 0) return;
    this.stats.commits++;
    this.stats.grouped += batch.length;
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.tx(() => {
        for (const item of batch) {
          try {
            outcomes.push({ ok: true, value: this.inTx(item.fn) });
          } catch (error) {
            outcomes.push({ ok: false, error });
          }
        }
      }, true);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
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

  /** Starts a WAL sync within LAZY_SYNC_MS for commits nobody waits for (see groupCommit). */
  private syncLater(): void {
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
   * completed. One sync runs at a time; commits made meanwhile wait for the next, which covers them all.
   * A failed sync rejects its waiters with the error (their commits are visible but may not be durable)
   * and the WAL file is reopened for the next attempt.
   */
  private walSync(target = this.commitSeq): Promise<void> {
    if (!this.asyncWalSync || this.syncedSeq >= target) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.syncWaiters.push({ target, resolve, reject });
      this.kickSync();
    });
  }

  private kickSync(): void {
    if (this.syncRunning || this.syncWaiters.length === 0) return;
    this.syncRunning = true;
    const covers = this.commitSeq;
    void (async () => {
      let error: unknown;
      try {
        this.walFd ??= await new Promise<number>((res, rej) => openCb(join(this.key, 'mail.db-wal'), 'r+', (e, fd) => (e ? rej(e) : res(fd))));
        const fd = this.walFd;
        await new Promise<void>((res, rej) => fdatasync(fd, (e) => (e ? rej(e) : res())));
      } catch (e) {
        error = e;
        const fd = this.walFd;
        this.walFd = null;
        if (fd !== null) closeCb(fd, () => undefined);
      }
      this.syncRunning = false;
      if (error === undefined) this.syncedSeq = Math.max(this.syncedSeq, covers);
      const waiting = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiting) {
        if (error !== undefined && w.target <= covers) w.reject(error);
        else if (w.target <= this.syncedSeq) w.resolve();
        else this.syncWaiters.push(w);
      }
      this.kickSync();
    })();
  }

  /** A read transaction (BEGIN DEFERRED): one consistent snapshot for several statements. */
  private readTx<T>(fn: () => T): T {
    return this.inTx.deferred(fn) as T;
  }

  /** A write transaction holding the database write lock from its start (BEGIN IMMEDIATE). */
  private tx<T>(fn: () => T, grouped = false): T {
    const v = this.inTx.immediate(fn) as T;
    this.commitSeq++;
    if (!grouped) this.directCommits++;
    if (this.checkpointer) this.checkpointer.committed();
    else if (this.commitSeq === CHECKPOINTER_AFTER && this.asyncWalSync && !this.closed) this.startCheckpointer();
    return v;
  }

  /**
   * Moves WAL checkpoints to a worker thread (see checkpointer.ts) once this store has made a few commits (a
   * CLI command that makes one or two never starts it). SQLite's own checkpoint stays on as the fallback.
   */
  private startCheckpointer(): void {
    try {
      this.checkpointer = new Checkpointer(join(this.key, 'mail.db'));
      this.db.pragma(`wal_autocheckpoint = ${FALLBACK_CHECKPOINT_PAGES}`);
    } catch {
      this.checkpointer = null; // no worker threads here: SQLite keeps checkpointing in COMMIT
    }
  }

  private emit(userId: number, mailboxId: number, highestModseq: number): void {
    const ev: ChangeEvent = { userId, mailboxId, highestModseq };
    const prev = this.shared.announced.get(mailboxId);
    if (prev !== undefined && highestModseq > prev) this.shared.announced.set(mailboxId, highestModseq);
    this.shared.bus.emit(ev);
  }

  /** Starts the shared cross-process poll if someone listens and it is not running. */
  private ensurePoller(): void {
    const sh = this.shared;
    if (sh.poller) return;
    sh.poller = setInterval(() => SqliteMailStore.poll(sh), POLL_MS);
    sh.poller.unref();
  }

  /** One cross-process poll: wakes subscribers of mailboxes changed by other processes. */
  private static poll(sh: Shared): void {
    const ids = sh.bus.mailboxIds();
    const store = sh.stores.values().next().value as SqliteMailStore | undefined;
    if (ids.length === 0 || !store) {
      if (sh.poller) clearInterval(sh.poller);
      sh.poller = null;
      sh.announced.clear();
      return;
    }
    try {
      const v = store.db.pragma('data_version', { simple: true }) as number;
      if (v === sh.dataVersion) return;
      sh.dataVersion = v;
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

  private mailboxRow(mailboxId: number): MailboxRow {
    const r = this.st.mailbox.get(mailboxId) as MailboxRow | undefined;
    if (!r) throw new StoreError('NOT_FOUND', 'no such mailbox');
    return r;
  }

  private userRow(userId: number): UserRow {
    const r = this.st.userById.get(userId) as UserRow | undefined;
    if (!r) throw new StoreError('NOT_FOUND', 'no such user');
    return r;
  }

  private mailboxWithSub(r: MailboxRow): Mailbox {
    return toMailbox(r, this.st.isSubscribed.get(r.user_id, r.name) !== undefined);
  }

  /** A fresh UIDVALIDITY: seconds since the epoch, strictly greater than any handed out before. */
  private nextUidValidity(): number {
    const last = Number((this.st.getMeta.get('last_uidvalidity') as { value: string } | undefined)?.value ?? '0');
    let v = Math.max(last + 1, Math.floor(Date.now() / 1000));
    if (v > 0xffffffff) v = 1; // far future: wrap (never reached before 2106)
    this.st.setMeta.run('last_uidvalidity', String(v));
    return v;
  }

  private insertMailboxRow(userId: number, name: string, specialUse: SpecialUse | null): number {
    const info = this.st.insertMailbox.run(userId, name, this.nextUidValidity(), specialUse, newObjectId('F'));
    return Number(info.lastInsertRowid);
  }

  /** Keywords in the mailbox's canonical spelling (first seen wins); registers new ones. */
  private canonicalKeywords(mailboxId: number, keywords: readonly string[], cache: Map<string, string>): string[] {
    return keywords.map((k) => {
      const lower = k.toLowerCase();
      let sp = cache.get(lower);
      if (sp === undefined) {
        sp = (this.st.keyword.get(mailboxId, lower) as { spelling: string } | undefined)?.spelling;
        if (sp === undefined) {
          this.st.insertKeyword.run(mailboxId, lower, k);
          sp = k;
        }
        cache.set(lower, sp);
      }
      return sp;
    });
  }

  private rowsIn(mailboxId: number, uids: readonly number[]): FullMsgRow[] {
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
   * Drops one reference to a blob. An unreferenced blob loses its rows; its id goes to `doomed` when it has a
   * file (unlinked after commit), to blob_garbage when its bytes are inline (deleted in the background).
   */
  private unref(blobId: string, doomed: string[]): void {
    this.st.unrefBlob.run(blobId);
    const refs = this.st.blobRefs.get(blobId) as number | undefined;
    if (refs !== undefined && refs <= 0) {
      this.st.deleteBlob.run(blobId);
      this.st.deleteBlobData.run(blobId);
      this.st.deleteBlobHeader.run(blobId);
      if (this.st.garbageOne.run(blobId).changes === 0) doomed.push(blobId); // a file to unlink
      else this.garbageWanted = true;
    }
  }

  /**
   * Deletes message rows, leaving tombstones stamped `modseq`. Inside a transaction. Set-based statements
   * over a JSON list of the rows: a POP3 QUIT or an EXPUNGE of 10,000 messages takes ~10 statements instead
   * of ~80,000, and one row costs what the per-row statements did.
   */
  private deleteRows(mailboxId: number, rows: readonly FullMsgRow[], modseq: number, doomed: string[], tombstones = true): void {
    if (rows.length === 0) return;
    const uids = JSON.stringify(rows.map((r) => r.uid));
    this.st.deleteMessagesJson.run(mailboxId, uids);
    this.st.deleteEnvelopesJson.run(mailboxId, uids);
    if (tombstones) this.st.insertTombstonesJson.run(mailboxId, modseq, uids);
    // A blob shared by several of the rows (a message copied within the mailbox) loses all those references.
    const drops = new Map<string, number>();
    for (const r of rows) drops.set(r.blob_id, (drops.get(r.blob_id) ?? 0) + 1);
    const once: string[] = [];
    for (const [id, n] of drops) {
      if (n === 1) once.push(id);
      else this.st.unrefBlobBy.run(n, id);
    }
    if (once.length > 0) this.st.unrefBlobsJson.run(JSON.stringify(once));
    const dead = this.st.deadBlobsJson.all(JSON.stringify([...drops.keys()])) as string[];
    if (dead.length === 0) return;
    const deadJson = JSON.stringify(dead);
    this.st.deleteBlobsJson.run(deadJson);
    // Their blob_data, blob_headers and blob_inline rows go in the background (see collectGarbage): no
    // message points at them any more, and freeing their pages is most of the cost of a big delete.
    this.st.listGarbageJson.run(deadJson);
    this.garbageWanted = true;
    const inline = new Set(this.st.inlineIn.all(deadJson) as string[]);
    for (const id of dead) if (!inline.has(id)) doomed.push(id); // files to unlink
  }

  /**
   * Unlinks the files of blobs a commit just dropped, without making the operation wait: they are garbage
   * once the commit is durable (a crash before the unlink leaves orphans for the open-time sweep), and an
   * ext4 unlink costs ~0.1-0.2 ms, so a POP3 QUIT or EXPUNGE of 1,000 messages would otherwise wait tens of
   * milliseconds for its reply. close() and settled() wait for them.
   */
  private unlinkAll(ids: readonly string[]): void {
    if (ids.length > 0) this.blobs.removeLater(ids);
    if (this.garbageWanted) this.collectGarbage();
  }

  /** Resolves when background work (unlinks of dropped blobs, deletion of dropped inline blobs) has finished. */
  async settled(): Promise<void> {
    await this.blobs.drained();
    while (this.garbageRun) await this.garbageRun;
  }

  /**
   * Deletes the rows of dropped blobs listed in blob_garbage (blob_inline, blob_data, blob_headers),
   * GARBAGE_BATCH blobs per transaction, each batch in its own turn of the event loop so sessions are served
   * in between. The deletes are not synced before the next batch (a crash may leave them listed: they are
   * collected again). Stops when the store closes.
   */
  private collectGarbage(): void {
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

  /** Removes blob files no row references (a crash between blob write and row commit). Synchronous. */
  private sweepOrphans(graceMs: number): number {
    // List files first, then read the table: a blob committed in between is in the table; one still being
    // written is either ours (in `inflight`), a live writer's (grace), or an orphan.
    const files = this.blobs.listSync();
    if (files.length === 0) return 0;
    const known = new Set((this.sql('SELECT id FROM blobs').pluck().all() as string[]));
    const now = Date.now();
    let removed = 0;
    for (const [id, mtime] of files) {
      if (known.has(id) || this.shared.inflight.has(id)) continue;
      const pid = blobWriterPid(id);
      const writerGone = pid === null || pid === process.pid || !processAlive(pid);
      if (writerGone || now - mtime > graceMs) {
        this.blobs.removeSync(id);
        removed++;
      }
    }
    return removed;
  }

  /**
   * Maintenance: gives the space of deleted messages back to the file system. Small messages live in mail.db,
   * whose free pages are reused by later mail but never returned; this finishes the background deletion of
   * dropped blobs, then rebuilds the database (VACUUM, which holds the write lock while it runs, so writers
   * in other processes wait or get a temporary failure, and needs free disk space about the size of the
   * database) and empties the WAL. Returns the database size before and after, in bytes.
   */
  async compact(): Promise<{ before: number; after: number }> {
    await this.settled();
    return this.run(async () => {
      const size = (): number => (this.db.pragma('page_count', { simple: true }) as number) * (this.db.pragma('page_size', { simple: true }) as number);
      const before = size();
      this.db.exec('VACUUM');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      return { before, after: size() };
    });
  }

  /** For tests and maintenance: sweeps orphan blobs now. Returns how many files were removed. */
  async sweep(graceMs = DEFAULT_SWEEP_GRACE_MS): Promise<number> {
    return this.run(async () => this.sweepOrphans(graceMs));
  }

  /** Reads [start, end) of a blob from blob_inline or else its file, on this thread (small reads only). */
  private readBlobSync(blobId: string, start: number, end: number): Buffer {
    if (end <= start) return Buffer.alloc(0);
    return this.readInline(blobId, start, end, -1) ?? this.blobs.readSync(blobId, start, end);
  }

  /** [start, end) of an inline blob (the whole value when that is all of it: no substr copy), or undefined. */
  private readInline(blobId: string, start: number, end: number, size: number): Buffer | undefined {
    if (start === 0 && end === size) return this.st.blobInline.get(blobId) as Buffer | undefined;
    return this.st.blobInlineRange.get(start + 1, end - start, blobId) as Buffer | undefined;
  }

  /** Writes a blob, registering it as in flight until `commit` settles; unlinks it when `commit` throws. */
  private async withBlob<T>(data: Buffer, commit: (blobId: string) => T | Promise<T>): Promise<T> {
    const id = this.blobs.newId();
    this.shared.inflight.add(id);
    try {
      await this.blobs.write(id, data);
      try {
        return await commit(id);
      } catch (e) {
        await this.blobs.remove(id);
        throw e;
      }
    } finally {
      this.shared.inflight.delete(id);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // users, domains, aliases

  createUser(address: string, passwordHash: string): Promise<User> {
    return this.run(async () => {
      const a = normalizeAddress(address);
      if (typeof passwordHash !== 'string') throw new StoreError('INVALID', 'password hash must be a string');
      return this.tx(() => {
        if (this.st.userByAddress.get(a)) throw new StoreError('EXISTS', 'user exists');
        const now = Date.now();
        const id = Number(this.st.insertUser.run(a, passwordHash, now).lastInsertRowid);
        for (const [name, su] of DEFAULT_MAILBOXES) {
          if (!this.st.mailboxByName.get(id, name)) this.insertMailboxRow(id, name, su);
          this.sql('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(id, name);
        }
        return toUser(this.st.userById.get(id) as UserRow);
      });
    });
  }

  getUser(address: string): Promise<User | null> {
    return this.run(async () => {
      if (typeof address !== 'string') return null;
      const r = this.st.userByAddress.get(address.trim().toLowerCase()) as UserRow | undefined;
      return r ? toUser(r) : null;
    });
  }

  getUserById(id: number): Promise<User | null> {
    return this.run(async () => {
      const r = this.st.userById.get(id) as UserRow | undefined;
      return r ? toUser(r) : null;
    });
  }

  listUsers(): Promise<User[]> {
    return this.run(async () => (this.sql('SELECT * FROM users ORDER BY address').all() as UserRow[]).map(toUser));
  }

  setPasswordHash(address: string, passwordHash: string): Promise<void> {
    return this.run(async () => {
      const a = normalizeAddress(address);
      const info = this.sql('UPDATE users SET password_hash = ? WHERE address = ?').run(passwordHash, a);
      if (info.changes === 0) throw new StoreError('NOT_FOUND', 'no such user');
    });
  }

  deleteUser(address: string): Promise<void> {
    return this.run(async () => {
      const a = normalizeAddress(address);
      const doomed: string[] = [];
      const events: Array<[number, number, number]> = [];
      this.tx(() => {
        const u = this.st.userByAddress.get(a) as UserRow | undefined;
        if (!u) throw new StoreError('NOT_FOUND', 'no such user');
        const boxes = this.sql('SELECT * FROM mailboxes WHERE user_id = ?').all(u.id) as MailboxRow[];
        for (const b of boxes) {
          this.dropMailbox(b, doomed);
          events.push([u.id, b.id, b.highest_modseq + 1]);
        }
        this.sql('DELETE FROM subscriptions WHERE user_id = ?').run(u.id);
        this.sql('DELETE FROM thread_refs WHERE user_id = ?').run(u.id);
        this.sql('DELETE FROM users WHERE id = ?').run(u.id);
      });
      for (const [uid, mid, ms] of events) {
        this.emit(uid, mid, ms);
        this.shared.announced.delete(mid);
      }
      this.unlinkAll(doomed);
    });
  }

  /** Deletes a mailbox row with its messages, tombstones and keywords. Inside a transaction. */
  private dropMailbox(b: MailboxRow, doomed: string[]): void {
    const rows = this.st.allFull.all(b.id) as FullMsgRow[];
    this.deleteRows(b.id, rows, b.highest_modseq + 1, doomed, false);
    this.sql('DELETE FROM tombstones WHERE mailbox_id = ?').run(b.id);
    this.sql('DELETE FROM message_envelopes WHERE mailbox_id = ?').run(b.id);
    this.sql('DELETE FROM mailbox_keywords WHERE mailbox_id = ?').run(b.id);
    this.sql('DELETE FROM mailboxes WHERE id = ?').run(b.id);
  }

  addDomain(domain: string): Promise<void> {
    return this.run(async () => {
      this.sql('INSERT OR IGNORE INTO domains (domain) VALUES (?)').run(normalizeDomain(domain));
    });
  }

  listDomains(): Promise<string[]> {
    return this.run(async () => this.sql('SELECT domain FROM domains ORDER BY domain').pluck().all() as string[]);
  }

  hasDomain(domain: string): Promise<boolean> {
    return this.run(async () => {
      if (typeof domain !== 'string') return false;
      return this.sql('SELECT 1 FROM domains WHERE domain = ?').get(domain.trim().toLowerCase()) !== undefined;
    });
  }

  addAlias(from: string, to: string): Promise<void> {
    return this.run(async () => {
      const f = normalizeAddress(from);
      const t = normalizeAddress(to);
      this.sql('INSERT INTO aliases (source, target) VALUES (?, ?) ON CONFLICT (source) DO UPDATE SET target = excluded.target').run(f, t);
    });
  }

  removeAlias(from: string): Promise<void> {
    return this.run(async () => {
      const info = this.sql('DELETE FROM aliases WHERE source = ?').run(normalizeAddress(from));
      if (info.changes === 0) throw new StoreError('NOT_FOUND', 'no such alias');
    });
  }

  listAliases(): Promise<Alias[]> {
    return this.run(async () =>
      (this.sql('SELECT source, target FROM aliases ORDER BY source').all() as Array<{ source: string; target: string }>).map((r) => ({
        from: r.source,
        to: r.target,
      })),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // mailboxes

  listMailboxes(userId: number): Promise<Mailbox[]> {
    return this.run(async () => {
      const rows = this
        .sql(
          `SELECT m.*, (s.name IS NOT NULL) AS subscribed FROM mailboxes m
           LEFT JOIN subscriptions s ON s.user_id = m.user_id AND s.name = m.name
           WHERE m.user_id = ? ORDER BY (m.name != 'INBOX'), m.name`,
        )
        .all(userId) as MailboxRow[];
      return rows.map((r) => toMailbox(r, r.subscribed === 1));
    });
  }

  getMailbox(userId: number, name: string): Promise<Mailbox | null> {
    return this.run(async () => {
      let n: string;
      try {
        n = normalizeMailboxName(name);
      } catch {
        return null;
      }
      const r = this.st.mailboxByName.get(userId, n) as MailboxRow | undefined;
      return r ? this.mailboxWithSub(r) : null;
    });
  }

  getMailboxById(mailboxId: number): Promise<Mailbox | null> {
    return this.run(async () => {
      const r = this.st.mailbox.get(mailboxId) as MailboxRow | undefined;
      return r ? this.mailboxWithSub(r) : null;
    });
  }

  createMailbox(userId: number, name: string, opts?: { specialUse?: SpecialUse | null }): Promise<Mailbox> {
    return this.run(async () => {
      const n = normalizeMailboxName(name);
      const su = opts?.specialUse ?? null;
      checkSpecialUse(su);
      return this.tx(() => {
        this.userRow(userId);
        if (this.st.mailboxByName.get(userId, n)) throw new StoreError('EXISTS', 'mailbox exists');
        const id = this.insertMailboxRow(userId, n, su);
        return this.mailboxWithSub(this.st.mailbox.get(id) as MailboxRow);
      });
    });
  }

  deleteMailbox(userId: number, name: string): Promise<void> {
    return this.run(async () => {
      const n = normalizeMailboxName(name);
      if (n === 'INBOX') throw new StoreError('NO_PERM', 'INBOX cannot be deleted');
      const doomed: string[] = [];
      const b = this.tx(() => {
        const b = this.st.mailboxByName.get(userId, n) as MailboxRow | undefined;
        if (!b) throw new StoreError('NOT_FOUND', 'no such mailbox');
        const child = this
          .sql('SELECT 1 FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ? LIMIT 1')
          .get(userId, n.length + 1, n + '/');
        if (child) throw new StoreError('HAS_CHILDREN', 'mailbox has children');
        this.dropMailbox(b, doomed);
        return b;
      });
      this.emit(b.user_id, b.id, b.highest_modseq + 1);
      this.shared.announced.delete(b.id);
      this.unlinkAll(doomed);
    });
  }

  renameMailbox(userId: number, from: string, to: string): Promise<void> {
    return this.run(async () => {
      const f = normalizeMailboxName(from);
      const t = normalizeMailboxName(to);
      if (t === 'INBOX') throw new StoreError('EXISTS', 'INBOX always exists');
      if (t === f) throw new StoreError('EXISTS', 'mailbox exists');
      // INBOX is special: its messages move to the new mailbox, so "INBOX/old" is a fine target.
      if (f !== 'INBOX' && t.startsWith(f + '/')) throw new StoreError('INVALID', 'cannot rename a mailbox into its own hierarchy');
      const events: Array<[number, number, number]> = [];
      this.tx(() => {
        const src = this.st.mailboxByName.get(userId, f) as MailboxRow | undefined;
        if (!src) throw new StoreError('NOT_FOUND', 'no such mailbox');
        if (this.st.mailboxByName.get(userId, t)) throw new StoreError('EXISTS', 'target mailbox exists');
        if (f === 'INBOX') {
          // RFC 9051 6.3.6: move INBOX's messages to a new mailbox; INBOX stays (empty); children unaffected.
          const id = this.insertMailboxRow(userId, t, null);
          const rows = this.st.allFull.all(src.id) as FullMsgRow[];
          if (rows.length > 0) {
            const dst = this.st.mailbox.get(id) as MailboxRow;
            this.moveRows(src, rows, dst, true);
            events.push([userId, src.id, src.highest_modseq + 1], [userId, id, dst.highest_modseq + 1]);
          }
          return;
        }
        const children = this
          .sql('SELECT id, name FROM mailboxes WHERE user_id = ? AND substr(name, 1, ?) = ?')
          .all(userId, f.length + 1, f + '/') as Array<{ id: number; name: string }>;
        const renames: Array<[number, string, string]> = [[src.id, f, t]];
        for (const c of children) renames.push([c.id, c.name, t + c.name.slice(f.length)]);
        for (const [, , nn] of renames.slice(1)) {
          if (this.st.mailboxByName.get(userId, nn)) throw new StoreError('EXISTS', `target mailbox ${nn} exists`);
        }
        const upd = this.sql('UPDATE mailboxes SET name = ? WHERE id = ?');
        const subDel = this.sql('DELETE FROM subscriptions WHERE user_id = ? AND name = ?');
        const subIns = this.sql('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)');
        // Two passes through temporary names would be needed only if a target equalled another source, which
        // the checks above exclude (targets do not exist, and t is not inside f).
        for (const [id, oldName, newName] of renames) {
          upd.run(newName, id);
          if (subDel.run(userId, oldName).changes > 0) subIns.run(userId, newName);
        }
      });
      for (const [u, m, ms] of events) this.emit(u, m, ms);
    });
  }

  setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void> {
    return this.run(async () => {
      const n = normalizeMailboxName(name);
      this.tx(() => {
        this.userRow(userId);
        if (subscribed) this.sql('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(userId, n);
        else this.sql('DELETE FROM subscriptions WHERE user_id = ? AND name = ?').run(userId, n);
      });
    });
  }

  listSubscriptions(userId: number): Promise<string[]> {
    return this.run(async () => this.sql('SELECT name FROM subscriptions WHERE user_id = ? ORDER BY name').pluck().all(userId) as string[]);
  }

  setSpecialUse(mailboxId: number, specialUse: SpecialUse | null): Promise<void> {
    return this.run(async () => {
      checkSpecialUse(specialUse);
      const info = this.sql('UPDATE mailboxes SET special_use = ? WHERE id = ?').run(specialUse, mailboxId);
      if (info.changes === 0) throw new StoreError('NOT_FOUND', 'no such mailbox');
    });
  }

  status(mailboxId: number): Promise<MailboxStatus> {
    return this.run(async () => {
      const b = this.mailboxRow(mailboxId);
      const hit = this.listCache.get(mailboxId);
      const s =
        hit && hit.highest === b.highest_modseq
          ? statusOf(hit.rows, b.first_recent)
          : (this.st.status.get(b.first_recent, mailboxId) as { messages: number; unseen: number; deleted: number; size: number; recent: number });
      return {
        messages: s.messages,
        unseen: s.unseen,
        deleted: s.deleted,
        size: s.size,
        recent: s.recent,
        uidNext: b.uid_next,
        uidValidity: b.uid_validity,
        highestModseq: b.highest_modseq,
      };
    });
  }

  claimRecent(mailboxId: number): Promise<number> {
    return this.run(async () => {
      // A claim of this mailbox is queued and takes every message up to UIDNEXT when it commits: nothing is
      // left for this caller (10,000 IDLE sessions woken by one delivery would otherwise queue 10,000 claims).
      const queued = this.recentClaims.get(mailboxId);
      if (queued) return queued;
      const now = this.st.recentState.get(mailboxId) as [number, number] | undefined;
      if (!now) throw new StoreError('NOT_FOUND', 'no such mailbox');
      // Nothing arrived since the last claim: nothing to write (the common re-SELECT).
      if (now[0] >= now[1]) return now[0];
      const claim = this.groupCommit(() => {
        const r = this.st.recentState.get(mailboxId) as [number, number] | undefined;
        if (!r) throw new StoreError('NOT_FOUND', 'no such mailbox');
        if (r[0] < r[1]) this.st.claimRecent.run(r[1], mailboxId);
        return { first: r[0], next: Math.max(r[0], r[1]) };
        // Like flag changes, a \Recent claim is not synced before the reply (see groupCommit).
      }, undefined, false);
      const next = claim.then((c) => c.next);
      next.catch(() => undefined);
      this.recentClaims.set(mailboxId, next);
      try {
        return (await claim).first;
      } finally {
        if (this.recentClaims.get(mailboxId) === next) this.recentClaims.delete(mailboxId);
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // messages

  append(mailboxId: number, raw: Buffer, opts?: AppendOptions): Promise<AppendResult> {
    return this.run(async () => {
      if (!Buffer.isBuffer(raw)) throw new StoreError('INVALID', 'message must be a Buffer');
      if (raw.length > MAX_MESSAGE_SIZE) throw new StoreError('TOO_BIG', `message exceeds ${MAX_MESSAGE_SIZE} octets`);
      const parsed = parseFlags(opts?.flags ?? []);
      const internalDate = opts?.internalDate ?? new Date();
      if (!(internalDate instanceof Date) || Number.isNaN(internalDate.getTime())) throw new StoreError('INVALID', 'invalid internal date');
      // Optional caller-chosen EMAILID (store-to-store transfer keeps POP3 UIDLs); read structurally so this
      // compiles whether or not AppendOptions declares it.
      const keepId = (opts as { emailId?: unknown } | undefined)?.emailId;
      if (keepId !== undefined && (typeof keepId !== 'string' || !isObjectId(keepId))) throw new StoreError('INVALID', 'invalid EMAILID');
      if (keepId !== undefined && this.st.emailIdExists.get(keepId)) throw new StoreError('EXISTS', 'EMAILID already in use');
      const first = this.st.mailbox.get(mailboxId) as MailboxRow | undefined;
      if (!first) throw new StoreError('NOT_FOUND', 'no such mailbox');
      const { data, mime, envelope: envelopeJson, headerEnd, headersText, bodyText, threadKeys, ownIds } = prepareStoredForm(raw);
      const header = headerEnd <= HEADER_ROW_MAX ? data.subarray(0, headerEnd) : null;

      let userId = first.user_id;
      const writer = this.startWriter();
      // Small messages go into blob_inline with the row (durable with the commit's WAL sync); larger ones
      // into a file that is fsynced before the commit.
      const inline = data.length <= this.inlineMax;
      const commit = (blobId: string): Promise<AppendResult> =>
        this.groupCommit((): AppendResult => {
          const b = this.mailboxRow(mailboxId);
          userId = b.user_id;
          const uid = b.uid_next;
          const modseq = b.highest_modseq + 1;
          const keywords = this.canonicalKeywords(mailboxId, parsed.keywords, new Map());
          const threadId = this.threadFor(b.user_id, ownIds, threadKeys);
          if (keepId !== undefined && this.st.emailIdExists.get(keepId)) throw new StoreError('EXISTS', 'EMAILID already in use');
          const emailId = keepId ?? newObjectId('M');
          this.st.insertBlob.run(blobId, data.length);
          this.st.insertBlobData.run(blobId, mime, headersText, bodyText);
          if (inline) this.st.insertBlobInline.run(blobId, data);
          if (header) this.st.insertBlobHeader.run(blobId, header);
          this.st.insertMessage.run(mailboxId, uid, emailId, threadId, parsed.mask, keywords.join(' '), internalDate.getTime(), data.length, modseq, blobId, null);
          this.st.insertEnvelope.run(mailboxId, uid, envelopeJson);
          this.st.bumpMailbox.run(uid + 1, modseq, mailboxId);
          return { uid, uidValidity: b.uid_validity, emailId, modseq };
        }, writer);
      let result: AppendResult;
      try {
        result = inline ? await commit(this.blobs.newId()) : await this.withBlob(data, commit);
      } finally {
        this.endWriter(writer);
      }
      this.emit(userId, mailboxId, result.modseq);
      return result;
    });
  }

  /**
   * THREADID: the thread of the nearest referenced message known for this user (last References entry /
   * In-Reply-To first), else of a message that referenced this one, else a new thread. Records the
   * message's own id and its references so later replies find the thread. Inside a transaction.
   */
  private threadFor(userId: number, ownIds: readonly string[], refs: readonly string[]): string {
    let thread: string | undefined;
    const candidates = [...refs].reverse().concat(ownIds);
    for (const id of candidates) {
      const r = this.st.threadRef.get(userId, id) as { thread_id: string } | undefined;
      if (r) {
        thread = r.thread_id;
        break;
      }
    }
    thread ??= newObjectId('T');
    for (const id of [...ownIds, ...refs]) this.st.insertThreadRef.run(userId, id, thread);
    return thread;
  }

  listMessages(mailboxId: number): Promise<MessageMeta[]> {
    return this.run(async () => this.cachedList(mailboxId).map(rawToMeta));
  }

  /**
   * The mailbox's rows in uid order, from the list cache when it is current: an entry is valid for the
   * HIGHESTMODSEQ it was read at (every change bumps it in its transaction, whichever process commits), and
   * a stale entry is brought forward with the change log (changed rows and tombstones since), which costs
   * O(delta) instead of a full read. The returned array belongs to the cache: callers copy what they keep.
   */
  private cachedList(mailboxId: number): RawMsgRow[] {
    const hit = this.listCache.get(mailboxId);
    if (hit) {
      const h = this.st.highestModseq.get(mailboxId) as number | undefined;
      if (h === undefined) {
        this.dropListCache(mailboxId);
        throw new StoreError('NOT_FOUND', 'no such mailbox');
      }
      if (h === hit.highest) return this.touchList(mailboxId, hit).rows;
      const delta = this.readTx(() => {
        const b = this.mailboxRow(mailboxId);
        const changed = this.st.changedSinceRaw.all(mailboxId, hit.highest) as RawMsgRow[];
        const gone = this.st.tombstonesSince.all(mailboxId, hit.highest) as number[];
        return { highest: b.highest_modseq, changed, gone };
      });
      if (delta.changed.length + delta.gone.length <= Math.max(LIST_CACHE_DELTA_MIN, hit.rows.length / 8)) {
        const rows = applyDelta(hit.rows, delta.changed, delta.gone);
        this.listCacheRows += rows.length - hit.rows.length;
        hit.rows = rows;
        hit.highest = delta.highest;
        return this.touchList(mailboxId, hit).rows;
      }
    }
    const fresh = this.readTx(() => {
      const b = this.mailboxRow(mailboxId);
      return { highest: b.highest_modseq, rows: this.st.listMessagesRaw.all(mailboxId) as RawMsgRow[] };
    });
    this.dropListCache(mailboxId);
    if (fresh.rows.length >= LIST_CACHE_MIN_ROWS && fresh.rows.length <= LIST_CACHE_MAX_ROWS) {
      this.touchList(mailboxId, fresh);
      this.listCacheRows += fresh.rows.length;
      for (const [id, e] of this.listCache) {
        if (this.listCacheRows <= LIST_CACHE_MAX_ROWS) break;
        if (id !== mailboxId) this.dropListCache(id, e);
      }
    }
    return fresh.rows;
  }

  /** Marks an entry most recently used (Map order is the LRU order). */
  private touchList(mailboxId: number, e: ListCacheEntry): ListCacheEntry {
    this.listCache.delete(mailboxId);
    this.listCache.set(mailboxId, e);
    return e;
  }

  private dropListCache(mailboxId: number, e = this.listCache.get(mailboxId)): void {
    if (!e) return;
    this.listCache.delete(mailboxId);
    this.listCacheRows -= e.rows.length;
  }

  getMessages(mailboxId: number, uids: number[]): AsyncIterable<MessageRecord> {
    return this.batches(
      uids,
      (lo, hi) => this.st.recordsRange.all(mailboxId, lo, hi) as RawRecordRow[],
      (c) => this.inList(c, this.st.recordOne, this.st.recordsIn, mailboxId),
      (r): MessageRecord => ({ ...rawToMeta(r), index: JSON.parse(r[8]) as MessageIndex }),
    );
  }

  getEnvelopes(mailboxId: number, uids: number[]): AsyncIterable<MessageEnvelopeRecord> {
    return this.batches(
      uids,
      (lo, hi) => this.st.envelopesRange.all(mailboxId, lo, hi) as Array<[number, string]>,
      (c) => this.inList<[number, string]>(c, this.st.envelopeOne, this.st.envelopesIn, mailboxId),
      (r): MessageEnvelopeRecord => ({ uid: r[0], envelope: r[1].charCodeAt(0) === 0x28 ? r[1] : (JSON.parse(r[1]) as Envelope) }),
    );
  }

  getHeaders(mailboxId: number, uids: number[]): AsyncIterable<MessageHeaderRecord> {
    return this.batches(
      uids,
      (lo, hi) => this.st.headersRange.all(mailboxId, lo, hi) as RawHeaderRow[],
      (c) => this.inList<RawHeaderRow>(c, this.st.headerOne, this.st.headersIn, mailboxId),
      (r): MessageHeaderRecord => ({ uid: r[0], header: r[1] ?? this.readBlobSync(r[2], 0, r[3] ?? 0) }),
    );
  }

  /** Rows of a sorted uid chunk: point lookups for a few uids (binding a padded IN list costs more), else one IN query. */
  private inList<R = RawRecordRow>(c: readonly number[], one: Database.Statement, many: Database.Statement, mailboxId: number): R[] {
    if (c.length > FEW_UIDS) return many.all(mailboxId, ...padChunk(c)) as R[];
    const out: R[] = [];
    for (const uid of c) {
      const r = one.get(mailboxId, uid) as R | undefined;
      if (r) out.push(r);
    }
    return out;
  }

  /**
   * Streams rows for a uid list in uid order, one query per batch. A dense list (typically "1:*") is read
   * as uid-range scans of RANGE_BATCH rows, skipping uids not asked for; a sparse one through IN lists.
   */
  private batches<T, R extends [number, ...unknown[]] = RawRecordRow>(
    uids: readonly number[],
    range: (lo: number, hi: number) => R[],
    inList: (chunk: number[]) => R[],
    build: (r: R) => T,
  ): AsyncIterable<T> {
    const clean = cleanUids(uids);
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        if (clean.length === 0) return;
        const lo = clean[0]!;
        const hi = clean[clean.length - 1]!;
        // Dense sets ("1:*", the last 50 messages) are range scans; the IN path binds CHUNK parameters.
        if (clean.length > FEW_UIDS && clean.length * 2 >= hi - lo + 1) {
          const want = clean.length === hi - lo + 1 ? null : new Set(clean);
          let from = lo;
          for (;;) {
            const start = from;
            const rows = await self.run(async () => range(start, hi));
            const out: T[] = [];
            for (const r of rows) if (want === null || want.has(r[0])) out.push(build(r));
            yield* out;
            if (rows.length < RANGE_BATCH) return;
            from = rows[rows.length - 1]![0] + 1;
          }
        }
        for (const c of chunks(clean, CHUNK)) {
          const out = await self.run(async () => inList(c).map(build));
          yield* out;
        }
      },
    };
  }

  readMessage(mailboxId: number, uid: number, range?: ByteRange): Promise<Buffer> {
    return this.run(async () => {
      const r = this.st.blobOf.get(mailboxId, uid) as { blob_id: string; size: number } | undefined;
      if (!r) throw new StoreError('NOT_FOUND', 'no such message');
      let start = 0;
      let end = r.size;
      if (range) {
        if (!Number.isFinite(range.start) || !Number.isFinite(range.end)) throw new StoreError('INVALID', 'invalid byte range');
        start = Math.min(Math.max(0, Math.floor(range.start)), r.size);
        end = Math.min(Math.max(start, Math.floor(range.end)), r.size);
      }
      if (end <= start) return Buffer.alloc(0);
      const inline = this.readInline(r.blob_id, start, end, r.size);
      if (inline !== undefined) return inline;
      try {
        // Small reads (most whole messages, headers and parts) are synchronous: one
        // open/pread/close on this thread instead of three thread-pool round trips.
        return end - start <= SYNC_READ_MAX ? this.blobs.readSync(r.blob_id, start, end, range?.into) : await this.blobs.read(r.blob_id, start, end);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError('NOT_FOUND', 'message was expunged', { cause: e });
        throw e;
      }
    });
  }

  storeFlags(mailboxId: number, uids: number[], opts: StoreFlagsOptions): Promise<StoreFlagsResult> {
    return this.run(async () => {
      if (opts.op !== 'add' && opts.op !== 'remove' && opts.op !== 'set') throw new StoreError('INVALID', 'invalid flag operation');
      const change = parseFlags(opts.flags);
      const since = opts.unchangedSince;
      if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new StoreError('INVALID', 'invalid UNCHANGEDSINCE');
      let userId = 0;
      const result = await this.groupCommit((): StoreFlagsResult => {
        const b = this.mailboxRow(mailboxId);
        userId = b.user_id;
        const canon = opts.op === 'remove' ? change : { mask: change.mask, keywords: this.canonicalKeywords(mailboxId, change.keywords, new Map()) };
        const rows = this.rowsIn(mailboxId, uids);
        const modified: number[] = [];
        const updates: Array<[MsgRow, number, string[]]> = [];
        for (const r of rows) {
          if (since !== undefined && r.modseq > since) {
            modified.push(r.uid);
            continue;
          }
          const next = applyFlagOp(opts.op, { mask: r.flags, keywords: splitKeywords(r.keywords) }, canon);
          if (next.changed) updates.push([r, next.mask, next.keywords]);
        }
        if (updates.length === 0) return { changed: [], modified };
        const modseq = b.highest_modseq + 1;
        const changed: MessageMeta[] = [];
        for (const [r, mask, kw] of updates) {
          const k = kw.join(' ');
          this.st.updateFlags.run(mask, k, modseq, mailboxId, r.uid);
          changed.push(toMeta({ ...r, flags: mask, keywords: k, modseq }));
        }
        this.st.setModseq.run(modseq, mailboxId);
        return { changed, modified };
        // Flag changes are not synced before the reply (see groupCommit).
      }, undefined, false);
      if (result.changed.length > 0) this.emit(userId, mailboxId, result.changed[0]!.modseq);
      return result;
    });
  }

  expunge(mailboxId: number, uids?: number[]): Promise<number[]> {
    return this.run(async () => {
      const doomed: string[] = [];
      let ev: [number, number] | null = null;
      const out = await this.groupCommit((): number[] => {
        const b = this.mailboxRow(mailboxId);
        let targets: number[];
        if (uids === undefined) targets = this.st.deletedUids.pluck().all(mailboxId) as number[];
        else {
          targets = [];
          for (const c of chunks(cleanUids(uids), CHUNK)) targets.push(...(this.st.deletedUidsIn.pluck().all(mailboxId, ...padChunk(c)) as number[]));
        }
        if (targets.length === 0) return [];
        const rows = this.rowsIn(mailboxId, targets);
        const modseq = b.highest_modseq + 1;
        this.deleteRows(mailboxId, rows, modseq, doomed);
        this.st.setModseq.run(modseq, mailboxId);
        ev = [b.user_id, modseq];
        return rows.map((r) => r.uid);
      });
      if (ev) this.emit(ev[0], mailboxId, ev[1]);
      this.unlinkAll(doomed);
      return out;
    });
  }

  /**
   * Inserts copies of `rows` into `dst` (uid order), sharing blobs. With `move`, the source rows are deleted
   * (tombstones stamped with the source's next modseq) and EMAILIDs are kept; a copy gets new EMAILIDs.
   * Bumps both mailboxes' modseq once. Inside a transaction; returns the uid pairs.
   */
  private moveRows(src: MailboxRow, rows: readonly FullMsgRow[], dst: MailboxRow, move: boolean): Array<[number, number]> {
    const pairs: Array<[number, number]> = [];
    if (rows.length === 0) return pairs;
    if (move) {
      const srcModseq = src.highest_modseq + 1;
      for (const r of rows) {
        this.st.deleteMessage.run(src.id, r.uid);
        this.st.insertTombstone.run(src.id, r.uid, srcModseq);
      }
      this.st.setModseq.run(srcModseq, src.id);
    }
    // Re-read the destination: when src === dst its modseq just moved.
    const d = this.st.mailbox.get(dst.id) as MailboxRow;
    let uid = d.uid_next;
    const modseq = d.highest_modseq + 1;
    const cache = new Map<string, string>();
    for (const r of rows) {
      const kw = this.canonicalKeywords(d.id, splitKeywords(r.keywords), cache);
      const emailId = move ? r.email_id : newObjectId('M');
      if (!move) this.st.refBlob.run(r.blob_id);
      this.st.insertMessage.run(d.id, uid, emailId, r.thread_id, r.flags, kw.join(' '), r.internal_date, r.size, modseq, r.blob_id, move ? r.retrieved_at : null);
      this.st.copyEnvelope.run(d.id, uid, src.id, r.uid);
      pairs.push([r.uid, uid]);
      uid++;
    }
    this.st.bumpMailbox.run(uid, modseq, d.id);
    if (move) for (const r of rows) this.st.deleteEnvelope.run(src.id, r.uid);
    return pairs;
  }

  private copyOrMove(fromMailboxId: number, uids: number[], toMailboxId: number, move: boolean): Promise<CopyResult> {
    return this.run(async () => {
      const events: Array<[number, number, number]> = [];
      const result = await this.groupCommit((): CopyResult => {
        const src = this.mailboxRow(fromMailboxId);
        const dst = this.mailboxRow(toMailboxId);
        const rows = this.rowsIn(fromMailboxId, uids);
        const pairs = this.moveRows(src, rows, dst, move);
        const d = this.st.mailbox.get(toMailboxId) as MailboxRow;
        if (pairs.length > 0) {
          if (move && src.id !== dst.id) events.push([src.user_id, src.id, src.highest_modseq + 1]);
          events.push([d.user_id, d.id, d.highest_modseq]);
        }
        return { uidValidity: d.uid_validity, pairs };
      });
      for (const [u, m, ms] of events) this.emit(u, m, ms);
      return result;
    });
  }

  copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.copyOrMove(fromMailboxId, uids, toMailboxId, false);
  }

  move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.copyOrMove(fromMailboxId, uids, toMailboxId, true);
  }

  changesSince(mailboxId: number, modseq: number): Promise<Changes> {
    return this.run(async () => {
      const since = Number.isFinite(modseq) ? modseq : 0;
      // Every change bumps HIGHESTMODSEQ, so one lookup answers "nothing new" (a session's refresh after
      // most commands) and tells whether a cached answer is still exact.
      const h = this.st.highestModseq.get(mailboxId) as number | undefined;
      if (h === undefined) throw new StoreError('NOT_FOUND', 'no such mailbox');
      if (h <= since) return { highestModseq: h, changed: [], expunged: [] };
      const hit = this.changesCache.get(mailboxId);
      if (hit && hit.since === since && h === hit.highest) return { highestModseq: h, changed: hit.changed.map(rawToMeta), expunged: hit.expunged.slice() };
      const r = this.readTx(() => {
        const b = this.mailboxRow(mailboxId);
        const changed = this.st.changedSinceRaw.all(mailboxId, since) as RawMsgRow[];
        const expunged = this.st.tombstonesSince.all(mailboxId, since) as number[];
        return { highest: b.highest_modseq, changed, expunged };
      });
      if (r.changed.length + r.expunged.length <= CHANGES_CACHE_ROWS) {
        this.changesCache.delete(mailboxId);
        if (this.changesCache.size >= CHANGES_CACHE_MAILBOXES) this.changesCache.delete(this.changesCache.keys().next().value as number);
        this.changesCache.set(mailboxId, { since, highest: r.highest, changed: r.changed, expunged: r.expunged });
      }
      return { highestModseq: r.highest, changed: r.changed.map(rawToMeta), expunged: r.expunged.slice() };
    });
  }

  searchText(mailboxId: number, uids: number[], needle: string, scope: TextScope): Promise<number[]> {
    return this.run(async () => {
      this.mailboxRow(mailboxId);
      if (scope !== 'header' && scope !== 'body' && scope !== 'text') throw new StoreError('INVALID', 'invalid search scope');
      const clean = cleanUids(uids);
      if (clean.length === 0) return [];
      const n = String(needle).toLowerCase();
      const params = scope === 'text' ? [n, n] : [n];
      const lo = clean[0]!;
      const hi = clean[clean.length - 1]!;
      if (clean.length > CHUNK && clean.length * 4 >= hi - lo + 1) {
        // Large, dense sets (typically "1:*"): one range scan, intersected here, beats many IN queries.
        const want = new Set(clean);
        const hits = this.st.searchRange[scope].pluck().all(mailboxId, lo, hi, ...params) as number[];
        return hits.filter((u) => want.has(u)).sort((a, b) => a - b);
      }
      const out: number[] = [];
      for (const c of chunks(clean, CHUNK)) out.push(...(this.st.searchIn[scope].pluck().all(mailboxId, ...padChunk(c), ...params) as number[]));
      return out.sort((a, b) => a - b);
    });
  }

  subscribe(mailboxId: number, listener: (ev: ChangeEvent) => void): () => void {
    if (this.closed) throw new StoreError('TEMPORARY', 'store is closed');
    const off = this.shared.bus.subscribe(mailboxId, listener);
    if (!this.shared.announced.has(mailboxId)) {
      const r = this.st.mailbox.get(mailboxId) as MailboxRow | undefined;
      if (r) this.shared.announced.set(mailboxId, r.highest_modseq);
    }
    this.ensurePoller();
    const unsub = () => {
      off();
      this.unsubscribers.delete(unsub);
    };
    this.unsubscribers.add(unsub);
    return unsub;
  }

  // ---------------------------------------------------------------------------------------------
  // POP3

  lockMaildrop(userId: number): Promise<(() => Promise<void>) | null> {
    return this.run(async () => {
      if (this.shared.maildrops.has(userId)) return null;
      this.shared.maildrops.add(userId);
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        this.shared.maildrops.delete(userId);
      };
    });
  }

  commitMaildrop(mailboxId: number, commit: MaildropCommit): Promise<number[]> {
    return this.run(async () => {
      const doomed: string[] = [];
      let ev: [number, number] | null = null;
      const out = await this.groupCommit((): number[] => {
        const b = this.mailboxRow(mailboxId);
        const gone = new Set(cleanUids(commit.expunge));
        const now = Date.now();
        for (const r of this.rowsIn(mailboxId, commit.retrieved.filter((u) => !gone.has(u)))) this.st.setRetrieved.run(now, mailboxId, r.uid);
        const seenRows = this.rowsIn(mailboxId, commit.seen.filter((u) => !gone.has(u))).filter((r) => (r.flags & FLAG_SEEN) === 0);
        const expRows = this.rowsIn(mailboxId, [...gone]);
        if (seenRows.length === 0 && expRows.length === 0) return [];
        const modseq = b.highest_modseq + 1;
        for (const r of seenRows) this.st.updateFlags.run(r.flags | FLAG_SEEN, r.keywords, modseq, mailboxId, r.uid);
        this.deleteRows(mailboxId, expRows, modseq, doomed);
        this.st.setModseq.run(modseq, mailboxId);
        ev = [b.user_id, modseq];
        return expRows.map((r) => r.uid);
      });
      if (ev) this.emit(ev[0], mailboxId, ev[1]);
      this.unlinkAll(doomed);
      return out;
    });
  }

  purgeRetrieved(mailboxId: number, before: Date): Promise<number> {
    return this.run(async () => {
      const doomed: string[] = [];
      let ev: [number, number] | null = null;
      const n = this.tx((): number => {
        const b = this.mailboxRow(mailboxId);
        const uids = this.st.retrievedBefore.pluck().all(mailboxId, before.getTime()) as number[];
        if (uids.length === 0) return 0;
        const rows = this.rowsIn(mailboxId, uids);
        const modseq = b.highest_modseq + 1;
        this.deleteRows(mailboxId, rows, modseq, doomed);
        this.st.setModseq.run(modseq, mailboxId);
        ev = [b.user_id, modseq];
        return rows.length;
      });
      if (ev) this.emit(ev[0], mailboxId, ev[1]);
      this.unlinkAll(doomed);
      return n;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // outbound queue

  enqueueOutbound(sender: string, recipients: string[], raw: Buffer): Promise<string> {
    return this.run(async () => {
      if (!Buffer.isBuffer(raw)) throw new StoreError('INVALID', 'message must be a Buffer');
      if (raw.length > MAX_MESSAGE_SIZE) throw new StoreError('TOO_BIG', `message exceeds ${MAX_MESSAGE_SIZE} octets`);
      if (typeof sender !== 'string') throw new StoreError('INVALID', 'sender must be a string');
      if (!Array.isArray(recipients) || recipients.length === 0 || recipients.some((r) => typeof r !== 'string' || r.length === 0)) {
        throw new StoreError('INVALID', 'at least one recipient is required');
      }
      const id = newObjectId('Q');
      const now = Date.now();
      await this.withBlob(raw, (blobId) =>
        this.tx(() => {
          this.st.insertBlob.run(blobId, raw.length);
          this
            .sql(
              'INSERT INTO outbound (id, sender, recipients, attempts, created_at, next_attempt_at, last_error, size, blob_id) VALUES (?, ?, ?, 0, ?, ?, NULL, ?, ?)',
            )
            .run(id, sender, JSON.stringify(recipients), now, now, raw.length, blobId);
        }),
      );
      return id;
    });
  }

  dueOutbound(now: Date, limit: number): Promise<OutboundMessage[]> {
    return this.run(async () => {
      const lim = Math.max(0, Math.floor(limit));
      const rows = this
        .sql('SELECT * FROM outbound WHERE next_attempt_at <= ? ORDER BY created_at, id LIMIT ?')
        .all(now.getTime(), lim) as OutboundRow[];
      return rows.map(toOutbound);
    });
  }

  readOutbound(id: string): Promise<Buffer> {
    return this.run(async () => {
      const r = this.st.outbound.get(id) as OutboundRow | undefined;
      if (!r) throw new StoreError('NOT_FOUND', 'no such outbound message');
      try {
        return await this.blobs.read(r.blob_id, 0, r.size);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError('NOT_FOUND', 'outbound message was deleted', { cause: e });
        throw e;
      }
    });
  }

  updateOutbound(id: string, patch: { recipients: string[]; attempts: number; nextAttemptAt: Date; lastError: string | null }): Promise<void> {
    return this.run(async () => {
      const info = this
        .sql('UPDATE outbound SET recipients = ?, attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?')
        .run(JSON.stringify(patch.recipients), patch.attempts, patch.nextAttemptAt.getTime(), patch.lastError, id);
      if (info.changes === 0) throw new StoreError('NOT_FOUND', 'no such outbound message');
    });
  }

  deleteOutbound(id: string): Promise<void> {
    return this.run(async () => {
      const doomed: string[] = [];
      this.tx(() => {
        const r = this.st.outbound.get(id) as OutboundRow | undefined;
        if (!r) throw new StoreError('NOT_FOUND', 'no such outbound message');
        this.sql('DELETE FROM outbound WHERE id = ?').run(id);
        this.unref(r.blob_id, doomed);
      });
      this.unlinkAll(doomed);
    });
  }

  listOutbound(): Promise<OutboundMessage[]> {
    return this.run(async () => (this.sql('SELECT * FROM outbound ORDER BY created_at, id').all() as OutboundRow[]).map(toOutbound));
  }

  // ---------------------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.blobs.drained();
    while (this.garbageRun) await this.garbageRun; // stops after its current batch (closed is set)
    if (this.lazySyncTimer) clearTimeout(this.lazySyncTimer);
    this.lazySyncTimer = null;
    await this.checkpointer?.close();
    this.checkpointer = null;
    await this.walSync().catch(() => undefined);
    if (this.walFd !== null) closeSync(this.walFd);
    this.walFd = null;
    for (const u of [...this.unsubscribers]) u();
    this.shared.stores.delete(this);
    this.shared.opens--;
    if (this.shared.opens === 0) {
      if (this.shared.poller) clearInterval(this.shared.poller);
      this.shared.poller = null;
      this.shared.announced.clear();
      if (this.shared.inflight.size === 0 && this.shared.maildrops.size === 0) registry.delete(this.key);
    }
    this.db.close();
  }
}

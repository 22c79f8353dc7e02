/**
 * The embedded SQLite store (default): openSqliteStore opens one SqliteCore (core.ts, with the design
 * notes: durability, group commit, caches, sharing) on a data directory and gives out the four parts over
 * it: SqliteDirectory, SqliteMail (MailStore), SqliteMaildrop and SqliteOutboundQueue. The returned
 * SqliteStore adds the backend's maintenance calls (compact, sweep, settled) and group-commit counters.
 *
 * Several stores opened on one directory in one process share change wake-ups and POP3 maildrop locks only
 * through a common SqliteHub passed as `hub` (see core.ts); without one they see each other's commits by
 * the data_version poll, as another process would.
 */
import type { Store, StoreOptions } from '../handle.js';
import { SqliteCore, SqliteHub } from './core.js';
import { SqliteAcl } from './acl.js';
import { SqliteDirectory } from './directory.js';
import { SqliteDkimKeys } from './dkim.js';
import { SqliteMail } from './mail.js';
import { SqliteMaildrop } from './maildrop.js';
import { SqliteOutboundQueue } from './queue.js';
import { SqliteQuota } from './quota.js';
import { SqliteSpam } from './spam.js';
import { SqliteSieve } from './sieve.js';
import { SqliteTokens } from './tokens.js';
import { SqliteJmap } from './jmap.js';

export { SqliteHub } from './core.js';
export { INLINE_MAX } from './core.js';

export interface SqliteStoreOptions extends StoreOptions {
  /** Directory holding mail.db and the blobs/ tree; created when missing. */
  dataDir: string;
  /**
   * fsync blob files and their directories before the row commits, and the WAL before a write that adds,
   * copies, moves or removes mail resolves (flag changes are synced within 100 ms; see core.ts). Default
   * true. Tests may pass false for speed; never turn it off in production.
   */
  fsync?: boolean;
  /**
   * Appended messages up to this many octets are stored in the database, larger ones as files under blobs/.
   * Default INLINE_MAX (64 KiB); 0 puts every message in a file.
   */
  inlineMax?: number;
  /** Shares the change bus, maildrop locks and in-flight blobs with other stores on this directory. */
  hub?: SqliteHub;
  /** Unreferenced blob files younger than this (by mtime) are kept at open; those of a live writer always are. */
  sweepGraceMs?: number;
  /**
   * For measurements only, when fsync is on: 'FULL' syncs the WAL inside each commit on the event loop,
   * 'NORMAL' never syncs commits. Default: the off-thread WAL sync (see core.ts).
   */
  synchronous?: 'FULL' | 'NORMAL';
}

/** The SQLite Store with the backend's maintenance calls. */
export interface SqliteStore extends Store {
  readonly kind: 'sqlite';
  readonly hub: SqliteHub;
  /**
   * Gives the space of deleted messages back to the file system: finishes background deletions, VACUUMs
   * the database and empties the WAL. Returns the database size before and after, in bytes.
   */
  compact(): Promise<{ before: number; after: number }>;
  /** Sweeps orphan blob files now (default grace one hour). Returns how many were removed. */
  sweep(graceMs?: number): Promise<number>;
  /** Resolves when background work (unlinks of dropped blobs, deletion of dropped inline blobs) has finished. */
  settled(): Promise<void>;
  /** Group-commit counters, for benchmarks: write transactions of the commit queue, operations in them, blob directory fsyncs. */
  readonly stats: { readonly commits: number; readonly grouped: number; readonly dirSyncs: number };
}

class SqliteStoreHandle implements SqliteStore {
  readonly kind = 'sqlite' as const;
  readonly directory: SqliteDirectory;
  readonly mail: SqliteMail;
  readonly maildrop: SqliteMaildrop;
  readonly queue: SqliteOutboundQueue;
  readonly quota: SqliteQuota;
  readonly spam: SqliteSpam;
  readonly acl: SqliteAcl;
  readonly sieve: SqliteSieve;
  readonly tokens: SqliteTokens;
  readonly dkim: SqliteDkimKeys;
  readonly jmap: SqliteJmap;

  constructor(private readonly core: SqliteCore) {
    this.directory = new SqliteDirectory(core);
    this.mail = new SqliteMail(core);
    this.maildrop = new SqliteMaildrop(core);
    this.queue = new SqliteOutboundQueue(core);
    this.quota = new SqliteQuota(core);
    this.spam = new SqliteSpam(core);
    this.acl = new SqliteAcl(core);
    this.sieve = new SqliteSieve(core);
    this.tokens = new SqliteTokens(core);
    this.dkim = new SqliteDkimKeys(core);
    this.jmap = new SqliteJmap(core);
  }

  get hub(): SqliteHub {
    return this.core.hub;
  }

  get stats(): { readonly commits: number; readonly grouped: number; readonly dirSyncs: number } {
    return this.core.stats;
  }

  compact(): Promise<{ before: number; after: number }> {
    return this.core.compact();
  }

  sweep(graceMs?: number): Promise<number> {
    return this.core.sweep(graceMs);
  }

  settled(): Promise<void> {
    return this.core.settled();
  }

  close(): Promise<void> {
    return this.core.close();
  }
}

/**
 * Opens (creating when needed) the SQLite store in `dataDir`. Sweeps orphan blobs left by a crash.
 * Throws StoreError TEMPORARY when the database is locked or the disk fails, INVALID when `hub` serves
 * another directory.
 */
export async function openSqliteStore(opts: SqliteStoreOptions): Promise<SqliteStore> {
  return new SqliteStoreHandle(await SqliteCore.open(opts));
}

/**
 * The embedded SQLite MailStore (default). See store.ts for the design notes.
 */
import type { MailStore } from '../types.js';
import { SqliteMailStore } from './store.js';

export interface SqliteStoreOptions {
  /** Directory holding mail.db and the blobs/ tree; created when missing. */
  dataDir: string;
  /**
   * fsync blob files and their directories before the row commits, and the WAL before a write that adds,
   * copies, moves or removes mail resolves (flag changes are synced within 100 ms; see store.ts). Default
   * true. Tests may pass false for speed; never turn it off in production.
   */
  fsync?: boolean;
  /**
   * Appended messages up to this many octets are stored in the database, larger ones as files under blobs/.
   * Default INLINE_MAX (64 KiB); 0 puts every message in a file.
   */
  inlineMax?: number;
}

/** Opens (creating when needed) the SQLite store in `dataDir`. Sweeps orphan blobs left by a crash. */
export async function openSqliteStore(opts: SqliteStoreOptions): Promise<MailStore> {
  return SqliteMailStore.open(opts);
}

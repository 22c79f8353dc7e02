/**
 * PostgresMailStore: the MailStore for several mailroom nodes sharing one PostgreSQL database.
 *
 * Concurrency (see db.ts): writes run at READ COMMITTED and take the mailbox row lock first; UIDs and the
 * MODSEQ of a transaction are allocated from that row (uid_next, highest_modseq), so concurrent writers on
 * any node never duplicate a UID and every mailbox's HIGHESTMODSEQ grows strictly, one step per committed
 * transaction, in commit order. Operations on two mailboxes (COPY, MOVE) lock both rows in id order.
 *
 * Durability: the blob (a file on shared storage, fsynced; or bytea in the same transaction) exists before
 * the row pointing at it commits, and every method resolves only after COMMIT.
 *
 * Notifications: each committing transaction calls pg_notify (delivered to every node after COMMIT); the
 * committing node also wakes its own subscribers right after COMMIT. Wake-ups are deduplicated per mailbox
 * by MODSEQ, so a subscriber normally hears each change once. After the LISTEN connection was lost and
 * restored, every subscriber is woken once (see notify.ts).
 *
 * Semantics (names, flags, threading, outbound order) follow the shared rules in ../names.ts, ../flags.ts
 * and the SQLite store, so the contract suite sees one behaviour.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type {
  Alias,
  AppendOptions,
  AppendResult,
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
import { StoreError, isStoreError } from '../types.js';
import type { Envelope } from '../../mime/types.js';
import type { Logger } from '../../lib/logger.js';
import { silentLogger } from '../../lib/logger.js';
import { MAX_MESSAGE_SIZE } from '../../lib/limits.js';
import { DEFAULT_MAILBOXES, HEADER_ROW_MAX, checkSpecialUse, prepareMessage } from '../message-prep.js';
import { envelopeImapText } from '../../mime/envelope-text.js';
import { FLAG_DELETED, FLAG_SEEN, applyFlagOp, flagList, parseFlags } from '../flags.js';
import { isObjectId, newObjectId } from '../ids.js';
import { normalizeMailboxName } from '../names.js';
import { BlobStore, releaseBlobs, retainBlobs, type PreparedBlob } from './blobs.js';
import { Db, clientConfig, errorMessage, mapError, num, pgCode, sleep, type AfterCommit, type DbOptions, type Queryable } from './db.js';
import { ChangeListener, encodePayload } from './notify.js';
import { migrate as runMigrations } from './schema.js';
import {
  checkEnvelopeString,
  chunks,
  cleanUids,
  decodeIndex,
  encodeIndex,
  normalizeAddress,
  normalizeDomain,
  pgText,
} from './util.js';

/** UIDs per query in getMessages, getEnvelopes and getHeaders (keeps result sets and memory bounded). */
const FETCH_CHUNK = 500;
/** Mailboxes whose latest MODSEQ is remembered for wake-up deduplication. */
const KNOWN_MODSEQ_ENTRIES = 10_000;
/**
 * Default outbound claim lease: long enough for a queue pass over a claimed batch even with slow remote
 * MX hosts; a node that dies delays the retry of its claimed messages by at most this much.
 */
const DEFAULT_OUTBOUND_LEASE_MS = 30 * 60 * 1000;

export interface PostgresStoreOptions {
  /** postgres:// connection URL. */
  url: string;
  /** Blob directory on storage shared by all nodes; when absent message bytes are stored in the database. */
  blobDir?: string;
  /** PostgreSQL schema holding the tables (created when missing). Default "public". */
  schema?: string;
  /** Connections in the pool (default 10). */
  poolSize?: number;
  logger?: Logger;
  /**
   * Identifies this node in pg_stat_activity.application_name and owns its outbound leases, so it must be
   * unique among running nodes. Default "mailroom-<pid>-<random>".
   */
  nodeName?: string;
  /**
   * Durability (default true): fsync blob files, and commits wait for the WAL flush. false is for tests
   * and benchmarks only (blob files unsynced, synchronous_commit=off).
   */
  fsync?: boolean;
  /** Apply pending migrations at open (default true). */
  migrate?: boolean;
  /** How long a message returned by dueOutbound stays claimed by this node (default 30 minutes). */
  outboundLeaseMs?: number;
  /**
   * With blobDir: sweep orphan blob files older than an hour in the background after opening (default
   * true). Every node may do it: files of appends in flight are minutes old at most.
   */
  sweepAtOpen?: boolean;
  /** How long an operation waits for a row lock held elsewhere before failing TEMPORARY (default 30 s). */
  lockTimeoutMs?: number;
  /** LISTEN reconnect backoff bounds (defaults 100 ms .. 5 s). */
  listenBackoffMs?: { min: number; max: number };
  /** Liveness probe interval of the LISTEN connection (default 30 s; see notify.ts). */
  listenHeartbeatMs?: number;
}

interface UserRow {
  id: number;
  address: string;
  password_hash: string;
  created_at: Date;
}

interface MailboxRow {
  id: string;
  user_id: number;
  name: string;
  uid_validity: string;
  uid_next: string;
  highest_modseq: string;
  first_recent: string;
  special_use: string | null;
  object_id: string;
  subscribed?: boolean;
}

interface MsgRow {
  uid: string;
  email_id: string;
  thread_id: string;
  flags: number;
  keywords: string[];
  internal_date: Date;
  size: string;
  modseq: string;
}

interface FullMsgRow extends MsgRow {
  blob_id: string;
  retrieved_at: Date | null;
}

interface OutboundRow {
  id: string;
  sender: string;
  recipients: string[];
  attempts: number;
  created_at: Date;
  next_attempt_at: Date;
  last_error: string | null;
  size: string;
  blob_id: string;
  seq: string;
}

const MSG_COLS = 'uid, email_id, thread_id, flags, keywords, internal_date, size, modseq';
const FULL_COLS = `${MSG_COLS}, blob_id, retrieved_at`;
const MAILBOX_COLS = `m.id, m.user_id, m.name, m.uid_validity, m.uid_next, m.highest_modseq, m.first_recent, m.special_use, m.object_id,
  EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = m.user_id AND s.name = m.name) AS subscribed`;

function toUser(r: UserRow): User {
  return { id: num(r.id), address: r.address, passwordHash: r.password_hash, createdAt: r.created_at };
}

function toMailbox(r: MailboxRow): Mailbox {
  return {
    id: num(r.id),
    userId: num(r.user_id),
    name: r.name,
    uidValidity: num(r.uid_validity),
    uidNext: num(r.uid_next),
    highestModseq: num(r.highest_modseq),
    specialUse: (r.special_use as SpecialUse | null) ?? null,
    subscribed: r.subscribed === true,
    mailboxObjectId: r.object_id,
  };
}

function toMeta(r: MsgRow): MessageMeta {
  return {
    uid: num(r.uid),
    emailId: r.email_id,
    threadId: r.thread_id,
    flags: flagList(r.flags, r.keywords),
    internalDate: r.internal_date,
    size: num(r.size),
    modseq: num(r.modseq),
  };
}

function toOutbound(r: OutboundRow): OutboundMessage {
  return {
    id: r.id,
    sender: r.sender,
    recipients: r.recipients,
    attempts: r.attempts,
    createdAt: r.created_at,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    size: num(r.size),
  };
}

/** Mailbox ids are bigint identities; anything that cannot be one is simply not found. */
function validId(id: number): boolean {
  return Number.isSafeInteger(id) && id > 0;
}

export class PostgresMailStore implements MailStore {
  private readonly db: Db;
  private readonly blobs: BlobStore;
  private readonly logger: Logger;
  private readonly schema: string;
  private readonly channel: string;
  private readonly nodeName: string;
  private readonly leaseMs: number;
  private readonly listener: ChangeListener;
  private readonly subscribers = new Map<number, Set<(ev: ChangeEvent) => void>>();
  /**
   * Highest MODSEQ known per mailbox, from this node's commits and from every notification (bounded,
   * oldest entries dropped). A wake-up at or below it is a duplicate: the local wake-up of a commit and its
   * NOTIFY arriving later, or a NOTIFY of a commit made before the listener subscribed.
   */
  private readonly known = new Map<number, number>();
  /** Last event seen per subscribed mailbox (for the reconnect wake-up of mailboxes deleted meanwhile). */
  private readonly lastEvent = new Map<number, ChangeEvent>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly lockClients = new Set<pg.Client>();
  private closed = false;

  private constructor(opts: PostgresStoreOptions, dbOpts: DbOptions) {
    this.logger = dbOpts.logger;
    this.schema = dbOpts.schema;
    this.channel = `mailroom_${dbOpts.schema}`;
    this.nodeName = dbOpts.applicationName;
    this.leaseMs = opts.outboundLeaseMs ?? DEFAULT_OUTBOUND_LEASE_MS;
    this.db = new Db(dbOpts);
    this.blobs = new BlobStore({ blobDir: opts.blobDir, fsync: opts.fsync ?? true });
    this.listener = new ChangeListener({
      channel: this.channel,
      clientConfig: clientConfig(dbOpts, 'listen'),
      logger: this.logger,
      onEvent: (ev) => this.deliver(ev, false),
      onReconnect: () => this.wakeAll(),
      minBackoffMs: opts.listenBackoffMs?.min,
      maxBackoffMs: opts.listenBackoffMs?.max,
      heartbeatMs: opts.listenHeartbeatMs,
    });
  }

  /**
   * Connects, applies pending migrations (unless opts.migrate is false) and starts the LISTEN connection.
   * Throws StoreError INVALID for a bad schema name, TEMPORARY when PostgreSQL is unreachable.
   */
  static async open(opts: PostgresStoreOptions): Promise<PostgresMailStore> {
    const schema = opts.schema ?? 'public';
    if (!/^[a-z_][a-z0-9_]{0,47}$/.test(schema)) throw new StoreError('INVALID', `invalid schema name ${JSON.stringify(schema)}`);
    // Unique per store instance by default: it also names this node's outbound leases.
    const nodeName = opts.nodeName ?? `mailroom-${process.pid}-${randomBytes(4).toString('hex')}`;
    if (!/^[A-Za-z0-9_.-]{1,40}$/.test(nodeName)) throw new StoreError('INVALID', `invalid node name ${JSON.stringify(nodeName)}`);
    const store = new PostgresMailStore(opts, {
      url: opts.url,
      schema,
      applicationName: nodeName,
      poolSize: opts.poolSize ?? 10,
      logger: opts.logger ?? silentLogger,
      durable: opts.fsync ?? true,
      ...(opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: opts.lockTimeoutMs } : {}),
    });
    try {
      if (opts.migrate ?? true) await store.migrate();
      await store.listener.start();
    } catch (e) {
      await store.listener.close();
      await store.db.end().catch(() => undefined);
      throw mapError(e);
    }
    if (store.blobs.mode === 'dir' && (opts.sweepAtOpen ?? true)) {
      void store.sweepOrphanBlobs().then(
        (n) => {
          if (n > 0) store.logger.info({ removed: n }, 'removed orphan blob files');
        },
        (e: unknown) => store.logger.warn({ err: errorMessage(e) }, 'orphan blob sweep failed'),
      );
    }
    return store;
  }

  /** Applies pending schema migrations (idempotent; safe when several nodes run it at once). */
  async migrate(): Promise<void> {
    await runMigrations(this.db, this.schema, this.logger);
  }

  // ---------------------------------------------------------------------------------------------
  // plumbing

  /** Runs an operation, tracking it for close() and mapping low-level errors to StoreError codes. */
  private run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError('TEMPORARY', 'store is closed'));
    const p = (async () => {
      try {
        return await fn();
      } catch (e) {
        throw mapError(e);
      }
    })();
    this.pending.add(p);
    const done = (): void => {
      this.pending.delete(p);
    };
    p.then(done, done);
    return p;
  }

  /** Records a change inside the transaction: NOTIFY now (sent at COMMIT), local wake-up after COMMIT. */
  private async changed(q: Queryable, after: AfterCommit, userId: number, mailboxId: number, highestModseq: number): Promise<void> {
    const ev: ChangeEvent = { userId, mailboxId, highestModseq };
    await q.query('SELECT pg_notify($1, $2)', [this.channel, encodePayload(ev)]);
    after.push(() => this.deliver(ev, false));
  }

  /** Fans an event out to this node's subscribers of the mailbox (on a microtask), once per MODSEQ. */
  private deliver(ev: ChangeEvent, force: boolean): void {
    const last = this.known.get(ev.mailboxId) ?? 0;
    if (!force && ev.highestModseq <= last) return;
    if (ev.highestModseq > last) {
      this.known.delete(ev.mailboxId); // re-insert: Map order is the eviction order
      this.known.set(ev.mailboxId, ev.highestModseq);
      if (this.known.size > KNOWN_MODSEQ_ENTRIES) this.known.delete(this.known.keys().next().value!);
    }
    const set = this.subscribers.get(ev.mailboxId);
    if (!set || set.size === 0) return;
    this.lastEvent.set(ev.mailboxId, ev);
    const targets = [...set];
    queueMicrotask(() => {
      for (const l of targets) {
        try {
          l(ev);
        } catch (e) {
          this.logger.warn({ err: errorMessage(e), mailboxId: ev.mailboxId }, 'change listener threw');
        }
      }
    });
  }

  /** After the LISTEN connection came back: wake every subscriber once with the current HIGHESTMODSEQ. */
  private async wakeAll(): Promise<void> {
    const ids = [...this.subscribers.keys()].filter(validId);
    if (!ids.length || this.closed) return;
    let r: pg.QueryResult<{ id: string; user_id: number; highest_modseq: string }> | null = null;
    // The pool may still hold connections that died with the server: retry a little before giving up.
    for (let attempt = 1; !r; attempt++) {
      try {
        r = await this.db.query<{ id: string; user_id: number; highest_modseq: string }>(
          'SELECT id, user_id, highest_modseq FROM mailboxes WHERE id = ANY($1::bigint[])',
          [ids],
        );
      } catch (e) {
        if (attempt >= 5 || this.closed) {
          // Still wake everyone we can: a stale MODSEQ is fine, subscribers re-read the change log.
          for (const id of ids) {
            const last = this.lastEvent.get(id);
            if (last) this.deliver({ ...last }, true);
          }
          throw e;
        }
        await sleep(100 * attempt);
      }
    }
    const found = new Set<number>();
    for (const row of r.rows) {
      const id = num(row.id);
      found.add(id);
      this.deliver({ userId: num(row.user_id), mailboxId: id, highestModseq: num(row.highest_modseq) }, true);
    }
    for (const id of ids) {
      const last = this.lastEvent.get(id);
      if (!found.has(id) && last) this.deliver({ ...last }, true);
    }
  }

  private async mailboxRow(q: Queryable, mailboxId: number, lock = false): Promise<MailboxRow> {
    if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
    const r = await q.query<MailboxRow>(`SELECT * FROM mailboxes WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [mailboxId]);
    const row = r.rows[0];
    if (!row) throw new StoreError('NOT_FOUND', 'no such mailbox');
    return row;
  }

  /** Sets the mailbox's HIGHESTMODSEQ (and optionally UIDNEXT) after the caller locked the row. */
  private async bump(q: Queryable, mailboxId: number, modseq: number, uidNext?: number): Promise<void> {
    if (uidNext === undefined) await q.query('UPDATE mailboxes SET highest_modseq = $2 WHERE id = $1', [mailboxId, modseq]);
    else await q.query('UPDATE mailboxes SET highest_modseq = $2, uid_next = $3 WHERE id = $1', [mailboxId, modseq, uidNext]);
  }

  private async rowsIn(q: Queryable, mailboxId: number, uids: readonly number[]): Promise<FullMsgRow[]> {
    const clean = cleanUids(uids);
    if (!clean.length) return [];
    const r = await q.query<FullMsgRow>(`SELECT ${FULL_COLS} FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid`, [
      mailboxId,
      clean,
    ]);
    return r.rows;
  }

  /** Keywords in the mailbox's canonical spelling (first seen wins); registers new ones. */
  private async canonicalKeywords(q: Queryable, mailboxId: number, keywords: readonly string[]): Promise<Map<string, string>> {
    const map = new Map<string, string>();
    if (!keywords.length) return map;
    const distinct = new Map<string, string>();
    for (const k of keywords) if (!distinct.has(k.toLowerCase())) distinct.set(k.toLowerCase(), k);
    const lowers = [...distinct.keys()];
    await q.query(
      `INSERT INTO mailbox_keywords (mailbox_id, lower, spelling)
       SELECT $1, l, s FROM unnest($2::text[], $3::text[]) AS t(l, s) ON CONFLICT DO NOTHING`,
      [mailboxId, lowers, [...distinct.values()]],
    );
    const r = await q.query<{ lower: string; spelling: string }>(
      'SELECT lower, spelling FROM mailbox_keywords WHERE mailbox_id = $1 AND lower = ANY($2::text[])',
      [mailboxId, lowers],
    );
    for (const row of r.rows) map.set(row.lower, row.spelling);
    return map;
  }

  private spell(map: Map<string, string>, keywords: readonly string[]): string[] {
    return keywords.map((k) => map.get(k.toLowerCase()) ?? k);
  }

  /** Next UIDVALIDITY: a database-wide sequence started at the epoch second of the schema's creation. */
  private async insertMailboxRow(q: Queryable, userId: number, name: string, specialUse: SpecialUse | null): Promise<MailboxRow> {
    const r = await q.query<MailboxRow>(
      `INSERT INTO mailboxes (user_id, name, uid_validity, special_use, object_id)
       VALUES ($1, $2, nextval('uid_validity_seq'), $3, $4) RETURNING *`,
      [userId, name, specialUse, newObjectId('F')],
    );
    return r.rows[0]!;
  }

  /**
   * Deletes message rows, leaving tombstones stamped `modseq` (unless `tombstones` is false: the mailbox
   * itself goes away), and drops their blob references. Files to unlink are queued after commit.
   */
  private async deleteRows(
    q: Queryable,
    after: AfterCommit,
    mailboxId: number,
    uids: readonly number[],
    modseq: number,
    tombstones = true,
  ): Promise<number[]> {
    if (!uids.length) return [];
    const r = await q.query<{ uid: string; blob_id: string }>(
      'DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) RETURNING uid, blob_id',
      [mailboxId, uids],
    );
    const gone = r.rows.map((row) => num(row.uid)).sort((a, b) => a - b);
    if (tombstones && gone.length) {
      await q.query(
        `INSERT INTO tombstones (mailbox_id, uid, modseq) SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u
         ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`,
        [mailboxId, gone, modseq],
      );
    }
    await this.release(q, after, r.rows.map((row) => row.blob_id));
    return gone;
  }

  private async release(q: Queryable, after: AfterCommit, blobIds: readonly string[]): Promise<void> {
    const files = await releaseBlobs(q, blobIds);
    if (files.length) after.push(() => this.blobs.unlinkFiles(files));
  }

  /** Deletes a mailbox with its messages (no tombstones: they go with the mailbox). Caller holds the lock. */
  private async dropMailbox(q: Queryable, after: AfterCommit, b: MailboxRow): Promise<void> {
    const r = await q.query<{ blob_id: string }>('DELETE FROM messages WHERE mailbox_id = $1 RETURNING blob_id', [b.id]);
    await this.release(q, after, r.rows.map((row) => row.blob_id));
    await q.query('DELETE FROM mailboxes WHERE id = $1', [b.id]);
    await this.changed(q, after, num(b.user_id), num(b.id), num(b.highest_modseq) + 1);
  }

  /** Writes the blob (file mode), runs the transaction, and removes the file if the transaction failed. */
  private async withBlob<T>(data: Buffer, commit: (blob: PreparedBlob) => Promise<T>): Promise<T> {
    const blob = await this.blobs.prepare(data);
    try {
      return await commit(blob);
    } catch (e) {
      await this.blobs.discard(blob);
      throw e;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // users, domains, aliases

  createUser(address: string, passwordHash: string): Promise<User> {
    return this.run(async () => {
      const a = normalizeAddress(address);
      if (typeof passwordHash !== 'string' || passwordHash.includes('\u0000')) throw new StoreError('INVALID', 'password hash must be a string');
      return this.db.tx(async (q) => {
        const r = await q.query<UserRow>(
          'INSERT INTO users (address, password_hash) VALUES ($1, $2) ON CONFLICT (address) DO NOTHING RETURNING *',
          [a, passwordHash],
        );
        const u = r.rows[0];
        if (!u) throw new StoreError('EXISTS', 'user exists');
        for (const [name, su] of DEFAULT_MAILBOXES) {
          await this.insertMailboxRow(q, u.id, name, su);
          await q.query('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [u.id, name]);
        }
        return toUser(u);
      });
    });
  }

  getUser(address: string): Promise<User | null> {
    return this.run(async () => {
      if (typeof address !== 'string') return null;
      const r = await this.db.query<UserRow>('SELECT * FROM users WHERE address = $1', [pgText(address.trim().toLowerCase())]);
      return r.rows[0] ? toUser(r.rows[0]) : null;
    });
  }

  getUserById(id: number): Promise<User | null> {
    return this.run(async () => {
      if (!Number.isSafeInteger(id) || id <= 0 || id > 0x7fffffff) return null;
      const r = await this.db.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
      return r.rows[0] ? toUser(r.rows[0]) : null;
    });
  }

  listUsers(): Promise<User[]> {
    return this.run(async () => (await this.db.query<UserRow>('SELECT * FROM users ORDER BY address COLLATE "C"')).rows.map(toUser));
  }

  setPasswordHash(address: string, passwordHash: string): Promise<void> {
    return this.run(async () => {
      const a = normalizeAddress(address);
      if (typeof passwordHash !== 'string' || passwordHash.includes('\u0000')) throw new StoreError('INVALID', 'password hash must be a string');
      const r = await this.db.query('UPDATE users SET password_hash = $2 WHERE address = $1', [a, passwordHash]);
      if (r.rowCount === 0) throw new StoreError('NOT_FOUND', 'no such user');
    });
  }

  deleteUser(address: string): Promise<void> {
    return this.run(async () => {
      const a = normalizeAddress(address);
      await this.db.tx(async (q, after) => {
        const u = (await q.query<{ id: number }>('SELECT id FROM users WHERE address = $1 FOR UPDATE', [a])).rows[0];
        if (!u) throw new StoreError('NOT_FOUND', 'no such user');
        const boxes = await q.query<MailboxRow>('SELECT * FROM mailboxes WHERE user_id = $1 ORDER BY id FOR UPDATE', [u.id]);
        for (const b of boxes.rows) await this.dropMailbox(q, after, b);
        await q.query('DELETE FROM users WHERE id = $1', [u.id]);
      });
    });
  }

  addDomain(domain: string): Promise<void> {
    return this.run(async () => {
      await this.db.query('INSERT INTO domains (domain) VALUES ($1) ON CONFLICT DO NOTHING', [normalizeDomain(domain)]);
    });
  }

  listDomains(): Promise<string[]> {
    return this.run(async () => (await this.db.query<{ domain: string }>('SELECT domain FROM domains ORDER BY domain COLLATE "C"')).rows.map((r) => r.domain));
  }

  hasDomain(domain: string): Promise<boolean> {
    return this.run(async () => {
      if (typeof domain !== 'string') return false;
      const r = await this.db.query('SELECT 1 FROM domains WHERE domain = $1', [pgText(domain.trim().toLowerCase())]);
      return r.rows.length > 0;
    });
  }

  addAlias(from: string, to: string): Promise<void> {
    return this.run(async () => {
      const f = normalizeAddress(from);
      const t = normalizeAddress(to);
      await this.db.query('INSERT INTO aliases (source, target) VALUES ($1, $2) ON CONFLICT (source) DO UPDATE SET target = EXCLUDED.target', [f, t]);
    });
  }

  removeAlias(from: string): Promise<void> {
    return this.run(async () => {
      const r = await this.db.query('DELETE FROM aliases WHERE source = $1', [normalizeAddress(from)]);
      if (r.rowCount === 0) throw new StoreError('NOT_FOUND', 'no such alias');
    });
  }

  listAliases(): Promise<Alias[]> {
    return this.run(async () =>
      (await this.db.query<{ source: string; target: string }>('SELECT source, target FROM aliases ORDER BY source COLLATE "C"')).rows.map((r) => ({
        from: r.source,
        to: r.target,
      })),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // mailboxes

  listMailboxes(userId: number): Promise<Mailbox[]> {
    return this.run(async () => {
      if (!Number.isSafeInteger(userId) || userId <= 0 || userId > 0x7fffffff) return [];
      const r = await this.db.query<MailboxRow>(
        `SELECT ${MAILBOX_COLS} FROM mailboxes m WHERE m.user_id = $1 ORDER BY (m.name <> 'INBOX'), m.name COLLATE "C"`,
        [userId],
      );
      return r.rows.map(toMailbox);
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
      if (!Number.isSafeInteger(userId) || userId <= 0 || userId > 0x7fffffff) return null;
      const r = await this.db.query<MailboxRow>(`SELECT ${MAILBOX_COLS} FROM mailboxes m WHERE m.user_id = $1 AND m.name = $2`, [userId, n]);
      return r.rows[0] ? toMailbox(r.rows[0]) : null;
    });
  }

  getMailboxById(mailboxId: number): Promise<Mailbox | null> {
    return this.run(async () => {
      if (!validId(mailboxId)) return null;
      const r = await this.db.query<MailboxRow>(`SELECT ${MAILBOX_COLS} FROM mailboxes m WHERE m.id = $1`, [mailboxId]);
      return r.rows[0] ? toMailbox(r.rows[0]) : null;
    });
  }

  createMailbox(userId: number, name: string, opts?: { specialUse?: SpecialUse | null }): Promise<Mailbox> {
    return this.run(async () => {
      const n = normalizeMailboxName(name);
      const su = opts?.specialUse ?? null;
      checkSpecialUse(su);
      if (!Number.isSafeInteger(userId) || userId <= 0 || userId > 0x7fffffff) throw new StoreError('NOT_FOUND', 'no such user');
      try {
        return await this.db.tx(async (q) => {
          const u = await q.query('SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE', [userId]);
          if (!u.rows.length) throw new StoreError('NOT_FOUND', 'no such user');
          const row = await this.insertMailboxRow(q, userId, n, su);
          const sub = await q.query('SELECT 1 FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, n]);
          return toMailbox({ ...row, subscribed: sub.rows.length > 0 });
        });
      } catch (e) {
        if (pgCode(e) === '23505') throw new StoreError('EXISTS', 'mailbox exists');
        throw e;
      }
    });
  }

  deleteMailbox(userId: number, name: string): Promise<void> {
    return this.run(async () => {
      const n = normalizeMailboxName(name);
      if (n === 'INBOX') throw new StoreError('NO_PERM', 'INBOX cannot be deleted');
      if (!Number.isSafeInteger(userId) || userId <= 0 || userId > 0x7fffffff) throw new StoreError('NOT_FOUND', 'no such mailbox');
      await this.db.tx(async (q, after) => {
        const b = (await q.query<MailboxRow>('SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE', [userId, n])).rows[0];
        if (!b) throw new StoreError('NOT_FOUND', 'no such mailbox');
        const child = await q.query('SELECT 1 FROM mailboxes WHERE user_id = $1 AND starts_with(name, $2) LIMIT 1', [userId, n + '/']);
        if (child.rows.length) throw new StoreError('HAS_CHILDREN', 'mailbox has children');
        await this.dropMailbox(q, after, b);
      });
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
      if (!Number.isSafeInteger(userId) || userId <= 0 || userId > 0x7fffffff) throw new StoreError('NOT_FOUND', 'no such mailbox');
      try {
        await this.db.tx(async (q, after) => {
          const src = (await q.query<MailboxRow>('SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE', [userId, f])).rows[0];
          if (!src) throw new StoreError('NOT_FOUND', 'no such mailbox');
          const exists = await q.query('SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, t]);
          if (exists.rows.length) throw new StoreError('EXISTS', 'target mailbox exists');
          if (f === 'INBOX') {
            // RFC 9051 6.3.6: INBOX's messages move to a new mailbox; INBOX stays (empty); children unaffected.
            const dst = await this.insertMailboxRow(q, userId, t, null);
            const rows = (await q.query<FullMsgRow>(`SELECT ${FULL_COLS} FROM messages WHERE mailbox_id = $1 ORDER BY uid`, [src.id])).rows;
            await this.moveRows(q, after, src, rows, dst, true);
            return;
          }
          const children = await q.query<{ id: string; name: string }>(
            'SELECT id, name FROM mailboxes WHERE user_id = $1 AND starts_with(name, $2) ORDER BY id FOR UPDATE',
            [userId, f + '/'],
          );
          const renames: Array<[string, string, string]> = [[src.id, f, t]];
          for (const c of children.rows) renames.push([c.id, c.name, t + c.name.slice(f.length)]);
          const targets = renames.slice(1).map((x) => x[2]);
          if (targets.length) {
            const clash = await q.query<{ name: string }>('SELECT name FROM mailboxes WHERE user_id = $1 AND name = ANY($2::text[]) LIMIT 1', [
              userId,
              targets,
            ]);
            if (clash.rows[0]) throw new StoreError('EXISTS', `target mailbox ${clash.rows[0].name} exists`);
          }
          for (const [id, oldName, newName] of renames) {
            await q.query('UPDATE mailboxes SET name = $2 WHERE id = $1', [id, newName]);
            const d = await q.query('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, oldName]);
            if ((d.rowCount ?? 0) > 0) {
              await q.query('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, newName]);
            }
          }
        });
      } catch (e) {
        if (pgCode(e) === '23505') throw new StoreError('EXISTS', 'target mailbox exists');
        throw e;
      }
    });
  }

  setSubscribed(userId: number, name: string, subscribed: boolean): Promise<void> {
    return this.run(async () => {
      const n = normalizeMailboxName(name);
      if (!Number.isSafeInteger(userId) || userId <= 0 || userId > 0x7fffffff) throw new StoreError('NOT_FOUND', 'no such user');
      await this.db.tx(async (q) => {
        const u = await q.query('SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE', [userId]);
        if (!u.rows.length) throw new StoreError('NOT_FOUND', 'no such user');
        if (subscribed) await q.query('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, n]);
        else await q.query('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, n]);
      });
    });
  }

  listSubscriptions(userId: number): Promise<string[]> {
    return this.run(async () => {
      if (!Number.isSafeInteger(userId) || userId <= 0 || userId > 0x7fffffff) return [];
      const r = await this.db.query<{ name: string }>('SELECT name FROM subscriptions WHERE user_id = $1 ORDER BY name COLLATE "C"', [userId]);
      return r.rows.map((row) => row.name);
    });
  }

  setSpecialUse(mailboxId: number, specialUse: SpecialUse | null): Promise<void> {
    return this.run(async () => {
      checkSpecialUse(specialUse);
      if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      const r = await this.db.query('UPDATE mailboxes SET special_use = $2 WHERE id = $1', [mailboxId, specialUse]);
      if (r.rowCount === 0) throw new StoreError('NOT_FOUND', 'no such mailbox');
    });
  }

  status(mailboxId: number): Promise<MailboxStatus> {
    return this.run(async () => {
      if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      // One statement, one snapshot: the counts agree with UIDNEXT and HIGHESTMODSEQ.
      const r = await this.db.query<{
        messages: string;
        unseen: string;
        deleted: string;
        size: string;
        recent: string;
        uid_next: string;
        uid_validity: string;
        highest_modseq: string;
      }>(
        `SELECT b.uid_next, b.uid_validity, b.highest_modseq, s.*
         FROM mailboxes b CROSS JOIN LATERAL (
           SELECT count(*) AS messages,
                  count(*) FILTER (WHERE (flags & ${FLAG_SEEN}) = 0) AS unseen,
                  count(*) FILTER (WHERE (flags & ${FLAG_DELETED}) <> 0) AS deleted,
                  coalesce(sum(size), 0) AS size,
                  count(*) FILTER (WHERE uid >= b.first_recent) AS recent
           FROM messages WHERE mailbox_id = b.id) s
         WHERE b.id = $1`,
        [mailboxId],
        'status',
      );
      const row = r.rows[0];
      if (!row) throw new StoreError('NOT_FOUND', 'no such mailbox');
      return {
        messages: num(row.messages),
        unseen: num(row.unseen),
        deleted: num(row.deleted),
        size: num(row.size),
        recent: num(row.recent),
        uidNext: num(row.uid_next),
        uidValidity: num(row.uid_validity),
        highestModseq: num(row.highest_modseq),
      };
    });
  }

  claimRecent(mailboxId: number): Promise<number> {
    return this.run(async () =>
      this.db.tx(async (q) => {
        const b = await this.mailboxRow(q, mailboxId, true);
        await q.query('UPDATE mailboxes SET first_recent = uid_next WHERE id = $1', [mailboxId]);
        return num(b.first_recent);
      }),
    );
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
      if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      const prepared = prepareMessage(raw, { idsWithoutNul: true });
      const { data, index, threadKeys, ownIds } = prepared;
      const headersText = pgText(prepared.headersText);
      const bodyText = pgText(prepared.bodyText);
      const mime = encodeIndex(index);
      const envelopeText = envelopeImapText(index.envelope);
      const header = index.root.headerEnd <= HEADER_ROW_MAX ? data.subarray(0, index.root.headerEnd) : null;
      // THREADID: the thread of the nearest referenced message known for this user (last References entry /
      // In-Reply-To first), else of a message that referenced this one, else a new thread. The message's own
      // id and its references are recorded so later replies find the thread.
      const candidates = [...threadKeys].reverse().concat(ownIds);
      const record = [...new Set([...ownIds, ...threadKeys])];
      const wanted = opts?.emailId;
      if (wanted !== undefined && (typeof wanted !== 'string' || !isObjectId(wanted))) throw new StoreError('INVALID', 'invalid EMAILID');
      const emailId = wanted ?? newObjectId('M');
      const freshThread = newObjectId('T');

      const commit = (): Promise<AppendResult> => this.withBlob(data, (blob) =>
        this.db.tx(async (q, after) => {
          // The (possibly large) blob row first, before the mailbox lock, so the lock is held briefly.
          await q.query({
            name: 'append_blob',
            text: `WITH b AS (INSERT INTO blobs (id, size, refs, data) VALUES ($1, $2, 1, $3) RETURNING id),
                   h AS (INSERT INTO blob_headers (blob_id, header) SELECT id, $9::bytea FROM b WHERE $9::bytea IS NOT NULL)
                   INSERT INTO blob_meta (blob_id, mime, mime_text, text_headers, text_body, envelope_text)
                   SELECT id, $4, $5, $6, $7, $8 FROM b`,
            values: [blob.id, blob.size, blob.data, mime.jsonb, mime.text, headersText, bodyText, envelopeText, header],
          });
          // Locks the mailbox row, allocates the UID and the MODSEQ of this transaction, finds the thread.
          const b = (
            await q.query<{ user_id: number; uid_validity: string; uid: string; modseq: string; thread_id: string | null }>({
              name: 'append_allocate',
              text: `WITH mb AS (
                       UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1 WHERE id = $1
                       RETURNING user_id, uid_validity, uid_next - 1 AS uid, highest_modseq AS modseq)
                     SELECT mb.*, (SELECT t.thread_id FROM thread_refs t
                                   WHERE t.user_id = mb.user_id AND t.message_id = ANY($2::text[])
                                   ORDER BY array_position($2::text[], t.message_id) LIMIT 1) AS thread_id
                     FROM mb`,
              values: [mailboxId, candidates],
            })
          ).rows[0];
          if (!b) throw new StoreError('NOT_FOUND', 'no such mailbox');
          const uid = num(b.uid);
          const modseq = num(b.modseq);
          const userId = num(b.user_id);
          const threadId = b.thread_id ?? freshThread;
          const keywords = parsed.keywords.length ? this.spell(await this.canonicalKeywords(q, mailboxId, parsed.keywords), parsed.keywords) : [];
          const ev: ChangeEvent = { userId, mailboxId, highestModseq: modseq };
          // Message row, thread references and the notification (sent at COMMIT) in one round trip.
          await q.query({
            name: 'append_message',
            text: `WITH tr AS (
                     INSERT INTO thread_refs (user_id, message_id, thread_id)
                     SELECT $11, m, $4 FROM unnest($12::text[]) AS m ON CONFLICT DO NOTHING),
                   msg AS (
                     INSERT INTO messages (mailbox_id, uid, email_id, thread_id, flags, keywords, internal_date, size, modseq, blob_id)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10))
                   SELECT pg_notify($13, $14)`,
            values: [mailboxId, uid, emailId, threadId, parsed.mask, keywords, internalDate, data.length, modseq, blob.id, userId, record, this.channel, encodePayload(ev)],
          });
          after.push(() => this.deliver(ev, false));
          return { uid, uidValidity: num(b.uid_validity), emailId, modseq };
        }),
      );
      try {
        return await commit();
      } catch (e) {
        if (wanted !== undefined && pgCode(e) === '23505') throw new StoreError('EXISTS', 'a message with this EMAILID exists');
        throw e;
      }
    });
  }

  listMessages(mailboxId: number): Promise<MessageMeta[]> {
    return this.run(async () => {
      if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      const r = await this.db.query<MsgRow>(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = $1 ORDER BY uid`, [mailboxId], 'list_messages');
      if (r.rows.length === 0) {
        const exists = await this.db.query('SELECT 1 FROM mailboxes WHERE id = $1', [mailboxId]);
        if (!exists.rows.length) throw new StoreError('NOT_FOUND', 'no such mailbox');
      }
      return r.rows.map(toMeta);
    });
  }

  getMessages(mailboxId: number, uids: number[]): AsyncIterable<MessageRecord> {
    return this.batches(mailboxId, uids, async (c) => {
      const r = await this.db.query<MsgRow & { mime: unknown; mime_text: string | null }>(
        `SELECT m.uid, m.email_id, m.thread_id, m.flags, m.keywords, m.internal_date, m.size, m.modseq, d.mime, d.mime_text
         FROM messages m JOIN blob_meta d ON d.blob_id = m.blob_id
         WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) ORDER BY m.uid`,
        [mailboxId, c],
        'get_messages',
      );
      return r.rows.map((row): MessageRecord => ({ ...toMeta(row), index: decodeIndex(row.mime, row.mime_text) }));
    });
  }

  /**
   * Header-overview fast path (FETCH ENVELOPE): like getMessages, but only the envelope: its IMAP text from
   * blob_meta.envelope_text when the blob has one, else extracted from the stored index (jsonb
   * `mime->'envelope'`, evaluated only for those rows), so the rest of the index never leaves the database.
   */
  getEnvelopes(mailboxId: number, uids: number[]): AsyncIterable<MessageEnvelopeRecord> {
    return this.batches(mailboxId, uids, async (c) => {
      const r = await this.db.query<{ uid: string; envelope_text: string | null; envelope: Envelope | null; mime_text: string | null }>(
        `SELECT m.uid, d.envelope_text,
                CASE WHEN d.envelope_text IS NULL THEN d.mime -> 'envelope' END AS envelope,
                CASE WHEN d.envelope_text IS NULL AND d.mime IS NULL THEN d.mime_text END AS mime_text
         FROM messages m JOIN blob_meta d ON d.blob_id = m.blob_id
         WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) ORDER BY m.uid`,
        [mailboxId, c],
        'get_envelopes',
      );
      return r.rows.map(
        (row): MessageEnvelopeRecord => ({
          uid: num(row.uid),
          envelope: row.envelope_text ?? row.envelope ?? decodeIndex(null, row.mime_text).envelope,
        }),
      );
    });
  }

  /**
   * Message-list fast path (FETCH header fields, RFC822.HEADER): like getMessages, but with the header block
   * instead of the index. Blobs without a blob_headers row (header over HEADER_ROW_MAX, written before
   * migration 2) have theirs read from the blob, the length taken from the index; the lookups into
   * blob_meta run only for those rows. A message whose blob vanished meanwhile (expunged) is left out.
   */
  getHeaders(mailboxId: number, uids: number[]): AsyncIterable<MessageHeaderRecord> {
    return this.batches(mailboxId, uids, async (c) => {
      const r = await this.db.query<{ uid: string; size: string; header: Buffer | null; blob_id: string; header_end: string | null; mime_text: string | null }>(
        `SELECT m.uid, m.size, h.header, m.blob_id,
                CASE WHEN h.header IS NULL THEN
                  (SELECT (d.mime #>> '{root,headerEnd}')::bigint FROM blob_meta d WHERE d.blob_id = m.blob_id) END AS header_end,
                CASE WHEN h.header IS NULL THEN
                  (SELECT d.mime_text FROM blob_meta d WHERE d.blob_id = m.blob_id AND d.mime IS NULL) END AS mime_text
         FROM messages m LEFT JOIN blob_headers h ON h.blob_id = m.blob_id
         WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) ORDER BY m.uid`,
        [mailboxId, c],
        'get_headers',
      );
      const missing = new Map<string, number>();
      for (const row of r.rows) {
        if (row.header !== null) continue;
        const end = row.header_end !== null ? num(row.header_end) : decodeIndex(null, row.mime_text).root.headerEnd;
        missing.set(row.blob_id, Math.min(end, num(row.size)));
      }
      const read = missing.size ? await this.headersFromBlobs(missing) : null;
      const out: MessageHeaderRecord[] = [];
      for (const row of r.rows) {
        const header = row.header ?? read?.get(row.blob_id);
        if (header) out.push({ uid: num(row.uid), header });
      }
      return out;
    });
  }

  /** The first `length` bytes of each listed blob (one query; files read for blobs kept in the directory). */
  private async headersFromBlobs(lengths: Map<string, number>): Promise<Map<string, Buffer>> {
    const r = await this.db.query<{ id: string; external: boolean; data: Buffer | null }>(
      `SELECT b.id, b.data IS NULL AS external, substring(b.data FROM 1 FOR x.len) AS data
       FROM unnest($1::text[], $2::int[]) AS x(id, len) JOIN blobs b ON b.id = x.id`,
      [[...lengths.keys()], [...lengths.values()]],
    );
    const out = new Map<string, Buffer>();
    for (const row of r.rows) {
      if (!row.external) {
        out.set(row.id, row.data ?? Buffer.alloc(0));
        continue;
      }
      try {
        out.set(row.id, await this.blobs.readFile(row.id, { start: 0, end: lengths.get(row.id)! }));
      } catch (e) {
        if (!isStoreError(e, 'NOT_FOUND')) throw e;
      }
    }
    return out;
  }

  /** Streams the records of a uid list in uid order, one query (`read`) per FETCH_CHUNK uids. */
  private batches<T>(mailboxId: number, uids: readonly number[], read: (chunk: number[]) => Promise<T[]>): AsyncIterable<T> {
    const clean = cleanUids(uids);
    const self = this;
    return {
      async *[Symbol.asyncIterator]() {
        if (!validId(mailboxId)) return;
        for (const c of chunks(clean, FETCH_CHUNK)) yield* await self.run(() => read(c));
      },
    };
  }

  readMessage(mailboxId: number, uid: number, range?: ByteRange): Promise<Buffer> {
    return this.run(async () => {
      if (range && (!Number.isFinite(range.start) || !Number.isFinite(range.end))) throw new StoreError('INVALID', 'invalid byte range');
      if (!validId(mailboxId) || !Number.isSafeInteger(uid) || uid <= 0) throw new StoreError('NOT_FOUND', 'no such message');
      // One round trip: metadata plus, for bytea blobs, exactly the wanted bytes.
      // Offsets beyond the largest message behave like "at the end"; clamping keeps them in int range.
      const cap = MAX_MESSAGE_SIZE + 1;
      const start = range ? Math.min(cap, Math.max(0, Math.floor(range.start))) : 0;
      const end = range ? Math.min(cap, Math.max(start, Math.floor(range.end))) : 0;
      const r = await this.db.query<{ size: string; blob_id: string; external: boolean; data: Buffer | null }>(
        range
          ? `SELECT m.size, m.blob_id, b.data IS NULL AS external,
                    substring(b.data FROM $3::int + 1 FOR greatest(0, least($4::int, m.size::int) - $3::int)) AS data
             FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = $1 AND m.uid = $2`
          : `SELECT m.size, m.blob_id, b.data IS NULL AS external, b.data
             FROM messages m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = $1 AND m.uid = $2`,
        range ? [mailboxId, uid, start, end] : [mailboxId, uid],
        range ? 'read_range' : 'read_whole',
      );
      const row = r.rows[0];
      if (!row) throw new StoreError('NOT_FOUND', 'no such message');
      const size = num(row.size);
      let s = 0;
      let e = size;
      if (range) {
        s = Math.min(start, size);
        e = Math.min(end, size);
      }
      if (e <= s) return Buffer.alloc(0);
      if (!row.external) return row.data ?? Buffer.alloc(0);
      return this.blobs.readFile(row.blob_id, range ? { start: s, end: e } : undefined);
    });
  }

  storeFlags(mailboxId: number, uids: number[], opts: StoreFlagsOptions): Promise<StoreFlagsResult> {
    return this.run(async () => {
      if (opts.op !== 'add' && opts.op !== 'remove' && opts.op !== 'set') throw new StoreError('INVALID', 'invalid flag operation');
      const change = parseFlags(opts.flags);
      const since = opts.unchangedSince;
      if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new StoreError('INVALID', 'invalid UNCHANGEDSINCE');
      return this.db.tx(async (q, after): Promise<StoreFlagsResult> => {
        const b = await this.mailboxRow(q, mailboxId, true);
        const canon =
          opts.op === 'remove' ? change : { mask: change.mask, keywords: this.spell(await this.canonicalKeywords(q, mailboxId, change.keywords), change.keywords) };
        const rows = await this.rowsIn(q, mailboxId, uids);
        const modified: number[] = [];
        const updates: Array<{ row: FullMsgRow; mask: number; keywords: string[] }> = [];
        for (const r of rows) {
          if (since !== undefined && num(r.modseq) > since) {
            modified.push(num(r.uid));
            continue;
          }
          const next = applyFlagOp(opts.op, { mask: r.flags, keywords: r.keywords }, canon);
          if (next.changed) updates.push({ row: r, mask: next.mask, keywords: next.keywords });
        }
        if (!updates.length) return { changed: [], modified };
        const modseq = num(b.highest_modseq) + 1;
        await q.query(
          `UPDATE messages m SET flags = u.flags, keywords = ARRAY(SELECT jsonb_array_elements_text(u.kw)), modseq = $3
           FROM jsonb_to_recordset($2::jsonb) AS u(uid bigint, flags integer, kw jsonb)
           WHERE m.mailbox_id = $1 AND m.uid = u.uid`,
          [mailboxId, JSON.stringify(updates.map((u) => ({ uid: num(u.row.uid), flags: u.mask, kw: u.keywords }))), modseq],
        );
        await this.bump(q, mailboxId, modseq);
        await this.changed(q, after, num(b.user_id), mailboxId, modseq);
        const changed = updates.map((u) => toMeta({ ...u.row, flags: u.mask, keywords: u.keywords, modseq: String(modseq) }));
        return { changed, modified };
      });
    });
  }

  expunge(mailboxId: number, uids?: number[]): Promise<number[]> {
    return this.run(async () =>
      this.db.tx(async (q, after) => {
        const b = await this.mailboxRow(q, mailboxId, true);
        const r =
          uids === undefined
            ? await q.query<{ uid: string }>(`SELECT uid FROM messages WHERE mailbox_id = $1 AND (flags & ${FLAG_DELETED}) <> 0 ORDER BY uid`, [
                mailboxId,
              ])
            : await q.query<{ uid: string }>(
                `SELECT uid FROM messages WHERE mailbox_id = $1 AND (flags & ${FLAG_DELETED}) <> 0 AND uid = ANY($2::bigint[]) ORDER BY uid`,
                [mailboxId, cleanUids(uids)],
              );
        if (!r.rows.length) return [];
        const modseq = num(b.highest_modseq) + 1;
        const gone = await this.deleteRows(q, after, mailboxId, r.rows.map((row) => num(row.uid)), modseq);
        await this.bump(q, mailboxId, modseq);
        await this.changed(q, after, num(b.user_id), mailboxId, modseq);
        return gone;
      }),
    );
  }

  /**
   * Inserts copies of `rows` into `dst` (uid order), sharing blobs. With `move`, the source rows are deleted
   * (tombstones stamped with the source's next modseq) and EMAILIDs and POP3 retrieval marks are kept; a copy
   * gets new EMAILIDs. Bumps each mailbox's modseq once (twice when src is dst and moving). The caller holds
   * both mailbox locks. Returns the uid pairs.
   */
  private async moveRows(
    q: Queryable,
    after: AfterCommit,
    src: MailboxRow,
    rows: readonly FullMsgRow[],
    dst: MailboxRow,
    move: boolean,
  ): Promise<Array<[number, number]>> {
    const pairs: Array<[number, number]> = [];
    if (!rows.length) return pairs;
    const srcId = num(src.id);
    const dstId = num(dst.id);
    let dstModseqBase = num(dst.highest_modseq);
    if (move) {
      const srcModseq = num(src.highest_modseq) + 1;
      await q.query('DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [srcId, rows.map((r) => num(r.uid))]);
      await q.query(
        `INSERT INTO tombstones (mailbox_id, uid, modseq) SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u
         ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`,
        [srcId, rows.map((r) => num(r.uid)), srcModseq],
      );
      await this.bump(q, srcId, srcModseq);
      await this.changed(q, after, num(src.user_id), srcId, srcModseq);
      if (srcId === dstId) dstModseqBase = srcModseq;
    } else {
      await retainBlobs(
        q,
        rows.map((r) => r.blob_id),
      );
    }
    const modseq = dstModseqBase + 1;
    let uid = srcId === dstId && move ? num(src.uid_next) : num(dst.uid_next);
    const allKeywords = rows.flatMap((r) => r.keywords);
    const spelling = await this.canonicalKeywords(q, dstId, allKeywords);
    const records = rows.map((r) => {
      const rec = {
        uid,
        email_id: move ? r.email_id : newObjectId('M'),
        thread_id: r.thread_id,
        flags: r.flags,
        kw: this.spell(spelling, r.keywords),
        internal_date: r.internal_date.toISOString(),
        size: num(r.size),
        blob_id: r.blob_id,
        retrieved_at: move && r.retrieved_at ? r.retrieved_at.toISOString() : null,
      };
      pairs.push([num(r.uid), uid]);
      uid++;
      return rec;
    });
    await q.query(
      `INSERT INTO messages (mailbox_id, uid, email_id, thread_id, flags, keywords, internal_date, size, modseq, blob_id, retrieved_at)
       SELECT $1, r.uid, r.email_id, r.thread_id, r.flags, ARRAY(SELECT jsonb_array_elements_text(r.kw)), r.internal_date, r.size, $3,
              r.blob_id, r.retrieved_at
       FROM jsonb_to_recordset($2::jsonb) AS r(uid bigint, email_id text, thread_id text, flags integer, kw jsonb,
            internal_date timestamptz, size bigint, blob_id text, retrieved_at timestamptz)`,
      [dstId, JSON.stringify(records), modseq],
    );
    await this.bump(q, dstId, modseq, uid);
    await this.changed(q, after, num(dst.user_id), dstId, modseq);
    return pairs;
  }

  private copyOrMove(fromMailboxId: number, uids: number[], toMailboxId: number, move: boolean): Promise<CopyResult> {
    return this.run(async () => {
      if (!validId(fromMailboxId) || !validId(toMailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      return this.db.tx(async (q, after): Promise<CopyResult> => {
        // Both rows locked in id order: two opposite copies cannot deadlock.
        const locked = await q.query<MailboxRow>('SELECT * FROM mailboxes WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [
          [fromMailboxId, toMailboxId],
        ]);
        const src = locked.rows.find((r) => num(r.id) === fromMailboxId);
        const dst = locked.rows.find((r) => num(r.id) === toMailboxId);
        if (!src || !dst) throw new StoreError('NOT_FOUND', 'no such mailbox');
        const rows = await this.rowsIn(q, fromMailboxId, uids);
        const pairs = await this.moveRows(q, after, src, rows, dst, move);
        return { uidValidity: num(dst.uid_validity), pairs };
      });
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
      const since = Number.isFinite(modseq) ? Math.floor(modseq) : 0;
      return this.db.tx(
        async (q) => {
          const b = await this.mailboxRow(q, mailboxId);
          const changed = await q.query<MsgRow>(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid`, [
            mailboxId,
            since,
          ]);
          const gone = await q.query<{ uid: string }>('SELECT uid FROM tombstones WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid', [
            mailboxId,
            since,
          ]);
          return { highestModseq: num(b.highest_modseq), changed: changed.rows.map(toMeta), expunged: gone.rows.map((r) => num(r.uid)) };
        },
        { isolation: 'repeatable read', readOnly: true },
      );
    });
  }

  searchText(mailboxId: number, uids: number[], needle: string, scope: TextScope): Promise<number[]> {
    return this.run(async () => {
      if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      const exists = await this.db.query('SELECT 1 FROM mailboxes WHERE id = $1', [mailboxId]);
      if (!exists.rows.length) throw new StoreError('NOT_FOUND', 'no such mailbox');
      if (scope !== 'header' && scope !== 'body' && scope !== 'text') throw new StoreError('INVALID', 'invalid search scope');
      const clean = cleanUids(uids);
      if (!clean.length) return [];
      const n = pgText(String(needle).toLowerCase());
      const cond =
        scope === 'header'
          ? 'strpos(d.text_headers, $3) > 0'
          : scope === 'body'
            ? 'strpos(d.text_body, $3) > 0'
            : '(strpos(d.text_headers, $3) > 0 OR strpos(d.text_body, $3) > 0)';
      const r = await this.db.query<{ uid: string }>(
        `SELECT m.uid FROM messages m JOIN blob_meta d ON d.blob_id = m.blob_id
         WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) AND ${cond} ORDER BY m.uid`,
        [mailboxId, clean, n],
      );
      return r.rows.map((row) => num(row.uid));
    });
  }

  subscribe(mailboxId: number, listener: (ev: ChangeEvent) => void): () => void {
    if (this.closed) throw new StoreError('TEMPORARY', 'store is closed');
    let set = this.subscribers.get(mailboxId);
    if (!set) {
      set = new Set();
      this.subscribers.set(mailboxId, set);
    }
    // Wrapped so the same function subscribed twice gets two independent subscriptions.
    const entry = (ev: ChangeEvent): void => listener(ev);
    set.add(entry);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const s = this.subscribers.get(mailboxId);
      if (!s) return;
      s.delete(entry);
      if (s.size === 0) {
        this.subscribers.delete(mailboxId);
        this.lastEvent.delete(mailboxId);
      }
    };
  }

  // ---------------------------------------------------------------------------------------------
  // POP3

  /**
   * RFC 1939 exclusive maildrop: a session-level advisory lock (namespace = this schema, key = user id) held
   * on a connection of its own, so it works across nodes and is released by PostgreSQL if this node dies
   * (the connection closes). The returned function unlocks and closes that connection; it is idempotent.
   */
  lockMaildrop(userId: number): Promise<(() => Promise<void>) | null> {
    return this.run(async () => {
      if (!Number.isSafeInteger(userId) || userId <= 0 || userId > 0x7fffffff) throw new StoreError('NOT_FOUND', 'no such user');
      const client = new pg.Client(clientConfig(this.db.opts, 'maildrop'));
      client.on('error', (err) => {
        this.logger.warn({ err: errorMessage(err), userId }, 'maildrop lock connection failed; lock released by the server');
      });
      const key = `mailroom.maildrop.${this.schema}`;
      try {
        await client.connect();
        const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1), $2) AS ok', [key, userId]);
        if (!r.rows[0]?.ok) {
          await client.end().catch(() => undefined);
          return null;
        }
      } catch (e) {
        await client.end().catch(() => undefined);
        throw e;
      }
      this.lockClients.add(client);
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        try {
          await client.query('SELECT pg_advisory_unlock(hashtext($1), $2)', [key, userId]);
        } catch {
          // The connection is gone: the server released the lock with it.
        } finally {
          this.lockClients.delete(client);
          await client.end().catch(() => undefined);
        }
      };
    });
  }

  commitMaildrop(mailboxId: number, commit: MaildropCommit): Promise<number[]> {
    return this.run(async () =>
      this.db.tx(async (q, after) => {
        const b = await this.mailboxRow(q, mailboxId, true);
        const gone = new Set(cleanUids(commit.expunge ?? []));
        const retrieved = cleanUids(commit.retrieved ?? []).filter((u) => !gone.has(u));
        if (retrieved.length) {
          await q.query('UPDATE messages SET retrieved_at = now() WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [mailboxId, retrieved]);
        }
        const seen = cleanUids(commit.seen ?? []).filter((u) => !gone.has(u));
        const seenRows = seen.length
          ? (
              await q.query<{ uid: string }>(
                `SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) AND (flags & ${FLAG_SEEN}) = 0`,
                [mailboxId, seen],
              )
            ).rows.map((r) => num(r.uid))
          : [];
        const expRows = gone.size
          ? (await q.query<{ uid: string }>('SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [mailboxId, [...gone]])).rows.map(
              (r) => num(r.uid),
            )
          : [];
        if (!seenRows.length && !expRows.length) return [];
        const modseq = num(b.highest_modseq) + 1;
        if (seenRows.length) {
          await q.query(`UPDATE messages SET flags = flags | ${FLAG_SEEN}, modseq = $3 WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])`, [
            mailboxId,
            seenRows,
            modseq,
          ]);
        }
        const out = await this.deleteRows(q, after, mailboxId, expRows, modseq);
        await this.bump(q, mailboxId, modseq);
        await this.changed(q, after, num(b.user_id), mailboxId, modseq);
        return out;
      }),
    );
  }

  purgeRetrieved(mailboxId: number, before: Date): Promise<number> {
    return this.run(async () => {
      if (!(before instanceof Date) || Number.isNaN(before.getTime())) throw new StoreError('INVALID', 'invalid date');
      return this.db.tx(async (q, after) => {
        const b = await this.mailboxRow(q, mailboxId, true);
        const r = await q.query<{ uid: string }>(
          'SELECT uid FROM messages WHERE mailbox_id = $1 AND retrieved_at IS NOT NULL AND retrieved_at <= $2 ORDER BY uid',
          [mailboxId, before],
        );
        if (!r.rows.length) return 0;
        const modseq = num(b.highest_modseq) + 1;
        const gone = await this.deleteRows(q, after, mailboxId, r.rows.map((row) => num(row.uid)), modseq);
        await this.bump(q, mailboxId, modseq);
        await this.changed(q, after, num(b.user_id), mailboxId, modseq);
        return gone.length;
      });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // outbound queue

  enqueueOutbound(sender: string, recipients: string[], raw: Buffer): Promise<string> {
    return this.run(async () => {
      if (!Buffer.isBuffer(raw)) throw new StoreError('INVALID', 'message must be a Buffer');
      if (raw.length > MAX_MESSAGE_SIZE) throw new StoreError('TOO_BIG', `message exceeds ${MAX_MESSAGE_SIZE} octets`);
      if (typeof sender !== 'string') throw new StoreError('INVALID', 'sender must be a string');
      checkEnvelopeString(sender, 'sender');
      if (!Array.isArray(recipients) || recipients.length === 0 || recipients.some((r) => typeof r !== 'string' || r.length === 0)) {
        throw new StoreError('INVALID', 'at least one recipient is required');
      }
      for (const r of recipients) checkEnvelopeString(r, 'recipient');
      const id = newObjectId('Q');
      await this.withBlob(raw, (blob) =>
        this.db.tx(async (q) => {
          await this.blobs.insert(q, blob, 1);
          await q.query(
            `INSERT INTO outbound (id, sender, recipients, attempts, created_at, next_attempt_at, size, blob_id)
             VALUES ($1, $2, $3, 0, clock_timestamp(), clock_timestamp(), $4, $5)`,
            [id, sender, recipients, raw.length, blob.id],
          );
        }),
      );
      return id;
    });
  }

  /**
   * Due messages, oldest first, claimed for this node: each returned message is leased to this node until
   * `now + outboundLeaseMs` (or until updateOutbound/deleteOutbound), and other nodes skip it meanwhile
   * (FOR UPDATE SKIP LOCKED makes concurrent claims from several nodes pick disjoint rows). This node's own
   * leased messages stay visible to it, so one node's worker sees the plain queue semantics.
   */
  dueOutbound(now: Date, limit: number): Promise<OutboundMessage[]> {
    return this.run(async () => {
      if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new StoreError('INVALID', 'invalid date');
      const lim = Math.max(0, Math.floor(Number.isFinite(limit) ? limit : 0));
      if (lim === 0) return [];
      const leaseUntil = new Date(now.getTime() + this.leaseMs);
      const r = await this.db.query<OutboundRow>(
        `WITH due AS (
           SELECT id FROM outbound
           WHERE next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1 OR lease_owner = $3)
           ORDER BY created_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED
         )
         UPDATE outbound o SET lease_owner = $3, lease_until = $4 FROM due WHERE o.id = due.id
         RETURNING o.*`,
        [now, lim, this.nodeName, leaseUntil],
      );
      return r.rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || num(a.seq) - num(b.seq)).map(toOutbound);
    });
  }

  readOutbound(id: string): Promise<Buffer> {
    return this.run(async () => {
      if (typeof id !== 'string') throw new StoreError('NOT_FOUND', 'no such outbound message');
      const r = await this.db.query<{ blob_id: string }>('SELECT blob_id FROM outbound WHERE id = $1', [pgText(id)]);
      const row = r.rows[0];
      if (!row) throw new StoreError('NOT_FOUND', 'no such outbound message');
      return this.blobs.read(this.db.pool, row.blob_id);
    });
  }

  updateOutbound(id: string, patch: { recipients: string[]; attempts: number; nextAttemptAt: Date; lastError: string | null }): Promise<void> {
    return this.run(async () => {
      if (!Array.isArray(patch.recipients) || patch.recipients.some((r) => typeof r !== 'string')) throw new StoreError('INVALID', 'invalid recipients');
      for (const r of patch.recipients) checkEnvelopeString(r, 'recipient');
      if (!Number.isSafeInteger(patch.attempts) || patch.attempts < 0 || patch.attempts > 0x7fffffff) throw new StoreError('INVALID', 'invalid attempts');
      if (!(patch.nextAttemptAt instanceof Date) || Number.isNaN(patch.nextAttemptAt.getTime())) throw new StoreError('INVALID', 'invalid date');
      const r = await this.db.query(
        `UPDATE outbound SET recipients = $2, attempts = $3, next_attempt_at = $4, last_error = $5, lease_owner = NULL, lease_until = NULL
         WHERE id = $1`,
        [pgText(String(id)), patch.recipients, patch.attempts, patch.nextAttemptAt, patch.lastError === null ? null : pgText(patch.lastError)],
      );
      if (r.rowCount === 0) throw new StoreError('NOT_FOUND', 'no such outbound message');
    });
  }

  deleteOutbound(id: string): Promise<void> {
    return this.run(async () => {
      await this.db.tx(async (q, after) => {
        const r = await q.query<{ blob_id: string }>('DELETE FROM outbound WHERE id = $1 RETURNING blob_id', [pgText(String(id))]);
        const row = r.rows[0];
        if (!row) throw new StoreError('NOT_FOUND', 'no such outbound message');
        await this.release(q, after, [row.blob_id]);
      });
    });
  }

  listOutbound(): Promise<OutboundMessage[]> {
    return this.run(async () => (await this.db.query<OutboundRow>('SELECT * FROM outbound ORDER BY created_at, seq')).rows.map(toOutbound));
  }

  // ---------------------------------------------------------------------------------------------
  // maintenance and diagnostics (not part of MailStore)

  /** Removes blob files no row references, older than `graceMs` (default one hour). Returns how many. */
  sweepOrphanBlobs(graceMs = 60 * 60 * 1000): Promise<number> {
    return this.run(async () => this.blobs.sweepOrphans(this.db.pool, graceMs, () => this.closed));
  }

  /** Where message bytes go: 'bytea' (in the database) or 'dir' (files under blobDir). */
  get blobMode(): 'bytea' | 'dir' {
    return this.blobs.mode;
  }

  /** Backend pid of the LISTEN connection, null while it is reconnecting. */
  get listenerPid(): number | null {
    return this.listener.pid;
  }

  /** How many times the LISTEN connection was restored after a loss. */
  get listenerReconnects(): number {
    return this.listener.reconnects;
  }

  /** Resolves once the LISTEN connection is up again (immediately when it is). */
  listenerSettled(): Promise<void> {
    return this.listener.settled();
  }

  /** Waits for in-flight operations, then closes the LISTEN connection, maildrop locks and the pool. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    this.subscribers.clear();
    this.known.clear();
    this.lastEvent.clear();
    await this.listener.close();
    await Promise.all([...this.lockClients].map((c) => c.end().catch(() => undefined)));
    this.lockClients.clear();
    await this.db.end();
  }
}

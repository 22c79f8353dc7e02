/**
 * The shared core of the PostgreSQL store: what the directory, the mail store, the maildrop and the
 * outbound queue (directory.ts, mail.ts, maildrop.ts, queue.ts) of one open store have in common: the
 * connection pool and transactions (db.ts), the LISTEN connection and the local change bus (notify.ts),
 * blob storage (blobs.ts), schema migrations (schema.ts) and the tracking of in-flight operations for
 * close(). Several stateless mailroom nodes share one database.
 *
 * Concurrency (see db.ts): writes run at READ COMMITTED and take the mailbox row lock first; UIDs and the
 * MODSEQ of a transaction are allocated from that row (uid_next, highest_modseq), so concurrent writers on
 * any node never duplicate a UID and every mailbox's HIGHESTMODSEQ grows strictly, one step per committed
 * transaction, in commit order. Operations on two mailboxes (COPY, MOVE) lock both rows in id order.
 *
 * Durability: the blob (a file on shared storage, fsynced; or bytea in the same transaction) exists before
 * the row pointing at it commits, and every method of every part resolves only after COMMIT.
 *
 * Notifications: each committing transaction calls pg_notify (delivered to every node after COMMIT); the
 * committing node also wakes its own subscribers right after COMMIT. Wake-ups are deduplicated per mailbox
 * by MODSEQ, so a subscriber normally hears each change once. After the LISTEN connection was lost and
 * restored, every subscriber is woken once (see notify.ts). Mailbox list changes (listChanged) are
 * announced the same way, once: a node ignores the notification of a change it committed itself. They are
 * also logged, and those made elsewhere while the LISTEN connection was down are announced after it
 * comes back (list-log.ts).
 *
 * Semantics (names, flags, threading, outbound order) follow the shared rules in ../names.ts, ../flags.ts
 * and the SQLite store, so the contract suites see one behaviour.
 *
 * Every operation goes through run(): after close() it rejects with StoreError TEMPORARY; infrastructure
 * failures (connection lost, lock timeout, contention) become TEMPORARY.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ChangeEvent, MailboxListEvent } from '../types.js';
import { StoreError } from '../types.js';
import type { StoreOptions } from '../handle.js';
import type { QuotaDefaults } from '../quota.js';
import type { Envelope } from '../../mime/types.js';
import type { Logger } from '../../lib/logger.js';
import { silentLogger } from '../../lib/logger.js';
import { BlobStore } from './blobs.js';
import { ExpungeHolds } from '../holds.js';
import { heldMailboxes, sweepHeld } from './held.js';
import { Db, clientConfig, errorMessage, mapError, num, sleep, type AfterCommit, type DbOptions, type Queryable } from './db.js';
import { ChangeListener, encodeListPayload, encodePayload } from './notify.js';
import { ListLog } from './list-log.js';
import { MailboxListBus } from '../bus.js';
import { migrate as runMigrations } from './schema.js';
import { record } from '../../lib/metrics.js';

/** Mailboxes whose latest MODSEQ is remembered for wake-up deduplication. */
const KNOWN_MODSEQ_ENTRIES = 10_000;
/**
 * Default outbound claim lease: long enough for a queue pass over a claimed batch even with slow remote
 * MX hosts; a node that dies delays the retry of its claimed messages by at most this much.
 */
const DEFAULT_OUTBOUND_LEASE_MS = 30 * 60 * 1000;

export interface PostgresStoreOptions extends StoreOptions {
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
  /** How long a message returned by OutboundQueue.due stays claimed by this node (default 30 minutes). */
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

/** Mailbox ids are bigint identities; anything that cannot be one is simply not found. */
export function validId(id: number): boolean {
  return Number.isSafeInteger(id) && id > 0;
}

/** User ids are int identities. */
export function validUserId(id: number): boolean {
  return Number.isSafeInteger(id) && id > 0 && id <= 0x7fffffff;
}

export class PgCore {
  readonly db: Db;
  readonly blobs: BlobStore;
  readonly logger: Logger;
  readonly schema: string;
  readonly channel: string;
  readonly nodeName: string;
  readonly leaseMs: number;
  /** StoreOptions.envelopeText: its result is kept in blob_meta.envelope_text. */
  readonly envelopeText: ((envelope: Envelope) => string | null) | undefined;
  /** Views of this node holding expunged messages, and the grace for other nodes' readers (held.ts). */
  readonly holds = new ExpungeHolds((mailboxId) => sweepHeld(this, mailboxId));
  readonly expungeGraceMs: number;
  /** Limits of users without their own (StoreOptions.quota; quota.ts). */
  readonly quotaDefaults: QuotaDefaults;
  private readonly listener: ChangeListener;
  /** Listeners of mailbox list events, and this store's tag in their notifications (notify.ts). */
  private readonly lists = new MailboxListBus();
  private readonly tag = randomBytes(6).toString('hex');
  /** Mailbox list changes written with their seq, replayed after a LISTEN reconnect (list-log.ts). */
  private readonly listLog = new ListLog();
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
  /** Connections holding POP3 maildrop locks (closed by close()). */
  readonly lockClients = new Set<pg.Client>();
  private closed = false;

  private constructor(opts: PostgresStoreOptions, dbOpts: DbOptions) {
    this.logger = dbOpts.logger;
    this.schema = dbOpts.schema;
    this.channel = `mailroom_${dbOpts.schema}`;
    this.nodeName = dbOpts.applicationName;
    this.leaseMs = opts.outboundLeaseMs ?? DEFAULT_OUTBOUND_LEASE_MS;
    this.envelopeText = opts.envelopeText;
    this.expungeGraceMs = Math.max(0, opts.expungeGraceMs ?? 0);
    this.quotaDefaults = { ...opts.quota };
    this.db = new Db(dbOpts);
    this.blobs = new BlobStore({ blobDir: opts.blobDir, fsync: opts.fsync ?? true });
    this.listener = new ChangeListener({
      channel: this.channel,
      clientConfig: clientConfig(dbOpts, 'listen'),
      logger: this.logger,
      onEvent: (ev) => this.deliver(ev, false),
      onList: (ev, tag, seq) => {
        // Heard already: replayed from the log after a reconnect, or (own tag) announced at its commit.
        if (seq !== null && !this.listLog.heard(seq)) return;
        if (tag !== this.tag) this.lists.emit(ev);
      },
      onReconnect: async () => {
        // The replay does not depend on the wake-up: a failed wake-up still lets the missed list changes out.
        try {
          await this.wakeAll();
        } finally {
          await this.replayLists();
        }
      },
      minBackoffMs: opts.listenBackoffMs?.min,
      maxBackoffMs: opts.listenBackoffMs?.max,
      heartbeatMs: opts.listenHeartbeatMs,
    });
  }

  /**
   * Connects, applies pending migrations (unless opts.migrate is false) and starts the LISTEN connection.
   * Throws StoreError INVALID for a bad schema or node name, TEMPORARY when PostgreSQL is unreachable.
   */
  static async open(opts: PostgresStoreOptions): Promise<PgCore> {
    const schema = opts.schema ?? 'public';
    if (!/^[a-z_][a-z0-9_]{0,47}$/.test(schema)) throw new StoreError('INVALID', `invalid schema name ${JSON.stringify(schema)}`);
    // Unique per store instance by default: it also names this node's outbound leases.
    const nodeName = opts.nodeName ?? `mailroom-${process.pid}-${randomBytes(4).toString('hex')}`;
    if (!/^[A-Za-z0-9_.-]{1,40}$/.test(nodeName)) throw new StoreError('INVALID', `invalid node name ${JSON.stringify(nodeName)}`);
    const core = new PgCore(opts, {
      url: opts.url,
      schema,
      applicationName: nodeName,
      poolSize: opts.poolSize ?? 10,
      logger: opts.logger ?? silentLogger,
      durable: opts.fsync ?? true,
      ...(opts.lockTimeoutMs !== undefined ? { lockTimeoutMs: opts.lockTimeoutMs } : {}),
    });
    try {
      if (opts.migrate ?? true) await core.migrate();
      await core.listLog.start(core.db);
      await core.listener.start();
    } catch (e) {
      await core.listener.close();
      await core.db.end().catch(() => undefined);
      throw mapError(e);
    }
    // Held expunged messages of readers gone with the last process (or still in their grace).
    void heldMailboxes(core).then(
      (ids) => {
        for (const id of ids) {
          sweepHeld(core, id);
          core.heldAdded(id);
        }
      },
      () => undefined,
    );
    if (core.blobs.mode === 'dir' && (opts.sweepAtOpen ?? true)) {
      void core.sweepOrphanBlobs().then(
        (n) => {
          if (n > 0) core.logger.info({ removed: n }, 'removed orphan blob files');
        },
        (e: unknown) => core.logger.warn({ err: errorMessage(e) }, 'orphan blob sweep failed'),
      );
    }
    return core;
  }

  /** An expunge of this mailbox keeps its messages readable (held.ts). */
  holdsExpunged(mailboxId: number): boolean {
    return this.expungeGraceMs > 0 || this.holds.holding(mailboxId);
  }

  /** Rows were held: with a grace, sweep them once it has passed (holds moving sweep them too). */
  heldAdded(mailboxId: number): void {
    if (this.expungeGraceMs <= 0) return;
    setTimeout(() => sweepHeld(this, mailboxId), this.expungeGraceMs + 50).unref();
  }

  /** Applies pending schema migrations (idempotent; safe when several nodes run it at once). */
  async migrate(): Promise<void> {
    await runMigrations(this.db, this.schema, this.logger);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Runs an operation, tracking it for close() and mapping low-level errors to StoreError codes. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError('TEMPORARY', 'store is closed'));
    const p = (async () => {
      try {
        return await fn();
      } catch (e) {
        throw mapError(e);
      }
    })();
    this.pending.add(p);
    const started = performance.now();
    const done = (): void => {
      this.pending.delete(p);
      record.storeLatency('postgres', performance.now() - started);
    };
    p.then(done, done);
    return p;
  }

  /** Records a change inside the transaction: NOTIFY now (sent at COMMIT), local wake-up after COMMIT. */
  async changed(q: Queryable, after: AfterCommit, userId: number, mailboxId: number, highestModseq: number): Promise<void> {
    const ev: ChangeEvent = { userId, mailboxId, highestModseq };
    await q.query('SELECT pg_notify($1, $2)', [this.channel, encodePayload(ev)]);
    after.push(() => this.deliver(ev, false));
  }

  /** Records a mailbox list change inside the transaction: NOTIFY now (sent at COMMIT), announced here after COMMIT. */
  async listChanged(q: Queryable, after: AfterCommit, ev: MailboxListEvent): Promise<void> {
    const seq = await this.listLog.write(q, this.tag, ev);
    await q.query('SELECT pg_notify($1, $2)', [this.channel, encodeListPayload(this.tag, ev, seq)]);
    after.push(() => {
      this.listLog.heard(seq);
      this.lists.emit(ev);
    });
  }

  /** After the LISTEN connection came back: announces the list changes of other nodes made meanwhile. */
  private async replayLists(): Promise<void> {
    if (this.closed) return;
    for (const ev of await this.listLog.missed(this.db, this.tag, this.lists.keys())) this.lists.emit(ev);
  }

  /** MailStore.subscribeMailboxList: this node's and other nodes' changes; returns the idempotent unsubscribe. */
  subscribeList(userId: number, listener: (ev: MailboxListEvent) => void): () => void {
    if (this.closed) throw new StoreError('TEMPORARY', 'store is closed');
    return this.lists.subscribe(userId, listener);
  }

  /** Fans an event out to this node's subscribers of the mailbox (on a microtask), once per MODSEQ. */
  deliver(ev: ChangeEvent, force: boolean): void {
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

  /** MailStore.subscribe: wake-ups for one mailbox from any node; returns the idempotent unsubscribe. */
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
  // maintenance and diagnostics

  /** Removes blob files no row references, older than `graceMs` (default one hour). Returns how many. */
  sweepOrphanBlobs(graceMs = 60 * 60 * 1000): Promise<number> {
    return this.run(async () => this.blobs.sweepOrphans(this.db.pool, graceMs, () => this.closed));
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

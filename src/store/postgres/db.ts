/**
 * Connection handling for the PostgreSQL store: one pg Pool per store instance, a transaction helper with
 * after-commit actions and retry of serialization failures/deadlocks, and the mapping of PostgreSQL errors to
 * StoreError codes.
 *
 * Isolation: write transactions run at READ COMMITTED and serialise per mailbox by taking the mailbox row
 * lock first (SELECT ... FOR UPDATE / UPDATE ... RETURNING). Every later statement of that transaction takes a
 * fresh snapshot, so it sees every change committed by the previous holder of the lock: per mailbox the
 * writers behave as if run one after another, and UID/MODSEQ allocation cannot race. Multi-statement reads
 * that must agree with each other (changesSince, status) run at REPEATABLE READ READ ONLY (one snapshot).
 */
import pg from 'pg';
import type { Logger } from '../../lib/logger.js';
import { StoreError } from '../types.js';

/** A query function bound to one connection (inside a transaction) or to the pool. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

/** Work run only after COMMIT succeeded (local wake-ups, blob file unlinks). */
export type AfterCommit = Array<() => void | Promise<void>>;

/** SQLSTATEs worth retrying: the transaction lost a race and can simply run again. */
const RETRYABLE = new Set(['40001', '40P01']);
/** Attempts of one transaction before giving up with TEMPORARY. */
const MAX_TX_ATTEMPTS = 6;

interface PgErrorLike {
  code?: unknown;
  message?: unknown;
}

export function pgCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null) {
    const c = (e as PgErrorLike).code;
    if (typeof c === 'string') return c;
  }
  return undefined;
}

/**
 * True for failures of the connection or the server (not of the statement): refused/reset sockets,
 * admin shutdown, server restarting, too many connections, pg's own "Connection terminated" errors.
 */
export function isConnectionError(e: unknown): boolean {
  const code = pgCode(e);
  if (code !== undefined) {
    if (code.startsWith('08') || code.startsWith('57P') || code === '53300' || code === '53000') return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) return true;
  }
  if (e instanceof Error && /Connection terminated|connection timeout|Client has encountered a connection error|Connection ended/i.test(e.message)) {
    return true;
  }
  return false;
}

/** Converts infrastructure failures to StoreError TEMPORARY; leaves StoreErrors and other errors alone. */
export function mapError(e: unknown): unknown {
  if (e instanceof StoreError) return e;
  const code = pgCode(e);
  if (isConnectionError(e)) return new StoreError('TEMPORARY', `database unavailable: ${errorMessage(e)}`, { cause: e });
  if (code !== undefined && (RETRYABLE.has(code) || code === '55P03' || code === '57014')) {
    return new StoreError('TEMPORARY', `database contention: ${errorMessage(e)}`, { cause: e });
  }
  return e;
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

export interface DbOptions {
  url: string;
  schema: string;
  applicationName: string;
  poolSize: number;
  logger: Logger;
  /**
   * false: commits do not wait for the WAL flush (synchronous_commit=off) — for tests and benchmarks
   * only, like the SQLite store's fsync=false. A crash may then lose the last commits (never corrupts).
   */
  durable: boolean;
  /** Lock wait limit of pool sessions (default LOCK_TIMEOUT_MS). */
  lockTimeoutMs?: number;
}

/** Longest wait for a row or advisory lock in a pool session before the operation fails TEMPORARY. */
export const LOCK_TIMEOUT_MS = 30_000;
/** A transaction left open this long (its node froze or died mid-way) is ended by the server. */
export const IDLE_IN_TX_TIMEOUT_MS = 60_000;

/** PostgreSQL identifiers we interpolate into SQL (schema names) must match this. */
export const IDENTIFIER_RE = /^[a-z_][a-z0-9_]{0,47}$/;

/** Connection settings shared by the pool, the LISTEN connection and maildrop-lock connections. */
export function clientConfig(o: DbOptions, role: string): pg.ClientConfig {
  return {
    connectionString: o.url,
    application_name: `${o.applicationName}:${role}`.slice(0, 63),
    // search_path set at connection start: every unqualified table name resolves in the store's schema.
    // Pool sessions also bound lock waits and abandoned transactions (a frozen node must not hold a
    // mailbox row lock for long); LISTEN and maildrop sessions idle outside transactions by design.
    options:
      `-c search_path=${o.schema}` +
      (o.durable ? '' : ' -c synchronous_commit=off') +
      (role === 'pool'
        ? ` -c lock_timeout=${Math.max(1, Math.floor(o.lockTimeoutMs ?? LOCK_TIMEOUT_MS))} -c idle_in_transaction_session_timeout=${IDLE_IN_TX_TIMEOUT_MS}`
        : ''),
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
  };
}

export class Db {
  readonly pool: pg.Pool;
  private readonly logger: Logger;

  constructor(readonly opts: DbOptions) {
    this.logger = opts.logger;
    this.pool = new pg.Pool({ ...clientConfig(opts, 'pool'), max: opts.poolSize, idleTimeoutMillis: 30_000 });
    // An idle client whose server connection dies emits 'error' on the pool; without a handler the process
    // would crash. The pool discards that client by itself.
    this.pool.on('error', (err) => {
      this.logger.warn({ err: errorMessage(err) }, 'idle PostgreSQL connection failed');
    });
  }

  /**
   * Runs one statement outside any transaction (autocommit). Connection failures become TEMPORARY. A `name`
   * makes it a prepared statement, parsed and planned once per connection (hot paths only; one name, one
   * text).
   */
  async query<R extends pg.QueryResultRow>(text: string, values?: unknown[], name?: string): Promise<pg.QueryResult<R>> {
    try {
      return name === undefined ? await this.pool.query<R>(text, values) : await this.pool.query<R>({ name, text, values: values ?? [] });
    } catch (e) {
      throw mapError(e);
    }
  }

  /**
   * Runs `fn` in a transaction and commits. Serialization failures and deadlocks re-run `fn` from the start
   * (so `fn` must have no effects outside the database except through `after`). `after` callbacks run once,
   * after the successful COMMIT. Connection failures become StoreError TEMPORARY.
   */
  async tx<T>(
    fn: (q: Queryable, after: AfterCommit) => Promise<T>,
    opts: { isolation?: Isolation; readOnly?: boolean } = {},
  ): Promise<T> {
    const begin = `BEGIN ISOLATION LEVEL ${(opts.isolation ?? 'read committed').toUpperCase()}${opts.readOnly ? ' READ ONLY' : ''}`;
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (e) {
        throw mapError(e);
      }
      const after: AfterCommit = [];
      let result: T;
      let broken: Error | undefined;
      try {
        await client.query(begin);
        result = await fn(client, after);
        await client.query('COMMIT');
      } catch (e) {
        if (isConnectionError(e)) {
          broken = e instanceof Error ? e : new Error(String(e));
        } else {
          try {
            await client.query('ROLLBACK');
          } catch (rollbackError) {
            broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
          }
        }
        client.release(broken);
        const code = pgCode(e);
        if (code !== undefined && RETRYABLE.has(code) && attempt < MAX_TX_ATTEMPTS) {
          await sleep(Math.floor(Math.random() * 10 * attempt));
          continue;
        }
        throw mapError(e);
      }
      client.release();
      for (const f of after) {
        try {
          await f();
        } catch (e) {
          this.logger.warn({ err: errorMessage(e) }, 'after-commit action failed');
        }
      }
      return result;
    }
  }

  async end(): Promise<void> {
    await this.pool.end();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** int8/numeric columns arrive as strings; every value we keep there fits a double exactly (< 2^53). */
export function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  if (typeof v === 'bigint') return Number(v);
  throw new TypeError(`expected a number, got ${typeof v}`);
}

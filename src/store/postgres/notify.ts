/**
 * Cross-node change notification over LISTEN/NOTIFY.
 *
 * Every committing write transaction runs `pg_notify(channel, '<user>:<mailbox>:<modseq>')`; PostgreSQL
 * delivers it to every listening session only after COMMIT. A change to a user's mailbox list or
 * subscriptions is sent on the same channel as 'L' and a JSON object (encodeListPayload): the event itself,
 * since no table keeps former names, and the sending store's tag, so the store that committed it (which
 * announced it at COMMIT) ignores its own. Each store keeps ONE dedicated connection that
 * LISTENs on the channel and fans events out to the local subscribers of the mailbox.
 *
 * A notification sent while the LISTEN connection is down is lost. So when the connection fails ('error'
 * or 'end': server restart, pg_terminate_backend, network), the listener reconnects with exponential
 * backoff, re-LISTENs, and then calls `onReconnect`, which wakes every subscriber once; subscribers catch up
 * from the change log by MODSEQ (notifications are wake-ups, the change log is the truth), so nothing
 * committed during the outage goes unnoticed. Mailbox list events sent during an outage are lost (a JMAP
 * view catches up at its next sync; an IMAP NOTIFY session misses their LIST responses).
 */
import pg from 'pg';
import type { Logger } from '../../lib/logger.js';
import type { ChangeEvent, MailboxListEvent } from '../types.js';
import { checkListEvent } from '../mailbox-list.js';
import { errorMessage } from './db.js';

export interface ListenerOptions {
  channel: string;
  clientConfig: pg.ClientConfig;
  logger: Logger;
  onEvent(ev: ChangeEvent): void;
  /** A mailbox list event and the tag of the store that sent it. */
  onList(ev: MailboxListEvent, tag: string, seq: number | null): void;
  /** Called after every successful re-LISTEN that followed a lost connection. */
  onReconnect(): void | Promise<void>;
  /** First reconnect delay; doubled per failed attempt up to maxBackoffMs. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Interval of the liveness probe on the LISTEN connection (default 30 s). A connection that stops
   * answering (half-open TCP, frozen server) is treated as lost once a probe takes longer than the interval
   * or 10 s, whichever is less; 'error'/'end' alone would never fire for it.
   */
  heartbeatMs?: number;
}

export function encodePayload(ev: ChangeEvent): string {
  return `${ev.userId}:${ev.mailboxId}:${ev.highestModseq}`;
}

/** Parses a payload; null for anything malformed (never trust the wire). */
export function decodePayload(s: string | undefined): ChangeEvent | null {
  if (!s) return null;
  const m = /^(\d{1,15}):(\d{1,15}):(\d{1,18})$/.exec(s);
  if (!m) return null;
  return { userId: Number(m[1]), mailboxId: Number(m[2]), highestModseq: Number(m[3]) };
}

/**
 * The payload of a mailbox list event sent by the store tagged `tag`. Names are at most
 * MAX_MAILBOX_NAME_OCTETS each, so it stays well under PostgreSQL's 8000-byte payload limit.
 */
export function encodeListPayload(tag: string, ev: MailboxListEvent, seq: number): string {
  return 'L' + JSON.stringify({ tag, seq, userId: ev.userId, kind: ev.kind, name: ev.name, oldName: ev.oldName, origin: ev.origin });
}

/** Parses a list payload; null for anything malformed. */
export function decodeListPayload(s: string): { tag: string; seq: number | null; ev: MailboxListEvent } | null {
  let v: unknown;
  try {
    v = JSON.parse(s.slice(1));
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const tag = (v as { tag?: unknown }).tag;
  const seq = (v as { seq?: unknown }).seq;
  const ev = checkListEvent(v as Record<string, unknown>);
  if (seq !== undefined && !(Number.isSafeInteger(seq) && (seq as number) > 0)) return null;
  return ev && typeof tag === 'string' && tag.length <= 64 ? { tag, seq: (seq as number | undefined) ?? null, ev } : null;
}

type State = 'idle' | 'connecting' | 'listening' | 'waiting' | 'closed';

export class ChangeListener {
  private client: pg.Client | null = null;
  private state: State = 'idle';
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private readonly minBackoff: number;
  private readonly maxBackoff: number;
  /** Resolves when a reconnect cycle finishes (tests and close() wait on it). */
  private cycle: Promise<void> | null = null;
  private endCycle: (() => void) | null = null;
  /** Count of successful reconnects after a loss (diagnostics). */
  reconnects = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  private probing = false;
  private readonly heartbeatMs: number;

  constructor(private readonly o: ListenerOptions) {
    this.minBackoff = o.minBackoffMs ?? 100;
    this.maxBackoff = o.maxBackoffMs ?? 5_000;
    this.heartbeatMs = o.heartbeatMs ?? 30_000;
  }

  /** One liveness probe: SELECT 1 must answer within the probe timeout, else the connection is lost. */
  private async probe(): Promise<void> {
    const c = this.client;
    if (this.probing || this.state !== 'listening' || !c) return;
    this.probing = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('LISTEN connection does not answer')), Math.min(this.heartbeatMs, 10_000));
        timer.unref();
      });
      await Promise.race([c.query('SELECT 1'), timeout]);
    } catch (e) {
      this.lost(c, e instanceof Error ? e : new Error(String(e)));
    } finally {
      if (timer) clearTimeout(timer);
      this.probing = false;
    }
  }

  /** Opens the connection and LISTENs. Throws when the first connection fails. */
  async start(): Promise<void> {
    this.state = 'connecting';
    await this.connectOnce();
  }

  /** Backend process id of the LISTEN connection (null while disconnected). */
  get pid(): number | null {
    const c = this.client as (pg.Client & { processID?: number | null }) | null;
    return this.state === 'listening' && c ? (c.processID ?? null) : null;
  }

  get listening(): boolean {
    return this.state === 'listening';
  }

  private async connectOnce(): Promise<void> {
    const client = new pg.Client(this.o.clientConfig);
    // Attached before connect: an unhandled 'error' on a pg client would crash the process.
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, null));
    client.on('notification', (msg) => {
      if (msg.channel !== this.o.channel) return;
      if (msg.payload?.startsWith('L')) {
        const l = decodeListPayload(msg.payload);
        if (l) this.o.onList(l.ev, l.tag, l.seq);
        else this.o.logger.warn({ payload: msg.payload.slice(0, 200) }, 'ignored malformed mailbox list notification');
        return;
      }
      const ev = decodePayload(msg.payload);
      if (ev) this.o.onEvent(ev);
      else this.o.logger.warn({ payload: msg.payload }, 'ignored malformed change notification');
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN "${this.o.channel}"`);
    } catch (e) {
      this.client = null;
      client.removeAllListeners('end');
      client.removeAllListeners('notification');
      // Keep a no-op error handler: the socket may still report late errors.
      client.removeAllListeners('error');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw e;
    }
    if (this.state === 'closed') {
      await client.end().catch(() => undefined);
      return;
    }
    this.state = 'listening';
    if (!this.heartbeat && this.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => void this.probe(), this.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  private lost(client: pg.Client, err: Error | null): void {
    if (client !== this.client) return; // a stale client reporting late
    if (this.state === 'closed' || this.state === 'waiting') return;
    if (this.state === 'connecting') return; // connectOnce's caller handles it
    this.o.logger.warn({ err: err ? errorMessage(err) : 'connection ended' }, 'LISTEN connection lost; reconnecting');
    this.client = null;
    client.removeAllListeners('notification');
    client.removeAllListeners('end');
    client.removeAllListeners('error');
    client.on('error', () => undefined);
    discard(client);
    this.failures = 0;
    // First retry after ~minBackoff: a restarting server refuses connections for a moment anyway.
    this.scheduleReconnect(this.jitter(this.minBackoff));
  }

  private scheduleReconnect(delay: number): void {
    this.state = 'waiting';
    if (!this.cycle) this.cycle = new Promise<void>((resolve) => (this.endCycle = resolve));
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reconnect();
    }, delay);
    this.timer.unref();
  }

  /** A delay in [d/2, d]: nodes that lost the server together do not reconnect in lockstep. */
  private jitter(d: number): number {
    return Math.round(d / 2 + Math.random() * (d / 2));
  }

  private finishCycle(): void {
    const end = this.endCycle;
    this.endCycle = null;
    this.cycle = null;
    end?.();
  }

  private async reconnect(): Promise<void> {
    if (this.state === 'closed') return this.finishCycle();
    this.state = 'connecting';
    try {
      await this.connectOnce();
    } catch (e) {
      if ((this.state as State) === 'closed') return this.finishCycle();
      this.failures++;
      const jittered = this.jitter(Math.min(this.maxBackoff, this.minBackoff * 2 ** this.failures));
      this.o.logger.warn({ err: errorMessage(e), retryInMs: jittered }, 'LISTEN reconnect failed');
      this.scheduleReconnect(jittered);
      return;
    }
    if ((this.state as State) === 'closed') return this.finishCycle();
    this.reconnects++;
    this.o.logger.info({ reconnects: this.reconnects }, 'LISTEN connection restored');
    try {
      await this.o.onReconnect();
    } catch (e) {
      this.o.logger.warn({ err: errorMessage(e) }, 'wake-up after reconnect failed');
    }
    this.finishCycle();
  }

  /** Resolves once no reconnect is pending (immediately when listening). */
  async settled(): Promise<void> {
    while (this.cycle) await this.cycle;
  }

  async close(): Promise<void> {
    this.state = 'closed';
    if (this.heartbeat) {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
    }
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.finishCycle();
    const c = this.client;
    this.client = null;
    if (c) {
      c.removeAllListeners('notification');
      c.removeAllListeners('end');
      c.removeAllListeners('error');
      c.on('error', () => undefined);
      await c.end().catch(() => undefined);
    }
  }
}

/**
 * Ends a client we gave up on. end() waits for the server to close the socket, which an unresponsive peer
 * never does: after a second the socket is destroyed instead, so nothing lingers.
 */
function discard(client: pg.Client): void {
  const t = setTimeout(() => {
    const stream = (client as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream;
    stream?.destroy?.();
  }, 1000);
  t.unref();
  client.end().then(
    () => clearTimeout(t),
    () => clearTimeout(t),
  );
}

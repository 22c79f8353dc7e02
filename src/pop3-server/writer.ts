/**
 * The output side of one POP3 connection: replies queued for the socket, corked until the next turn of the
 * event loop so a reply's pieces and the replies to pipelined commands leave in one writev, socket
 * backpressure, and the read buffers handed back once the socket has taken them.
 */
import type { Duplex } from 'node:stream';
import type { BufferPool } from '../lib/buffer-pool.js';
import type { Logger } from '../lib/logger.js';
import { OUT_HIGH_WATER } from './connection-limits.js';
import { drainWithin } from '../lib/drain.js';

/** Thrown where the connection is gone (closed, destroyed, or cut for not reading): the session ends. */
export class ConnectionGone extends Error {
  constructor() {
    super('connection closed');
  }
}

/**
 * Text shorter than this waits in ReplyWriter to be written together with the next piece of text: a RETR's
 * terminator and the next reply's status line, or a run of pipelined DELE replies, go to the stream as one
 * string rather than one write() each.
 */
const TEXT_JOIN_MAX = 4096;

export class ReplyWriter {
  /** The stream replies go to (the TLS socket after STLS). */
  stream: Duplex;
  /** Set once the peer has closed: every later put() throws ConnectionGone. */
  gone = false;
  /** The stream put() corked until the next turn of the event loop, if any. */
  #corked: Duplex | null = null;
  /** Text put() and not yet handed to the stream (see TEXT_JOIN_MAX); always written before the next bytes. */
  #text = '';

  constructor(
    stream: Duplex,
    private readonly pool: BufferPool,
    private readonly idleTimeoutMs: number,
    private readonly log: Logger,
  ) {
    this.stream = stream;
  }

  /** True when more than OUT_HIGH_WATER bytes wait for the socket. */
  get behind(): boolean {
    return this.stream.writableLength >= OUT_HIGH_WATER;
  }

  /** Hands everything put() so far to the stream and releases the cork (before the stream changes hands or ends). */
  readonly flush = (): void => {
    const s = this.#corked;
    this.#corked = null;
    if (!s) return;
    if (this.#text !== '') {
      const text = this.#text;
      this.#text = '';
      if (!s.destroyed && !s.writableEnded) s.write(text);
    }
    if (s.writableCorked) s.uncork();
  };

  /**
   * Queues bytes for the socket without waiting; true when the caller should wait for drained() before
   * queueing more. Writes in the same turn of the event loop (a reply's status line, body and terminator; the
   * replies to pipelined commands) stay corked and leave in one writev, without being copied together, until
   * OUT_HIGH_WATER bytes wait: then they go to the kernel at once, and only when it cannot take them (the
   * client reads slower than we send) does the writer wait. A pooled buffer goes back to the pool once the
   * socket has taken its bytes (not after an error: the socket may still hold it).
   */
  put(data: string | Buffer, pooled = false): boolean {
    const s = this.stream;
    if (this.gone || s.destroyed || s.writableEnded) throw new ConnectionGone();
    if (!this.#corked) {
      this.#corked = s;
      s.cork();
      setImmediate(this.flush);
    }
    if (typeof data === 'string') {
      const text = this.#text === '' ? data : this.#text + data;
      if (text.length < TEXT_JOIN_MAX) {
        this.#text = text;
        return false;
      }
      this.#text = '';
      s.write(text);
    } else {
      if (this.#text !== '') {
        s.write(this.#text);
        this.#text = '';
      }
      s.write(data, pooled ? (e?: Error | null): void => (e ? undefined : this.pool.give(data)) : undefined);
    }
    if (s.writableLength < OUT_HIGH_WATER) return false;
    // A corked stream never drains: send what is queued (most often the kernel takes it all at once).
    this.flush();
    return s.writableLength >= OUT_HIGH_WATER;
  }

  /** Writes with backpressure (see put and drained). */
  async write(data: string | Buffer, pooled = false): Promise<void> {
    if (this.put(data, pooled)) await this.drained();
  }

  /**
   * Resolves once the socket has taken what was queued, or at once when less than OUT_HIGH_WATER waits; a
   * client that stops reading for the idle timeout is disconnected (ConnectionGone).
   */
  async drained(): Promise<void> {
    const s = this.stream;
    // More than the stream's own high-water mark is queued, so it emits 'drain' once the queue is empty.
    if (s.writableLength < OUT_HIGH_WATER || !s.writableNeedDrain) return;
    await drainWithin(s, this.idleTimeoutMs, () => new ConnectionGone(), () => this.log.info({}, 'pop3 client stopped reading; closing'));
  }
}

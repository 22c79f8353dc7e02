/**
 * The outbound queue: messages waiting to leave (submission relay, bounces). Persistent across restarts.
 */
import type { OutboundMessage } from './types.js';

export interface OutboundPatch {
  recipients: string[];
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
}

export interface OutboundQueue {
  /**
   * Stores the message for delivery now, or not before `opts.notBefore` (a held message: JMAP delayed send,
   * FUTURERELEASE); returns its id.
   */
  enqueue(sender: string, recipients: string[], raw: Buffer, opts?: { notBefore?: Date }): Promise<string>;
  /**
   * Messages whose nextAttemptAt <= now, oldest first. A store shared by several nodes claims the returned
   * messages for the calling node until update/remove or a lease expires (measured from `now`), so no two
   * nodes attempt the same message; the node's own claims stay visible to it.
   */
  due(now: Date, limit: number): Promise<OutboundMessage[]>;
  /** The message bytes. Throws NOT_FOUND. */
  read(id: string): Promise<Buffer>;
  /** Throws NOT_FOUND. */
  update(id: string, patch: OutboundPatch): Promise<void>;
  /** Throws NOT_FOUND. */
  remove(id: string): Promise<void>;
  list(): Promise<OutboundMessage[]>;
}

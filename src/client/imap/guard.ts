/**
 * What one IMAP connection may cost us, watched on its socket (imapflow's own timeouts reset on every
 * byte): the progress rule of stall.ts while a command is outstanding, and byte budgets for one command (a
 * FETCH of small bodies may not bring much more than their announced sizes). Past either, the connection
 * is closed and the reason recorded as the connection's fault (a ClientError naming the account), which
 * the failing command reports instead of "Connection not available".
 */
import type { ImapFlow } from 'imapflow';
import type { Socket } from 'node:net';
import { ClientError } from '../errors.js';
import { DEFAULT_STALL, StallWatch, stallText, type StallRule } from '../stall.js';
import { recorderOf } from './refusal.js';

interface Budget {
  limit: number;
  start: number;
  what: string;
}

export class WireGuard {
  /** Bytes received on the connection since it was watched. */
  private received = 0;
  private budget: Budget | null = null;
  private watch: StallWatch | null = null;

  constructor(
    private readonly client: ImapFlow,
    private readonly label: string,
  ) {}

  /** Starts watching the connected socket; does nothing when imapflow's internals are not as expected. */
  start(rule: StallRule = DEFAULT_STALL): void {
    const inner = this.client as unknown as { socket?: Socket | false; requestTagMap?: Map<string, unknown> };
    const socket = inner.socket;
    const tags = inner.requestTagMap;
    if (!socket || !(tags instanceof Map)) return;
    this.watch = new StallWatch(
      rule,
      () => (tags.size ? tags.keys().next().value : null),
      (s) => this.fail(new ClientError('NETWORK', `${this.label} ${stallText(s, rule)}: connection closed (what arrived is kept, queued changes stay queued)`)),
    );
    socket.on('data', (chunk: Buffer) => this.data(chunk.length));
    this.client.once('close', () => this.watch?.stop());
  }

  private data(n: number): void {
    this.received += n;
    this.watch?.data(n);
    const b = this.budget;
    if (b && this.received - b.start > b.limit) {
      this.budget = null;
      this.fail(new ClientError('PROTOCOL', `${this.label} sent more than ${b.limit} bytes for ${b.what} (broken or hostile server): connection closed`));
    }
  }

  /** Bounds the bytes received until the returned function is called. */
  limit(bytes: number, what: string): () => void {
    const b: Budget = { limit: bytes, start: this.received, what };
    this.budget = b;
    return () => {
      if (this.budget === b) this.budget = null;
    };
  }

  private fail(err: ClientError): void {
    this.watch?.stop();
    recorderOf(this.client).fault = err;
    this.client.close();
  }
}

const guards = new WeakMap<ImapFlow, WireGuard>();

export function attachGuard(client: ImapFlow, guard: WireGuard): void {
  guards.set(client, guard);
}

/** The connection's guard, if it has one. */
export function guardOf(client: ImapFlow): WireGuard | undefined {
  return guards.get(client);
}

/**
 * An EventSource client that stops reading while changes go on: the server held every event for it
 * (writes buffered without bound). Past MAX_EVENTSOURCE_BACKLOG octets not yet taken, the stream is cut
 * and its listener and push place are released.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { eventSource, MAX_EVENTSOURCE_BACKLOG } from '../src/jmap/eventsource.js';
import type { Account } from '../src/jmap/account.js';
import type { PushHub, PushListener } from '../src/jmap/push.js';

/** A response whose client never reads: every write stays buffered. */
class StalledResponse {
  writableLength = 0;
  destroyed = false;
  ended = false;
  readonly handlers = new Map<string, Array<() => void>>();
  writeHead(): void {}
  write(text: string): boolean {
    this.writableLength += Buffer.byteLength(text);
    return false;
  }
  end(): void {
    this.ended = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  on(event: string, fn: () => void): void {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn]);
  }
}

test('a stream whose client stopped reading is cut past the backlog; its listener and place are released', () => {
  const res = new StalledResponse();
  const reply = { hijack: () => undefined, raw: res } as unknown as FastifyReply;
  const req = { raw: { on: () => undefined } } as unknown as FastifyRequest;
  const account = { accountId: 'a1', emailState: () => 'e0', boxes: new Map(), rememberMailboxes: () => 'm0' } as unknown as Account;
  let listener: PushListener | null = null;
  let removed = 0;
  const hub = {
    add: (_a: Account, l: PushListener) => {
      listener = l;
      return () => removed++;
    },
  } as unknown as PushHub;
  let released = 0;
  eventSource(req, reply, hub, account, null, false, 0, () => released++);
  assert.ok(listener);
  let sent = 0;
  for (let i = 0; i < 100_000 && !res.destroyed; i++) {
    (listener as PushListener).send({ Email: `e${i}`, Mailbox: `m${i}` });
    sent++;
  }
  assert.equal(res.destroyed, true, `cut after ${sent} events`);
  assert.ok(res.writableLength <= MAX_EVENTSOURCE_BACKLOG + 1024, `${res.writableLength} octets held`);
  assert.equal(removed, 1);
  assert.equal(released, 1);
});

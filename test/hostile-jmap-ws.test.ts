/**
 * A JMAP WebSocket stops reading once the requests waiting on it hold MAX_PENDING_BYTES, not only once 16
 * of them wait: a frame may be 16 MiB, so sixteen waiting frames held 256 MiB for one connection (and a
 * user may hold 20 connections).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyRequest } from 'fastify';
import { handleWebSocket, MAX_PENDING_BYTES, type WsLike } from '../src/jmap/websocket.js';
import type { JmapServer } from '../src/jmap/server.js';
import type { PushHub } from '../src/jmap/push.js';
import type { HttpContext } from '../src/http/types.js';
import type { AuthOutcome } from '../src/http/auth.js';
import type { User } from '../src/store/types.js';

class FakeSocket implements WsLike {
  readonly protocol = 'jmap';
  readonly readyState = 1;
  readonly OPEN = 1;
  readonly bufferedAmount = 0;
  pauses = 0;
  readonly handlers = new Map<string, Array<(...a: unknown[]) => void>>();
  send(): void {}
  close(): void {}
  pause(): void {
    this.pauses++;
  }
  resume(): void {}
  on(event: string, fn: (...a: never[]) => void): void {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), fn as (...a: unknown[]) => void]);
  }
  emit(event: string, ...a: unknown[]): void {
    for (const fn of this.handlers.get(event) ?? []) fn(...a);
  }
}

test('two frames of 9 MiB waiting pause the socket; small frames pause it at 16', () => {
  // The account view never becomes ready: every frame stays waiting, as behind a slow request.
  const server = { account: () => new Promise<never>(() => undefined) } as unknown as JmapServer;
  const known: AuthOutcome = { ok: true, auth: { user: { id: 1 } as User, via: 'bearer', tokenId: null } };
  const big = new FakeSocket();
  handleWebSocket(server, {} as PushHub, {} as HttpContext, big, {} as FastifyRequest, known);
  const frame = Buffer.alloc(9 * 1024 * 1024, 0x20);
  big.emit('message', frame, false);
  assert.equal(big.pauses, 0);
  big.emit('message', frame, false);
  assert.ok(2 * frame.length > MAX_PENDING_BYTES);
  assert.equal(big.pauses, 1, 'paused once the waiting frames passed MAX_PENDING_BYTES');

  const small = new FakeSocket();
  handleWebSocket(server, {} as PushHub, {} as HttpContext, small, {} as FastifyRequest, known);
  for (let i = 0; i < 15; i++) small.emit('message', Buffer.from('{}'), false);
  assert.equal(small.pauses, 0);
  small.emit('message', Buffer.from('{}'), false);
  assert.equal(small.pauses, 1);
});

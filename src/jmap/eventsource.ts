/**
 * The EventSource stream (RFC 8620 7.3): StateChange events for one account, the current states first,
 * pings when asked for, closed after the first change with closeafter=state, and cut when the client stops
 * reading (MAX_EVENTSOURCE_BACKLOG).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Account } from './account.js';
import { stateChange, typeStates, type PushHub } from './push.js';

/** Octets of events written but not yet taken by the client, past which the stream is cut. */
export const MAX_EVENTSOURCE_BACKLOG = 1024 * 1024;

/** Streams StateChange events (RFC 8620 7.3) until the client goes away (or after one, with closeafter=state). */
export function eventSource(
  req: FastifyRequest,
  reply: FastifyReply,
  hub: PushHub,
  account: Account,
  types: Set<string> | null,
  closeAfter: boolean,
  pingSec: number,
  onClose: () => void,
): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-cache',
    Connection: 'keep-alive',
    'X-Accel-Buffering': 'no',
  });
  let closed = false;
  let timer: NodeJS.Timeout | null = null;
  const close = (): void => {
    if (closed) return;
    closed = true;
    remove();
    if (timer) clearInterval(timer);
    onClose();
    res.end();
  };
  // A client that does not read while changes go on would make the server hold every event: past the
  // backlog it is cut (it reconnects and reads the current states).
  const write = (text: string): void => {
    if (closed) return;
    if (res.writableLength > MAX_EVENTSOURCE_BACKLOG) {
      close();
      res.destroy();
      return;
    }
    res.write(text);
  };
  const initial = typeStates(account);
  const remove = hub.add(account, {
    types,
    seen: { ...initial },
    send(changed) {
      if (closed) return;
      write(`event: state\ndata: ${JSON.stringify(stateChange(account, changed))}\n\n`);
      if (closeAfter) close();
    },
  });
  // The current states first, so a client that connects after fetching knows where it stands.
  if (!closeAfter) res.write(`event: state\ndata: ${JSON.stringify(stateChange(account, types ? Object.fromEntries(Object.entries(initial).filter(([t]) => types.has(t))) : initial))}\n\n`);
  else res.write(': connected\n\n');
  if (pingSec > 0) timer = setInterval(() => write(`event: ping\ndata: ${JSON.stringify({ interval: pingSec })}\n\n`), pingSec * 1000);
  req.raw.on('close', close);
  res.on('close', close);
  res.on('error', close);
}

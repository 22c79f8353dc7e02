/**
 * JMAP over WebSocket (RFC 8887): subprotocol "jmap"; text frames carry Request objects (answered with
 * Response or RequestError, echoing the request's "id" as "requestId") and WebSocketPushEnable /
 * WebSocketPushDisable (push of StateChange objects, RFC 8887 4.3.5). The connection is authenticated at
 * the upgrade like any other request; with the session cookie only from the server's own or a configured
 * origin.
 */
import type { FastifyRequest } from 'fastify';
import type { HttpContext } from '../http/types.js';
import { authenticate, type AuthOutcome } from '../http/auth.js';
import { LIMITS, runRequest } from './api.js';
import { RequestError, tooMany } from './errors.js';
import type { JmapServer } from './server.js';
import type { User } from '../store/types.js';
import type { Account } from './account.js';
import { parseTypes, typeStates, type PushHub } from './push.js';

/**
 * Requests read but not yet answered on one connection; past this the socket is not read until they are
 * (a client that sends without reading replies stalls itself instead of growing server memory).
 */
const MAX_PENDING_REQUESTS = 16;
/**
 * Octets of requests read but not yet answered on one connection; past this the socket is not read either
 * (a frame may be 16 MiB: sixteen of them waiting would otherwise hold 256 MiB for one connection).
 */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024;
/** Reply octets waiting to be sent beyond which the next request waits for the client to read them. */
const MAX_BUFFERED_REPLIES = 4 * 1024 * 1024;

/** What this module uses of a `ws` WebSocket. */
export interface WsLike {
  readonly protocol: string;
  readonly readyState: number;
  readonly OPEN: number;
  readonly bufferedAmount: number;
  send(data: string, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  pause(): void;
  resume(): void;
  on(event: 'close', fn: () => void): void;
  on(event: 'message', fn: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): void;
}

/** True when the request's Origin is this server itself (same host) or one of the configured CORS origins. */
export function originAllowed(req: FastifyRequest, ctx: HttpContext): boolean {
  const origin = req.headers.origin;
  if (typeof origin !== 'string') return false;
  if (ctx.corsOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host === req.host;
  } catch {
    return false;
  }
}

/** The user and account of an accepted connection, or null when it was refused (and is closing). */
async function accept(server: JmapServer, ctx: HttpContext, socket: WsLike, req: FastifyRequest, known: AuthOutcome | null): Promise<{ user: User; account: Account } | null> {
  const out = known ?? (await authenticate(req, ctx));
  if (!out.ok) {
    socket.close(1008, 'authentication required');
    return null;
  }
  // Browsers send cookies with a WebSocket upgrade from any page: a cookie-authenticated upgrade must come
  // from this server's own origin or a configured one (cross-site WebSocket hijacking).
  if (out.auth.via === 'cookie' && !originAllowed(req, ctx)) {
    socket.close(1008, 'origin not allowed');
    return null;
  }
  if (socket.protocol !== 'jmap') {
    socket.close(1002, 'subprotocol "jmap" required');
    return null;
  }
  return { user: out.auth.user, account: await server.account(out.auth.user) };
}

/**
 * Serves one connection (`known`: the outcome of authenticating the upgrade request, when already checked).
 * The message listener is attached before anything is awaited: frames a client sends
 * right behind the upgrade request would otherwise be dropped unseen while it is being authenticated.
 */
export function handleWebSocket(server: JmapServer, hub: PushHub, ctx: HttpContext, socket: WsLike, req: FastifyRequest, known: AuthOutcome | null = null): void {
  const accepted = accept(server, ctx, socket, req, known).catch((e: unknown) => {
    ctx.logger.warn({ err: String(e) }, 'websocket set-up failed');
    socket.close(1011, 'temporary failure');
    return null;
  });
  let removePush: (() => void) | null = null;
  let queue: Promise<void> = Promise.resolve();
  let pending = 0;
  let pendingBytes = 0;
  let paused = false;
  /** Settles once the last frame sent has been written out (or the connection failed). */
  let lastSent: Promise<void> = Promise.resolve();
  const send = (o: unknown): void => {
    if (socket.readyState !== socket.OPEN) return;
    const text = JSON.stringify(o);
    lastSent = new Promise((resolve) => socket.send(text, () => resolve()));
  };
  socket.on('close', () => removePush?.());
  socket.on('message', (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    pendingBytes += size;
    if ((++pending >= MAX_PENDING_REQUESTS || pendingBytes > MAX_PENDING_BYTES) && !paused) {
      paused = true;
      socket.pause();
    }
    // Requests on one connection are answered in order.
    queue = queue.then(async () => {
      try {
        const ok = await accepted;
        if (!ok || socket.readyState !== socket.OPEN) return;
        await handle(ok, data, isBinary);
        if (socket.bufferedAmount > MAX_BUFFERED_REPLIES) await lastSent;
      } finally {
        pending--;
        pendingBytes -= size;
        if (paused && pending < MAX_PENDING_REQUESTS / 2 && pendingBytes <= MAX_PENDING_BYTES / 2) {
          paused = false;
          socket.resume();
        }
      }
    });
  });

  async function handle({ user, account }: { user: User; account: Account }, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Promise<void> {
    const text = Buffer.isBuffer(data) ? data : Buffer.from(Array.isArray(data) ? Buffer.concat(data) : new Uint8Array(data as ArrayBuffer));
    let msg: Record<string, unknown>;
    try {
      if (isBinary) throw new RequestError('notJSON', 400, 'binary frames are not JMAP');
      if (text.length > LIMITS.maxSizeRequest) throw new RequestError('limit', 400, 'request too large', 'maxSizeRequest');
      const parsed: unknown = JSON.parse(text.toString('utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RequestError('notRequest', 400, 'not a JSON object');
      msg = parsed as Record<string, unknown>;
    } catch (e) {
      const err = e instanceof RequestError ? e : new RequestError('notJSON', 400, 'not JSON');
      send({ '@type': 'RequestError', ...err.toJSON() });
      return;
    }
    const requestId = typeof msg['id'] === 'string' ? msg['id'] : undefined;
    if (msg['@type'] === 'Request') {
      // The same per-user limit as requests over HTTP: several sockets must not multiply it.
      if (!server.beginRequest(user.id, LIMITS.maxConcurrentRequests)) {
        send({ '@type': 'RequestError', ...(requestId !== undefined ? { requestId } : {}), ...tooMany().toJSON() });
        return;
      }
      try {
        const res = await runRequest(server, user, account, msg, req.socket.remoteAddress ?? '');
        send({ '@type': 'Response', ...(requestId !== undefined ? { requestId } : {}), ...res });
      } catch (e) {
        const err = e instanceof RequestError ? e : new RequestError('notRequest', 400, 'bad request');
        send({ '@type': 'RequestError', ...(requestId !== undefined ? { requestId } : {}), ...err.toJSON() });
      } finally {
        server.endRequest(user.id);
      }
    } else if (msg['@type'] === 'WebSocketPushEnable') {
      removePush?.();
      const types = Array.isArray(msg['dataTypes']) ? parseTypes((msg['dataTypes'] as string[]).join(',')) : null;
      const seen = typeof msg['pushState'] === 'string' ? {} : typeStates(account);
      removePush = hub.add(account, { types, seen, send: (changed) => send({ '@type': 'StateChange', changed: { [account.accountId]: changed } }) });
      if (typeof msg['pushState'] === 'string') {
        // The client's pushState is older than now: tell it the current states at once.
        const now = typeStates(account);
        send({ '@type': 'StateChange', changed: { [account.accountId]: types ? Object.fromEntries(Object.entries(now).filter(([t]) => types.has(t))) : now } });
      }
    } else if (msg['@type'] === 'WebSocketPushDisable') {
      removePush?.();
      removePush = null;
    } else {
      send({ '@type': 'RequestError', ...(requestId !== undefined ? { requestId } : {}), ...new RequestError('notRequest', 400, 'unknown @type').toJSON() });
    }
  }
}

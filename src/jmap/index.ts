/**
 * JMAP (RFC 8620 core, RFC 8621 mail, RFC 8887 WebSocket, RFC 9425 quota) as an HTTP plugin:
 *   GET  /.well-known/jmap            307 to the session resource (RFC 8620 2.2)
 *   GET  /jmap/session                the Session object (authenticated)
 *   POST /jmap/api                    the API endpoint (RFC 8620 3)
 *   POST /jmap/upload/{accountId}/    binary upload (6.1)
 *   GET  /jmap/download/{accountId}/{blobId}/{name}?accept=type   (6.2)
 *   GET  /jmap/eventsource?types=&closeafter=&ping=               (7.3)
 *   GET  /jmap/ws                     JMAP over WebSocket, subprotocol "jmap" (RFC 8887)
 * Authentication: src/http/auth.ts (Basic, Bearer, the web session cookie). Request bodies over
 * maxSizeRequest are refused with the "limit" request error, concurrent requests per user over
 * maxConcurrentRequests too. EventSource streams and WebSockets together are capped per user
 * (MAX_PUSH_CONNECTIONS_PER_USER): past it 429 with the "limit" problem, before a stream starts or an upgrade.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { HttpContext } from '../http/types.js';
import { authenticate, replyAuthFailure, requestAuth, requireAuth, type AuthOutcome } from '../http/auth.js';
import { CAP, LIMITS, runRequest, type Args } from './api.js';
import { RequestError, tooMany, tooManyPush } from './errors.js';
import { API_PATH, DOWNLOAD_PATH, EVENTSOURCE_PATH, JmapServer, MAX_PUSH_CONNECTIONS_PER_USER, SESSION_PATH, UPLOAD_PATH, WEBSOCKET_PATH, accountIdOf } from './server.js';
import { registerMethods } from './methods.js';
import { readBlob } from './blob.js';
import { parseTypes } from './push.js';
import { eventSource } from './eventsource.js';
import { handleWebSocket } from './websocket.js';

export { SESSION_PATH } from './server.js';

/** Longest EventSource ping interval a client may ask for, and the shortest (seconds). */
const PING_MAX = 300;
const PING_MIN = 5;

function baseUrl(req: FastifyRequest): string {
  return `${req.protocol}://${req.host}`;
}

function sendRequestError(reply: FastifyReply, e: RequestError): FastifyReply {
  return reply.code(e.status).type('application/problem+json').send(e.toJSON());
}

export async function jmapPlugin(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  const server = new JmapServer(ctx);
  const hub = registerMethods(server);
  app.addHook('onClose', async () => server.close());
  const auth = requireAuth(ctx);
  /** Uploads in progress per user: maxConcurrentUpload is held before the body is read (each is buffered whole). */
  const uploading = new Map<number, number>();
  const uploadSlot = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const a = requestAuth(req);
    if (!a) return;
    const n = uploading.get(a.user.id) ?? 0;
    if (n >= LIMITS.maxConcurrentUpload) {
      await sendRequestError(reply, new RequestError('limit', 429, `at most ${LIMITS.maxConcurrentUpload} concurrent uploads`, 'maxConcurrentUpload'));
      return;
    }
    uploading.set(a.user.id, n + 1);
    reply.raw.once('close', () => {
      const left = (uploading.get(a.user.id) ?? 1) - 1;
      if (left <= 0) uploading.delete(a.user.id);
      else uploading.set(a.user.id, left);
    });
  };

  app.get('/.well-known/jmap', async (_req, reply) => reply.redirect(SESSION_PATH, 307));
  app.get(SESSION_PATH, { preHandler: auth }, async (req, reply) => {
    const a = requestAuth(req)!;
    return reply.header('Cache-Control', 'no-cache, no-store, must-revalidate').send(server.session(a.user, baseUrl(req), await server.sharedOwners(a.user)));
  });

  // The API endpoint takes any content type and parses it itself (notJSON / notRequest / limit).
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: LIMITS.maxSizeUpload }, (_req, body, done) => done(null, body));
    // Authenticated on the request line and headers (onRequest), before any body is read: an anonymous client
    // must not make the server buffer maxSizeUpload octets per connection only to be told 401.
    // The body limit is maxSizeRequest itself: a larger Content-Length is refused before the body is read, and
    // a chunked body as soon as it passes the limit (it used to be read up to maxSizeUpload, 50 MB, per request).
    const tooLarge = new RequestError('limit', 400, `request larger than ${LIMITS.maxSizeRequest} octets`, 'maxSizeRequest');
    scope.post(API_PATH, {
      onRequest: auth,
      bodyLimit: LIMITS.maxSizeRequest,
      errorHandler: (err: Error & { code?: string }, _req, reply) => {
        if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendRequestError(reply, tooLarge);
        throw err;
      },
    }, async (req, reply) => {
      const a = requestAuth(req)!;
      const body = req.body as Buffer | undefined;
      if (body && body.length > LIMITS.maxSizeRequest) return sendRequestError(reply, tooLarge);
      let parsed: unknown;
      try {
        parsed = JSON.parse((body ?? Buffer.alloc(0)).toString('utf8'));
      } catch {
        return sendRequestError(reply, new RequestError('notJSON', 400, 'the request body is not JSON'));
      }
      if (!server.beginRequest(a.user.id, LIMITS.maxConcurrentRequests)) return sendRequestError(reply, tooMany());
      try {
        const account = await server.account(a.user);
        return reply.type('application/json; charset=utf-8').send(await runRequest(server, a.user, account, parsed, req.socket.remoteAddress ?? ''));
      } catch (e) {
        if (e instanceof RequestError) return sendRequestError(reply, e);
        throw e;
      } finally {
        server.endRequest(a.user.id);
      }
    });
    scope.post(`${UPLOAD_PATH}/:accountId/`, { onRequest: [auth, uploadSlot], bodyLimit: LIMITS.maxSizeUpload }, async (req, reply) => {
      const a = requestAuth(req)!;
      const { accountId } = req.params as { accountId: string };
      // Uploads are the user's whichever account they name (own or shared), as blob reads are.
      if (accountId !== accountIdOf(a.user.id) && !(await server.sharedOwners(a.user)).has(Number(accountId.slice(1)))) return reply.code(404).type('application/problem+json').send({ type: 'about:blank', status: 404, detail: 'no such account' });
      const body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
      const type = String(req.headers['content-type'] ?? 'application/octet-stream').split(';')[0]!.trim() || 'application/octet-stream';
      const blobId = await server.putUpload(a.user.id, type.slice(0, 255), Buffer.from(body));
      return reply.code(201).send({ accountId, blobId, type, size: body.length });
    });
  });

  app.get(`${DOWNLOAD_PATH}/:accountId/:blobId/:name`, { preHandler: auth }, async (req, reply) => {
    const a = requestAuth(req)!;
    const { accountId, blobId, name } = req.params as { accountId: string; blobId: string; name: string };
    const accept = (req.query as Record<string, string | string[] | undefined>)['accept'];
    const account = await server.accountFor(a.user, accountId, await server.sharedOwners(a.user));
    if (!account) return reply.code(404).send({ type: 'about:blank', status: 404, detail: 'no such account' });
    await account.sync();
    const blob = await readBlob(account, blobId, server.blobSources(a.user));
    if (!blob) return reply.code(404).send({ type: 'about:blank', status: 404, detail: 'no such blob' });
    const type = typeof accept === 'string' && /^[\w.+-]+\/[\w.+-]+$/.test(accept) ? accept : blob.type;
    const safeName = name.replace(/["\\\r\n]/g, '_');
    return reply
      .header('Content-Type', type)
      .header('Content-Disposition', `attachment; filename="${safeName.replace(/[^\x20-\x7e]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`)
      .header('Cache-Control', 'private, immutable, max-age=31536000')
      .header('X-Content-Type-Options', 'nosniff')
      .send(blob.data);
  });

  app.get(EVENTSOURCE_PATH, async (req, reply) => {
    const out = await authenticate(req, ctx);
    if (!out.ok) return replyAuthFailure(reply, out);
    const q = req.query as Record<string, string | string[] | undefined>;
    const types = q['types'];
    const closeafter = q['closeafter'] ?? 'no';
    const ping = Number(q['ping'] ?? 0);
    // A parameter given twice arrives as an array; each of these is one value (RFC 8620 7.3).
    if (Array.isArray(types) || typeof closeafter !== 'string' || !['state', 'no'].includes(closeafter) || !Number.isInteger(ping) || ping < 0) {
      return reply.code(400).type('application/problem+json').send({ type: 'about:blank', status: 400, detail: 'bad types, closeafter or ping' });
    }
    const userId = out.auth.user.id;
    if (!server.beginPush(userId)) return sendRequestError(reply, tooManyPush(MAX_PUSH_CONNECTIONS_PER_USER));
    let account;
    try {
      account = await server.account(out.auth.user);
      await account.sync();
    } catch (e) {
      server.endPush(userId);
      throw e;
    }
    eventSource(req, reply, hub, account, parseTypes(types), closeafter === 'state', ping === 0 ? 0 : Math.min(PING_MAX, Math.max(PING_MIN, ping)), () => server.endPush(userId));
    return reply;
  });

  // The push connection cap is checked before the upgrade, so the client gets an HTTP answer; the place is
  // held until the connection's socket closes (whether or not the upgrade then completes).
  const wsAuth = new WeakMap<FastifyRequest, AuthOutcome>();
  const wsPlace = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const out = await authenticate(req, ctx);
    wsAuth.set(req, out); // checked once: a failure is counted once, not again after the upgrade
    if (!out.ok) return; // refused after the upgrade, with its close code (websocket.ts)
    const userId = out.auth.user.id;
    if (!server.beginPush(userId)) {
      await sendRequestError(reply, tooManyPush(MAX_PUSH_CONNECTIONS_PER_USER));
      return;
    }
    const socket = req.raw.socket;
    if (socket.destroyed) server.endPush(userId);
    else socket.once('close', () => server.endPush(userId));
  };
  app.get(WEBSOCKET_PATH, { websocket: true, preValidation: wsPlace }, (socket, req) => {
    void handleWebSocket(server, hub, ctx, socket, req, wsAuth.get(req) ?? null);
  });
}

export { CAP };
export type { Args };

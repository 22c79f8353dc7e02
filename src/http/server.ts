/**
 * The one HTTP listener of mailroom (Fastify 5): JMAP (src/jmap/), the web interface (src/web/) and whatever
 * else speaks HTTP are plugins (types.ts HttpPlugin) registered, in the order of PLUGINS, on one Fastify
 * instance. That instance serves two sockets: plain HTTP (`http` listener, serve --http-port, default 8080)
 * and HTTPS with the server's certificate (`https` listener, --https-port, default 8443); WebSocket upgrades
 * from both reach the same routes.
 *
 * Before any plugin, the server registers @fastify/cookie (request.cookies, reply.setCookie),
 * @fastify/websocket (routes with `websocket: true`) and, when `corsOrigins` is not empty, @fastify/cors for exactly those origins (credentials allowed; no other origin
 * gets CORS headers, so browsers keep cross-origin pages out). Plugins must not register these again.
 *
 * close() stops both sockets, ends keep-alive and streaming (EventSource) responses and WebSocket
 * connections, then resolves. setTls() swaps the HTTPS certificate for new connections.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyCors from '@fastify/cors';
import fastifyWebsocket from '@fastify/websocket';
import type { ListenSpec, NetService, TlsMaterial } from '../lib/service.js';
import { withTlsProfile } from '../lib/service.js';
import type { HttpContext, HttpPlugin } from './types.js';

/**
 * The plugins, in registration order: module path (relative to this file) and export name. An optional
 * module that is not there (a build without the web interface) is skipped.
 */
export const PLUGINS: ReadonlyArray<{ module: string; name: string; optional: boolean }> = [
  { module: '../jmap/index.js', name: 'jmapPlugin', optional: false },
  { module: '../web/index.js', name: 'webPlugin', optional: true },
];

/** Largest request body by default (routes that take more, such as JMAP upload, set their own bodyLimit). */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Loads the plugins of PLUGINS. Throws when a required one is missing or does not export a function. */
export async function loadPlugins(): Promise<HttpPlugin[]> {
  const out: HttpPlugin[] = [];
  for (const p of PLUGINS) {
    let mod: Record<string, unknown>;
    try {
      // A variable specifier: the optional modules may be absent at type-check time.
      const specifier: string = p.module;
      mod = (await import(specifier)) as Record<string, unknown>;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (p.optional && (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && String((e as Error).message).includes(p.module.replace('../', '').replace('.js', ''))) continue;
      throw e;
    }
    const fn = mod[p.name] ?? mod['default'];
    if (typeof fn !== 'function') throw new Error(`HTTP plugin ${p.module} does not export ${p.name}`);
    out.push(fn as HttpPlugin);
  }
  return out;
}

export interface HttpServiceOptions {
  ctx: HttpContext;
  /** Certificate for the HTTPS listener (required to listen with implicitTls). */
  tls?: TlsMaterial;
  /** Plugins to register instead of PLUGINS (tests). */
  plugins?: readonly HttpPlugin[];
  /** Trust X-Forwarded-* from these proxies (Fastify trustProxy); default none. */
  trustProxy?: boolean | string | string[];
  /** Time to send a request header (default HTTP_HEADERS_TIMEOUT_MS). */
  headersTimeoutMs?: number;
}

export interface HttpService extends NetService {
  /** The Fastify instance, once built (after the first listen() or ready()). */
  app(): Promise<FastifyInstance>;
}

/** Builds the Fastify app with the common plugins and then `plugins`; `onHandler` receives the request handler. */
/**
 * How long a client may take to send a request's header (Node's headersTimeout; then 408 and the connection
 * is closed). The server is made with it, the whole-request timeout and a short connection check interval
 * given explicitly: made with Node's defaults inside Fastify's serverFactory, a connection that sent a
 * partial header, or nothing at all, was still open after 130 s (slow-loris).
 */
export const HTTP_HEADERS_TIMEOUT_MS = 30_000;

export async function buildHttpApp(
  ctx: HttpContext,
  plugins: readonly HttpPlugin[],
  opts: { trustProxy?: boolean | string | string[]; headersTimeoutMs?: number } = {},
): Promise<{ app: FastifyInstance; server: Server; handler: (req: IncomingMessage, res: ServerResponse) => void }> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null;
  let server: Server | null = null;
  const app = Fastify({
    logger: false,
    bodyLimit: DEFAULT_BODY_LIMIT,
    trustProxy: opts.trustProxy ?? false,
    return503OnClosing: true,
    serverFactory: (h) => {
      handler = h as (req: IncomingMessage, res: ServerResponse) => void;
      const headersTimeout = opts.headersTimeoutMs ?? HTTP_HEADERS_TIMEOUT_MS;
      server = createHttpServer({ headersTimeout, requestTimeout: 300_000, connectionsCheckingInterval: Math.max(100, Math.min(5_000, headersTimeout / 2)) }, handler);
      return server;
    },
  });
  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) ctx.logger.error({ err, url: req.url, method: req.method }, 'HTTP request failed');
    void reply.code(status).send({ error: status >= 500 ? 'internal error' : err.message });
  });
  await app.register(fastifyCookie);
  await app.register(fastifyWebsocket, { options: { maxPayload: 16 * 1024 * 1024 } });
  if (ctx.corsOrigins.length > 0) {
    await app.register(fastifyCors, {
      origin: [...ctx.corsOrigins],
      credentials: true,
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      allowedHeaders: ['Authorization', 'Content-Type', 'Accept', 'Last-Event-ID', 'X-CSRF-Token'],
      maxAge: 600,
    });
  }
  for (const p of plugins) await app.register(async (scope) => p(scope, ctx));
  await app.ready();
  if (!handler || !server) throw new Error('HTTP server factory was not called');
  return { app, server, handler };
}

/** The HTTP/HTTPS service: listen() with implicitTls false gives the plain listener, true the HTTPS one. */
export function createHttpService(opts: HttpServiceOptions): HttpService {
  let built: Promise<{ app: FastifyInstance; server: Server; handler: (req: IncomingMessage, res: ServerResponse) => void }> | null = null;
  let https: HttpsServer | null = null;
  let plainListening = false;
  let tls = opts.tls ? withTlsProfile(opts.tls) : undefined;
  const build = () =>
    (built ??= (async () =>
      buildHttpApp(opts.ctx, opts.plugins ?? (await loadPlugins()), {
        ...(opts.trustProxy === undefined ? {} : { trustProxy: opts.trustProxy }),
        ...(opts.headersTimeoutMs === undefined ? {} : { headersTimeoutMs: opts.headersTimeoutMs }),
      }))());

  const bind = (srv: Server | HttpsServer, spec: ListenSpec): Promise<AddressInfo> =>
    new Promise((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      srv.once('error', onError);
      srv.listen({ host: spec.host, port: spec.port }, () => {
        srv.off('error', onError);
        resolve(srv.address() as AddressInfo);
      });
    });

  return {
    app: async () => (await build()).app,
    async listen(spec: ListenSpec): Promise<AddressInfo> {
      const b = await build();
      if (!spec.implicitTls) {
        if (plainListening) throw new Error('the HTTP listener is already listening');
        plainListening = true;
        return bind(b.server, spec);
      }
      if (!tls) throw new Error('HTTPS needs a certificate');
      if (https) throw new Error('the HTTPS listener is already listening');
      const s = createHttpsServer({ ...tls }, b.handler);
      // WebSocket upgrades over TLS go through the same routes as the plain ones.
      s.on('upgrade', (req, socket, head) => b.server.emit('upgrade', req, socket, head));
      https = s;
      return bind(s, spec);
    },
    async close(): Promise<void> {
      if (!built) return;
      const b = await built;
      const closing: Array<Promise<void>> = [];
      for (const s of [plainListening ? b.server : null, https]) {
        if (!s) continue;
        closing.push(new Promise<void>((r) => s.close(() => r())));
      }
      // Fastify's own close runs the plugins' onClose hooks (push streams, WebSocket clients).
      await b.app.close();
      for (const s of [b.server, https]) s?.closeAllConnections();
      await Promise.all(closing);
      plainListening = false;
      https = null;
    },
    setTls(material: TlsMaterial): void {
      tls = withTlsProfile(material);
      https?.setSecureContext({ ...tls });
    },
  };
}

/**
 * The web interface as an HTTP plugin: the webmail, settings and admin pages (one Preact bundle built by
 * scripts/build-web.mjs into dist/web/assets), the session and settings API, the admin API, mail client
 * autoconfiguration and /metrics. The webmail itself speaks JMAP to the JMAP plugin on the same listener.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HttpContext, HttpPlugin } from '../http/types.js';
import { registerSessionRoutes, type WebOptions } from './session.js';
import { registerAdminRoutes } from './admin.js';
import { registerAutoconfigRoutes } from './autoconfig.js';
import { registerSettingsRoutes } from './settings.js';

export type { WebOptions } from './session.js';
export { sanitizeMailHtml, renderDocument } from './sanitize.js';

/** Where the build puts the bundle; the same path from src/web (tsx) and dist/web (built). */
export const ASSETS_DIR = new URL('../../dist/web/assets/', import.meta.url);

/** The policy of the application pages: only this origin's script; mail bodies live in sandboxed srcdoc frames. */
export const APP_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: http: https:; " +
  "connect-src 'self'; frame-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>mailroom</title><link rel="stylesheet" href="/assets/app.css"></head>
<body><div id="app"></div><script type="module" src="/assets/app.js"></script></body></html>
`;

const TYPES: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', map: 'application/json' };

function pageHeaders(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', APP_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cache-control', 'no-store');
}

function registerPages(app: FastifyInstance): void {
  const page = async (_req: unknown, reply: FastifyReply) => pageHeaders(reply).type('text/html; charset=utf-8').send(PAGE);
  for (const path of ['/', '/admin', '/settings', '/settings/*']) app.get(path, page);
  app.get<{ Params: { file: string } }>('/assets/:file', async (req, reply) => {
    const m = /^[a-z0-9-]+\.(js|css|map)$/.exec(req.params.file);
    if (!m) return reply.code(404).send({ error: 'not found' });
    let body: Buffer;
    try {
      body = await readFile(new URL(req.params.file, ASSETS_DIR));
    } catch {
      return reply.code(404).send({ error: 'not built: run npm run build' });
    }
    return reply.header('content-type', TYPES[m[1]!]!).header('x-content-type-options', 'nosniff').header('cache-control', 'no-cache').send(body);
  });
}

/** The plugin with options (session lifetime); webPlugin uses the defaults. */
export function createWebPlugin(opts: WebOptions = {}): HttpPlugin {
  return async (app: FastifyInstance, ctx: HttpContext) => {
    registerPages(app);
    registerSessionRoutes(app, ctx, opts);
    registerSettingsRoutes(app, ctx);
    registerAdminRoutes(app, ctx);
    registerAutoconfigRoutes(app, ctx);
  };
}

export const webPlugin: HttpPlugin = createWebPlugin();

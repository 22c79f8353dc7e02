/**
 * JMAP (RFC 8620 core, RFC 8621 mail, RFC 8887 WebSocket, RFC 9425 quota) as an HTTP plugin.
 */
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../http/types.js';
import { requireAuth, requestAuth } from '../http/auth.js';

export const SESSION_PATH = '/jmap/session';

export async function jmapPlugin(app: FastifyInstance, ctx: HttpContext): Promise<void> {
  app.get('/.well-known/jmap', async (_req, reply) => reply.redirect(SESSION_PATH, 307));
  app.get(SESSION_PATH, { preHandler: requireAuth(ctx) }, async (req) => {
    const a = requestAuth(req)!;
    return { username: a.user.address, capabilities: {}, accounts: {}, primaryAccounts: {}, state: '0' };
  });
}

/** STLS (RFC 2595 section 4): upgrade to TLS; the connection discards anything pipelined after it. */
import { defineCommand, noArgs } from '../command.js';
import { bad, ok } from '../reply.js';

export const stls = defineCommand({
  name: 'STLS',
  states: ['authorization'],
  parse: noArgs,
  run: (ctx) => {
    if (!ctx.shared.secureContext) return bad('STLS is not available');
    if (ctx.secure) return bad('Already using TLS');
    if (ctx.state.kind === 'authorization' && ctx.state.pendingUser !== null) ctx.state = { kind: 'authorization', pendingUser: null };
    return ok('Begin TLS negotiation now', { after: 'starttls' });
  },
});


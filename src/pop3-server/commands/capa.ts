/** CAPA (RFC 2449 section 5): the capability list, which depends on state, TLS and configuration. */
import { defineCommand, noArgs } from '../command.js';
import { cleartextAllowed } from '../login.js';
import { ok } from '../reply.js';
import type { CommandContext } from '../session.js';

export function capabilities(ctx: CommandContext): string[] {
  const { shared } = ctx;
  const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
  if (ctx.state.kind === 'authorization') {
    // Like Dovecot: USER and the cleartext SASL mechanisms are not advertised where they would be refused.
    if (cleartextAllowed(ctx)) caps.push('USER', 'SASL PLAIN LOGIN');
    if (shared.secureContext && !ctx.secure) caps.push('STLS');
  }
  caps.push(shared.retentionDays === null ? 'EXPIRE NEVER' : `EXPIRE ${Math.max(0, Math.floor(shared.retentionDays))}`);
  if (shared.loginDelaySeconds !== null && shared.loginDelaySeconds > 0) caps.push(`LOGIN-DELAY ${Math.floor(shared.loginDelaySeconds)}`);
  caps.push('IMPLEMENTATION mailroom');
  return caps;
}

export const capa = defineCommand({
  name: 'CAPA',
  states: ['authorization', 'transaction'],
  parse: noArgs,
  run: (ctx) => ok('Capability list follows', { body: { kind: 'lines', lines: capabilities(ctx) } }),
});

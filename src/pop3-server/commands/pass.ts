/** PASS string (RFC 1939 section 7): the password for the USER just given; the whole rest of the line. */
import { defineCommand, type Parsed } from '../command.js';
import { cleartextAllowed, cleartextRefused, failedLogin, openMaildrop } from '../login.js';
import { bad } from '../reply.js';

export const pass = defineCommand({
  name: 'PASS',
  states: ['authorization'],
  // Passwords may contain spaces: everything after "PASS " is the password (as Dovecot does).
  parse: (args): Parsed<{ password: string }> => (args === '' ? { ok: false, error: 'Missing password' } : { ok: true, value: { password: args } }),
  run: async (ctx, { password }) => {
    if (!cleartextAllowed(ctx)) return cleartextRefused(ctx);
    const s = ctx.state;
    if (s.kind !== 'authorization' || s.pendingUser === null) return bad('PASS must follow a successful USER');
    const name = s.pendingUser;
    ctx.state = { kind: 'authorization', pendingUser: null };
    const result = await ctx.shared.auth.verify(name, password, { remoteAddress: ctx.remoteAddress });
    if (!result.ok) return failedLogin(ctx, result, name);
    return openMaildrop(ctx, result.user);
  },
});

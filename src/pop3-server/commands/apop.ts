/**
 * APOP name digest (RFC 1939 section 7): MD5 of the greeting timestamp followed by the shared secret.
 * Works only for users whose stored hash keeps the cleartext secret ({PLAIN}); the greeting has a
 * timestamp only when APOP is possible (see Pop3ServiceOptions.apop).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { defineCommand, tokens, type Parsed } from '../command.js';
import { openMaildrop } from '../login.js';
import { err } from '../reply.js';

export const apop = defineCommand({
  name: 'APOP',
  states: ['authorization'],
  parse: (args): Parsed<{ name: string; digest: string }> => {
    const t = tokens(args);
    if (t.length !== 2) return { ok: false, error: 'Usage: APOP name digest' };
    const [name, digest] = t as [string, string];
    if (!/^[0-9a-fA-F]{32}$/.test(digest)) return { ok: false, error: 'The digest must be 32 hexadecimal digits' };
    return { ok: true, value: { name, digest: digest.toLowerCase() } };
  },
  run: async (ctx, { name, digest }) => {
    if (ctx.apopTimestamp === null) return err('APOP is not available on this server', 'AUTH', { counts: 'bad-command' });
    let found: Awaited<ReturnType<typeof ctx.shared.auth.cleartextSecret>>;
    try {
      found = await ctx.shared.auth.cleartextSecret(name);
    } catch (e) {
      ctx.log.warn({ err: e }, 'pop3 APOP lookup failed');
      return err('Temporary authentication failure; try again later', 'SYS/TEMP');
    }
    const expected = found ? createHash('md5').update(ctx.apopTimestamp + found.secret, 'utf8').digest() : null;
    const given = Buffer.from(digest, 'hex');
    if (!found || !expected || !timingSafeEqual(expected, given)) {
      await ctx.shared.auth.recordFailure(ctx.remoteAddress, name);
      ctx.log.info({ user: name }, 'pop3 APOP failed');
      return err('Authentication failed', 'AUTH', { counts: 'auth-failure' });
    }
    return openMaildrop(ctx, found.user);
  },
});

/**
 * APOP name digest (RFC 1939 section 7): MD5 of the greeting timestamp followed by the shared secret.
 * Works only for users whose stored hash keeps the cleartext secret ({PLAIN}); the greeting has a
 * timestamp only when APOP is possible (see Pop3ServiceOptions.apop). Goes through the Authenticator's
 * throttle like USER/PASS and AUTH.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { defineCommand, tokens, type Parsed } from '../command.js';
import { failedLogin, openMaildrop } from '../login.js';
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
    const timestamp = ctx.apopTimestamp;
    const given = Buffer.from(digest, 'hex');
    const matches = (secret: string): boolean => timingSafeEqual(createHash('md5').update(timestamp + secret, 'utf8').digest(), given);
    // The Authenticator's throttle, failure count and delay apply as for every other mechanism.
    const result = await ctx.shared.auth.verifySecret(name, matches, { remoteAddress: ctx.remoteAddress });
    if (!result.ok) return failedLogin(ctx, result, name);
    return openMaildrop(ctx, result.user);
  },
});

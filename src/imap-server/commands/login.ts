/**
 * LOGIN (RFC 9051 6.2.3) and AUTHENTICATE (RFC 9051 6.2.2) with PLAIN and LOGIN, SASL-IR (RFC 4959).
 * Refused with NO [PRIVACYREQUIRED] off a secure or loopback connection unless configured; failures are
 * NO [AUTHENTICATIONFAILED] (or [UNAVAILABLE] when the authenticator cannot answer); "*" cancels with BAD.
 */
import { decodeBase64Strict, decodeSaslPlain } from '../../auth/sasl.js';
import { isLoopback } from '../../lib/service.js';
import { addressKey } from '../../lib/ascii.js';
import type { User } from '../../store/types.js';
import type { Args } from '../../imap/grammar/args.js';
import { bad, no, ok, type Completion } from '../errors.js';
import { continuationLine } from '../responses.js';
import { NOT_AUTH, defineCommand, userKey, type CommandContext } from '../session.js';
import { plaintextAllowed } from '../capabilities.js';

export interface LoginArgs {
  user: string;
  password: string;
}

export function parseLogin(args: Args): LoginArgs {
  const user = args.astring('user name');
  const password = args.astring('password');
  args.end();
  return { user, password };
}

export interface AuthenticateArgs {
  mechanism: string;
  /** SASL-IR initial response (RFC 4959): base64 text, "=" for empty; null when absent. */
  initial: string | null;
}

export function parseAuthenticate(args: Args): AuthenticateArgs {
  const mechanism = args.atom('SASL mechanism').toUpperCase();
  let initial: string | null = null;
  if (!args.done) initial = args.atom('initial response');
  args.end();
  return { mechanism, initial };
}

function checkPlaintext(ctx: CommandContext): void {
  const s = ctx.session;
  if (!plaintextAllowed(ctx.service, { secure: s.secure, loopback: isLoopback(s.remoteAddress) })) {
    throw no('Plaintext authentication disallowed on non-secure connections', 'PRIVACYREQUIRED');
  }
}

async function verify(ctx: CommandContext, user: string, password: string): Promise<Completion> {
  const r = await ctx.service.auth.verify(user, password, { remoteAddress: ctx.session.remoteAddress });
  if (!r.ok) {
    ctx.session.logger.info({ user, reason: r.reason }, 'authentication failed');
    if (r.reason === 'temporary') throw no('Temporary authentication failure', 'UNAVAILABLE');
    throw no('Authentication failed.', 'AUTHENTICATIONFAILED');
  }
  return loggedIn(ctx, r.user);
}

/** Counts the session against the user's limit per address (maxConnectionsPerUser), then enters the authenticated state. */
async function loggedIn(ctx: CommandContext, user: User): Promise<Completion> {
  const key = userKey(user.id, ctx.session.remoteAddress);
  if (!(await ctx.service.userSessions.admit(key, ctx.service.limits.maxConnectionsPerUser))) throw no('Maximum number of connections for this user exceeded', 'LIMIT');
  if (ctx.session.state.kind === 'logout') {
    // The connection closed while the count was asked for: nothing will release it later.
    ctx.service.userSessions.release(key);
    throw no('Connection closed');
  }
  ctx.session.setState({ kind: 'authenticated', user });
  ctx.session.logger.info({ user: user.address }, 'logged in');
  return ok('Logged in', `CAPABILITY ${ctx.session.capabilities().join(' ')}`);
}

export const login = defineCommand({
  states: NOT_AUTH,
  seq: 'none',
  parse: parseLogin,
  async run(ctx, args) {
    checkPlaintext(ctx);
    return verify(ctx, args.user, args.password);
  },
});

/** Reads one SASL response line; "*" cancels (RFC 9051 6.2.2). */
async function saslStep(ctx: CommandContext, challenge: string): Promise<Buffer> {
  ctx.session.send(Buffer.from(continuationLine(challenge)));
  const line = (await ctx.session.readLine()).toString('latin1').trim();
  if (line === '*') throw bad('Authentication canceled');
  const decoded = decodeBase64Strict(line);
  if (decoded === null) throw bad('Invalid base64 data');
  return decoded;
}

export const authenticate = defineCommand({
  states: NOT_AUTH,
  seq: 'none',
  parse: parseAuthenticate,
  async run(ctx, args) {
    if (args.mechanism !== 'PLAIN' && args.mechanism !== 'LOGIN') throw no('Unsupported authentication mechanism', 'CANNOT');
    checkPlaintext(ctx);
    if (args.mechanism === 'PLAIN') {
      let b64: string;
      if (args.initial !== null) b64 = args.initial;
      else {
        ctx.session.send(Buffer.from(continuationLine('')));
        b64 = (await ctx.session.readLine()).toString('latin1').trim();
        if (b64 === '*') throw bad('Authentication canceled');
      }
      const creds = decodeSaslPlain(b64);
      if (!creds) {
        await ctx.service.auth.recordFailure(ctx.session.remoteAddress, '');
        throw bad('Invalid SASL PLAIN response');
      }
      if (creds.authzid && addressKey(creds.authzid) !== addressKey(creds.authcid)) throw no('Authorization identity not permitted', 'AUTHORIZATIONFAILED');
      return verify(ctx, creds.authcid, creds.password);
    }
    // LOGIN: username then password, each base64 (SASL-IR may carry the username).
    let userBuf: Buffer;
    if (args.initial !== null) {
      const d = decodeBase64Strict(args.initial);
      if (d === null) throw bad('Invalid base64 data');
      userBuf = d;
    } else userBuf = await saslStep(ctx, Buffer.from('Username:').toString('base64'));
    const pass = await saslStep(ctx, Buffer.from('Password:').toString('base64'));
    return verify(ctx, userBuf.toString('utf8'), pass.toString('utf8'));
  },
});

/**
 * AUTH (RFC 5034): SASL PLAIN (RFC 4616) and LOGIN, with or without an initial response.
 * "AUTH" alone lists the mechanisms (a common extension that many clients probe with).
 * A "*" continuation cancels; the mechanisms send cleartext passwords, so they follow the cleartext rule.
 */
import { decodeBase64Strict, decodeSaslPlain, SASL_MECHANISMS } from '../../auth/sasl.js';
import { normalizeAddress } from '../../auth/authenticator.js';
import { asciiUpper, defineCommand, tokens, type Parsed } from '../command.js';
import { cleartextAllowed, cleartextRefused, failedLogin, openMaildrop } from '../login.js';
import { err, ok, type Reply } from '../reply.js';
import type { ChallengeAnswer, CommandContext } from '../session.js';

const USERNAME_CHALLENGE = Buffer.from('Username:').toString('base64');
const PASSWORD_CHALLENGE = Buffer.from('Password:').toString('base64');

interface AuthArgs {
  mechanism: string | null;
  /** Initial response token as sent ("=" stands for an empty response); null when absent. */
  initial: string | null;
}

/** Outcome of reading one SASL client message: its text, or the reply ending the exchange. */
type Step = { ok: true; text: string } | { ok: false; reply: Reply };

function readAnswer(answer: ChallengeAnswer): Step {
  if (answer.kind === 'closed') {
    const reply =
      answer.why === 'timeout'
        ? err('Autologout; idle for too long', undefined, { after: 'close' })
        : answer.why === 'shutdown'
          ? err('Server shutting down', 'SYS/TEMP', { after: 'close' })
          : err('Connection closed during authentication', undefined, { after: 'close' });
    return { ok: false, reply };
  }
  if (answer.kind === 'too-long') return { ok: false, reply: err('Authentication response too long', 'AUTH', { counts: 'auth-failure' }) };
  if (answer.text.trim() === '*') return { ok: false, reply: err('Authentication cancelled') };
  return { ok: true, text: answer.text };
}

/** Decodes one base64 SASL message ("=" or empty is the empty message). */
function decodeStep(step: Step): { ok: true; data: Buffer } | { ok: false; reply: Reply } {
  if (!step.ok) return step;
  const data = decodeBase64Strict(step.text);
  if (data === null) return { ok: false, reply: err('Invalid base64 in authentication response', 'AUTH', { counts: 'auth-failure' }) };
  return { ok: true, data };
}

async function plain(ctx: CommandContext, initial: string | null): Promise<Reply> {
  const step: Step = initial !== null ? { ok: true, text: initial } : readAnswer(await ctx.challenge(''));
  if (!step.ok) return step.reply;
  const creds = decodeSaslPlain(step.text);
  if (!creds) {
    await ctx.shared.auth.recordFailure(ctx.remoteAddress, '');
    return err('Malformed SASL PLAIN message', 'AUTH', { counts: 'auth-failure' });
  }
  if (creds.authzid !== '' && normalizeAddress(creds.authzid) !== normalizeAddress(creds.authcid)) {
    await ctx.shared.auth.recordFailure(ctx.remoteAddress, creds.authcid);
    return err('Authorization identity must be empty or equal the authentication identity', 'AUTH', { counts: 'auth-failure' });
  }
  return verifyAndOpen(ctx, creds.authcid, creds.password);
}

async function login(ctx: CommandContext, initial: string | null): Promise<Reply> {
  const first = decodeStep(initial !== null ? { ok: true, text: initial } : readAnswer(await ctx.challenge(USERNAME_CHALLENGE)));
  if (!first.ok) return first.reply;
  const second = decodeStep(readAnswer(await ctx.challenge(PASSWORD_CHALLENGE)));
  if (!second.ok) return second.reply;
  const name = first.data.toString('utf8');
  if (name === '') {
    await ctx.shared.auth.recordFailure(ctx.remoteAddress, '');
    return err('Empty user name', 'AUTH', { counts: 'auth-failure' });
  }
  return verifyAndOpen(ctx, name, second.data.toString('utf8'));
}

async function verifyAndOpen(ctx: CommandContext, name: string, password: string): Promise<Reply> {
  const result = await ctx.shared.auth.verify(name, password, { remoteAddress: ctx.remoteAddress });
  if (!result.ok) return failedLogin(ctx, result, name);
  return openMaildrop(ctx, result.user);
}

export const auth = defineCommand({
  name: 'AUTH',
  states: ['authorization'],
  parse: (args): Parsed<AuthArgs> => {
    const t = tokens(args);
    if (t.length === 0) return { ok: true, value: { mechanism: null, initial: null } };
    if (t.length > 2) return { ok: false, error: 'Usage: AUTH mechanism [initial-response]' };
    return { ok: true, value: { mechanism: asciiUpper(t[0]!), initial: t[1] ?? null } };
  },
  run: async (ctx, { mechanism, initial }) => {
    const allowed = cleartextAllowed(ctx);
    if (mechanism === null) {
      return ok('Supported SASL mechanisms follow', { body: { kind: 'lines', lines: allowed ? [...SASL_MECHANISMS] : [] } });
    }
    if (mechanism !== 'PLAIN' && mechanism !== 'LOGIN') return err(`Unsupported authentication mechanism`, undefined, { counts: 'bad-command' });
    if (!allowed) return cleartextRefused(ctx);
    return mechanism === 'PLAIN' ? plain(ctx, initial) : login(ctx, initial);
  },
});

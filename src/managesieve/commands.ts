/**
 * ManageSieve commands (RFC 5804 section 2): one table naming, for each command, the states it is allowed
 * in and its handler. Handlers get typed arguments checked by `args()` and return a Reply; the connection
 * alone writes it. Store errors map once (mapStoreError): NOT_FOUND -> NO (NONEXISTENT), EXISTS ->
 * NO (ALREADYEXISTS), NO_PERM on delete -> NO (ACTIVE), quota -> NO (QUOTA/MAXSCRIPTS|MAXSIZE|QUOTA),
 * TEMPORARY -> NO (TRYLATER); anything unexpected is logged under an id and answered NO with that id.
 */
import { randomBytes } from 'node:crypto';
import type { User } from '../store/types.js';
import { isStoreError } from '../store/types.js';
import { scriptNameProblem, type SieveQuotaProblem } from '../store/sieve.js';
import { decodeSaslPlain } from '../auth/sasl.js';
import { normalizeAddress } from '../auth/authenticator.js';
import { asciiUpper } from '../lib/ascii.js';
import { isLoopback } from '../lib/service.js';
import type { Logger } from '../lib/logger.js';
import { lastLineStatus, record } from '../lib/metrics.js';
import { compileSieve } from '../sieve/index.js';
import type { Token } from './framer.js';
import { capabilityLines, msResponse, msString } from './response.js';
import type { ManageSieveShared } from './options.js';

export type SessionState = { kind: 'anonymous' } | { kind: 'authenticated'; user: User };

export interface Reply {
  /** The complete output: data lines (if any) and the final OK/NO/BYE line. */
  out: Buffer;
  after?: 'close' | 'starttls';
  /** Counted toward the per-connection limits. */
  counts?: 'bad-command' | 'auth-failure';
}

export interface CommandContext {
  readonly shared: ManageSieveShared;
  readonly log: Logger;
  readonly remoteAddress: string;
  readonly secure: boolean;
  state: SessionState;
  /** Sends a SASL challenge (a string) and returns the client's answer, or null when the client went away. */
  challenge(data: string): Promise<Token[] | null>;
}

type Handler = (ctx: CommandContext, a: Token[]) => Promise<Reply>;

const ok = (text: string | null = null, code: string | null = null): Reply => ({ out: msResponse('OK', code, text) });
const no = (text: string, code: string | null = null): Reply => ({ out: msResponse('NO', code, text) });

/** Argument shapes: 's' string, 'n' number, 's?' optional string. Returns the values or an error text. */
function args(a: Token[], shape: ReadonlyArray<'s' | 'n' | 's?'>): Array<Buffer | number | null> | string {
  const need = shape.filter((x) => x !== 's?').length;
  if (a.length < need || a.length > shape.length) return `Wrong number of arguments (expected ${need === shape.length ? need : `${need} to ${shape.length}`})`;
  const out: Array<Buffer | number | null> = [];
  for (let i = 0; i < shape.length; i++) {
    const t = a[i];
    if (!t) {
      out.push(null);
      continue;
    }
    if (shape[i] === 'n') {
      if (t.kind !== 'atom' || !/^\d{1,10}$/.test(t.value) || Number(t.value) > 4294967295) return `Argument ${i + 1} must be a number`;
      out.push(Number(t.value));
    } else {
      if (t.kind !== 'string') return `Argument ${i + 1} must be a string`;
      out.push(t.value);
    }
  }
  return out;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function text(b: Buffer): string | null {
  try {
    return utf8.decode(b);
  } catch {
    return null;
  }
}

/** A script name argument as text, or the NO reply for it. */
function nameArg(b: Buffer, allowEmpty = false): string | Reply {
  const s = text(b);
  if (s === null) return no('Script name is not valid UTF-8');
  if (allowEmpty && s === '') return s;
  const p = scriptNameProblem(s);
  return p ? no(`Invalid script name: ${p}`) : s;
}

function quotaReply(p: SieveQuotaProblem): Reply {
  if (p === 'maxsize') return no('Script is too large', 'QUOTA/MAXSIZE');
  if (p === 'maxscripts') return no('Too many scripts', 'QUOTA/MAXSCRIPTS');
  return no('Script storage quota exceeded', 'QUOTA');
}

function mapStoreError(ctx: CommandContext, e: unknown, what: string): Reply {
  if (isStoreError(e, 'NOT_FOUND')) return no('There is no such script', 'NONEXISTENT');
  if (isStoreError(e, 'EXISTS')) return no('A script with that name already exists', 'ALREADYEXISTS');
  if (isStoreError(e, 'NO_PERM')) return no('The active script cannot be deleted', 'ACTIVE');
  if (isStoreError(e, 'INVALID')) return no(e.message);
  if (isStoreError(e, 'TEMPORARY')) return no('Temporary failure; try again later', 'TRYLATER');
  const rid = randomBytes(5).toString('hex');
  ctx.log.error({ rid, err: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined }, `managesieve ${what} failed`);
  return no(`Internal error occurred. Refer to server log for more information. [${rid}]`);
}

/** Compiles `b`; the NO reply with the parser's messages, or the warnings (possibly none). */
function check(b: Buffer): { reply: Reply } | { source: string; warnings: string | null } {
  const src = text(b);
  if (src === null) return { reply: no('Script is not valid UTF-8') };
  const r = compileSieve(src);
  const fmt = (e: { line: number; column: number; message: string }): string => `line ${e.line}, column ${e.column}: ${e.message}`;
  if (!r.ok) return { reply: no(r.errors.map(fmt).join('\r\n') || 'Script does not compile') };
  return { source: src, warnings: r.warnings.length ? r.warnings.map(fmt).join('\r\n') : null };
}

function userOf(ctx: CommandContext): User {
  if (ctx.state.kind !== 'authenticated') throw new Error('not authenticated');
  return ctx.state.user;
}

function capability(ctx: CommandContext): Buffer {
  const s = ctx.shared;
  return capabilityLines({
    implementation: 'mailroom',
    sasl: s.cleartextAllowed(ctx.secure, ctx.remoteAddress) ? ['PLAIN'] : [],
    sieve: s.extensions,
    starttls: !!s.tls && !ctx.secure && ctx.state.kind === 'anonymous',
    maxRedirects: s.maxRedirects,
    owner: ctx.state.kind === 'authenticated' ? ctx.state.user.address : null,
  });
}

export { capability };

/** A command whose one argument is a script name: checks it, runs `fn` for the user, maps store errors. */
function byName(what: string, allowEmpty: boolean, fn: (ctx: CommandContext, userId: number, name: string) => Promise<Reply>): Handler {
  return async (ctx, a) => {
    const v = args(a, ['s']);
    if (typeof v === 'string') return no(v);
    const name = nameArg(v[0] as Buffer, allowEmpty);
    if (typeof name !== 'string') return name;
    try {
      return await fn(ctx, userOf(ctx).id, name);
    } catch (e) {
      return mapStoreError(ctx, e, what);
    }
  };
}

const COMMANDS: Record<string, { states: ReadonlyArray<SessionState['kind']>; run: Handler }> = {
  CAPABILITY: {
    states: ['anonymous', 'authenticated'],
    run: async (ctx, a) => (a.length ? no('CAPABILITY takes no arguments') : { out: Buffer.concat([capability(ctx), msResponse('OK', null, 'Capability completed.')]) }),
  },
  NOOP: {
    states: ['anonymous', 'authenticated'],
    run: async (_ctx, a) => {
      const v = args(a, ['s?']);
      if (typeof v === 'string') return no(v);
      const tag = v[0] as Buffer | null;
      return tag ? ok('Done', `TAG ${msString(tag).toString('utf8')}`) : ok('NOOP completed.');
    },
  },
  LOGOUT: {
    states: ['anonymous', 'authenticated'],
    run: async (_ctx, a) => (a.length ? no('LOGOUT takes no arguments') : { out: msResponse('OK', null, 'Logout completed.'), after: 'close' }),
  },
  STARTTLS: {
    states: ['anonymous'],
    run: async (ctx, a) => {
      if (a.length) return no('STARTTLS takes no arguments');
      if (!ctx.shared.tls) return no('TLS is not available');
      if (ctx.secure) return no('TLS is already active');
      return { out: msResponse('OK', null, 'Begin TLS negotiation now.'), after: 'starttls' };
    },
  },
  AUTHENTICATE: { states: ['anonymous'], run: authenticate },
  UNAUTHENTICATE: {
    states: ['authenticated'],
    run: async (ctx, a) => {
      if (a.length) return no('UNAUTHENTICATE takes no arguments');
      ctx.state = { kind: 'anonymous' };
      return ok('Unauthenticate completed.');
    },
  },
  HAVESPACE: {
    states: ['authenticated'],
    run: async (ctx, a) => {
      const v = args(a, ['s', 'n']);
      if (typeof v === 'string') return no(v);
      const name = nameArg(v[0] as Buffer);
      if (typeof name !== 'string') return name;
      try {
        const r = await ctx.shared.store.sieve.haveSpace(userOf(ctx).id, name, v[1] as number, ctx.shared.quota);
        return r === 'ok' ? ok('Putscript would succeed.') : quotaReply(r);
      } catch (e) {
        return mapStoreError(ctx, e, 'HAVESPACE');
      }
    },
  },
  PUTSCRIPT: {
    states: ['authenticated'],
    run: async (ctx, a) => {
      const v = args(a, ['s', 's']);
      if (typeof v === 'string') return no(v);
      const name = nameArg(v[0] as Buffer);
      if (typeof name !== 'string') return name;
      const script = v[1] as Buffer;
      if (script.length > ctx.shared.quota.maxScriptSize) return quotaReply('maxsize');
      const c = check(script);
      if ('reply' in c) return c.reply;
      try {
        const r = await ctx.shared.store.sieve.putScript(userOf(ctx).id, name, c.source, ctx.shared.quota);
        if (r !== 'ok') return quotaReply(r);
      } catch (e) {
        return mapStoreError(ctx, e, 'PUTSCRIPT');
      }
      return c.warnings ? ok(c.warnings, 'WARNINGS') : ok('PUTSCRIPT completed.');
    },
  },
  CHECKSCRIPT: {
    states: ['authenticated'],
    run: async (_ctx, a) => {
      const v = args(a, ['s']);
      if (typeof v === 'string') return no(v);
      const c = check(v[0] as Buffer);
      if ('reply' in c) return c.reply;
      return c.warnings ? ok(c.warnings, 'WARNINGS') : ok('Script is valid.');
    },
  },
  LISTSCRIPTS: {
    states: ['authenticated'],
    run: async (ctx, a) => {
      if (a.length) return no('LISTSCRIPTS takes no arguments');
      try {
        const list = await ctx.shared.store.sieve.listScripts(userOf(ctx).id);
        const lines = list.map((s) => Buffer.concat([msString(s.name), Buffer.from(s.active ? ' ACTIVE\r\n' : '\r\n')]));
        return { out: Buffer.concat([...lines, msResponse('OK', null, 'Listscripts completed.')]) };
      } catch (e) {
        return mapStoreError(ctx, e, 'LISTSCRIPTS');
      }
    },
  },
  SETACTIVE: {
    states: ['authenticated'],
    run: byName('SETACTIVE', true, async (ctx, userId, name) => {
      await ctx.shared.store.sieve.setActive(userId, name === '' ? null : name);
      return ok(name === '' ? 'Script deactivated.' : 'Setactive completed.');
    }),
  },
  GETSCRIPT: {
    states: ['authenticated'],
    run: byName('GETSCRIPT', false, async (ctx, userId, name) => {
      const s = await ctx.shared.store.sieve.getScript(userId, name);
      if (!s) return no('There is no such script', 'NONEXISTENT');
      const body = Buffer.from(s.content, 'utf8');
      return { out: Buffer.concat([Buffer.from(`{${body.length}}\r\n`), body, Buffer.from('\r\n'), msResponse('OK', null, 'Getscript completed.')]) };
    }),
  },
  DELETESCRIPT: {
    states: ['authenticated'],
    run: byName('DELETESCRIPT', false, async (ctx, userId, name) => {
      await ctx.shared.store.sieve.deleteScript(userId, name);
      return ok('Deletescript completed.');
    }),
  },
  RENAMESCRIPT: {
    states: ['authenticated'],
    run: async (ctx, a) => {
      const v = args(a, ['s', 's']);
      if (typeof v === 'string') return no(v);
      const from = nameArg(v[0] as Buffer);
      if (typeof from !== 'string') return from;
      const to = nameArg(v[1] as Buffer);
      if (typeof to !== 'string') return to;
      try {
        await ctx.shared.store.sieve.renameScript(userOf(ctx).id, from, to);
        return ok('Renamescript completed.');
      } catch (e) {
        return mapStoreError(ctx, e, 'RENAMESCRIPT');
      }
    },
  },
};

/** RFC 5804 2.1 with SASL PLAIN (RFC 4616), initial response optional; cleartext only over TLS or loopback. */
async function authenticate(ctx: CommandContext, a: Token[]): Promise<Reply> {
  const v = args(a, ['s', 's?']);
  if (typeof v === 'string') return no(v);
  const mech = asciiUpper((v[0] as Buffer).toString('utf8'));
  if (mech !== 'PLAIN') return no(`Unsupported authentication mechanism ${mech.slice(0, 40)}`);
  if (!ctx.shared.cleartextAllowed(ctx.secure, ctx.remoteAddress)) {
    return no('Plaintext authentication disallowed on non-secure (SSL/TLS) connections.', 'ENCRYPT-NEEDED');
  }
  let initial = v[1] as Buffer | null;
  if (initial === null) {
    const answer = await ctx.challenge('');
    if (answer === null) return { out: Buffer.alloc(0), after: 'close' };
    const t = answer[0];
    if (answer.length !== 1 || t?.kind !== 'string') return no('Bad SASL response', null);
    initial = t.value;
    if (initial.toString('latin1') === '*') return no('Authentication cancelled.');
  }
  const creds = decodeSaslPlain(initial.toString('latin1'));
  if (!creds) return { ...no('Invalid SASL PLAIN message'), counts: 'auth-failure' };
  if (creds.authzid && normalizeAddress(creds.authzid) !== normalizeAddress(creds.authcid)) return { ...no('Authorization identity not permitted'), counts: 'auth-failure' };
  const r = await ctx.shared.auth.verify(creds.authcid, creds.password, { remoteAddress: ctx.remoteAddress });
  if (r.ok) {
    ctx.state = { kind: 'authenticated', user: r.user };
    ctx.log.info({ user: r.user.address }, 'managesieve login');
    return ok('Logged in.');
  }
  if (r.reason === 'throttled' || r.reason === 'temporary') return { ...no('Try again later.', 'TRYLATER'), counts: 'auth-failure' };
  return { ...no('Authentication failed.'), counts: 'auth-failure' };
}

/** Runs one framed command. */
export async function dispatch(ctx: CommandContext, tokens: Token[]): Promise<Reply> {
  const head = tokens[0];
  if (!head || head.kind !== 'atom') return { ...no('Expected a command name'), counts: 'bad-command' };
  const name = asciiUpper(head.value);
  const cmd = COMMANDS[name];
  if (!cmd) return { ...no(`Unknown command ${name.slice(0, 40)}`), counts: 'bad-command' };
  if (!cmd.states.includes(ctx.state.kind)) {
    return { ...no(ctx.state.kind === 'anonymous' ? 'Authenticate first' : `${name} is not allowed after authentication`), counts: 'bad-command' };
  }
  try {
    const reply = await cmd.run(ctx, tokens.slice(1));
    record.command('managesieve', name, lastLineStatus(reply.out));
    return reply;
  } catch (e) {
    return mapStoreError(ctx, e, name);
  }
}

/**
 * The command table and the dispatcher: keyword -> command, allowed states, typed argument parse, run.
 * The dispatcher turns every failure into a reply; nothing a client sends can make it throw:
 * StoreError TEMPORARY and unexpected errors become -ERR [SYS/TEMP] (the latter logged with an error id).
 */
import { randomBytes } from 'node:crypto';
import { isStoreError } from '../store/types.js';
import { record } from '../lib/metrics.js';
import { POP3_MAX_COMMAND_LINE } from '../lib/limits.js';
import { asciiUpper, type Command, type ReplyOrPromise } from './command.js';
import { bad, err, type Reply } from './reply.js';
import type { CommandContext, SessionKind } from './session.js';
import { apop } from './commands/apop.js';
import { auth } from './commands/auth.js';
import { capa } from './commands/capa.js';
import { dele } from './commands/dele.js';
import { list } from './commands/list.js';
import { noop } from './commands/noop.js';
import { pass } from './commands/pass.js';
import { quit } from './commands/quit.js';
import { retr } from './commands/retr.js';
import { rset } from './commands/rset.js';
import { stat } from './commands/stat.js';
import { stls } from './commands/stls.js';
import { top } from './commands/top.js';
import { uidl } from './commands/uidl.js';
import { user } from './commands/user.js';

export const COMMANDS: ReadonlyMap<string, Command> = new Map(
  [apop, auth, capa, dele, list, noop, pass, quit, retr, rset, stat, stls, top, uidl, user].map((c) => [c.name, c]),
);

const STATE_NAMES: Record<SessionKind, string> = {
  authorization: 'before login',
  transaction: 'after login',
  closed: 'after QUIT',
};

/** Splits "KEYWORD args": the keyword is case-insensitive (ASCII only); args is everything after the first space. */
export function splitCommand(line: string): { keyword: string; args: string } {
  const sp = line.indexOf(' ');
  return sp === -1 ? { keyword: asciiUpper(line), args: '' } : { keyword: asciiUpper(line.slice(0, sp)), args: line.slice(sp + 1) };
}

/**
 * Whether a command line (without its CRLF) is within the RFC 2449 limit of 255 octets. An AUTH line with a
 * SASL initial response (RFC 5034 section 4 asks clients, not servers, to keep it within the limit) is taken
 * up to the framer's limit, as Dovecot takes it; PASS keeps the limit (a longer password goes through AUTH).
 */
export function withinLineLimit(line: Buffer): boolean {
  return line.length + 2 <= POP3_MAX_COMMAND_LINE || line.toString('latin1', 0, 5).toUpperCase() === 'AUTH ';
}

/**
 * Runs one command line in the session and returns its reply: at once when the handler did (see
 * ReplyOrPromise), else a Promise. Never throws, and the Promise never rejects.
 */
export function dispatch(ctx: CommandContext, line: string): ReplyOrPromise {
  const { keyword, args } = splitCommand(line);
  const cmd = COMMANDS.get(keyword);
  // RFC 1939: PASS is valid only immediately after USER; any other command forgets the pending user.
  if (ctx.state.kind === 'authorization' && ctx.state.pendingUser !== null && cmd?.name !== 'PASS') {
    ctx.state = { kind: 'authorization', pendingUser: null };
  }
  if (!cmd) return bad(keyword === '' ? 'Empty command' : 'Unknown command');
  if (!cmd.states.includes(ctx.state.kind)) return bad(`${cmd.name} is not allowed ${STATE_NAMES[ctx.state.kind]}`);
  const prepared = cmd.prepare(args);
  if (!prepared.ok) return bad(`${cmd.name}: ${prepared.error}`);
  let reply: ReplyOrPromise;
  try {
    reply = prepared.run(ctx);
  } catch (e) {
    return failed(ctx, cmd.name, e);
  }
  if (reply instanceof Promise) {
    return reply.then(
      (r) => counted(cmd.name, r),
      (e: unknown) => failed(ctx, cmd.name, e),
    );
  }
  return counted(cmd.name, reply);
}

function counted(name: string, reply: Reply): Reply {
  record.command('pop3', name, reply.ok ? 'ok' : 'err');
  return reply;
}

/** StoreError TEMPORARY and unexpected errors become -ERR [SYS/TEMP] (the latter logged with an error id). */
function failed(ctx: CommandContext, name: string, e: unknown): Reply {
  if (isStoreError(e, 'TEMPORARY')) {
    ctx.log.warn({ err: e, command: name }, 'pop3 temporary store failure');
    return err('Temporary server failure; try again later', 'SYS/TEMP');
  }
  const errorId = randomBytes(4).toString('hex');
  ctx.log.error({ err: e, command: name, errorId }, 'pop3 command failed');
  return err(`Internal server error (id ${errorId}); try again later`, 'SYS/TEMP');
}

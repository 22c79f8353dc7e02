/**
 * The shape of a command module: a typed argument parser (stage two after the line framer) and a handler.
 * defineCommand/transactionCommand erase the argument type behind a closure, so the dispatch table can
 * hold every command without casts.
 */
import type { Reply } from './reply.js';
import type { CommandContext, SessionKind, TransactionState } from './session.js';

export type Parsed<A> = { ok: true; value: A } | { ok: false; error: string };

/**
 * What a handler returns: the Reply itself when it needed no I/O wait (most TRANSACTION commands, and RETR
 * on a store that reads synchronously), so a pipelined run of them is answered without a turn of the
 * microtask queue per command; a Promise otherwise.
 */
export type ReplyOrPromise = Reply | Promise<Reply>;

export interface CommandSpec<A> {
  /** Upper-case keyword. */
  readonly name: string;
  /** States in which the command is allowed (RFC 1939/2449/2595/5034). */
  readonly states: readonly SessionKind[];
  /** Parses what follows "KEYWORD " ('' when nothing does). */
  readonly parse: (args: string) => Parsed<A>;
  readonly run: (ctx: CommandContext, args: A) => ReplyOrPromise;
}

/** A table entry: parse the arguments, then get a runnable command or the parse error. */
export interface Command {
  readonly name: string;
  readonly states: readonly SessionKind[];
  prepare(args: string): { ok: true; run: (ctx: CommandContext) => ReplyOrPromise } | { ok: false; error: string };
}

export function defineCommand<A>(spec: CommandSpec<A>): Command {
  return {
    name: spec.name,
    states: spec.states,
    prepare(args) {
      const parsed = spec.parse(args);
      if (!parsed.ok) return parsed;
      return { ok: true, run: (ctx) => spec.run(ctx, parsed.value) };
    },
  };
}

/** A TRANSACTION-state command: its handler receives the narrowed session state. */
export function transactionCommand<A>(spec: {
  name: string;
  parse: (args: string) => Parsed<A>;
  run: (ctx: CommandContext, session: TransactionState, args: A) => ReplyOrPromise;
}): Command {
  return defineCommand<A>({
    name: spec.name,
    states: ['transaction'],
    parse: spec.parse,
    run: (ctx, args) => {
      const s = ctx.state;
      if (s.kind !== 'transaction') throw new Error(`${spec.name} dispatched outside TRANSACTION state`);
      return spec.run(ctx, s, args);
    },
  });
}

// ---- argument parsers shared by the command files ----

/**
 * A keyword or mechanism name folded to upper case, or kept as sent when it has anything but ASCII: the
 * Unicode upper case of some letters is ASCII ("qu\u0131t" would otherwise read as QUIT).
 */
export function asciiUpper(word: string): string {
  return ASCII.test(word) ? word.toUpperCase() : word;
}

const ASCII = /^[\x00-\x7f]*$/;

/** The largest message number accepted syntactically (beyond any real maildrop). */
const MAX_MSG_DIGITS = 9;

export function noArgs(args: string): Parsed<null> {
  return args.trim() === '' ? { ok: true, value: null } : { ok: false, error: 'No arguments expected' };
}

/** A message number (RFC 1939 "msg"): decimal digits, at most nine of them after any leading zeros. */
export function parseMsgNumber(token: string | undefined): number | null {
  if (token === undefined || !/^[0-9]+$/.test(token)) return null;
  const digits = token.replace(LEADING_ZEROS, '');
  return digits.length > MAX_MSG_DIGITS ? null : Number(digits);
}

const LEADING_ZEROS = /^0+(?=[0-9])/;

/** A non-negative count (TOP's line count): decimal digits; any larger than a safe integer reads as the largest. */
export function parseCount(token: string | undefined): number | null {
  if (token === undefined || !/^[0-9]+$/.test(token)) return null;
  return Math.min(Number(token), Number.MAX_SAFE_INTEGER);
}

/** Space-separated tokens (runs of spaces tolerated). */
export function tokens(args: string): string[] {
  const t = args.trim();
  return t === '' ? [] : t.split(/ +/);
}

/** The common form of a message-number argument: the digits alone, no spaces. */
const BARE_MSG = new RegExp(`^[0-9]{1,${MAX_MSG_DIGITS}}$`);

export function oneMsg(args: string): Parsed<{ msg: number }> {
  if (BARE_MSG.test(args)) return { ok: true, value: { msg: Number(args) } };
  const t = tokens(args);
  if (t.length !== 1) return { ok: false, error: 'Expected one message number' };
  const msg = parseMsgNumber(t[0]);
  return msg === null ? { ok: false, error: 'Invalid message number' } : { ok: true, value: { msg } };
}

export function optionalMsg(args: string): Parsed<{ msg: number | null }> {
  if (BARE_MSG.test(args)) return { ok: true, value: { msg: Number(args) } };
  const t = tokens(args);
  if (t.length === 0) return { ok: true, value: { msg: null } };
  if (t.length !== 1) return { ok: false, error: 'Expected at most one message number' };
  const msg = parseMsgNumber(t[0]);
  return msg === null ? { ok: false, error: 'Invalid message number' } : { ok: true, value: { msg } };
}

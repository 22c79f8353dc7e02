/**
 * The dispatcher: tag and command name -> table row -> state check -> typed parse -> handler ->
 * pending updates -> the single tagged completion. Nothing else writes tagged replies.
 * Unexpected exceptions are logged with a request id and answered NO [SERVERBUG]; the process goes on.
 */
import { randomBytes } from 'node:crypto';
import { tokenize, TokenizeError, type Token } from '../imap/wire/tokenizer.js';
import { Args, ParseError } from '../imap/grammar/args.js';
import { ImapError, storeErrorCompletion, type Completion } from './errors.js';
import { badLine, mailboxDeletedBye, okLine } from './responses.js';
import { ConnectionClosedError, type SeqUsage, type AnyCommand, type CommandContext, type ServiceContext, type Session } from './session.js';
import { COMMANDS } from './commands/index.js';
import { flushWithContexts } from './search-context.js';
import type { MailboxView } from './view.js';
import { flushNotify } from './commands/notify.js';
import { record } from '../lib/metrics.js';

/**
 * Whether the pending updates sent after a command may include EXPUNGE/VANISHED, by the command's `seq`
 * (RFC 9051 5.5 and 7.5.1; Dovecot's COMMAND_FLAG_USES_SEQS / COMMAND_FLAG_BREAKS_SEQS). The connection
 * runs pipelined commands strictly one after another (connection.ts #pump awaits each dispatch), so a
 * 'breaks' command never overlaps a 'uses' command and no command waits for another; what remains is
 * when expunges may be announced:
 * - 'uses': the client may have sent more commands naming these sequence numbers, so no expunge is
 *   announced after it (other updates are: EXISTS, RECENT, FLAGS, FETCH FLAGS).
 * - 'breaks': the command renumbers the messages itself (EXPUNGE, UID EXPUNGE) and sent its own EXPUNGE
 *   responses, or it ended the selected state (SELECT, EXAMINE, CLOSE, UNSELECT); expunges of other
 *   sessions that are still pending are announced right after it, before its tagged completion, so the
 *   client's numbering is in step when the completion arrives.
 * - 'none': the command does not depend on sequence numbers; pending expunges are announced.
 */
const PENDING_EXPUNGES: Readonly<Record<SeqUsage, boolean>> = { uses: false, breaks: true, none: true };

const TAG_RE = /^[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c-\x7e]+$/;

export async function dispatchCommand(svc: ServiceContext, session: Session, data: Buffer): Promise<void> {
  if (!data.length || data.every((b) => b === 0x20)) {
    session.send(Buffer.from(badLine('Empty command line')));
    return;
  }
  const sp = data.indexOf(0x20);
  const tag = (sp < 0 ? data : data.subarray(0, sp)).toString('latin1');
  if (!TAG_RE.test(tag)) {
    session.send(Buffer.from(badLine('Invalid tag')));
    return;
  }
  let tokens: Token[];
  try {
    tokens = sp < 0 ? [] : tokenize(data, sp + 1);
  } catch (e) {
    if (e instanceof TokenizeError) return reply(session, tag, { status: 'BAD', text: `Error in IMAP command: ${e.message}` });
    return reply(session, tag, failure(session, 'tokenize', e));
  }
  const first = tokens[0];
  if (!first || first.t !== 'atom') return reply(session, tag, { status: 'BAD', text: 'Missing command' });
  let name = first.v.toUpperCase();
  let rest = 1;
  if (name === 'UID') {
    const second = tokens[1];
    if (!second || second.t !== 'atom') return reply(session, tag, { status: 'BAD', text: 'Missing UID command' });
    name = `UID ${second.v.toUpperCase()}`;
    rest = 2;
  }
  const spec: AnyCommand | undefined = COMMANDS.get(name);
  if (!spec) return reply(session, tag, { status: 'BAD', text: `Unknown command ${name.slice(0, 40)}` });
  const state = session.state.kind;
  if (!spec.states.includes(state)) {
    const text =
      state === 'not-authenticated' ? 'Please authenticate first' : state === 'authenticated' && spec.states.includes('selected') ? 'No mailbox selected' : 'Command not permitted in this state';
    return reply(session, tag, { status: 'BAD', text });
  }
  let args: unknown;
  try {
    args = spec.parse(new Args(tokens.slice(rest)));
  } catch (e) {
    if (e instanceof ParseError) return reply(session, tag, { status: 'BAD', text: e.message });
    return reply(session, tag, failure(session, name, e));
  }
  const ctx: CommandContext = { tag, uid: name.startsWith('UID '), name, service: svc, session };
  const started = performance.now();
  let completion: Completion;
  try {
    completion = await spec.run(ctx, args);
  } catch (e) {
    if (e instanceof ConnectionClosedError) return;
    completion = failure(session, name, e);
  }
  const st = session.state;
  if (st.kind === 'selected') {
    // A SEARCH that ran while another session's expunges were held back for this one may have left those
    // messages out: OK [EXPUNGEISSUED] tells the client so (RFC 5530), as Dovecot answers.
    if (SEARCHES.has(name) && completion.status === 'OK' && completion.code === undefined && st.view.modseqBeforePendingExpunges !== null) {
      completion = { ...completion, code: 'EXPUNGEISSUED' };
    }
    try {
      await st.view.refresh();
      await flushWithContexts(st.view, session, PENDING_EXPUNGES[spec.seq]);
      sendModseqFloor(st.view, session, completion);
    } catch (e) {
      session.logger.warn({ err: errText(e) }, 'refresh failed');
    }
    if (st.view.gone) {
      // Another session deleted the selected mailbox: the sequence numbers mean nothing any more (Dovecot disconnects too).
      session.setState({ kind: 'logout' });
      session.send(mailboxDeletedBye());
      reply(session, tag, completion);
      session.end();
      return;
    }
  }
  // NOTIFY (RFC 5465): STATUS of other watched mailboxes that changed.
  await flushNotify(session, svc.store).catch((e: unknown) => session.logger.warn({ err: errText(e) }, 'notify failed'));
  reply(session, tag, completion);
  record.command('imap', name, completion.status);
  session.logger.debug({ tag, command: name, status: completion.status, code: completion.code, ms: Math.round(performance.now() - started) }, 'command');
  if (completion.after) {
    try {
      await completion.after();
    } catch (e) {
      session.logger.error({ err: errText(e) }, 'post-completion action failed');
      session.end();
    }
  }
}

const SEARCHES = new Set(['SEARCH', 'UID SEARCH']);

/** Views whose client was last given a HIGHESTMODSEQ below expunges not yet reported (see sendModseqFloor). */
const LOWERED = new WeakSet<MailboxView>();

/**
 * RFC 7162 (QRESYNC): while expunges are held back (after FETCH, STORE, SEARCH), the MODSEQs just sent may be
 * above theirs, and a client that keeps the highest MODSEQ it saw and reconnects would never learn of them
 * (VANISHED (EARLIER) lists expunges above the modseq it gives). So before an OK completion the client gets
 * "* OK [HIGHESTMODSEQ n]" below the pending expunges, and once they are reported the current one (Dovecot
 * puts the same codes in the tagged completion, which here may carry another code).
 */
function sendModseqFloor(view: MailboxView, session: Session, c: Completion): void {
  if (!session.condstore || c.status !== 'OK') return;
  const floor = view.modseqBeforePendingExpunges;
  if (floor !== null) {
    LOWERED.add(view);
    session.send(Buffer.from(okLine(`HIGHESTMODSEQ ${floor}`, 'Highest')));
  } else if (LOWERED.delete(view)) session.send(Buffer.from(okLine(`HIGHESTMODSEQ ${view.highestModseq}`, 'Highest')));
}

function failure(session: Session, name: string, e: unknown): Completion {
  if (e instanceof ImapError) return e.code === undefined ? { status: e.status, text: e.message } : { status: e.status, code: e.code, text: e.message };
  if (e instanceof ParseError) return { status: 'BAD', text: e.message };
  const mapped = storeErrorCompletion(e);
  if (mapped) return mapped;
  const rid = randomBytes(5).toString('hex');
  session.logger.error({ rid, command: name, err: errText(e), stack: e instanceof Error ? e.stack : undefined }, 'command failed');
  return { status: 'NO', code: 'SERVERBUG', text: `Internal error occurred. Refer to server log for more information. [${rid}]` };
}

function reply(session: Session, tag: string, c: Completion): void {
  const code = c.code ? `[${c.code}] ` : '';
  session.send(Buffer.from(`${tag} ${c.status} ${code}${c.text}\r\n`, 'utf8'));
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

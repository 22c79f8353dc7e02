/**
 * COPY / UID COPY (RFC 9051 6.4.7, COPYUID from RFC 4315) and MOVE / UID MOVE (RFC 6851). Grammar:
 * sequence set and mailbox. COPY answers OK [COPYUID]; MOVE sends OK [COPYUID] untagged, then the moved
 * messages' EXPUNGE (or VANISHED) itself. NO [TRYCREATE] for a missing destination, BAD for sequence
 * numbers beyond the mailbox, NO [CANNOT] for MOVE out of a read-only mailbox.
 */
import type { Args } from '../../imap/grammar/args.js';
import { parseSequenceSet, type SequenceSet } from '../../imap/grammar/sequence.js';
import { formatSequenceSet } from '../../imap/wire/encode.js';
import { bad, no, ok, type Completion } from '../errors.js';
import { SELECTED, currentUser, defineCommand, selectedView, type CommandContext } from '../session.js';
import { okLine } from '../responses.js';
import { noteTransfer } from '../../spam/index.js';
import { destinationMailbox } from '../namespaces.js';

// ---- grammar ----

export interface CopyArgs {
  set: SequenceSet;
  mailbox: string;
}

export function parseCopy(args: Args): CopyArgs {
  const set = parseSequenceSet(args.atom('sequence set'));
  const mailbox = args.astring('mailbox name');
  args.end();
  return { set, mailbox };
}

// ---- handler ----

async function runCopy(ctx: CommandContext, args: CopyArgs, move: boolean): Promise<Completion> {
  const s = ctx.session;
  const view = selectedView(ctx);
  const user = currentUser(ctx);
  if (move && view.readOnly) throw no('Mailbox is read-only', 'CANNOT');
  if (!ctx.uid && view.seqOutOfRange(args.set)) throw bad('Invalid messageset');
  const name = s.decodeMailbox(args.mailbox);
  const store = ctx.service.store;
  // RFC 4314 section 4: "i" on the destination; MOVE also takes "t" and "e" on the source (RFC 6851).
  const dest = (await destinationMailbox(ctx, name)).mailbox;
  if (move && !(view.rights.includes('t') && view.rights.includes('e'))) throw no('Permission denied', 'NOPERM');
  const uids = view.resolve(args.set, ctx.uid).filter((u) => !view.isExpunged(u));
  if (!uids.length) return ok(move ? 'No messages moved' : 'No messages copied');
  const r = move ? await store.move(view.mailbox.id, uids, dest.id) : await store.copy(view.mailbox.id, uids, dest.id);
  const pairs = [...r.pairs].sort((a, b) => a[0] - b[0]);
  // Into Junk trains spam, out of Junk trains ham (spam/index.ts); never fails the command.
  await noteTransfer(store, user.id, view.mailbox.id, dest.id, pairs.map((p) => p[1]));
  const code = pairs.length ? `COPYUID ${r.uidValidity} ${formatSequenceSet(pairs.map((p) => p[0]))} ${formatSequenceSet(pairs.map((p) => p[1]))}` : undefined;
  if (move) {
    if (code) s.send(Buffer.from(okLine(code, 'Moved UIDs.')));
    view.reportExpunged(
      pairs.map((p) => p[0]),
      s,
    );
    return ok('Move completed');
  }
  return ok('Copy completed', code);
}

export const copy = defineCommand({ states: SELECTED, seq: 'uses', parse: parseCopy, run: (ctx, a) => runCopy(ctx, a, false) });
export const uidCopy = defineCommand({ states: SELECTED, seq: 'none', parse: parseCopy, run: (ctx, a) => runCopy(ctx, a, false) });
export const move = defineCommand({ states: SELECTED, seq: 'uses', parse: parseCopy, run: (ctx, a) => runCopy(ctx, a, true) });
export const uidMove = defineCommand({ states: SELECTED, seq: 'none', parse: parseCopy, run: (ctx, a) => runCopy(ctx, a, true) });

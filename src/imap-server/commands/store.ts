/**
 * STORE / UID STORE (RFC 9051 6.4.6; UNCHANGEDSINCE and MODIFIED from RFC 7162 3.1.3). Grammar: sequence
 * set, optional (UNCHANGEDSINCE n), [+-]FLAGS[.SILENT] and flags. Answers each changed message's FETCH
 * FLAGS unless silent; OK [MODIFIED set] when UNCHANGEDSINCE failed for some; NO [CANNOT] when read-only;
 * NO [LIMIT] past MAX_KEYWORDS_PER_MESSAGE keywords on a message (RFC 5530).
 */
import { Args, ParseError, parseFlag, parseFlagList, parseModseq } from '../../imap/grammar/args.js';
import { parseSequenceSet, type SequenceSet } from '../../imap/grammar/sequence.js';
import { formatSequenceSet } from '../../imap/wire/encode.js';
import { bad, no, ok, type Completion } from '../errors.js';
import { SELECTED, defineCommand, enableCondstore, selectedView, type CommandContext } from '../session.js';
import { modseqFetchLine } from '../responses.js';
import { storeFlagsFor } from '../acl-flags.js';

// ---- grammar ----

export type StoreOp = 'set' | 'add' | 'remove';

export interface StoreArgs {
  set: SequenceSet;
  unchangedSince: number | null;
  op: StoreOp;
  silent: boolean;
  flags: string[];
}

export function parseStore(args: Args): StoreArgs {
  const set = parseSequenceSet(args.atom('sequence set'));
  let unchangedSince: number | null = null;
  if (args.peek()?.t === 'list') {
    const m = new Args(args.list('store modifiers'));
    while (!m.done) {
      const name = m.atom('store modifier').toUpperCase();
      if (name !== 'UNCHANGEDSINCE') throw new ParseError(`Unknown STORE modifier ${name}`);
      unchangedSince = parseModseq(m.atom('mod-sequence'));
    }
  }
  const item = args.atom('store data item').toUpperCase();
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(item);
  if (!m) throw new ParseError(`Invalid STORE data item ${item.slice(0, 40)}`);
  const op: StoreOp = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
  // flag-list / (flag *(SP flag)): one parenthesized list, or one or more flags without one (RFC 9051 section 9).
  const first = args.next('flags');
  const flags = parseFlagList(first);
  if (first.t === 'list') args.end();
  else while (!args.done) flags.push(parseFlag(args.next('flag')));
  return { set, unchangedSince, op, silent: !!m[2], flags };
}

// ---- handler ----

async function runStore(ctx: CommandContext, args: StoreArgs): Promise<Completion> {
  const s = ctx.session;
  const view = selectedView(ctx);
  if (!ctx.uid && view.seqOutOfRange(args.set)) throw bad('Invalid messageset');
  // EXAMINE (or no flag rights): no change to the mailbox is permitted (RFC 9051 6.3.3), so the STORE fails
  // (6.4.6 NO: "cannot store that data") and changes nothing, not even the mailbox's keyword list. Dovecot
  // answers OK "Store ignored", which tells the client its flags were set when they were not.
  if (view.readOnly) throw no('Mailbox is read-only', 'CANNOT');
  if (args.unchangedSince !== null) enableCondstore(s);
  // \Recent cannot be changed by clients (RFC 3501 2.3.2).
  const flags = args.flags.filter((f) => f.toLowerCase() !== '\\recent');
  const uids = view.resolve(args.set, ctx.uid).filter((u) => !view.isExpunged(u));
  if (!uids.length) return ok('Store completed');
  const opts = args.unchangedSince === null ? { op: args.op, flags } : { op: args.op, flags, unchangedSince: args.unchangedSince };
  const r = await storeFlagsFor(ctx, view, uids, opts);
  view.applyOwn(r.changed);
  view.flush(s, false);
  const changed = new Set(r.changed.map((m) => m.uid));
  const out: Buffer[] = [];
  const modified = new Set(r.modified);
  for (const uid of uids) {
    if (modified.has(uid)) continue;
    const seq = view.seqOf(uid);
    const meta = view.meta(uid);
    if (!seq || !meta) continue;
    // .SILENT suppresses the FETCH, except that CONDSTORE clients learn the new MODSEQ (RFC 7162 3.1.3).
    if (args.silent) {
      if (s.condstore && changed.has(uid)) out.push(Buffer.from(modseqFetchLine(seq, ctx.uid || s.qresync ? uid : null, meta.modseq)));
      continue;
    }
    out.push(view.flagsResponse(seq, meta, s, ctx.uid));
  }
  if (out.length) s.send(Buffer.concat(out));
  if (r.modified.length) {
    const list = ctx.uid ? [...r.modified].sort((a, b) => a - b) : r.modified.map((u) => view.seqOf(u)).filter((x) => x > 0).sort((a, b) => a - b);
    return ok('Conditional STORE failed', `MODIFIED ${formatSequenceSet(list)}`);
  }
  return ok('Store completed');
}

export const store = defineCommand({ states: SELECTED, seq: 'uses', parse: parseStore, run: runStore });
export const uidStore = defineCommand({ states: SELECTED, seq: 'none', parse: parseStore, run: runStore });

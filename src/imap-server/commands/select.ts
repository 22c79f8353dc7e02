/**
 * SELECT / EXAMINE (RFC 9051 6.3.2, 6.3.3 with CONDSTORE and QRESYNC parameters, RFC 7162): closes the
 * selected mailbox ([CLOSED] for QRESYNC/rev2 sessions), opens a view and sends FLAGS, PERMANENTFLAGS,
 * EXISTS, (RECENT, UNSEEN for rev1), UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, MAILBOXID (and LIST for rev2),
 * then the QRESYNC resynchronisation. NO [NONEXISTENT] leaves no mailbox selected.
 */
import { WireWriter } from '../../imap/wire/encode.js';
import { Args, ParseError, parseModseq } from '../../imap/grammar/args.js';
import { parseSequenceSet, type SequenceSet } from '../../imap/grammar/sequence.js';
import { resolveRanges } from '../../imap/grammar/sequence.js';
import { bad, ok, type Completion } from '../errors.js';
import { AUTH, currentUser, defineCommand, type CommandContext } from '../session.js';
import { privateSeenOf, readOnlyByRights, resolveMailbox } from '../namespaces.js';
import { MailboxView } from '../view.js';
import { URLMECH } from './urlauth.js';
import { existsLine, flagsLine, okLine, permanentFlagsLine, recentLine, vanishedLine, writeList } from '../responses.js';

// ---- grammar ----

export interface QresyncParams {
  uidValidity: number;
  modseq: number;
  knownUids: SequenceSet | null;
  seqMatch: { seqs: SequenceSet; uids: SequenceSet } | null;
}

export interface SelectArgs {
  mailbox: string;
  condstore: boolean;
  qresync: QresyncParams | null;
}

export function parseSelect(args: Args): SelectArgs {
  const mailbox = args.astring('mailbox name');
  let condstore = false;
  let qresync: QresyncParams | null = null;
  if (!args.done) {
    const p = new Args(args.list('select parameters'));
    while (!p.done) {
      const name = p.atom('select parameter').toUpperCase();
      if (name === 'CONDSTORE') condstore = true;
      else if (name === 'QRESYNC') {
        const q = new Args(p.list('QRESYNC parameters'));
        const uidValidity = q.number('UIDVALIDITY');
        const modseq = parseModseq(q.atom('mod-sequence'));
        let knownUids: SequenceSet | null = null;
        let seqMatch: QresyncParams['seqMatch'] = null;
        if (!q.done && q.peek()?.t === 'atom') knownUids = parseSequenceSet(q.atom('known UIDs'));
        if (!q.done) {
          const m = new Args(q.list('sequence match data'));
          seqMatch = { seqs: parseSequenceSet(m.atom('known sequence set')), uids: parseSequenceSet(m.atom('known UID set')) };
          m.end();
        }
        q.end();
        if (uidValidity === 0) throw new ParseError('Invalid UIDVALIDITY');
        qresync = { uidValidity, modseq, knownUids, seqMatch };
      } else throw new ParseError(`Unknown SELECT parameter ${name}`);
    }
  }
  args.end();
  return { mailbox, condstore, qresync };
}

// ---- handler ----

async function openMailbox(ctx: CommandContext, args: SelectArgs, examine: boolean): Promise<Completion> {
  const s = ctx.session;
  const user = currentUser(ctx);
  if (args.qresync && !s.enabled.has('QRESYNC')) throw bad('QRESYNC must be enabled first');
  const name = s.decodeMailbox(args.mailbox);
  if (s.state.kind === 'selected') {
    s.setState({ kind: 'authenticated', user });
    if (s.qresync || s.rev2) s.send(Buffer.from(okLine('CLOSED', 'Previous mailbox closed.')));
  }
  const store = ctx.service.store;
  // RFC 4314 section 4: SELECT and EXAMINE take "r"; without any of i, e, w, s, t the mailbox is READ-ONLY.
  const target = await resolveMailbox(ctx, name, 'r');
  const mb = target.mailbox;
  const readOnly = examine || readOnlyByRights(target.rights);
  if (args.condstore) s.enable('CONDSTORE');
  // One status read and one listMessages, both inside MailboxView.open.
  const privateSeen = await privateSeenOf(ctx, target);
  const view = await MailboxView.open(store, mb, { readOnly, trackRecent: !s.rev2, rights: target.rights, privateSeen });
  const w = new WireWriter(s.utf8);
  const flags = view.flagsInUse();
  w.text(flagsLine(flags));
  w.text(permanentFlagsLine(view.permitted(flags), readOnly, view.rights.includes('w')));
  w.text(existsLine(view.exists));
  if (!s.rev2) {
    w.text(recentLine(view.recentCount));
    const firstUnseen = view.firstUnseen();
    if (firstUnseen > 0) w.text(okLine(`UNSEEN ${firstUnseen}`, 'First unseen.'));
  }
  w.text(okLine(`UIDVALIDITY ${mb.uidValidity}`, 'UIDs valid'));
  w.text(okLine(`UIDNEXT ${Math.max(view.uidNextAtOpen, (view.uids[view.uids.length - 1] ?? 0) + 1)}`, 'Predicted next UID'));
  w.text(okLine(`HIGHESTMODSEQ ${view.highestModseq}`, 'Highest'));
  w.text(okLine(`MAILBOXID (${mb.mailboxObjectId})`, 'Ok'));
  w.text(okLine(URLMECH, 'Ok'));
  if (s.rev2) {
    // RFC 9051 6.3.2: a LIST response with the mailbox's canonical name and accurate attributes.
    const children = (await store.listMailboxes(target.ownerId)).some((m) => m.name.startsWith(mb.name + '/'));
    const attrs = [children ? '\\HasChildren' : '\\HasNoChildren', ...(mb.specialUse ? [mb.specialUse] : [])];
    writeList(w, 'LIST', attrs, s.encodeMailbox(target.shown.name));
  }
  s.send(w.toBuffer());

  if (args.qresync && args.qresync.uidValidity === mb.uidValidity) {
    const q = args.qresync;
    const ch = await store.changesSince(mb.id, q.modseq);
    let vanished = ch.expunged;
    if (q.knownUids && q.knownUids.kind === 'ranges') {
      const known = q.knownUids.ranges;
      vanished = resolveRanges(known, vanished);
    }
    if (vanished.length) s.send(Buffer.from(vanishedLine(vanished, true)));
    const out: Buffer[] = [];
    for (const m of ch.changed) {
      const seq = view.seqOf(m.uid);
      const meta = view.meta(m.uid);
      if (!seq || !meta) continue;
      out.push(view.flagsResponse(seq, meta, s, true));
    }
    if (out.length) s.send(Buffer.concat(out));
  }
  view.markReported();
  s.setState({ kind: 'selected', user, view });
  return ok(`${examine ? 'EXAMINE' : 'SELECT'} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
}

export const select = defineCommand({
  states: AUTH,
  seq: 'breaks',
  parse: parseSelect,
  run: (ctx, args) => openMailbox(ctx, args, false),
});

export const examine = defineCommand({
  states: AUTH,
  seq: 'breaks',
  parse: parseSelect,
  run: (ctx, args) => openMailbox(ctx, args, true),
});

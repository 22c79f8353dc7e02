/** SELECT / EXAMINE (with CONDSTORE and QRESYNC parameters, RFC 7162), CLOSE, UNSELECT (RFC 3691). */
import { WireWriter, formatSequenceSet } from '../../imap/wire/encode.js';
import { parseNone, parseSelect, type SelectArgs } from '../../imap/grammar/commands.js';
import { resolveRanges } from '../../imap/grammar/sequence.js';
import { bad, ok, type Completion } from '../errors.js';
import { AUTH, SELECTED, currentUser, defineCommand, existingMailbox, selectedView, type CommandContext } from '../session.js';
import { MailboxView, writeFlags } from '../view.js';

async function openMailbox(ctx: CommandContext, args: SelectArgs, readOnly: boolean): Promise<Completion> {
  const s = ctx.session;
  const user = currentUser(ctx);
  if (args.qresync && !s.enabled.has('QRESYNC')) throw bad('QRESYNC must be enabled first');
  const name = s.decodeMailbox(args.mailbox);
  if (s.state.kind === 'selected') {
    s.setState({ kind: 'authenticated', user });
    if (s.qresync || s.rev2) s.send(Buffer.from('* OK [CLOSED] Previous mailbox closed.\r\n'));
  }
  const store = ctx.service.store;
  const mb = await existingMailbox(ctx, name);
  if (args.condstore) s.enable('CONDSTORE');
  // One status read and one listMessages, both inside MailboxView.open.
  const view = await MailboxView.open(store, mb, { readOnly, trackRecent: !s.rev2 });
  const w = new WireWriter(s.utf8);
  const flags = view.flagsInUse();
  w.text('* FLAGS ');
  writeFlags(w, flags);
  w.text('\r\n');
  if (readOnly) w.text('* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n');
  else {
    w.text('* OK [PERMANENTFLAGS ');
    writeFlags(w, [...flags, '\\*']);
    w.text('] Flags permitted.\r\n');
  }
  w.text(`* ${view.exists} EXISTS\r\n`);
  if (!s.rev2) {
    w.text(`* ${view.recentCount} RECENT\r\n`);
    const firstUnseen = view.uids.findIndex((u) => !view.meta(u)!.flags.some((f) => f.toLowerCase() === '\\seen'));
    if (firstUnseen >= 0) w.text(`* OK [UNSEEN ${firstUnseen + 1}] First unseen.\r\n`);
  }
  w.text(`* OK [UIDVALIDITY ${mb.uidValidity}] UIDs valid\r\n`);
  w.text(`* OK [UIDNEXT ${Math.max(view.uidNextAtOpen, (view.uids[view.uids.length - 1] ?? 0) + 1)}] Predicted next UID\r\n`);
  w.text(`* OK [HIGHESTMODSEQ ${view.highestModseq}] Highest\r\n`);
  w.text(`* OK [MAILBOXID (${mb.mailboxObjectId})] Ok\r\n`);
  if (s.rev2) {
    // RFC 9051 6.3.2: a LIST response with the mailbox's canonical name and accurate attributes.
    const children = (await store.listMailboxes(user.id)).some((m) => m.name.startsWith(mb.name + '/'));
    const attrs = [children ? '\\HasChildren' : '\\HasNoChildren', ...(mb.specialUse ? [mb.specialUse] : [])];
    w.text(`* LIST (${attrs.join(' ')}) "/" `).string(s.encodeMailbox(mb.name)).text('\r\n');
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
    if (vanished.length) s.send(Buffer.from(`* VANISHED (EARLIER) ${formatSequenceSet(vanished)}\r\n`));
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
  return ok(`${readOnly ? 'EXAMINE' : 'SELECT'} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
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

export const close = defineCommand({
  states: SELECTED,
  seq: 'breaks',
  parse: parseNone,
  async run(ctx) {
    const view = selectedView(ctx);
    const user = currentUser(ctx);
    ctx.session.setState({ kind: 'authenticated', user });
    // RFC 9051 6.4.1: expunge silently, no EXPUNGE responses.
    if (!view.readOnly) await ctx.service.store.expunge(view.mailbox.id);
    return ok('CLOSE completed');
  },
});

export const unselect = defineCommand({
  states: SELECTED,
  seq: 'breaks',
  parse: parseNone,
  async run(ctx) {
    ctx.session.setState({ kind: 'authenticated', user: currentUser(ctx) });
    return ok('UNSELECT completed');
  },
});

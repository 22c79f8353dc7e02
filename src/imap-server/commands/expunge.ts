/**
 * EXPUNGE (RFC 9051 6.4.3) and UID EXPUNGE (RFC 4315 / RFC 9051 6.4.9): remove \Deleted messages (all, or
 * those in the UID set) and send their EXPUNGE (or VANISHED) responses themselves. 'breaks' commands: the
 * dispatcher announces other sessions' pending expunges right after them, which is why the session's own
 * expunge need not keep the removed messages for it (MailboxView.ownExpunge). NO [CANNOT] when read-only.
 */
import { parseNone } from '../../imap/grammar/commands.js';
import type { Args } from '../../imap/grammar/args.js';
import { parseSequenceSet, type SequenceSet } from '../../imap/grammar/sequence.js';
import { no, ok } from '../errors.js';
import { SELECTED, defineCommand, selectedView } from '../session.js';

// ---- grammar ----

export interface UidSetArg {
  set: SequenceSet;
}

export function parseUidSet(args: Args): UidSetArg {
  const set = parseSequenceSet(args.atom('UID set'));
  args.end();
  return { set };
}

// ---- handler ----

export const expunge = defineCommand({
  states: SELECTED,
  seq: 'breaks',
  parse: parseNone,
  async run(ctx) {
    const view = selectedView(ctx);
    if (view.readOnly) throw no('Mailbox is read-only', 'CANNOT');
    // RFC 4314 section 4: EXPUNGE takes the "e" right.
    if (!view.rights.includes('e')) throw no('Permission denied', 'NOPERM');
    const done = await view.ownExpunge(() => ctx.service.store.expungeReport(view.mailbox.id));
    view.noteOwnExpunge(done);
    view.reportExpunged(done.uids, ctx.session);
    return ok('Expunge completed');
  },
});

export const uidExpunge = defineCommand({
  states: SELECTED,
  seq: 'breaks',
  parse: parseUidSet,
  async run(ctx, args) {
    const view = selectedView(ctx);
    if (view.readOnly) throw no('Mailbox is read-only', 'CANNOT');
    // RFC 4314 section 4: EXPUNGE takes the "e" right.
    if (!view.rights.includes('e')) throw no('Permission denied', 'NOPERM');
    const uids = view.resolve(args.set, true);
    if (!uids.length) return ok('Expunge completed');
    const done = await view.ownExpunge(() => ctx.service.store.expungeReport(view.mailbox.id, uids));
    view.noteOwnExpunge(done);
    view.reportExpunged(done.uids, ctx.session);
    return ok('Expunge completed');
  },
});

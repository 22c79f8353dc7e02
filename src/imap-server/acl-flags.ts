/**
 * Flag changes under access control (RFC 4314 section 4, STORE and FETCH's implicit \Seen): \Seen needs
 * the "s" right, \Deleted "t", any other flag or keyword "w". In a mailbox of another owner the session
 * user's \Seen is private (store.acl setSeen; the view merges it), other flags are the message's, shared by
 * everyone. Flags the user has no right to change are left alone (Dovecot does the same); a request of
 * which nothing at all may be changed is NO [NOPERM].
 */
import type { MessageMeta, StoreFlagsOptions, StoreFlagsResult } from '../store/types.js';
import { no } from './errors.js';
import { currentUser, type CommandContext } from './session.js';
import type { MailboxView } from './view.js';

const isSeen = (f: string): boolean => f.toLowerCase() === '\\seen';

/** The RFC 4314 right that changing `flag` takes. */
export function flagRight(flag: string): 's' | 't' | 'w' {
  const f = flag.toLowerCase();
  return f === '\\seen' ? 's' : f === '\\deleted' ? 't' : 'w';
}

/** STORE through the view's rights and private \Seen; the result is as MailStore.storeFlags gives it. */
export async function storeFlagsFor(ctx: CommandContext, view: MailboxView, uids: number[], opts: StoreFlagsOptions): Promise<StoreFlagsResult> {
  const store = ctx.service.store;
  const rights = view.rights;
  const full = rights.includes('s') && rights.includes('t') && rights.includes('w');
  if (full && !view.privateSeen) {
    const r = await store.storeFlags(view.mailbox.id, uids, opts);
    view.noteHighest(r.highestModseq);
    return r;
  }
  const may = (f: string): boolean => rights.includes(flagRight(f));
  const requested = opts.flags.filter(may);
  if ((opts.flags.length && !requested.length) || (opts.op === 'set' && !/[swt]/.test(rights))) throw no('Permission denied', 'NOPERM');
  const shared = requested.filter((f) => !isSeen(f));
  const changed = new Map<number, MessageMeta>();
  const modified = new Set<number>();
  const apply = async (op: 'add' | 'remove', flags: string[], on: number[], unchangedSince?: number): Promise<void> => {
    if (!flags.length || !on.length) return;
    const r = await store.storeFlags(view.mailbox.id, on, unchangedSince === undefined ? { op, flags } : { op, flags, unchangedSince });
    for (const m of r.changed) changed.set(m.uid, m);
    for (const u of r.modified) modified.add(u);
  };
  if (opts.op === 'set') {
    // A set replaces only what the user may change: the others' \Seen and flags without rights stay.
    const have = new Map<string, string>();
    for (const u of uids) for (const f of view.meta(u)?.flags ?? []) if (!isSeen(f) && may(f)) have.set(f.toLowerCase(), f);
    const wanted = new Set(shared.map((f) => f.toLowerCase()));
    const drop = [...have].filter(([k]) => !wanted.has(k)).map(([, f]) => f);
    await apply('add', shared, uids, opts.unchangedSince);
    await apply('remove', drop, uids.filter((u) => !modified.has(u)), shared.length ? undefined : opts.unchangedSince);
  } else await apply(opts.op, shared, uids, opts.unchangedSince);

  const seenOp = opts.op === 'set' ? (rights.includes('s') ? requested.some(isSeen) : null) : requested.some(isSeen) ? opts.op === 'add' : null;
  if (seenOp !== null) {
    const on = uids.filter((u) => !modified.has(u));
    if (view.privateSeen) {
      await ctx.service.acl!.setSeen(view.mailbox.id, currentUser(ctx).id, on, seenOp);
      view.applyOwn([...changed.values()]);
      for (const m of view.applyPrivateSeen(on, seenOp)) if (!changed.has(m.uid)) changed.set(m.uid, m);
    } else await apply(seenOp ? 'add' : 'remove', ['\\Seen'], on);
  }
  return { changed: [...changed.values()].sort((a, b) => a.uid - b.uid), modified: [...modified].sort((a, b) => a - b) };
}

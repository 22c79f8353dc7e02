/**
 * Email/changes and Thread/changes (RFC 8620 5.2) from the store's change log: the state names each
 * mailbox's HIGHESTMODSEQ and UIDNEXT; per mailbox changed since, changesSince gives the messages changed
 * (uid >= the old UIDNEXT: created there, else updated) and the expunged uids (destroyed there). An Email
 * that left one mailbox and arrived in another (a move keeps its EMAILID) is updated. When more than
 * maxChanges would be reported, whole mailboxes are left for the next call (hasMoreChanges with an
 * intermediate state); one mailbox alone over the limit gives cannotCalculateChanges.
 */
import type { Args, Call } from './api.js';
import { decodeEmailState, encodeEmailState, type Account, type BoxState } from './account.js';
import { getIds, optUint } from './args.js';
import { MethodError, invalid } from './errors.js';

interface Delta {
  created: Set<string>;
  destroyed: Set<string>;
  updated: Set<string>;
  /** Threads touched, with whether the email was created / destroyed in them. */
  threads: Set<string>;
  newState: string;
  more: boolean;
}

async function emailDelta(account: Account, since: string, maxChanges: number | null): Promise<Delta> {
  const old = decodeEmailState(since);
  if (!old) throw new MethodError('cannotCalculateChanges', 'unknown state');
  const created = new Set<string>();
  const destroyed = new Set<string>();
  const updated = new Set<string>();
  const threads = new Set<string>();
  const next = new Map<number, BoxState>(old);
  let count = 0;
  let more = false;
  const ids = new Set<number>([...old.keys(), ...account.boxes.keys()]);
  for (const boxId of [...ids].sort((x, y) => x - y)) {
    const was = old.get(boxId);
    const box = account.boxes.get(boxId);
    const c = new Set<string>();
    const d = new Set<string>();
    const u = new Set<string>();
    if (!box) {
      // Mailbox deleted since: everything it held at the old state is gone from it.
      if (!was) continue;
      const gone = account.goneBoxes.get(boxId);
      if (!gone) throw new MethodError('cannotCalculateChanges', 'a mailbox deleted before this server started');
      for (const [uid, g] of gone) {
        if (uid >= was.uidNext) continue;
        d.add(g.emailId);
        threads.add(g.threadId);
      }
    } else if (!was) {
      for (const r of box.byUid.values()) {
        c.add(r.id);
        threads.add(r.threadId);
      }
    } else if (box.modseq !== was.modseq || box.uidNext !== was.uidNext) {
      const ch = await account.store.mail.changesSince(boxId, was.modseq);
      for (const m of ch.changed) {
        (m.uid >= was.uidNext ? c : u).add(m.emailId);
        threads.add(m.threadId);
      }
      for (const uid of ch.expunged) {
        if (uid >= was.uidNext) continue; // came and went after the old state
        const g = account.gone(boxId, uid);
        if (!g) throw new MethodError('cannotCalculateChanges', 'an expunged message is no longer known');
        d.add(g.emailId);
        threads.add(g.threadId);
      }
    } else continue;
    const n = c.size + d.size + u.size;
    if (maxChanges !== null && count + n > maxChanges) {
      if (count === 0) throw new MethodError('cannotCalculateChanges', `one mailbox has more than maxChanges (${maxChanges}) changes`);
      more = true;
      break;
    }
    count += n;
    for (const x of c) created.add(x);
    for (const x of d) destroyed.add(x);
    for (const x of u) updated.add(x);
    if (box) next.set(boxId, { modseq: box.modseq, uidNext: box.uidNext });
    else next.delete(boxId);
  }
  // Merge: an id created in one mailbox and destroyed in another moved (updated).
  for (const id of [...created]) {
    if (destroyed.has(id)) {
      created.delete(id);
      destroyed.delete(id);
      updated.add(id);
    }
  }
  for (const id of [...created]) if (!account.emails.has(id) && !more) created.delete(id);
  for (const id of [...updated]) {
    if (created.has(id)) updated.delete(id);
    else if (!account.emails.has(id) && !more) {
      updated.delete(id);
      destroyed.add(id);
    }
  }
  for (const id of [...destroyed]) if (account.emails.has(id) && !more) destroyed.delete(id), updated.add(id);
  const newState = more ? encodeEmailState([...next].sort((x, y) => x[0] - y[0])) : account.emailState();
  return { created, destroyed, updated, threads, newState, more };
}

function sinceArgs(args: Args): { since: string; max: number | null } {
  const since = args['sinceState'];
  if (typeof since !== 'string') invalid('sinceState is required');
  const max = optUint(args, 'maxChanges', null);
  if (max === 0) invalid('maxChanges must be positive');
  return { since, max };
}

export async function emailChanges(args: Args, call: Call): Promise<Args> {
  const { since, max } = sinceArgs(args);
  const d = await emailDelta(call.account, since, max);
  return {
    accountId: call.account.accountId,
    oldState: since,
    newState: d.newState,
    hasMoreChanges: d.more,
    created: [...d.created],
    updated: [...d.updated],
    destroyed: [...d.destroyed],
  };
}

export async function threadChanges(args: Args, call: Call): Promise<Args> {
  const { since, max } = sinceArgs(args);
  const d = await emailDelta(call.account, since, null);
  const a = call.account;
  const created: string[] = [];
  const updated: string[] = [];
  const destroyed: string[] = [];
  for (const t of d.threads) {
    const now = a.threads.get(t);
    if (!now || now.size === 0) destroyed.push(t);
    else if ([...now].every((r) => d.created.has(r.id))) created.push(t);
    else updated.push(t);
  }
  if (max !== null && created.length + updated.length + destroyed.length > max) throw new MethodError('cannotCalculateChanges', 'more thread changes than maxChanges');
  return { accountId: a.accountId, oldState: since, newState: d.newState, hasMoreChanges: false, created, updated, destroyed };
}

export async function threadGet(args: Args, call: Call): Promise<Args> {
  const a = call.account;
  const ids = getIds(args, call);
  if (ids === null) throw new MethodError('requestTooLarge', 'Thread/get needs ids');
  const list: Array<Record<string, unknown>> = [];
  const notFound: string[] = [];
  for (const id of new Set(ids)) {
    const emails = a.threadEmails(id);
    if (emails.length === 0) notFound.push(id);
    else list.push({ id, emailIds: emails.map((r) => r.id) });
  }
  return { accountId: a.accountId, state: a.emailState(), list, notFound };
}

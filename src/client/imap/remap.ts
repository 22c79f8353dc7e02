/**
 * Queued offline changes of a folder recreated on the server (UIDVALIDITY changed, RFC 3501 section
 * 2.3.1.1) name UIDs of the old numbering. Each is given the new UID of the same message, found as bodies
 * are (relocate.ts): the same EMAILID (RFC 8474), else the same Message-ID, RFC822.SIZE and INTERNALDATE.
 * A change whose message is not found keeps its old numbering, and the replay drops and reports it.
 *
 * A server whose UIDs went backwards under the same UIDVALIDITY (uidsWentBack: restored from a backup, its
 * index rebuilt) may have given our UIDs to other messages: then every queued change of the folder is
 * remapped the same way, and one whose message is not found is `lost` (its old UID may name another
 * message now, so it must never be sent).
 *
 * Contract: the queue rows are rewritten (new UID and UIDVALIDITY) before anything is sent; `ops` is the
 * input with those changes applied, in the same order, less the `lost` ones; `remapped` holds the ids of
 * the changes now in the server's current numbering because of this call.
 */
import type { ImapFlow } from 'imapflow';
import type { QueuedOp } from '../sync/plan.js';
import type { ImapContext } from './syncer.js';
import { dateMs, summaryOf } from './overview.js';
import { keysOf, sameIdentity, type MessageIdentity } from './relocate.js';
import { uidSet } from './push.js';

/** The message a queued change names: as recorded with the change, else its local row's. */
export function identityOf(ctx: ImapContext, op: QueuedOp): MessageIdentity | null {
  if (op.identity) return op.identity;
  const row = op.kind === 'move' ? ctx.state.getMessage(op.messageRow) : ctx.state.getByUid(ctx.account.name, op.folder, op.uid);
  return row ? { emailId: row.emailId, messageId: row.messageId, size: row.size, internalDate: row.internalDate } : null;
}

/**
 * The highest UID we hold for a folder when the server's UIDNEXT is at or below it under the UIDVALIDITY we
 * know (UIDs only grow, RFC 9051 section 2.3.1.1: the server lost its numbering), else null. `held` are the
 * UIDs of our cached messages and queued changes in that UIDVALIDITY.
 */
export function uidsWentBack(known: string | null | undefined, held: Iterable<number>, uidValidity: string, uidNext: unknown): number | null {
  if (known !== uidValidity || typeof uidNext !== 'number' || !(uidNext > 0)) return null;
  let max = 0;
  for (const uid of held) if (uid > max) max = uid;
  return max >= uidNext ? max : null;
}

/**
 * True when `a` and `b` are surely not the same message: different EMAILIDs, else different known sizes, else
 * different Message-IDs. Without any of these to compare nothing is proved (false).
 */
export function provablyDifferent(a: MessageIdentity, b: MessageIdentity): boolean {
  if (a.emailId && b.emailId) return a.emailId !== b.emailId;
  if (a.size > 0 && b.size > 0 && a.size !== b.size) return true;
  return !!a.messageId && !!b.messageId && a.messageId !== b.messageId;
}

/**
 * Whether the server now has another message at a UID a queued change names, under the same UIDVALIDITY
 * (UIDs reused: a restore from a backup whose UIDNEXT has since grown past ours again). Asks the server
 * for the identities of the queued UIDs only.
 */
export async function uidsReused(ctx: ImapContext, client: ImapFlow, ops: QueuedOp[], uidValidity: string, exists: number): Promise<boolean> {
  const same = ops.filter((o) => o.uidValidity === uidValidity);
  if (!same.length || exists === 0) return false;
  const byUid = new Map<number, MessageIdentity>();
  for (const m of await serverIdentities(ctx, client, uidSet([...new Set(same.map((o) => o.uid))]))) byUid.set(m.uid, m.id);
  return same.some((op) => {
    const there = byUid.get(op.uid);
    const ours = there && identityOf(ctx, op);
    return !!there && !!ours && provablyDifferent(ours, there);
  });
}

/**
 * The identities of the server's messages in the UID set `range` (one UID FETCH); `sized` is false when the
 * server gave no RFC822.SIZE (the identity's size is then 0, which compares as unknown).
 */
async function serverIdentities(ctx: ImapContext, client: ImapFlow, range: string): Promise<Array<{ uid: number; id: MessageIdentity; sized: boolean }>> {
  const now = ctx.now();
  const query = { uid: true, size: true, internalDate: true, envelope: true, emailId: client.capabilities.has('OBJECTID') };
  const out: Array<{ uid: number; id: MessageIdentity; sized: boolean }> = [];
  for (const m of await client.fetchAll(range, query, { uid: true })) {
    if (!Number.isInteger(m.uid)) continue;
    const id: MessageIdentity = { emailId: m.emailId ?? null, messageId: summaryOf(m).messageId, size: m.size ?? 0, internalDate: dateMs(m.internalDate, now) };
    out.push({ uid: m.uid, id, sized: m.size !== undefined });
  }
  return out;
}

export interface Remapped {
  ops: QueuedOp[];
  lost: QueuedOp[];
  remapped: number[];
}

export async function remapQueued(ctx: ImapContext, client: ImapFlow, ops: QueuedOp[], uidValidity: string, exists: number, wentBack = false): Promise<Remapped> {
  const stale = wentBack ? ops : ops.filter((o) => o.uidValidity !== uidValidity);
  if (!stale.length || !uidValidity) return { ops, lost: [], remapped: [] };
  if (exists === 0) return wentBack ? { ops: [], lost: ops, remapped: [] } : { ops, lost: [], remapped: [] };
  const byKey = new Map<string, Array<{ uid: number; id: MessageIdentity }>>();
  for (const { uid, id, sized } of await serverIdentities(ctx, client, '1:*')) {
    if (!sized) continue;
    for (const k of keysOf(id)) byKey.set(k, [...(byKey.get(k) ?? []), { uid, id }]);
  }
  // Several changes of one message map to the same new UID; two messages never share one.
  const mapped = new Map<number, number | null>();
  const taken = new Set<number>();
  const newUid = (op: QueuedOp): number | null => {
    const known = mapped.get(op.uid);
    if (known !== undefined) return known;
    const id = identityOf(ctx, op);
    const hit = id ? keysOf(id).flatMap((k) => byKey.get(k) ?? []).find((c) => !taken.has(c.uid) && sameIdentity(c.id, id)) : undefined;
    if (hit) taken.add(hit.uid);
    mapped.set(op.uid, hit?.uid ?? null);
    return hit?.uid ?? null;
  };
  const out: Remapped = { ops: [], lost: [], remapped: [] };
  for (const op of ops) {
    const uid = op.uidValidity === uidValidity && !wentBack ? null : newUid(op);
    if (uid === null) {
      (wentBack ? out.lost : out.ops).push(op);
      continue;
    }
    ctx.state.remapQueued(op.id, uid, uidValidity);
    ctx.logger.info({ account: ctx.account.name, folder: op.folder, op: op.kind, from: op.uid, to: uid, uidValidity }, wentBack ? 'queued change remapped to the renumbered folder' : 'queued change remapped to the recreated folder');
    out.ops.push({ ...op, uid, uidValidity });
    out.remapped.push(op.id);
  }
  return out;
}

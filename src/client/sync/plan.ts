/**
 * Pure planning functions of the sync engine: given what we know locally and what the server reports,
 * they return the actions to take. No I/O here; the engines (pop3/fetch.ts, imap/syncer.ts) execute
 * the plans. Table-tested in plan.test.ts.
 */

// ---------------------------------------------------------------- POP3

/** What happens to messages on a POP3 server once they are downloaded. */
export type Pop3Policy =
  | { kind: 'delete' }
  | { kind: 'keep' }
  | { kind: 'keep-days'; days: number }
  | { kind: 'until-deleted-locally' };

export interface Pop3ServerMessage {
  msgno: number;
  /** null when the server has no UIDL. */
  uidl: string | null;
  size: number;
}

export interface Pop3KnownMessage {
  /** When we downloaded it (ms since epoch). */
  fetchedAt: number;
  /** The user deleted our local copy. */
  locallyDeleted: boolean;
  /** Only the header was fetched (too big): never delete it on the server on our own. */
  partial: boolean;
  /** Its size in the server's LIST when we fetched it (unknown for records older than this field). */
  size?: number | null;
}

export interface Pop3PlanInput {
  server: Pop3ServerMessage[];
  /** Known UIDLs of this account. */
  known: Map<string, Pop3KnownMessage>;
  policy: Pop3Policy;
  /** Messages larger than this are not downloaded whole (0 or undefined: no limit). */
  maxSize?: number;
  /** What to do with oversized messages: skip, or fetch the header only (TOP n 0). */
  oversize?: 'skip' | 'headers';
  now: number;
}

export interface Pop3Plan {
  /** Download (RETR) in this order; `deleteAfter` says whether to DELE right after recording it. */
  download: Array<{ msgno: number; uidl: string | null; size: number; deleteAfter: boolean }>;
  /** Fetch only the header (TOP msgno 0). */
  headersOnly: Array<{ msgno: number; uidl: string; size: number }>;
  /** Oversized messages left alone, with the reason (a warning for the user). */
  skipped: Array<{ msgno: number; uidl: string | null; size: number; reason: string }>;
  /** Already downloaded messages to delete on the server now (policy). */
  deleteKnown: Array<{ msgno: number; uidl: string }>;
  /** UIDLs we remember that the server no longer has: forget them. */
  forget: string[];
  /** Known UIDLs the server now gives to a message of another size: downloaded as new (a warning for the user). */
  reused: Array<{ msgno: number; uidl: string; was: number; size: number }>;
  /** Known UIDLs recorded without their size (older profiles): record the size listed now. */
  sizes: Array<{ uidl: string; size: number }>;
  /** UIDLs the server gave to more than one message of this listing (a warning for the user). */
  duplicates: string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Plans one POP3 session. Without UIDL support (every uidl null) only the 'delete' policy is possible:
 * the caller must refuse other policies before planning (leave-a-copy needs UIDL to know what is new);
 * this function then downloads everything and deletes it.
 *
 * UIDLs are unique per maildrop and never reused (RFC 1939 section 7), but some servers break that. Every
 * message number is a message of its own, so a UIDL listed again names another message: tracked under the
 * key "UIDL SIZE" (a space never occurs in a UIDL, so the key cannot clash with a real one), and when that
 * size was listed already under the UIDL, "UIDL SIZE #n" for its n-th occurrence (told apart by their order;
 * a message never goes undownloaded because another one shares its UIDL). A known UIDL
 * whose size changed since we fetched it now names another message (the server reused it after the
 * first was deleted): it is downloaded as new and reported in `reused`.
 */
export function planPop3(input: Pop3PlanInput): Pop3Plan {
  const plan: Pop3Plan = { download: [], headersOnly: [], skipped: [], deleteKnown: [], forget: [], reused: [], sizes: [], duplicates: [] };
  const seen = new Set<string>();
  const listedUidls = new Set<string>();
  /** Occurrences of each "UIDL SIZE" in this listing. */
  const occurrences = new Map<string, number>();
  const limit = input.maxSize && input.maxSize > 0 ? input.maxSize : Infinity;
  for (const listed of input.server) {
    if (listed.uidl === null) {
      const m = listed;
      if (m.size > limit) {
        plan.skipped.push({ msgno: m.msgno, uidl: null, size: m.size, reason: `larger than ${limit} bytes` });
        continue;
      }
      plan.download.push({ msgno: m.msgno, uidl: null, size: m.size, deleteAfter: true });
      continue;
    }
    let m = { ...listed, uidl: listed.uidl };
    const n = (occurrences.get(`${m.uidl} ${m.size}`) ?? 0) + 1;
    occurrences.set(`${m.uidl} ${m.size}`, n);
    if (listedUidls.has(listed.uidl)) {
      if (!plan.duplicates.includes(listed.uidl)) plan.duplicates.push(listed.uidl);
      m = { ...m, uidl: n === 1 ? `${m.uidl} ${m.size}` : `${m.uidl} ${m.size} #${n}` };
    }
    listedUidls.add(listed.uidl);
    if (seen.has(m.uidl)) continue;
    seen.add(m.uidl);
    let known = input.known.get(m.uidl);
    if (known && known.size != null && known.size !== m.size) {
      plan.reused.push({ msgno: m.msgno, uidl: m.uidl, was: known.size, size: m.size });
      known = undefined;
    }
    if (known && known.size == null) plan.sizes.push({ uidl: m.uidl, size: m.size });
    if (!known) {
      if (m.size > limit) {
        if (input.oversize === 'headers') plan.headersOnly.push({ msgno: m.msgno, uidl: m.uidl, size: m.size });
        else plan.skipped.push({ msgno: m.msgno, uidl: m.uidl, size: m.size, reason: `larger than ${limit} bytes` });
        continue;
      }
      plan.download.push({ msgno: m.msgno, uidl: m.uidl, size: m.size, deleteAfter: input.policy.kind === 'delete' });
      continue;
    }
    if (known.partial) continue;
    if (shouldDeleteKnown(known, input.policy, input.now)) plan.deleteKnown.push({ msgno: m.msgno, uidl: m.uidl });
  }
  for (const uidl of input.known.keys()) if (!seen.has(uidl)) plan.forget.push(uidl);
  return plan;
}

function shouldDeleteKnown(known: Pop3KnownMessage, policy: Pop3Policy, now: number): boolean {
  switch (policy.kind) {
    case 'delete':
      // Downloaded earlier but the session ended before QUIT committed the DELE: delete it now.
      return true;
    case 'keep':
      return false;
    case 'keep-days':
      return now - known.fetchedAt >= policy.days * DAY_MS;
    case 'until-deleted-locally':
      return known.locallyDeleted;
  }
}

// ---------------------------------------------------------------- IMAP

export interface LocalFolderState {
  /** null: never synchronised. */
  uidValidity: string | null;
  highestModseq: string | null;
  /** UID -> flags of the messages we have in the index for this folder. */
  messages: Map<number, string[]>;
}

/**
 * What the server told us about the folder in this session.
 * - mode 'qresync': `vanished` lists UIDs expunged since our MODSEQ (VANISHED (EARLIER)), `changed` the
 *   messages with a MODSEQ above ours (flags changed or new).
 * - mode 'condstore': `changed` as above; `uids` is the full UID list (UID SEARCH ALL) for expunge detection.
 * - mode 'full': `changed` holds every message's UID and flags; `uids` is the same UID list.
 */
export interface ServerFolderState {
  uidValidity: string;
  highestModseq: string | null;
  mode: 'qresync' | 'condstore' | 'full';
  changed: Array<{ uid: number; flags: string[] }>;
  uids?: number[];
  vanished?: number[];
}

export interface FolderPlan {
  /** UIDVALIDITY changed (or first sync): drop the folder's local cache before anything else. */
  reset: boolean;
  /** New UIDs whose header overview must be fetched. */
  fetch: number[];
  /** Known messages whose flags changed on the server. */
  flags: Array<{ uid: number; flags: string[] }>;
  /** Known messages gone from the server. */
  remove: number[];
  /** MODSEQ to remember after the plan was carried out (null when the server has none). */
  highestModseq: string | null;
}

function sameFlags(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => s.has(f.toLowerCase()));
}

/** Plans the pull half of a folder sync (server -> local). */
export function planFolder(local: LocalFolderState, server: ServerFolderState): FolderPlan {
  const reset = local.uidValidity !== null && local.uidValidity !== server.uidValidity;
  const localMsgs = reset ? new Map<number, string[]>() : local.messages;
  const plan: FolderPlan = { reset, fetch: [], flags: [], remove: [], highestModseq: server.highestModseq };
  const fresh = reset || local.uidValidity === null;
  if (fresh && server.mode === 'qresync') {
    // Nothing to compare against: callers ask for a full listing when the folder is new or reset.
    throw new Error('planFolder: a new or reset folder needs a full or condstore listing, not qresync deltas');
  }
  for (const c of server.changed) {
    const have = localMsgs.get(c.uid);
    if (have === undefined) plan.fetch.push(c.uid);
    else if (!sameFlags(have, c.flags)) plan.flags.push({ uid: c.uid, flags: c.flags });
  }
  if (server.mode === 'qresync') {
    for (const uid of server.vanished ?? []) if (localMsgs.has(uid)) plan.remove.push(uid);
  } else {
    const present = new Set(server.uids ?? server.changed.map((c) => c.uid));
    for (const uid of localMsgs.keys()) if (!present.has(uid)) plan.remove.push(uid);
    if (server.mode === 'condstore') {
      // New messages always have a MODSEQ above ours, but be safe: anything listed and unknown is fetched.
      const fetching = new Set(plan.fetch);
      for (const uid of present) if (!localMsgs.has(uid) && !fetching.has(uid)) plan.fetch.push(uid);
    }
  }
  plan.fetch.sort((a, b) => a - b);
  plan.remove.sort((a, b) => a - b);
  return plan;
}

/** UIDs of a folder that queued deletes and moves take away (the local row is gone or elsewhere already). */
export function pendingRemovals(ops: QueuedOp[]): Set<number> {
  return new Set(ops.filter((o) => o.kind !== 'flags').map((o) => o.uid));
}

/**
 * A pull plan adjusted to the folder's changes still queued (refused for now, replayed later): a message
 * a queued delete or move takes away is not fetched back, and a message with queued flag changes gets the
 * server's flags with those changes applied in order, so the local view keeps what the user did.
 */
export function holdPending(plan: FolderPlan, ops: QueuedOp[], local: Map<number, string[]>): FolderPlan {
  if (!ops.length) return plan;
  const away = pendingRemovals(ops);
  const flagOps = new Map<number, Array<{ add: string[]; remove: string[] }>>();
  for (const o of ops) if (o.kind === 'flags') flagOps.set(o.uid, [...(flagOps.get(o.uid) ?? []), o]);
  const flags: FolderPlan['flags'] = [];
  for (const f of plan.flags) {
    const queued = flagOps.get(f.uid);
    if (!queued) {
      flags.push(f);
      continue;
    }
    const set = new Map(f.flags.map((x) => [x.toLowerCase(), x]));
    for (const q of queued) {
      for (const x of q.add) set.set(x.toLowerCase(), x);
      for (const x of q.remove) set.delete(x.toLowerCase());
    }
    const merged = [...set.values()].sort();
    if (!sameFlags(merged, local.get(f.uid) ?? [])) flags.push({ uid: f.uid, flags: merged });
  }
  return { ...plan, fetch: plan.fetch.filter((u) => !away.has(u)), flags };
}

// ---------------------------------------------------------------- offline queue

/** Replay bookkeeping: refusals for now counted so far, and when the last counted one came (ms). */
interface Attempts {
  attempts?: number;
  refusedAt?: number | null;
}

/**
 * The message a queued change names, recorded with it so the change can follow the message to a new UID
 * when the folder is recreated on the server (UIDVALIDITY changed): see imap/remap.ts.
 */
export interface QueuedIdentity {
  emailId: string | null;
  messageId: string | null;
  size: number;
  internalDate: number;
}

export type QueuedOp =
  | ({ id: number; kind: 'flags'; folder: string; uid: number; uidValidity: string; add: string[]; remove: string[]; identity?: QueuedIdentity } & Attempts)
  | ({ id: number; kind: 'delete'; folder: string; uid: number; uidValidity: string; identity?: QueuedIdentity } & Attempts)
  | ({ id: number; kind: 'move'; folder: string; uid: number; uidValidity: string; to: string; messageRow: number; identity?: QueuedIdentity } & Attempts);

export interface QueueDecision {
  /** Operations to apply on the server, in order. */
  apply: QueuedOp[];
  /** Operations dropped because the message is gone on the server (or the folder was recreated): the server wins. */
  conflicts: Array<{ op: QueuedOp; reason: string }>;
}

/**
 * Decides which queued offline changes of one folder can be replayed. `server` is the folder's current
 * UIDVALIDITY and the set of UIDs that still exist there.
 */
export function planQueue(ops: QueuedOp[], server: { uidValidity: string; uids: Set<number> }): QueueDecision {
  const out: QueueDecision = { apply: [], conflicts: [] };
  const deleted = new Set<number>();
  for (const op of ops) {
    if (op.uidValidity !== server.uidValidity) {
      out.conflicts.push({ op, reason: 'the folder was recreated on the server (UIDVALIDITY changed) and the message is not in it' });
      continue;
    }
    if (!server.uids.has(op.uid) || deleted.has(op.uid)) {
      out.conflicts.push({ op, reason: op.kind === 'delete' ? 'already deleted on the server' : 'the message is gone on the server' });
      continue;
    }
    if (op.kind === 'delete' || op.kind === 'move') deleted.add(op.uid);
    out.apply.push(op);
  }
  return out;
}

/** Queued changes replayed together: one command for a run of like changes. */
export type QueueRun = { kind: 'flags'; add: string[]; remove: string[]; ops: QueuedOp[] } | { kind: 'delete'; ops: QueuedOp[] } | { kind: 'move'; ops: [QueuedOp] };

/**
 * Groups operations (in queue order) into runs: adjacent flag changes with the same flags to add and
 * remove become one UID STORE, adjacent deletes one UID STORE +FLAGS \\Deleted and one UID EXPUNGE; a move
 * stays alone (its COPYUID maps one UID). Only neighbours merge, so the server sees the changes in the order
 * they were made.
 */
export function queueRuns(ops: QueuedOp[]): QueueRun[] {
  const out: QueueRun[] = [];
  const key = (a: string[]): string => [...a].sort().join(' ');
  for (const op of ops) {
    const last = out[out.length - 1];
    if (op.kind === 'flags') {
      if (last?.kind === 'flags' && key(last.add) === key(op.add) && key(last.remove) === key(op.remove)) last.ops.push(op);
      else out.push({ kind: 'flags', add: op.add, remove: op.remove, ops: [op] });
    } else if (op.kind === 'delete') {
      if (last?.kind === 'delete') last.ops.push(op);
      else out.push({ kind: 'delete', ops: [op] });
    } else out.push({ kind: 'move', ops: [op] });
  }
  return out;
}

// ---------------------------------------------------------------- batches

/**
 * Splits downloads into batches of at most `maxCount` items and about `maxBytes` (by their announced size),
 * in order; an item larger than `alone` bytes is a batch of its own (it is streamed, not held in memory).
 */
export function sizeBatches<T extends { size: number }>(items: T[], maxCount: number, maxBytes: number, alone: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const it of items) {
    if (cur.length && (cur.length >= maxCount || bytes + it.size > maxBytes || it.size > alone || (cur[0] as T).size > alone)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(it);
    bytes += it.size;
  }
  if (cur.length) out.push(cur);
  return out;
}

// ---------------------------------------------------------------- cache policy

export type CachePolicy = { kind: 'headers' } | { kind: 'recent'; days: number } | { kind: 'all' };

export function parseCachePolicy(s: string): CachePolicy {
  if (s === 'headers') return { kind: 'headers' };
  if (s === 'all') return { kind: 'all' };
  const m = /^recent:(\d{1,5})$/.exec(s);
  if (m) return { kind: 'recent', days: Number(m[1]) };
  throw new Error(`cache policy must be headers, recent:DAYS or all (got "${s}")`);
}

export function formatCachePolicy(p: CachePolicy): string {
  return p.kind === 'recent' ? `recent:${p.days}` : p.kind;
}

/** Whether a message's body should be prefetched under the policy (internalDate in ms). */
export function wantsBody(policy: CachePolicy, internalDate: number, now: number): boolean {
  if (policy.kind === 'all') return true;
  if (policy.kind === 'headers') return false;
  return now - internalDate <= policy.days * DAY_MS;
}

// ---------------------------------------------------------------- refused replays

/** How a server answered a replayed change it did not carry out. */
export interface Refusal {
  /** 'NO' or 'BAD'; 'LOST' when the connection broke before the answer. */
  status: 'NO' | 'BAD' | 'LOST';
  /** The response code (RFC 5530), upper case, when the server gave one. */
  code: string | null;
  text: string;
}

/** A replayed change refused this many times for now is given up (reported and dropped). */
export const MAX_REPLAY_ATTEMPTS = 5;
/**
 * A refusal counts as an attempt only this long after the last counted one, so that syncs in quick
 * succession (`watch` syncs at every new message) do not use up the attempts while a server is busy for a
 * few minutes: giving up takes at least (MAX_REPLAY_ATTEMPTS - 1) times this.
 */
export const REPLAY_SPACING_MS = 5 * 60 * 1000;

/**
 * Response codes saying the change can never succeed (RFC 5530; RFC 3501 section 7.1 TRYCREATE): the
 * message or folder is gone, the user may not, or the server cannot. Anything else (UNAVAILABLE, INUSE,
 * LIMIT, SERVERBUG, OVERQUOTA, a NO without a code, a code we do not know, a dropped connection) may pass:
 * the change stays queued for the next sync, up to MAX_REPLAY_ATTEMPTS times. A BAD is the server not
 * understanding the command: sending it again does not help.
 */
const PERMANENT_CODES = new Set(['NONEXISTENT', 'TRYCREATE', 'NOPERM', 'CANNOT', 'CLIENTBUG', 'ALREADYEXISTS', 'EXPUNGEISSUED']);

/**
 * What to do with queued changes whose replay was refused: `keep` them queued (a temporary refusal under the
 * attempt limit) or `drop` them, with the reason to report. `attempts` counts the refusals before this one.
 */
export function judgeRefusal(r: Refusal, attempts: number, counted = true): { action: 'keep' | 'drop'; reason: string } {
  const said = r.status === 'LOST' ? 'the connection was lost' : `${r.status}${r.code ? ` [${r.code}]` : ''}${r.text ? ` ${r.text}` : ''}`;
  if (r.status === 'BAD' || (r.code !== null && PERMANENT_CODES.has(r.code))) return { action: 'drop', reason: `refused for good (${said})` };
  const n = counted ? attempts + 1 : Math.max(attempts, 1);
  if (counted && n >= MAX_REPLAY_ATTEMPTS) return { action: 'drop', reason: `refused ${n} times, given up (last: ${said})` };
  return { action: 'keep', reason: `refused for now (${said}); kept for the next sync, attempt ${n} of ${MAX_REPLAY_ATTEMPTS}` };
}

/** Whether a refusal now counts as an attempt (see REPLAY_SPACING_MS); `refusedAt` is the last counted one. */
export function countsAsAttempt(refusedAt: number | null | undefined, now: number): boolean {
  return refusedAt == null || now - refusedAt >= REPLAY_SPACING_MS;
}

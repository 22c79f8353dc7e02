/**
 * Replaying the offline queue of one IMAP account (the push half of a sync), folder by folder, in the order
 * the changes were made; neighbouring changes alike go out as one command (queueRuns).
 *
 * Contract:
 * - A change whose message or folder is gone on the server is dropped and reported in `conflicts` (the
 *   server wins). In a folder recreated on the server (UIDVALIDITY changed) a change follows its message to
 *   its new UID (remap.ts); only one whose message is not found there is dropped. So does every change of a
 *   folder whose UIDs went backwards under the same UIDVALIDITY (its UIDNEXT at or below a UID we hold): a
 *   change is never sent to a UID the server may have given to another message; the same when the server
 *   shows another message (EMAILID, size or Message-ID) at a UID a change names. Such a folder is a key of
 *   `renumbered` (the pull then resets it), with the ids of the changes remapped (the reset keeps them).
 * - A change the server refuses for good (NO [NONEXISTENT], [TRYCREATE] for a deleted destination, [NOPERM],
 *   [CANNOT], a BAD) is dropped and reported in `conflicts`.
 * - A change the server refuses for now (NO [UNAVAILABLE], [INUSE], [LIMIT], a NO without a code, a
 *   connection lost before the answer) stays queued and is reported in `deferred`, with its attempt count;
 *   after MAX_REPLAY_ATTEMPTS it is given up and reported in `conflicts`. The folder's later changes wait
 *   behind it (kept, not sent), so the server never sees them out of order. A lost connection then ends the
 *   sync with a NETWORK error; everything not carried out is still queued.
 * - A dropped move or delete leaves the message where the server has it: its UID is given to `refetch` so
 *   the pull brings it back; the optimistic local copy of a dropped move is released (see Relocator).
 */
import type { ImapFlow } from 'imapflow';
import { ClientError } from '../errors.js';
import { countsAsAttempt, judgeRefusal, planQueue, queueRuns, type QueuedOp, type QueueRun, type Refusal } from '../sync/plan.js';
import { recorderOf } from './refusal.js';
import { remapQueued, uidsReused, uidsWentBack } from './remap.js';
import type { Relocator } from './relocate.js';
import type { ImapContext, ImapReport } from './syncer.js';

/** Compact UID set ("1:5,9") for a list of UIDs. */
export function uidSet(uids: number[]): string {
  const s = [...uids].sort((a, b) => a - b);
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    let j = i;
    while (j + 1 < s.length && (s[j + 1] as number) === (s[j] as number) + 1) j++;
    out.push(i === j ? String(s[i]) : `${s[i]}:${s[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

const what = (run: QueueRun | QueuedOp): string =>
  run.kind === 'flags' ? 'flag change' : run.kind === 'delete' ? 'delete' : `move to ${'to' in run ? run.to : (run.ops[0] as QueuedOp & { to: string }).to}`;

/** The Refusal a thrown imapflow error stands for. */
function refusalOf(e: unknown, client: ImapFlow): Refusal {
  if (!client.usable) return { status: 'LOST', code: null, text: '' };
  const x = (e && typeof e === 'object' ? e : {}) as { responseStatus?: unknown; serverResponseCode?: unknown; responseText?: unknown; message?: unknown };
  return {
    status: x.responseStatus === 'BAD' ? 'BAD' : 'NO',
    code: typeof x.serverResponseCode === 'string' ? x.serverResponseCode.toUpperCase() : null,
    text: typeof x.responseText === 'string' ? x.responseText : typeof x.message === 'string' ? x.message : '',
  };
}

export class QueueReplay {
  constructor(
    private readonly ctx: ImapContext,
    private readonly client: ImapFlow,
    private readonly report: ImapReport,
    private readonly refetch: Map<string, number[]>,
    private readonly relocator: Relocator,
    private readonly renumbered: Map<string, Set<number>>,
  ) {}

  private get name(): string {
    return this.ctx.account.name;
  }

  private get where(): string {
    return `${this.ctx.account.host}:${this.ctx.account.port}`;
  }

  async run(): Promise<void> {
    const ops = this.ctx.state.queued(this.name);
    const byFolder = new Map<string, QueuedOp[]>();
    for (const op of ops) {
      const list = byFolder.get(op.folder);
      if (list) list.push(op);
      else byFolder.set(op.folder, [op]);
    }
    for (const [folder, list] of byFolder) await this.folder(folder, list);
  }

  private async folder(folder: string, queued: QueuedOp[]): Promise<void> {
    const { client } = this;
    let list = queued;
    let uidValidity: string;
    let present: Set<number>;
    try {
      const mb = await client.mailboxOpen(folder);
      uidValidity = String(mb.uidValidity);
      const { state } = this.ctx;
      const held = [...state.folderMessages(this.name, folder).flatMap((r) => (r.uid === null ? [] : [r.uid])), ...list.filter((o) => o.uidValidity === uidValidity).map((o) => o.uid)];
      const back = uidsWentBack(state.getFolder(this.name, folder)?.uidValidity, held, uidValidity, mb.uidNext);
      const why =
        back !== null
          ? `the server's UIDs went backwards (UIDNEXT ${mb.uidNext}, we hold UID ${back})`
          : (await uidsReused(this.ctx, client, list, uidValidity, mb.exists))
            ? 'the server gave a UID we hold to another message'
            : null;
      if (why) this.ctx.logger.warn({ account: this.name, folder, uidNext: mb.uidNext }, `${why}: queued changes follow their messages`);
      // Changes made under an older UIDVALIDITY (or numbering) follow their messages to the new UIDs.
      const remapped = await remapQueued(this.ctx, client, list, uidValidity, mb.exists, why !== null);
      list = remapped.ops;
      if (why) this.renumbered.set(folder, new Set(remapped.remapped));
      for (const op of remapped.lost) this.drop(folder, op, `queued ${op.kind} of UID ${op.uid} dropped: ${why} and the message is not in the folder any more`);
      const wanted = uidSet([...new Set(list.map((o) => o.uid))]);
      const found = mb.exists === 0 ? [] : ((await client.search({ uid: wanted }, { uid: true })) || []);
      present = new Set(found);
    } catch (e) {
      const r = refusalOf(e, client);
      if (r.status === 'LOST') throw new ClientError('NETWORK', `connection to ${this.where} was lost while replaying changes in ${folder}; they stay queued`, { cause: e });
      if (r.code === 'NONEXISTENT' || (r.code === null && /doesn't exist|does not exist|no such/i.test(r.text))) {
        uidValidity = '';
        present = new Set();
      } else {
        // The folder cannot be opened for now: its changes wait (counted against the first one).
        const first = queueRuns(list.slice(0, 1))[0];
        if (first) this.refused(folder, first, r, list.slice(1));
        return;
      }
    }
    const decision = planQueue(list, { uidValidity, uids: present });
    for (const c of decision.conflicts) this.drop(folder, c.op, `queued ${c.op.kind} of UID ${c.op.uid} dropped: ${c.reason}`);
    const runs = queueRuns(decision.apply);
    for (let i = 0; i < runs.length; i++) {
      const run = runs[i] as QueueRun;
      recorderOf(client).clear();
      let done: boolean;
      try {
        done = await this.apply(folder, run);
      } catch (e) {
        if (client.usable) throw e;
        done = false;
      }
      if (done) {
        for (const op of run.ops) this.ctx.state.dequeue(op.id);
        this.report.pushed += run.ops.length;
        continue;
      }
      const waiting = runs.slice(i + 1).flatMap((r) => r.ops);
      if (this.refused(folder, run, recorderOf(client).take(client), waiting) === 'keep') return;
    }
  }

  /** Sends one run; true when the server carried it out. */
  private async apply(folder: string, run: QueueRun): Promise<boolean> {
    const { client } = this;
    const uids = uidSet(run.ops.map((o) => o.uid));
    if (run.kind === 'flags') {
      const okAdd = run.add.length ? await client.messageFlagsAdd(uids, run.add, { uid: true }) : true;
      return okAdd && (run.remove.length ? await client.messageFlagsRemove(uids, run.remove, { uid: true }) : true);
    }
    if (run.kind === 'delete') return expungeUids(client, run.ops.map((o) => o.uid));
    return this.move(run.ops[0]);
  }

  /**
   * Judges a refused run: kept queued (deferred, attempt counted; the folder's `waiting` changes stay
   * behind it) or dropped. A lost connection ends the sync after the bookkeeping. Returns the action.
   */
  private refused(folder: string, run: QueueRun, r: Refusal, waiting: QueuedOp[]): 'keep' | 'drop' {
    const attempts = Math.max(...run.ops.map((o) => o.attempts ?? 0));
    const now = this.ctx.now();
    const counted = countsAsAttempt(Math.max(...run.ops.map((o) => o.refusedAt ?? -Infinity)), now);
    const verdict = judgeRefusal(r, attempts, counted);
    const uids = uidSet(run.ops.map((o) => o.uid));
    if (verdict.action === 'drop') {
      for (const op of run.ops) this.drop(folder, op, `the queued ${what(run)} of UID ${op.uid} was ${verdict.reason}; dropped`);
    } else {
      this.ctx.state.deferQueued(run.ops.map((o) => o.id), verdict.reason, counted ? now : null);
      const behind = waiting.length ? ` (${waiting.length} later change${waiting.length > 1 ? 's' : ''} of this folder wait behind it)` : '';
      const msg = `${this.name}/${folder}: the queued ${what(run)} of UID ${uids} was ${verdict.reason}${behind}`;
      this.report.deferred.push(msg);
      this.ctx.logger.warn({ account: this.name, folder, uids, op: run.kind, attempts: attempts + 1 }, msg);
    }
    if (r.status === 'LOST') {
      throw new ClientError('NETWORK', `connection to ${this.where} was lost while replaying the queued ${what(run)} of UID ${uids} in ${folder}; the folder's changes stay queued`);
    }
    return verdict.action;
  }

  /**
   * Drops one queued change (reported as a conflict). The message stays where the server has it: a
   * dropped move's optimistic local copy is released and, like a dropped delete, the pull refetches it.
   */
  private drop(folder: string, op: QueuedOp, text: string): void {
    const { state } = this.ctx;
    const msg = `${this.name}/${folder}: ${text}`;
    this.report.conflicts.push(msg);
    this.ctx.logger.warn({ account: this.name, folder, uid: op.uid, op: op.kind }, msg);
    if (op.kind === 'move') {
      const row = state.getMessage(op.messageRow);
      if (row && row.uid === null) {
        this.relocator.release(row);
        state.deleteMessage(row.id);
      }
    }
    if (op.kind !== 'flags') this.refetch.set(folder, [...(this.refetch.get(folder) ?? []), op.uid]);
    state.dequeue(op.id);
  }

  /** Replays one queued move; false when the server did not carry it out. */
  private async move(op: QueuedOp | undefined): Promise<boolean> {
    const { state } = this.ctx;
    const { client } = this;
    if (op?.kind !== 'move') return false;
    // Without MOVE and UIDPLUS imapflow would COPY and then EXPUNGE the whole folder's \\Deleted messages.
    const emulate = !client.capabilities.has('MOVE') && !client.capabilities.has('UIDPLUS');
    const res = emulate
      ? await client.messageCopy(String(op.uid), op.to, { uid: true }).then(async (copied) => (copied && (await expungeUids(client, [op.uid])) ? copied : false))
      : await client.messageMove(String(op.uid), op.to, { uid: true });
    if (!res) return false;
    const newUid = res.uidMap ? res.uidMap.get(op.uid) : undefined;
    const row = state.getMessage(op.messageRow);
    if (row) {
      const destState = state.getFolder(this.name, op.to);
      const sameValidity = res.uidValidity !== undefined && destState?.uidValidity === String(res.uidValidity);
      if (newUid !== undefined && sameValidity) state.moveRow(row.id, op.to, newUid);
      else {
        // No COPYUID (or a folder we never synchronised): the pull of the destination lists it as new and
        // takes the released body back.
        this.relocator.release(row);
        state.deleteMessage(row.id);
      }
    }
    return true;
  }
}

/**
 * Deletes and expunges exactly `uids` of the selected folder. With UIDPLUS that is UID EXPUNGE (RFC 4315).
 * Without it EXPUNGE removes every message marked \\Deleted, also those another client only marked and
 * meant to keep until it expunges them itself: those lose their \\Deleted flag around our EXPUNGE and get
 * it back after. False when the server refused a step.
 */
export async function expungeUids(client: ImapFlow, uids: number[]): Promise<boolean> {
  const set = uidSet(uids);
  if (client.capabilities.has('UIDPLUS')) return client.messageDelete(set, { uid: true });
  const ours = new Set(uids);
  const others = ((await client.search({ deleted: true }, { uid: true })) || []).filter((u) => !ours.has(u));
  const keep = uidSet(others);
  if (others.length && !(await client.messageFlagsRemove(keep, ['\\Deleted'], { uid: true, silent: true }))) return false;
  try {
    return await client.messageDelete(set, { uid: true });
  } finally {
    if (others.length && client.usable) await client.messageFlagsAdd(keep, ['\\Deleted'], { uid: true, silent: true });
  }
}

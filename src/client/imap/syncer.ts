/**
 * The IMAP synchronise workflow for one account, on top of imapflow (the wire client):
 *
 * 1. LIST mirrors the folder tree (special-use recognised; folders gone on the server are dropped locally).
 * 2. Push: queued offline changes (flags, deletes, moves) are replayed per folder; a change whose message
 *    is gone on the server is dropped and reported (the server wins).
 * 3. Pull per folder: QRESYNC (SELECT ... QRESYNC, VANISHED (EARLIER) + CHANGEDSINCE) when the server has it
 *    and we have state; CONDSTORE (CHANGEDSINCE + UID SEARCH ALL) otherwise; else a full UID/FLAGS listing.
 *    UIDVALIDITY changes drop the folder's cache. New messages get a header overview (ENVELOPE, FLAGS,
 *    RFC822.SIZE, BODYSTRUCTURE, INTERNALDATE); bodies are fetched by cache policy or on demand.
 */
import type { ImapFlow, FetchMessageObject } from 'imapflow';
import { dateMs, flagsOf, summaryOf } from './overview.js';
import type { Logger } from '../../lib/logger.js';
import { ClientError, classifyError } from '../errors.js';
import { Maildir, type StagedFile } from '../store/maildir.js';
import type { AccountConfig, MessageRow, StateDb } from '../store/state.js';
import { planFolder, planQueue, queueRuns, sizeBatches, wantsBody, type CachePolicy, type QueuedOp, type ServerFolderState } from '../sync/plan.js';
import type { ProgressFn } from '../progress.js';
import { openImap } from './connect.js';
import { downloadToFile, STREAM_THRESHOLD } from './reader.js';

export interface ImapReport {
  account: string;
  protocol: 'imap';
  folders: number;
  newHeaders: number;
  bodiesFetched: number;
  flagUpdates: number;
  removed: number;
  resets: string[];
  pushed: number;
  conflicts: string[];
  /** Folders that could not be synchronised this time (the others were): folder and reason. */
  failed: Array<{ folder: string; error: string }>;
  /** How each folder was synchronised. */
  modes: Record<string, 'qresync' | 'condstore' | 'full' | 'unchanged'>;
}

export interface ImapContext {
  state: StateDb;
  account: AccountConfig;
  password: string;
  ca?: Buffer;
  logger: Logger;
  now: () => number;
  /** Local Maildir of one of this account's folders. */
  folderDir: (folder: string) => Maildir;
  onProgress?: ProgressFn;
  /** Pretend the server lacks these (tests, or servers with broken implementations). */
  disable?: { qresync?: boolean; condstore?: boolean };
}

/** Compact UID set ("1:5,9") for a sorted list of UIDs. */
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

/** UIDs per header-overview FETCH. */
const HEADER_BATCH = 500;
/** Messages per FETCH that carries bodies (bounded memory, one commit per batch) ... */
const BODY_BATCH = 100;
/** ... and about this many bytes (by RFC822.SIZE). */
const BODY_BATCH_BYTES = 8 * 1024 * 1024;

function chunks<T>(a: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += n) out.push(a.slice(i, i + n));
  return out;
}

export class ImapSyncer {
  /** UIDs the push learned we lack locally though the server still has them (refused moves), per folder. */
  private readonly refetch = new Map<string, number[]>();

  constructor(private readonly ctx: ImapContext) {}

  private get name(): string {
    return this.ctx.account.name;
  }

  /**
   * The account's cache policy for one folder. Virtual folders holding copies of every message (special use
   * \\All, e.g. Gmail's "All Mail") are kept headers-only, so bodies are not stored twice.
   */
  private cachePolicy(path?: string): CachePolicy {
    if (path !== undefined && this.ctx.state.getFolder(this.name, path)?.specialUse === '\\All') return { kind: 'headers' };
    return this.ctx.account.cache ?? { kind: 'headers' };
  }

  async sync(only?: string[]): Promise<ImapReport> {
    const report: ImapReport = {
      account: this.name,
      protocol: 'imap',
      folders: 0,
      newHeaders: 0,
      bodiesFetched: 0,
      flagUpdates: 0,
      removed: 0,
      resets: [],
      pushed: 0,
      conflicts: [],
      failed: [],
      modes: {},
    };
    const client = await openImap(this.ctx);
    const where = `${this.ctx.account.host}:${this.ctx.account.port}`;
    try {
      const { folders, status } = await this.syncFolderList(client);
      report.folders = folders.length;
      // Folders the push changes (sources and move destinations) were listed before the push: always pull them.
      const queuedFolders = new Set(this.ctx.state.queued(this.name).flatMap((op) => (op.kind === 'move' ? [op.folder, op.to] : [op.folder])));
      await this.push(client, report);
      for (const f of folders) {
        if (only && !only.includes(f)) continue;
        if (!queuedFolders.has(f) && this.unchanged(f, status.get(f))) {
          report.modes[f] = 'unchanged';
          continue;
        }
        try {
          await this.pullFolder(client, f, report);
        } catch (e) {
          // One folder's trouble (a local file system error, a server NO) must not stop the others; a dead
          // connection still ends the whole sync.
          if (!client.usable) throw e;
          const error = e instanceof Error ? e.message : String(e);
          report.failed.push({ folder: f, error });
          this.ctx.logger.warn({ account: this.name, folder: f, err: error }, 'folder not synchronised');
        }
      }
      await client.logout().catch(() => undefined);
      return report;
    } catch (e) {
      client.close();
      throw classifyError(e, where);
    }
  }

  /**
   * True when STATUS says nothing changed since our last sync (same UIDVALIDITY and HIGHESTMODSEQ, RFC 7162)
   * and the cache policy wants no body we lack: the folder needs no SELECT at all.
   */
  private unchanged(path: string, st: { uidValidity?: bigint; highestModseq?: bigint } | undefined): boolean {
    if (!st || st.uidValidity === undefined || st.highestModseq === undefined) return false;
    const local = this.ctx.state.getFolder(this.name, path);
    if (!local || local.uidValidity !== String(st.uidValidity) || local.highestModseq !== String(st.highestModseq)) return false;
    const policy = this.cachePolicy(path);
    if (policy.kind === 'headers') return true;
    const now = this.ctx.now();
    return !this.ctx.state.folderMessages(this.name, path).some((r) => r.uid !== null && !r.bodyCached && wantsBody(policy, r.internalDate, now));
  }

  /** LIST (with STATUS when CONDSTORE is usable) -> folder rows; returns the selectable folder paths (INBOX first). */
  private async syncFolderList(client: ImapFlow): Promise<{ folders: string[]; status: Map<string, { uidValidity?: bigint; highestModseq?: bigint }> }> {
    const { state } = this.ctx;
    const canCondstore = !this.ctx.disable?.condstore && (client.enabled.has('CONDSTORE') || client.capabilities.has('CONDSTORE'));
    const listed = canCondstore ? await client.list({ statusQuery: { uidValidity: true, highestModseq: true } }) : await client.list();
    const status = new Map<string, { uidValidity?: bigint; highestModseq?: bigint }>();
    for (const l of listed) if (l.status) status.set(l.path, { uidValidity: l.status.uidValidity, highestModseq: l.status.highestModseq });
    const selectable = listed.filter((l) => !l.flags.has('\\Noselect') && !l.flags.has('\\NonExistent'));
    const keep = new Set(selectable.map((l) => l.path));
    state.tx(() => {
      for (const l of selectable) state.upsertFolder(this.name, l.path, l.delimiter ?? '/', l.specialUse ?? null);
    });
    for (const f of state.listFolders(this.name)) {
      if (!keep.has(f.path)) this.dropFolder(f.path, true);
    }
    return { folders: selectable.map((l) => l.path).sort((a, b) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a.localeCompare(b))), status };
  }

  private dropFolder(path: string, removeRow: boolean): void {
    const { state } = this.ctx;
    const rows = state.deleteFolderMessages(this.name, path);
    for (const r of rows) if (r.fileKey) new Maildir(r.maildir).remove(r.fileKey, r.filePath ?? undefined);
    if (removeRow) state.removeFolder(this.name, path);
  }

  /** Replays the offline queue, folder by folder. */
  private async push(client: ImapFlow, report: ImapReport): Promise<void> {
    const { state } = this.ctx;
    const ops = state.queued(this.name);
    if (!ops.length) return;
    const byFolder = new Map<string, QueuedOp[]>();
    for (const op of ops) {
      const list = byFolder.get(op.folder);
      if (list) list.push(op);
      else byFolder.set(op.folder, [op]);
    }
    for (const [folder, list] of byFolder) {
      let uidValidity: string;
      let present: Set<number>;
      try {
        const mb = await client.mailboxOpen(folder);
        uidValidity = String(mb.uidValidity);
        const wanted = uidSet([...new Set(list.map((o) => o.uid))]);
        const found = mb.exists === 0 ? [] : ((await client.search({ uid: wanted }, { uid: true })) || []);
        present = new Set(found);
      } catch (e) {
        if (isMissingMailbox(e)) {
          uidValidity = '';
          present = new Set();
        } else throw e;
      }
      const decision = planQueue(list, { uidValidity, uids: present });
      for (const c of decision.conflicts) {
        const msg = `${this.name}/${folder}: queued ${c.op.kind} of UID ${c.op.uid} dropped: ${c.reason}`;
        report.conflicts.push(msg);
        this.ctx.logger.warn({ account: this.name, folder, uid: c.op.uid, op: c.op.kind }, msg);
        if (c.op.kind === 'move') {
          // The local copy was moved optimistically; the server no longer has the message: drop it.
          const row = state.getMessage(c.op.messageRow);
          if (row && row.uid === null) {
            if (row.fileKey) new Maildir(row.maildir).remove(row.fileKey, row.filePath ?? undefined);
            state.deleteMessage(row.id);
          }
        }
        state.dequeue(c.op.id);
      }
      for (const run of queueRuns(decision.apply)) {
        const uids = uidSet(run.ops.map((o) => o.uid));
        // imapflow answers false when the server refused a command (NO/BAD), and also when the connection
        // broke: then keep the operations queued; otherwise the server wins and the refusal is reported.
        const refused = (what: string): void => {
          if (!client.usable) throw new ClientError('NETWORK', `connection to ${this.ctx.account.host}:${this.ctx.account.port} was lost while replaying ${what}`);
          const msg = `${this.name}/${folder}: the server refused the queued ${what} of UID ${uids}; dropped`;
          report.conflicts.push(msg);
          this.ctx.logger.warn({ account: this.name, folder, uids, op: run.kind }, msg);
          for (const op of run.ops) state.dequeue(op.id);
        };
        if (run.kind === 'flags') {
          const okAdd = run.add.length ? await client.messageFlagsAdd(uids, run.add, { uid: true }) : true;
          const okRemove = run.remove.length ? await client.messageFlagsRemove(uids, run.remove, { uid: true }) : true;
          if (!okAdd || !okRemove) {
            refused('flag change');
            continue;
          }
        } else if (run.kind === 'delete') {
          if (!(await expungeUids(client, run.ops.map((o) => o.uid)))) {
            refused('delete');
            continue;
          }
        } else if (!(await this.pushMove(client, folder, run.ops[0], refused))) continue;
        for (const op of run.ops) state.dequeue(op.id);
        report.pushed += run.ops.length;
      }
    }
  }

  /** Replays one queued move; false when the server refused it (reported by `refused`, the local copy dropped). */
  private async pushMove(client: ImapFlow, folder: string, op: QueuedOp, refused: (what: string) => void): Promise<boolean> {
    const { state } = this.ctx;
    if (op.kind !== 'move') return false;
    // Without MOVE and UIDPLUS imapflow would COPY and then EXPUNGE the whole folder's \\Deleted messages.
    const emulate = !client.capabilities.has('MOVE') && !client.capabilities.has('UIDPLUS');
    const res = emulate
      ? await client.messageCopy(String(op.uid), op.to, { uid: true }).then(async (copied) => (copied && (await expungeUids(client, [op.uid])) ? copied : false))
      : await client.messageMove(String(op.uid), op.to, { uid: true });
    const row = state.getMessage(op.messageRow);
    if (!res) {
      refused(`move to ${op.to}`);
      // The message stays where the server has it: drop the optimistic local copy; the pull refetches it.
      if (row && row.uid === null) {
        if (row.fileKey) new Maildir(row.maildir).remove(row.fileKey, row.filePath ?? undefined);
        state.deleteMessage(row.id);
      }
      this.refetch.set(folder, [...(this.refetch.get(folder) ?? []), op.uid]);
      return false;
    }
    const newUid = res.uidMap ? res.uidMap.get(op.uid) : undefined;
    if (row) {
      const destState = state.getFolder(this.name, op.to);
      const sameValidity = res.uidValidity !== undefined && destState?.uidValidity === String(res.uidValidity);
      if (newUid !== undefined && sameValidity) state.moveRow(row.id, op.to, newUid);
      else {
        // No COPYUID (or a folder we never synchronised): the next pull of the destination fetches it.
        if (row.fileKey) new Maildir(row.maildir).remove(row.fileKey, row.filePath ?? undefined);
        state.deleteMessage(row.id);
      }
    }
    return true;
  }

  private async pullFolder(client: ImapFlow, path: string, report: ImapReport): Promise<void> {
    const { state, logger } = this.ctx;
    const local = state.getFolder(this.name, path);
    const localMsgs = new Map<number, string[]>();
    for (const r of state.folderMessages(this.name, path)) if (r.uid !== null) localMsgs.set(r.uid, r.flags);
    const canQresync = !this.ctx.disable?.qresync && client.enabled.has('QRESYNC');
    const canCondstore = !this.ctx.disable?.condstore && (client.enabled.has('CONDSTORE') || client.capabilities.has('CONDSTORE'));
    const haveState = local?.uidValidity != null && local.highestModseq != null;

    const vanished: number[] = [];
    const onExpunge = (ev: { uid?: number; vanished: boolean; path?: string }): void => {
      if (ev.vanished && ev.uid !== undefined) vanished.push(ev.uid);
    };
    let server: ServerFolderState;
    client.on('expunge', onExpunge);
    try {
      const mb =
        canQresync && haveState
          ? await client.mailboxOpen(path, { changedSince: BigInt(local.highestModseq as string), uidValidity: BigInt(local.uidValidity as string) })
          : await client.mailboxOpen(path);
      const uidValidity = String(mb.uidValidity);
      const modseq = mb.highestModseq !== undefined && !mb.noModseq ? String(mb.highestModseq) : null;
      const sameValidity = local?.uidValidity === uidValidity;
      // Unsolicited FETCHes (RFC 3501 section 7.4.2) may come among the listed ones: one without UID is
      // skipped, and a UID listed twice counts once, with its last flags.
      const listed = (ms: FetchMessageObject[]): Array<{ uid: number; flags: string[] }> => {
        const byUid = new Map<number, string[]>();
        for (const m of ms) if (Number.isInteger(m.uid) && m.uid > 0 && m.flags) byUid.set(m.uid, flagsOf(m));
        return [...byUid].map(([uid, flags]) => ({ uid, flags }));
      };
      const listAll = async (): Promise<Array<{ uid: number; flags: string[] }>> =>
        mb.exists === 0 ? [] : listed(await client.fetchAll('1:*', { uid: true, flags: true }, { uid: true }));
      const changedSince = async (since: string): Promise<Array<{ uid: number; flags: string[] }>> =>
        mb.exists === 0 ? [] : listed(await client.fetchAll('1:*', { uid: true, flags: true }, { uid: true, changedSince: BigInt(since) }));

      if (canQresync && haveState && sameValidity && modseq !== null) {
        server = { uidValidity, highestModseq: modseq, mode: 'qresync', changed: await changedSince(local.highestModseq as string), vanished };
      } else if (canCondstore && haveState && sameValidity && modseq !== null) {
        const changed = await changedSince(local.highestModseq as string);
        // Without QRESYNC, expunges show only in the full UID list (UID SEARCH ALL). UIDs only grow, so
        // when EXISTS is what we have plus the new UIDs the changes brought, nothing was expunged: the
        // list is known without asking (a resync of an unexpunged folder costs the changes only).
        const fresh = changed.filter((m) => !localMsgs.has(m.uid)).map((m) => m.uid);
        const uids =
          mb.exists === localMsgs.size + fresh.length
            ? [...localMsgs.keys(), ...fresh]
            : mb.exists === 0
              ? []
              : ((await client.search({ all: true }, { uid: true })) || []);
        server = { uidValidity, highestModseq: modseq, mode: 'condstore', changed, uids };
      } else {
        const all = await listAll();
        server = { uidValidity, highestModseq: modseq, mode: 'full', changed: all, uids: all.map((m) => m.uid) };
      }
    } finally {
      client.off('expunge', onExpunge);
    }
    report.modes[path] = server.mode;
    const plan = planFolder({ uidValidity: local?.uidValidity ?? null, highestModseq: local?.highestModseq ?? null, messages: localMsgs }, server);
    if (!plan.reset) {
      const have = new Set([...localMsgs.keys(), ...plan.fetch]);
      const gone = new Set(server.mode === 'qresync' ? (server.vanished ?? []) : []);
      const listed = server.uids ? new Set(server.uids) : null;
      for (const uid of this.refetch.get(path) ?? []) {
        if (!have.has(uid) && !gone.has(uid) && (!listed || listed.has(uid))) plan.fetch.push(uid);
      }
      plan.fetch.sort((x, y) => x - y);
    }
    this.refetch.delete(path);

    if (plan.reset) {
      logger.warn({ account: this.name, folder: path }, 'UIDVALIDITY changed: dropping the local cache of this folder');
      report.resets.push(path);
      this.dropFolder(path, false);
      for (const op of state.queued(this.name, path)) state.dequeue(op.id);
    }
    state.tx(() => {
      for (const uid of plan.remove) {
        const row = state.getByUid(this.name, path, uid);
        if (!row) continue;
        if (row.fileKey) new Maildir(row.maildir).remove(row.fileKey, row.filePath ?? undefined);
        state.deleteMessage(row.id);
        report.removed++;
      }
      for (const f of plan.flags) {
        const row = state.getByUid(this.name, path, f.uid);
        if (!row) continue;
        state.setFlags(row.id, f.flags);
        if (row.fileKey) {
          const moved = new Maildir(row.maildir).setFlags(row.fileKey, f.flags, row.filePath ?? undefined);
          if (moved) state.setFile(row.id, row.maildir, row.fileKey, moved.path, true);
        }
        report.flagUpdates++;
      }
    });

    // New messages: the header overview (ENVELOPE, FLAGS, RFC822.SIZE, BODYSTRUCTURE, INTERNALDATE), one
    // commit per batch, so a connection lost midway keeps the batches that arrived.
    const dir = this.ctx.folderDir(path);
    const policy = this.cachePolicy(path);
    const now = this.ctx.now();
    let done = 0;
    for (const batch of chunks(plan.fetch, HEADER_BATCH)) {
      // Untagged FETCH responses the server sends on its own (another session's flag change, RFC 3501
      // section 7.4.2) arrive mixed with the requested ones: only a response with the overview makes a
      // row; a later flag-only one for the same UID updates its flags.
      const wanted = new Set(batch);
      const got = new Map<number, FetchMessageObject>();
      const query = { uid: true, flags: true, envelope: true, size: true, bodyStructure: true, internalDate: true };
      for await (const m of client.fetch(uidSet(batch), query, { uid: true })) {
        if (!wanted.has(m.uid)) continue;
        const prev = got.get(m.uid);
        if (m.envelope) got.set(m.uid, m);
        else if (prev && m.flags) prev.flags = m.flags;
      }
      state.tx(() => {
        for (const m of got.values()) {
          if (state.getByUid(this.name, path, m.uid)) continue;
          const summary = summaryOf(m);
          state.insertMessage({
            account: this.name,
            folder: path,
            uid: m.uid,
            uidl: null,
            messageId: summary.messageId,
            flags: flagsOf(m),
            summary,
            internalDate: dateMs(m.internalDate, now),
            size: m.size ?? 0,
            maildir: dir.root,
            fileKey: null,
            filePath: null,
            bodyCached: false,
            cachedAt: null,
          });
          report.newHeaders++;
        }
      });
      done += batch.length;
      this.ctx.onProgress?.({ account: this.name, phase: 'headers', folder: path, done, total: plan.fetch.length });
    }

    // Bodies the policy wants but we do not have: the new messages', and known ones' (after a prune, a
    // policy change or an interrupted sync).
    if (policy.kind !== 'headers') {
      const want = state.folderMessages(this.name, path).filter((r) => r.uid !== null && !r.bodyCached && wantsBody(policy, r.internalDate, now));
      await this.fetchBodies(client, dir, path, want, report);
    }
    state.setFolderSync(this.name, path, server.uidValidity, plan.highestModseq);
  }

  /**
   * Fetches and caches the bodies of `rows`: small ones in batches of BODY_BATCH messages and about
   * BODY_BATCH_BYTES (one FETCH BODY.PEEK[] and one commit each), each message over STREAM_THRESHOLD alone
   * and streamed into its file in partial FETCHes (never whole in memory). When the connection fails
   * midway, the bodies that arrived whole are kept and the partial ones removed, then the error passes on.
   */
  private async fetchBodies(client: ImapFlow, dir: Maildir, path: string, rows: MessageRow[], report: ImapReport): Promise<void> {
    const { state } = this.ctx;
    const keep = (files: Array<{ row: MessageRow; file: StagedFile }>): void => {
      state.tx(() => {
        for (const { row, file } of files) state.setFile(row.id, dir.root, file.key, file.path, true);
      });
      for (const { file } of files) dir.publish(file);
      dir.syncDirs();
      report.bodiesFetched += files.length;
    };
    let got = 0;
    for (const batch of sizeBatches(rows, BODY_BATCH, BODY_BATCH_BYTES, STREAM_THRESHOLD)) {
      const pending: Array<Promise<{ row: MessageRow; file: StagedFile }>> = [];
      const settle = async (): Promise<Array<{ row: MessageRow; file: StagedFile }>> => {
        const results = await Promise.allSettled(pending);
        const bad = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        if (bad) {
          keep(ok);
          throw bad.reason;
        }
        return ok;
      };
      try {
        const lone = batch.length === 1 ? (batch[0] as MessageRow) : undefined;
        if (lone && lone.size > STREAM_THRESHOLD) {
          const file = await downloadToFile(this.ctx, client, dir, lone);
          if (file) pending.push(Promise.resolve({ row: lone, file }));
        } else {
          const byUid = new Map(batch.map((r) => [r.uid as number, r]));
          for await (const m of client.fetch(uidSet([...byUid.keys()]), { uid: true, source: true }, { uid: true })) {
            const row = byUid.get(m.uid);
            if (row && m.source) pending.push(dir.stage(m.source, { flags: row.flags, asNew: false }).then((file) => ({ row, file })));
          }
        }
      } catch (e) {
        keep(await settle());
        throw e;
      }
      keep(await settle());
      got += batch.length;
      this.ctx.onProgress?.({ account: this.name, phase: 'bodies', folder: path, done: got, total: rows.length });
    }
  }
}

/**
 * Deletes and expunges exactly `uids` of the selected folder. With UIDPLUS that is UID EXPUNGE (RFC 4315).
 * Without it EXPUNGE removes every message marked \\Deleted, also those another client only marked and
 * meant to keep until it expunges them itself: those lose their \\Deleted flag around our EXPUNGE and get
 * it back after. False when the server refused a step.
 */
async function expungeUids(client: ImapFlow, uids: number[]): Promise<boolean> {
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

function isMissingMailbox(e: unknown): boolean {
  const text = e && typeof e === 'object' && 'responseText' in e ? String((e as { responseText: unknown }).responseText) : e instanceof Error ? e.message : '';
  return /NONEXISTENT|doesn't exist|does not exist|no such/i.test(text);
}

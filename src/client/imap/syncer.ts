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
import { statSync } from 'node:fs';
import type { ImapFlow, FetchMessageObject } from 'imapflow';
import { dateMs, flagsOf, summaryOf } from './overview.js';
import type { Logger } from '../../lib/logger.js';
import { ClientError, classifyError } from '../errors.js';
import { recorderOf } from './refusal.js';
import { Maildir, type StagedFile } from '../store/maildir.js';
import type { AccountConfig, MessageRow, StateDb } from '../store/state.js';
import { holdPending, pendingRemovals, planFolder, sizeBatches, wantsBody, type CachePolicy, type ServerFolderState } from '../sync/plan.js';
import type { ProgressFn } from '../progress.js';
import { openImap } from './connect.js';
import { downloadToFile, plausibleBody, STREAM_THRESHOLD } from './reader.js';
import { QueueReplay, uidSet } from './push.js';
import { Relocator } from './relocate.js';
import { uidsWentBack } from './remap.js';
import { guardOf } from './guard.js';
import type { StallRule } from '../stall.js';

export { uidSet };

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
  /** Queued changes the server refused for now: still queued, tried again at the next sync. */
  deferred: string[];
  /** New messages whose body was taken from the local cache (moved or copied on the server) instead of downloaded. */
  relocated: number;
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
  /** The progress rule for a server slow to answer (stall.ts; its default when absent). */
  stall?: StallRule;
}

/** The size recorded for a message whose RFC822.SIZE the server did not give: its body is always streamed. */
const UNKNOWN_SIZE = 0;

/** UIDs per header-overview FETCH. */
const HEADER_BATCH = 500;
/** Messages per FETCH that carries bodies (bounded memory, one commit per batch) ... */
const BODY_BATCH = 100;
/** ... and about this many bytes (by RFC822.SIZE). */
const BODY_BATCH_BYTES = 8 * 1024 * 1024;

/**
 * The most bytes a FETCH of small bodies announced at `announced` bytes may bring: twice that (servers whose
 * RFC822.SIZE counts bare LFs), 512 bytes of response per message and 1 MiB to spare.
 */
export function batchCap(announced: number, messages: number): number {
  return 2 * announced + 512 * messages + 1024 * 1024;
}

function chunks<T>(a: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += n) out.push(a.slice(i, i + n));
  return out;
}

export class ImapSyncer {
  /** UIDs the push learned we lack locally though the server still has them (dropped moves and deletes), per folder. */
  private readonly refetch = new Map<string, number[]>();
  /** Folders whose UIDs the push found gone backwards, with the queued changes it remapped to the new numbering. */
  private readonly renumbered = new Map<string, Set<number>>();
  /** Bodies leaving a folder during this sync, for messages moved on the server (see relocate.ts). */
  private relocator: Relocator;

  constructor(private readonly ctx: ImapContext) {
    this.relocator = new Relocator(ctx.state, ctx.account.name);
  }

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
      deferred: [],
      relocated: 0,
      failed: [],
      modes: {},
    };
    const client = await openImap(this.ctx);
    const where = `${this.ctx.account.host}:${this.ctx.account.port}`;
    this.relocator = new Relocator(this.ctx.state, this.name);
    this.renumbered.clear();
    try {
      const { folders, status } = await this.syncFolderList(client);
      report.folders = folders.length;
      // Folders the push changes (sources and move destinations) were listed before the push: always pull them.
      const queuedFolders = new Set(this.ctx.state.queued(this.name).flatMap((op) => (op.kind === 'move' ? [op.folder, op.to] : [op.folder])));
      await new QueueReplay(this.ctx, client, report, this.refetch, this.relocator, this.renumbered).run();
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
      // A fault the connection's guard recorded (a stall, a budget passed) explains the failure best.
      const fault = recorderOf(client).fault;
      throw classifyError(fault instanceof ClientError ? fault : e instanceof ClientError ? e : (fault ?? e), where);
    } finally {
      this.relocator.finish();
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
    for (const r of rows) this.relocator.release(r);
    if (removeRow) state.removeFolder(this.name, path);
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
    let uidNextBack = false;
    client.on('expunge', onExpunge);
    try {
      const mb =
        canQresync && haveState
          ? await client.mailboxOpen(path, { changedSince: BigInt(local.highestModseq as string), uidValidity: BigInt(local.uidValidity as string) })
          : await client.mailboxOpen(path);
      const uidValidity = String(mb.uidValidity);
      const modseq = mb.highestModseq !== undefined && !mb.noModseq ? String(mb.highestModseq) : null;
      // UIDs only grow (RFC 3501 section 2.3.1.1): a UIDNEXT at or below a UID we hold, under the same
      // UIDVALIDITY, means the server lost its numbering (restored from a backup, rebuilt its index) and
      // may have given our UIDs to other messages. The folder is then treated as recreated.
      const maxLocal = uidsWentBack(local?.uidValidity, localMsgs.keys(), uidValidity, mb.uidNext);
      uidNextBack = maxLocal !== null || (this.renumbered.has(path) && local?.uidValidity === uidValidity);
      if (uidNextBack) logger.warn({ account: this.name, folder: path, uidNext: mb.uidNext, maxLocal }, 'UIDNEXT went backwards: dropping the local cache of this folder');
      const sameValidity = local?.uidValidity === uidValidity && !uidNextBack;
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
    // A UIDNEXT gone backwards resets the folder as a UIDVALIDITY change does.
    const knownValidity = uidNextBack ? `${local?.uidValidity ?? ''} (UIDNEXT went backwards)` : (local?.uidValidity ?? null);
    const planned = planFolder({ uidValidity: knownValidity, highestModseq: local?.highestModseq ?? null, messages: localMsgs }, server);
    // Changes still queued (the server refused them for now) keep their local effect until replayed.
    const plan = planned.reset ? planned : holdPending(planned, state.queued(this.name, path), localMsgs);
    const pending = planned.reset ? new Set<number>() : pendingRemovals(state.queued(this.name, path));
    if (!plan.reset) {
      const have = new Set([...localMsgs.keys(), ...plan.fetch]);
      const gone = new Set(server.mode === 'qresync' ? (server.vanished ?? []) : []);
      const listed = server.uids ? new Set(server.uids) : null;
      for (const uid of this.refetch.get(path) ?? []) {
        if (!have.has(uid) && !gone.has(uid) && !pending.has(uid) && (!listed || listed.has(uid))) plan.fetch.push(uid);
      }
      plan.fetch.sort((x, y) => x - y);
    }
    this.refetch.delete(path);

    if (plan.reset) {
      logger.warn({ account: this.name, folder: path }, 'UIDVALIDITY changed: dropping the local cache of this folder');
      report.resets.push(path);
      this.dropFolder(path, false);
      // Changes the replay remapped to the new numbering (and the server refused for now) stay queued.
      for (const op of state.queued(this.name, path)) {
        if ((!uidNextBack && op.uidValidity === server.uidValidity) || this.renumbered.get(path)?.has(op.id)) continue;
        const why = uidNextBack ? "the server's UIDs went backwards (UIDNEXT)" : 'the folder was recreated on the server (UIDVALIDITY changed)';
        report.conflicts.push(`${this.name}/${path}: queued ${op.kind} of UID ${op.uid} dropped: ${why}`);
        state.dequeue(op.id);
      }
    }
    this.renumbered.delete(path);
    state.tx(() => {
      for (const uid of plan.remove) {
        const row = state.getByUid(this.name, path, uid);
        if (!row) continue;
        this.relocator.release(row);
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
      const query = { uid: true, flags: true, envelope: true, size: true, bodyStructure: true, internalDate: true, emailId: client.capabilities.has('OBJECTID') };
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
          const identity = { emailId: m.emailId ?? null, messageId: summary.messageId, size: m.size ?? UNKNOWN_SIZE, internalDate: dateMs(m.internalDate, now) };
          // Moved or copied on the server from a folder we have cached: take the local body.
          const file = m.size === undefined ? null : this.relocator.adopt(dir, identity, flagsOf(m));
          state.insertMessage({
            account: this.name,
            folder: path,
            uid: m.uid,
            uidl: null,
            ...identity,
            flags: flagsOf(m),
            summary,
            maildir: dir.root,
            fileKey: file?.key ?? null,
            filePath: file?.path ?? null,
            bodyCached: file !== null,
            cachedAt: file ? now : null,
          });
          report.newHeaders++;
          if (file) report.relocated++;
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
        for (const { row, file } of files) {
          state.setFile(row.id, dir.root, file.key, file.path, true);
          if (row.size <= UNKNOWN_SIZE) state.setSize(row.id, statSync(file.tmpPath).size);
        }
      });
      for (const { file } of files) dir.publish(file);
      dir.syncDirs();
      report.bodiesFetched += files.length;
    };
    let got = 0;
    // A body of unknown size (the server gave no RFC822.SIZE) may be any size: streamed alone.
    const unsized = rows.filter((r) => r.size <= UNKNOWN_SIZE).map((r) => [r]);
    for (const batch of [...sizeBatches(rows.filter((r) => r.size > UNKNOWN_SIZE), BODY_BATCH, BODY_BATCH_BYTES, STREAM_THRESHOLD), ...unsized]) {
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
        if (lone && (lone.size > STREAM_THRESHOLD || lone.size <= UNKNOWN_SIZE)) {
          const file = await downloadToFile(this.ctx, client, dir, lone);
          if (file) pending.push(Promise.resolve({ row: lone, file }));
        } else {
          const byUid = new Map(batch.map((r) => [r.uid as number, r]));
          // The batch may bring little more than its announced sizes (a hostile server could otherwise send
          // 100 literals of MAX_LITERAL_BYTES each before any is judged).
          const announced = batch.reduce((n, r) => n + r.size, 0);
          const release = guardOf(client)?.limit(batchCap(announced, batch.length), `a FETCH of ${batch.length} bodies announced at ${announced} bytes in ${path}`);
          try {
            for await (const m of client.fetch(uidSet([...byUid.keys()]), { uid: true, source: true }, { uid: true })) {
              const row = byUid.get(m.uid);
              if (!row || !m.source) continue;
              // A body shorter than its RFC822.SIZE (a broken literal, a message changing under us) or far
              // longer is not the message: left uncached, fetched again on demand.
              if (!plausibleBody(m.source.length, row.size)) {
                this.ctx.logger.warn({ account: this.name, folder: path, uid: row.uid, bytes: m.source.length, size: row.size }, 'message body does not match its size: not cached');
                continue;
              }
              pending.push(dir.stage(m.source, { flags: row.flags, asNew: false }).then((file) => ({ row, file })));
            }
          } finally {
            release?.();
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

/**
 * The POP3 download workflow for one account: connect, authenticate, fetch every message whose UIDL is
 * new, store it atomically in the unified inbox Maildir as new mail, record its UIDL, and only then DELE it
 * (per policy), QUIT.
 *
 * Crash/drop safety: a message is recorded only after its file is fsynced; a DELE is sent only after the
 * record commits; the server applies DELEs only at QUIT. So a connection lost mid-RETR loses nothing (the
 * message stays on the server, unrecorded, and is fetched next run) and duplicates nothing (recorded
 * UIDLs are never fetched again; under the delete policy they are deleted on the next run).
 */
import type { Logger } from '../../lib/logger.js';
import { ClientError } from '../errors.js';
import { Maildir, type StagedFile, type StoredFile } from '../store/maildir.js';
import type { AccountConfig, StateDb } from '../store/state.js';
import { planPop3, sizeBatches, type Pop3Policy } from '../sync/plan.js';
import { summaryFromRaw, parseDate } from '../summary.js';
import { Pop3Client, retrLimit } from './client.js';
import type { StallRule } from '../stall.js';
import type { ProgressFn } from '../progress.js';

export interface Pop3Report {
  account: string;
  protocol: 'pop3';
  downloaded: number;
  headersOnly: number;
  deletedOnServer: number;
  forgotten: number;
  warnings: string[];
  /** Servers without UIDL: messages recognised (Message-ID and size) as stored by an interrupted earlier run. */
  duplicatesSkipped: number;
  /** Local row ids of the new messages. */
  newIds: number[];
}

export interface Pop3SyncContext {
  state: StateDb;
  account: AccountConfig;
  password: string;
  inbox: Maildir;
  ca?: Buffer;
  logger: Logger;
  now: () => number;
  onProgress?: ProgressFn;
  /** The progress rule for a server slow to answer (stall.ts; its default when absent). */
  stall?: StallRule;
}

export function policyOf(account: AccountConfig): Pop3Policy {
  return account.policy ?? { kind: 'delete' };
}

export async function syncPop3(ctx: Pop3SyncContext): Promise<Pop3Report> {
  const { state, account, inbox, logger } = ctx;
  const report: Pop3Report = { account: account.name, protocol: 'pop3', downloaded: 0, headersOnly: 0, deletedOnServer: 0, forgotten: 0, warnings: [], duplicatesSkipped: 0, newIds: [] };
  const policy = policyOf(account);

  // Local deletions made by other programs (mutt deleting the file) count as "deleted locally".
  if (policy.kind === 'until-deleted-locally') {
    for (const row of state.query({ accounts: [account.name] })) {
      if (row.uidl && row.bodyCached && row.fileKey && !new Maildir(row.maildir).find(row.fileKey, row.filePath ?? undefined)) {
        state.tx(() => {
          state.markUidlLocallyDeleted(account.name, row.uidl as string);
          state.deleteMessage(row.id);
        });
      }
    }
  }

  // The account's own rule (account add/set --progress-*) first, then the engine's, then the default.
  const stall = account.progress ?? ctx.stall;
  const client = await Pop3Client.connect({ host: account.host, port: account.port, security: account.security, account: account.name, ...(ctx.ca ? { ca: ctx.ca } : {}), ...(stall ? { stall } : {}) });
  let quitDone = false;
  try {
    await client.login(account.user, ctx.password);
    const uidls = await client.uidl();
    if (uidls === null && policy.kind !== 'delete') {
      throw new ClientError(
        'CAPABILITY',
        `${account.host}:${account.port} does not support UIDL, so leaving mail on the server is impossible (every run would download everything again): remove --leave-on-server for this account`,
      );
    }
    const sizes = await client.list();
    const uidlByNo = new Map((uidls ?? []).map((u) => [u.msgno, u.uidl]));
    const server = sizes.map((s) => ({ msgno: s.msgno, size: s.size, uidl: uidls === null ? null : (uidlByNo.get(s.msgno) ?? null) }));
    if (uidls !== null && server.some((s) => s.uidl === null)) {
      throw new ClientError('PROTOCOL', `${account.host}:${account.port}: UIDL and LIST disagree about the message numbers`);
    }
    const plan = planPop3({
      server,
      known: state.knownUidls(account.name),
      policy,
      ...(account.maxSize !== undefined ? { maxSize: account.maxSize } : {}),
      oversize: account.oversize ?? 'skip',
      now: ctx.now(),
    });

    if (plan.sizes.length) state.tx(() => plan.sizes.forEach((x) => state.setUidlSize(account.name, x.uidl, x.size)));
    for (const r of plan.reused) {
      const w = `${account.name}: the server gave UIDL ${r.uidl} (a message of ${r.was} bytes we already have) to another message of ${r.size} bytes: downloading that one as new`;
      report.warnings.push(w);
      logger.warn({ account: account.name, uidl: r.uidl, was: r.was, size: r.size }, w);
    }
    for (const u of plan.duplicates) {
      const w = `${account.name}: the server gives UIDL ${u} to several messages (RFC 1939 wants it unique): they are told apart by size and order`;
      report.warnings.push(w);
      logger.warn({ account: account.name, uidl: u }, w);
    }
    for (const s of plan.skipped) {
      const w = `${account.name}: message ${s.uidl ?? '#' + s.msgno} (${s.size} bytes) was not downloaded: ${s.reason}`;
      report.warnings.push(w);
      logger.warn({ account: account.name, uidl: s.uidl, size: s.size }, w);
    }

    const total = plan.download.length + plan.headersOnly.length;
    let done = 0;
    ctx.onProgress?.({ account: account.name, phase: 'download', done, total });
    // Batches: RETR (pipelined when possible) -> every file fsynced in tmp/ -> one commit of rows + UIDLs ->
    // files published into new/ + directory fsync -> DELE of the batch. A failure anywhere leaves the batch unrecorded or undeleted, never lost.
    for (const batch of sizeBatches(plan.download, BATCH_COUNT, BATCH_BYTES, STREAM_THRESHOLD)) {
      type Got = { d: (typeof batch)[number]; head: Buffer; length: number; file: StagedFile };
      const bySeq = new Map(batch.map((d) => [d.msgno, d]));
      const pending: Array<Promise<Got>> = [];
      // Staged files are durable in tmp/; record them (one commit), then publish them into new/.
      const record = (ok: Got[]): number[] => {
        const ids = state.tx(() => ok.map((x) => recordMessage(ctx, x.head, x.length, x.d.uidl, x.file, x.d.size)));
        for (const x of ok) inbox.publish(x.file);
        inbox.syncDirs();
        return ids;
      };
      /** Waits for the batch's writes; on a write failure records the ones written, then throws. */
      const settle = async (): Promise<Got[]> => {
        const results = await Promise.allSettled(pending);
        const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        const bad = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (bad) {
          record(ok);
          throw bad.reason;
        }
        return ok;
      };
      try {
        const lone = batch.length === 1 ? batch[0] : undefined;
        if (lone && lone.size > STREAM_THRESHOLD) {
          // A big message goes from the socket to its file piece by piece, never whole in memory.
          const got = await retrToFile(client, inbox, lone);
          if (lone.uidl === null && isKnownWithoutUidl(ctx, got.head, got.length)) {
            inbox.discard(got.file);
            report.duplicatesSkipped++;
          } else pending.push(Promise.resolve(got));
        } else {
          for await (const { msgno, raw } of client.retrMany(batch.map((d) => d.msgno), (n) => retrLimit(bySeq.get(n)?.size ?? 0))) {
            const d = bySeq.get(msgno) as (typeof batch)[number];
            if (d.uidl === null && isKnownWithoutUidl(ctx, raw, raw.length)) {
              // No UIDL: an earlier session that broke before QUIT already stored this one; only DELE it again.
              report.duplicatesSkipped++;
              continue;
            }
            pending.push(inbox.stage(raw, { asNew: true }).then((file) => ({ d, head: raw, length: raw.length, file })));
          }
        }
      } catch (e) {
        // The connection failed mid-batch: keep (record) the messages that arrived whole, so a flaky link
        // still makes progress; the one in flight is not stored and will be fetched again next run.
        record(await settle());
        throw e;
      }
      const stored = await settle();
      const ids = record(stored);
      report.newIds.push(...ids);
      report.downloaded += stored.length;
      const dele = batch.filter((d) => d.deleteAfter).map((d) => d.msgno);
      if (dele.length) {
        await client.deleMany(dele);
        report.deletedOnServer += dele.length;
      }
      done += batch.length;
      ctx.onProgress?.({ account: account.name, phase: 'download', done, total });
    }
    // TOP is optional (RFC 1939 section 7): a server whose CAPA lacks it, or that refuses it, gets the
    // oversized message skipped with a warning, as without --oversize headers.
    let canTop = client.capabilities.size === 0 || client.capabilities.has('TOP');
    for (const h of plan.headersOnly) {
      let head: Buffer | null = null;
      if (canTop) {
        head = await client.top(h.msgno, 0, TOP_LIMIT).catch((e: unknown) => {
          if (!(e instanceof ClientError) || e.code !== 'PROTOCOL') throw e;
          canTop = false;
          return null;
        });
      }
      if (!head) {
        const w = `${account.name}: message ${h.uidl} (${h.size} bytes) was not downloaded: larger than ${account.maxSize} bytes, and the server has no TOP to fetch its header only`;
        report.warnings.push(w);
        logger.warn({ account: account.name, uidl: h.uidl, size: h.size }, w);
        ctx.onProgress?.({ account: account.name, phase: 'download', done: ++done, total });
        continue;
      }
      const id = state.tx(() => recordMessage(ctx, head, head.length, h.uidl, null, h.size));
      report.newIds.push(id);
      report.headersOnly++;
      const w = `${account.name}: message ${h.uidl} (${h.size} bytes) is larger than ${account.maxSize} bytes: only its header was downloaded, it stays on the server`;
      report.warnings.push(w);
      logger.warn({ account: account.name, uidl: h.uidl, size: h.size }, w);
      ctx.onProgress?.({ account: account.name, phase: 'download', done: ++done, total });
    }
    if (plan.deleteKnown.length) {
      await client.deleMany(plan.deleteKnown.map((k) => k.msgno));
      report.deletedOnServer += plan.deleteKnown.length;
    }
    await client.quit();
    quitDone = true;
    // Only after QUIT committed: UIDLs the server no longer lists (deleted above or by others) are forgotten.
    const deleted = new Set(plan.deleteKnown.map((k) => k.uidl));
    for (const d of plan.download) if (d.deleteAfter && d.uidl) deleted.add(d.uidl);
    state.tx(() => {
      for (const u of plan.forget) state.forgetUidl(account.name, u);
      for (const u of deleted) state.forgetUidl(account.name, u);
    });
    report.forgotten = plan.forget.length;
    return report;
  } finally {
    if (!quitDone) client.close();
  }
}

/**
 * Best effort for servers without UIDL: a message of this account stored without UIDL with the same
 * Message-ID and size is one an interrupted earlier run already downloaded (its DELE was never committed).
 * `head` holds at least the message's header; `length` is the size of the whole message.
 */
function isKnownWithoutUidl(ctx: Pop3SyncContext, head: Buffer, length: number): boolean {
  const { summary } = summaryFromRaw(head);
  if (!summary.messageId) return false;
  return ctx.state.hasMessageWithoutUidl(ctx.account.name, summary.messageId, length);
}

/** Messages larger than this (by LIST size) are streamed into their file instead of read into memory. */
const STREAM_THRESHOLD = 1024 * 1024;
/** How much of a streamed message is kept for its summary: its header, up to this many bytes. */
const HEAD_LIMIT = 256 * 1024;
/** The most a TOP n 0 answer (a header) may take in memory: a server ignoring the 0 sends the whole message. */
const TOP_LIMIT = 4 * 1024 * 1024;
const HEADER_END = Buffer.from('\r\n\r\n');

/** RETR of one message straight into a staged file; returns the file, the header bytes and the length. */
async function retrToFile<D extends { msgno: number; size: number }>(client: Pop3Client, inbox: Maildir, d: D): Promise<{ d: D; head: Buffer; length: number; file: StagedFile }> {
  let head = Buffer.alloc(0);
  let headDone = false;
  let length = 0;
  const file = await inbox.stageStream(
    (write) =>
      client.retrStream(d.msgno, async (chunk) => {
        if (!headDone) {
          head = Buffer.concat([head, chunk.subarray(0, HEAD_LIMIT - head.length)]);
          headDone = head.length >= HEAD_LIMIT || head.includes(HEADER_END);
        }
        length += chunk.length;
        await write(chunk);
      }, retrLimit(d.size)),
    { asNew: true },
  );
  return { d, head, length, file };
}

/** Pipelined batches: at most this many messages ... */
const BATCH_COUNT = 64;
/** ... and about this many bytes (by LIST size) held in memory at once. */
const BATCH_BYTES = 8 * 1024 * 1024;

/**
 * Records one stored (or header-only, file null) message: index row + UIDL. `head` holds at least the
 * message's header, `length` is the stored size. Call inside a transaction.
 */
function recordMessage(ctx: Pop3SyncContext, head: Buffer, length: number, uidl: string | null, file: StoredFile | null, serverSize: number): number {
  const { state, account, inbox } = ctx;
  const { summary } = summaryFromRaw(head);
  const now = ctx.now();
  const id = state.insertMessage({
    account: account.name,
    folder: 'INBOX',
    uid: null,
    uidl,
    messageId: summary.messageId,
    flags: [],
    summary,
    internalDate: parseDate(summary.date, now),
    size: file ? length : serverSize || length,
    maildir: inbox.root,
    fileKey: file?.key ?? null,
    filePath: file?.path ?? null,
    bodyCached: file !== null,
    cachedAt: file ? now : null,
  });
  if (uidl) state.recordUidl(account.name, uidl, file === null, now, serverSize);
  return id;
}

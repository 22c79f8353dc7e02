/**
 * One synchronisation run of an account: Maildir housekeeping, then the POP3 run (download into the
 * unified inbox, RFC 1939; pop3/fetch.ts) or the IMAP run (folder mirror, queued local changes replayed,
 * CONDSTORE/QRESYNC of RFC 7162 when offered; imap/syncer.ts).
 *
 * Contract: `syncAccount` throws a ClientError (classified from the network or server failure);
 * `syncEach` never throws: it reports success or the ClientError per account, in the order given.
 */
import { ClientError, classifyError } from './errors.js';
import type { AccountConfig } from './store/state.js';
import { syncPop3, type Pop3Report } from './pop3/fetch.js';
import type { ImapReport } from './imap/syncer.js';
import { accountCa, accountPassword, imapSyncer, type EngineContext } from './context.js';
import { reconcileMaildirs, recoverTmp } from './maildir-reconcile.js';

export type SyncReport = Pop3Report | ImapReport;
export type SyncResult = { account: string; ok: true; report: SyncReport } | { account: string; ok: false; error: ClientError };

/** Synchronises one account (IMAP: only `folders` when given); throws a ClientError on failure. */
export async function syncAccount(ctx: EngineContext, a: AccountConfig, folders?: string[]): Promise<SyncReport> {
  recoverTmp(ctx, a);
  reconcileMaildirs(ctx, [a.name]);
  const password = await accountPassword(ctx, a);
  if (a.protocol === 'pop3') return runPop3(ctx, a, password);
  return imapSyncer(ctx, a, password).sync(folders);
}

async function runPop3(ctx: EngineContext, a: AccountConfig, password: string): Promise<Pop3Report> {
  const ca = accountCa(a);
  try {
    return await syncPop3({
      state: ctx.state,
      account: a,
      password,
      inbox: ctx.localFolder('INBOX'),
      ...(ca ? { ca } : {}),
      logger: ctx.logger,
      now: ctx.now,
      ...(ctx.opts.onProgress ? { onProgress: ctx.opts.onProgress } : {}),
      ...(ctx.opts.stall ? { stall: ctx.opts.stall } : {}),
    });
  } catch (e) {
    throw classifyError(e, `${a.host}:${a.port}`);
  }
}

/** Runs `syncOne` for each named account in turn; failures are reported per account, never thrown. */
export async function syncEach(names: string[], syncOne: (name: string) => Promise<SyncReport>): Promise<SyncResult[]> {
  const out: SyncResult[] = [];
  for (const n of names) {
    try {
      out.push({ account: n, ok: true, report: await syncOne(n) });
    } catch (e) {
      out.push({ account: n, ok: false, error: e instanceof ClientError ? e : classifyError(e, n) });
    }
  }
  return out;
}

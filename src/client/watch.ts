/**
 * The watch loop: IDLE (RFC 2177) on every IMAP account's INBOX, a sync of the account when the server
 * reports a change, and a sync of every account each poll interval.
 *
 * Contract: syncs never overlap (they run one after another in the order asked for); an IDLE connection
 * that fails is logged and reopened with backoff (1 s doubling to 60 s), then the account is synced to
 * catch up; a failure no reconnect can mend (wrong password, password source failing, untrusted
 * certificate) stops IDLE on that account instead of retrying. `watchAccounts` resolves once `signal` aborts and the IDLE connections and the running sync
 * have ended; sync failures go to `onSync` as results, never thrown.
 */
import type { ImapFlow } from 'imapflow';
import type { AccountConfig } from './store/state.js';
import { openImap } from './imap/connect.js';
import { accountCa, accountPassword, type EngineContext } from './context.js';
import type { SyncResult } from './sync-run.js';
import { ClientError, type ClientErrorCode } from './errors.js';

/** Failures a reconnect cannot mend: IDLE on that account stops (the poll syncs go on and report them). */
const PERMANENT = new Set<ClientErrorCode>(['AUTH', 'CREDENTIALS', 'CONFIG', 'TLS']);

export interface WatchOptions {
  signal: AbortSignal;
  pollSeconds?: number;
  onSync?: (r: SyncResult[]) => void;
}

/** `sync(names)` synchronises the named accounts (all when none are named). */
export async function watchAccounts(ctx: EngineContext, opts: WatchOptions, sync: (names: string[]) => Promise<SyncResult[]>): Promise<void> {
  const pollMs = (opts.pollSeconds ?? 300) * 1000;
  let running: Promise<void> = Promise.resolve();
  const queueSync = (names: string[]): Promise<void> => {
    running = running.then(async () => {
      if (opts.signal.aborted) return;
      const r = await sync(names);
      opts.onSync?.(r);
    });
    return running;
  };
  await queueSync([]);
  const idlers = new Set<ImapFlow>();
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      t.unref();
      opts.signal.addEventListener('abort', () => {
        clearTimeout(t);
        resolve();
      }, { once: true });
    });
  /** IDLE on one account's INBOX; reconnects with backoff (and catches up) when the connection drops. */
  const idleLoop = async (a: AccountConfig): Promise<void> => {
    let delay = 1000;
    let first = true;
    while (!opts.signal.aborted) {
      let client: ImapFlow | null = null;
      try {
        const ca = accountCa(a);
        client = await openImap({ account: a, password: await accountPassword(ctx, a), ...(ca ? { ca } : {}) }, { autoIdle: false });
        idlers.add(client);
        await client.mailboxOpen('INBOX');
        let pending: NodeJS.Timeout | null = null;
        const kick = (): void => {
          if (pending) return;
          pending = setTimeout(() => {
            pending = null;
            void queueSync([a.name]);
          }, 100);
          pending.unref();
        };
        client.on('exists', kick);
        client.on('expunge', kick);
        client.on('flags', kick);
        if (!first) kick(); // changes made while we were disconnected
        first = false;
        delay = 1000;
        while (!opts.signal.aborted && client.usable) await client.idle();
      } catch (e) {
        if (e instanceof ClientError && PERMANENT.has(e.code)) {
          // A wrong password or an untrusted certificate does not mend itself: retrying would only hammer
          // the server with failed logins (and may get the account locked). The poll syncs report it.
          ctx.logger.error({ account: a.name, err: e.message }, 'IDLE stopped for this account');
          break;
        }
        ctx.logger.warn({ account: a.name, err: e instanceof Error ? e.message : String(e) }, 'IDLE connection failed; reconnecting');
      } finally {
        if (client) {
          idlers.delete(client);
          client.close();
        }
      }
      if (opts.signal.aborted) break;
      await sleep(delay);
      delay = Math.min(delay * 2, 60_000);
    }
  };
  const loops = ctx
    .listAccounts()
    .filter((x) => x.protocol === 'imap')
    .map((a) => idleLoop(a));
  const timer = setInterval(() => void queueSync([]), pollMs);
  timer.unref();
  await new Promise<void>((resolve) => {
    if (opts.signal.aborted) resolve();
    else opts.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  clearInterval(timer);
  for (const c of [...idlers]) await c.logout().catch(() => c.close());
  await Promise.all(loops);
  await running.catch(() => undefined);
}

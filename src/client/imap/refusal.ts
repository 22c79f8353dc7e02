/**
 * imapflow answers `false` when the server refuses a command (NO or BAD) and keeps the response to its
 * logger: this recorder is that logger, so the sync can tell a temporary refusal (NO [UNAVAILABLE]) from a
 * permanent one (NO [NONEXISTENT]). One recorder per connection; nothing else is logged.
 */
import type { ImapFlow } from 'imapflow';
import type { Refusal } from '../sync/plan.js';

export class RefusalRecorder {
  private last: Refusal | null = null;
  /**
   * The error that broke the connection (imapflow's 'error' event: a line or literal over our limits, a
   * reset), which the failing command itself reports only as "Connection not available".
   */
  fault: unknown = null;

  /** The logger object for ImapFlow's `logger` option: only warnings (command failures) are built and kept. */
  readonly logger = {
    isLevelEnabled: (level: string): boolean => level === 'warn',
    debug: (): void => undefined,
    info: (): void => undefined,
    warn: (entry: unknown): void => {
      const err = entry && typeof entry === 'object' && 'err' in entry ? (entry as { err: unknown }).err : null;
      if (!err || typeof err !== 'object' || (entry as { msg?: unknown }).msg === 'Partial FETCH response') return;
      const e = err as { responseStatus?: unknown; serverResponseCode?: unknown; responseText?: unknown };
      if (e.responseStatus !== 'NO' && e.responseStatus !== 'BAD') return;
      this.last = {
        status: e.responseStatus,
        code: typeof e.serverResponseCode === 'string' ? e.serverResponseCode.toUpperCase() : null,
        text: typeof e.responseText === 'string' ? e.responseText.slice(0, 200) : '',
      };
    },
    error: (): void => undefined,
    fatal: (): void => undefined,
  };

  /** Forgets the last refusal (before a command whose outcome is judged). */
  clear(): void {
    this.last = null;
  }

  /**
   * Why the last command was not carried out: the server's NO or BAD, or LOST when the connection broke
   * (imapflow then answers false too).
   */
  take(client: ImapFlow): Refusal {
    const r = this.last ?? (client.usable ? { status: 'NO' as const, code: null, text: '' } : { status: 'LOST' as const, code: null, text: '' });
    this.last = null;
    return client.usable ? r : { ...r, status: 'LOST' };
  }
}

const recorders = new WeakMap<ImapFlow, RefusalRecorder>();

export function attachRecorder(client: ImapFlow, rec: RefusalRecorder): void {
  recorders.set(client, rec);
}

/** The connection's recorder (a fresh, unattached one for a client opened elsewhere). */
export function recorderOf(client: ImapFlow): RefusalRecorder {
  let r = recorders.get(client);
  if (!r) recorders.set(client, (r = new RefusalRecorder()));
  return r;
}

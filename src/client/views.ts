/**
 * Read-only views of a profile's index: message lists and the folder tree with counts.
 *
 * Contract: no network. `listMessages` first adopts Maildir changes made by other programs (see
 * maildir-reconcile.ts), then answers newest first; an unknown account throws ClientError NOT_FOUND.
 */
import type { MessageRow } from './store/state.js';
import type { EngineContext } from './context.js';
import { reconcileMaildirs } from './maildir-reconcile.js';

export interface ListFilter {
  account?: string;
  folder?: string;
  unified?: boolean;
  unread?: boolean;
  limit?: number;
}

export interface FolderSummary {
  account: string;
  path: string;
  specialUse: string | null;
  messages: number;
  unread: number;
  cached: number;
  lastSync: number | null;
}

/** Messages from the index, newest first. `unified` (or no folder given): the INBOX of every account. */
export function listMessages(ctx: EngineContext, f: ListFilter): MessageRow[] {
  if (f.account) ctx.account(f.account);
  reconcileMaildirs(ctx, f.account ? [f.account] : undefined);
  const folder = f.unified || f.folder === undefined ? 'INBOX' : f.folder;
  return ctx.state.query({ ...(f.account ? { accounts: [f.account] } : {}), folder, ...(f.unread ? { unread: true } : {}), ...(f.limit !== undefined ? { limit: f.limit } : {}) });
}

/** The folder tree as last mirrored from LIST (IMAP) or the local folders holding POP3 mail, with counts. */
export function folderSummaries(ctx: EngineContext, account?: string): FolderSummary[] {
  const accounts = account ? [ctx.account(account)] : ctx.listAccounts();
  const out: FolderSummary[] = [];
  for (const a of accounts) {
    const rows = ctx.state.query({ accounts: [a.name] });
    const paths =
      a.protocol === 'imap'
        ? ctx.state.listFolders(a.name).map((f) => ({ path: f.path, specialUse: f.specialUse, lastSync: f.lastSync }))
        : [...new Set(['INBOX', ...rows.map((r) => r.folder)])].map((p) => ({ path: p, specialUse: p === 'Sent' ? '\\Sent' : null, lastSync: null }));
    for (const f of paths) {
      const inFolder = rows.filter((r) => r.folder === f.path);
      out.push({
        account: a.name,
        path: f.path,
        specialUse: f.specialUse,
        messages: inFolder.length,
        unread: inFolder.filter((r) => !r.flags.includes('\\Seen')).length,
        cached: inFolder.filter((r) => r.bodyCached).length,
        lastSync: f.lastSync,
      });
    }
  }
  return out;
}

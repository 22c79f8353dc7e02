/**
 * Local operations on one message: read, flag, delete, move; folder name resolution and cache pruning.
 *
 * Contract: every change is applied to the Maildir file and the index in one state transaction and works
 * without network; for IMAP accounts it is also queued for the server (replayed by the next sync), for
 * POP3 accounts a delete is remembered for the until-deleted-locally policy. Only `readMessage` may touch
 * the network (an IMAP body not cached yet is fetched and cached). Throws ClientError NOT_FOUND for an
 * unknown message, account or folder, and CONFIG for an IMAP message whose queued move has not reached
 * the server yet (it has no UID until the next sync).
 */
import { ClientError } from './errors.js';
import { Maildir } from './store/maildir.js';
import type { AccountConfig, MessageRow } from './store/state.js';
import { accountPassword, imapSyncer, type EngineContext } from './context.js';

export type FlagChange = 'seen' | 'unseen' | 'flagged' | 'unflagged';

function requireUid(a: AccountConfig, row: MessageRow): void {
  if (a.protocol === 'imap' && row.uid === null) throw new ClientError('CONFIG', `message ${row.id} is waiting to be moved on the server: run sync first`);
}

/**
 * The raw message. A cached body is read from the Maildir (no network); otherwise (IMAP) it is fetched
 * from the server and cached. Unless `peek`, the message is marked \Seen (queued for IMAP).
 */
export async function readMessage(ctx: EngineContext, id: number, opts: { peek?: boolean }): Promise<{ row: MessageRow; raw: Buffer; fetched: boolean }> {
  let row = ctx.message(id);
  let raw: Buffer | null = null;
  let fetched = false;
  if (row.bodyCached && row.fileKey) raw = new Maildir(row.maildir).read(row.fileKey, row.filePath ?? undefined);
  if (!raw) {
    const a = ctx.account(row.account);
    if (a.protocol === 'pop3') {
      throw new ClientError('NOT_FOUND', row.bodyCached ? `message ${id}'s file is gone from the Maildir` : `message ${id} was too big: only its header was downloaded (it is still on the server)`);
    }
    raw = await imapSyncer(ctx, a, await accountPassword(ctx, a)).fetchBody(row);
    fetched = true;
  }
  if (!opts.peek && !row.flags.includes('\\Seen')) flagMessage(ctx, id, 'seen');
  row = ctx.message(id);
  return { row, raw, fetched };
}

/** Changes a flag locally (file name and index) and queues it for IMAP accounts. */
export function flagMessage(ctx: EngineContext, id: number, change: FlagChange): MessageRow {
  const { state } = ctx;
  const row = ctx.message(id);
  const a = ctx.account(row.account);
  const flag = change === 'seen' || change === 'unseen' ? '\\Seen' : '\\Flagged';
  const add = change === 'seen' || change === 'flagged';
  const has = row.flags.includes(flag);
  if (has === add) return row;
  requireUid(a, row);
  const flags = add ? [...row.flags, flag].sort() : row.flags.filter((f) => f !== flag);
  state.tx(() => {
    state.setFlags(id, flags);
    if (row.fileKey) {
      const moved = new Maildir(row.maildir).setFlags(row.fileKey, flags, row.filePath ?? undefined);
      if (moved) state.setFile(id, row.maildir, row.fileKey, moved.path, true);
    }
    if (a.protocol === 'imap') {
      const f = state.getFolder(a.name, row.folder);
      state.enqueue({ account: a.name, kind: 'flags', folder: row.folder, uid: row.uid as number, uidValidity: f?.uidValidity ?? '', add: add ? [flag] : [], remove: add ? [] : [flag] });
    }
  });
  return ctx.message(id);
}

/** Deletes locally; IMAP: queued for the server; POP3: remembered for the until-deleted-locally policy. */
export function deleteMessage(ctx: EngineContext, id: number): void {
  const { state } = ctx;
  const row = ctx.message(id);
  const a = ctx.account(row.account);
  requireUid(a, row);
  state.tx(() => {
    if (row.fileKey) new Maildir(row.maildir).remove(row.fileKey, row.filePath ?? undefined);
    state.deleteMessage(id);
    if (a.protocol === 'imap') {
      const f = state.getFolder(a.name, row.folder);
      state.enqueue({ account: a.name, kind: 'delete', folder: row.folder, uid: row.uid as number, uidValidity: f?.uidValidity ?? '' });
    } else if (row.uidl) {
      state.markUidlLocallyDeleted(a.name, row.uidl);
    }
  });
}

/** Moves a message to another folder (IMAP: an existing server folder, queued; POP3: a local folder). */
export function moveMessage(ctx: EngineContext, id: number, folderArg: string): MessageRow {
  const { state } = ctx;
  const row = ctx.message(id);
  const a = ctx.account(row.account);
  if (!folderArg) throw new ClientError('CONFIG', 'folder name is empty');
  let folder = folderArg;
  if (a.protocol === 'imap') {
    requireUid(a, row);
    const resolved = resolveFolder(ctx, a.name, folderArg);
    if (!resolved) {
      throw new ClientError('NOT_FOUND', `account ${a.name} has no folder "${folderArg}" (known: ${state.listFolders(a.name).map((f) => f.path).join(', ')})`);
    }
    folder = resolved;
  }
  if (folder === row.folder) return row;
  const dest = a.protocol === 'imap' ? ctx.imapFolder(a.name, folder) : ctx.localFolder(folder);
  state.tx(() => {
    let key: string | null = null;
    let path: string | null = null;
    if (row.fileKey) {
      const raw = new Maildir(row.maildir).read(row.fileKey, row.filePath ?? undefined);
      if (raw) {
        const f = dest.deliver(raw, { flags: row.flags, asNew: row.flags.length === 0 && a.protocol === 'pop3' });
        new Maildir(row.maildir).remove(row.fileKey, row.filePath ?? undefined);
        key = f.key;
        path = f.path;
      }
    }
    state.setFile(id, dest.root, key, path, key !== null);
    if (a.protocol === 'imap') {
      const f = state.getFolder(a.name, row.folder);
      state.enqueue({ account: a.name, kind: 'move', folder: row.folder, uid: row.uid as number, uidValidity: f?.uidValidity ?? '', to: folder, messageRow: id });
    }
    state.moveRow(id, folder, null);
  });
  return ctx.message(id);
}

/**
 * A server folder by exact path, else by case-insensitive path, else by special use ("Trash" or "\\Trash"
 * finds the \\Trash folder whatever the server calls it, e.g. "[Gmail]/Bin"; RFC 6154).
 */
export function resolveFolder(ctx: EngineContext, account: string, name: string): string | null {
  const folders = ctx.state.listFolders(account);
  const exact = folders.find((f) => f.path === name);
  if (exact) return exact.path;
  const ci = folders.filter((f) => f.path.toLowerCase() === name.toLowerCase());
  if (ci.length === 1 && ci[0]) return ci[0].path;
  const use = '\\' + name.replace(/^\\/, '').toLowerCase();
  const special = folders.find((f) => f.specialUse?.toLowerCase() === use);
  return special?.path ?? null;
}

/** Evicts cached IMAP bodies older than `days` (accounts with --cache all keep theirs: permanent copy). */
export function pruneCache(ctx: EngineContext, days: number): { evicted: number; bytes: number } {
  if (!Number.isFinite(days) || days < 0) throw new ClientError('CONFIG', '--older-than must be a number of days');
  const before = ctx.now() - days * 24 * 60 * 60 * 1000;
  let evicted = 0;
  let bytes = 0;
  for (const r of ctx.state.evictable(before)) {
    const a = ctx.state.getAccount(r.account);
    if (!a || a.cache?.kind === 'all') continue;
    if (r.fileKey) new Maildir(r.maildir).remove(r.fileKey, r.filePath ?? undefined);
    ctx.state.setFile(r.id, r.maildir, null, null, false);
    evicted++;
    bytes += r.size;
  }
  return { evicted, bytes };
}

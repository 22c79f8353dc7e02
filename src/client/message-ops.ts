/**
 * Local operations on one message: read, flag, delete, move; folder name resolution and cache pruning.
 *
 * Contract: every change is applied to the Maildir file and the index in one state transaction and works
 * without network; for IMAP accounts it is also queued for the server (replayed by the next sync), for
 * POP3 accounts a delete is remembered for the until-deleted-locally policy. Only the reads (readMessage,
 * writeMessage, viewMessage) may touch the network: an IMAP body not cached yet is fetched and cached, or
 * for the view of a big message only its text part is fetched. Throws ClientError NOT_FOUND for an
 * unknown message, account or folder, and CONFIG for a change of an IMAP message whose queued move has
 * not reached the server yet (it has no UID until the next sync). Such a message can be read: its body
 * comes from the folder it leaves, and it is not marked \Seen (there is no UID to queue that for).
 */
import { createReadStream, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { ClientError } from './errors.js';
import { Maildir } from './store/maildir.js';
import type { AccountConfig, MessageRow } from './store/state.js';
import { accountPassword, imapReader, type EngineContext } from './context.js';
import { STREAM_THRESHOLD } from './imap/reader.js';
import { renderMessage } from './summary.js';
import type { QueuedIdentity } from './sync/plan.js';

export type FlagChange = 'seen' | 'unseen' | 'flagged' | 'unflagged';

function requireUid(a: AccountConfig, row: MessageRow): void {
  if (a.protocol === 'imap' && row.uid === null) throw new ClientError('CONFIG', `message ${row.id} is waiting to be moved on the server: run sync first`);
}

/**
 * The message's cached file, fetching it first when needed (IMAP; a big body is streamed into the cache,
 * never held whole). Unless `peek`, the message is marked \Seen (queued for IMAP).
 */
async function cachedFile(ctx: EngineContext, id: number, opts: { peek?: boolean }): Promise<{ row: MessageRow; path: string; fetched: boolean }> {
  let row = ctx.message(id);
  let fetched = false;
  let found = row.bodyCached && row.fileKey ? new Maildir(row.maildir).find(row.fileKey, row.filePath ?? undefined) : null;
  if (!found) {
    const a = ctx.account(row.account);
    if (a.protocol === 'pop3') {
      throw new ClientError('NOT_FOUND', row.bodyCached ? `message ${id}'s file is gone from the Maildir` : `message ${id} was too big: only its header was downloaded (it is still on the server)`);
    }
    await imapReader(ctx, a, await accountPassword(ctx, a)).cacheBody(row);
    fetched = true;
  }
  // A message waiting to be moved on the server has no UID to queue \Seen for: it is shown, left unread.
  if (!opts.peek && !row.flags.includes('\\Seen') && (row.uid !== null || ctx.account(row.account).protocol !== 'imap')) flagMessage(ctx, id, 'seen');
  // Where the file is now (marking it \Seen renamed it).
  row = ctx.message(id);
  if (fetched || !opts.peek) found = row.fileKey ? new Maildir(row.maildir).find(row.fileKey, row.filePath ?? undefined) : null;
  if (!found) throw new ClientError('NOT_FOUND', `message ${id}'s file is gone from the Maildir`);
  return { row, path: found.path, fetched };
}

/** The raw message, whole in memory (see cachedFile: fetched and cached when needed). */
export async function readMessage(ctx: EngineContext, id: number, opts: { peek?: boolean }): Promise<{ row: MessageRow; raw: Buffer; fetched: boolean }> {
  const { row, path, fetched } = await cachedFile(ctx, id, opts);
  return { row, raw: readFileSync(path), fetched };
}

/** The raw message written to `out` from its cached file (see cachedFile), in pieces: never whole in memory. */
export async function writeMessage(ctx: EngineContext, id: number, out: NodeJS.WritableStream, opts: { peek?: boolean }): Promise<{ row: MessageRow; fetched: boolean }> {
  const { row, path, fetched } = await cachedFile(ctx, id, opts);
  await pipeline(createReadStream(path), out, { end: false });
  return { row, fetched };
}

/**
 * The readable view of a message (renderMessage: main headers, first text part). A cached or small one is
 * rendered from the whole message (a small one is fetched and cached); of a big uncached IMAP message only
 * the header and the text part are fetched (ImapReader.textView; not cached), and a text part over
 * TEXT_VIEW_LIMIT is shown cut, with a note saying how to get the rest.
 */
export async function viewMessage(ctx: EngineContext, id: number, opts: { peek?: boolean }): Promise<{ row: MessageRow; text: string; fetched: boolean }> {
  const first = ctx.message(id);
  const a = ctx.account(first.account);
  const cached = first.bodyCached && first.fileKey !== null && new Maildir(first.maildir).find(first.fileKey, first.filePath ?? undefined) !== null;
  if (cached || a.protocol === 'pop3' || first.size <= STREAM_THRESHOLD) {
    const r = await readMessage(ctx, id, opts);
    return { row: r.row, text: renderMessage(r.raw), fetched: r.fetched };
  }
  const view = await imapReader(ctx, a, await accountPassword(ctx, a)).textView(first);
  if (!opts.peek && !first.flags.includes('\\Seen')) flagMessage(ctx, id, 'seen');
  let text = renderMessage(view.raw, { attachments: first.summary.attachments ?? 0 });
  if (view.omitted > 0) text += `\n[${view.omitted} more bytes of this text not shown: mailroom client read --raw ${id} gets the whole message]`;
  return { row: ctx.message(id), text, fetched: true };
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
      state.enqueue({ account: a.name, kind: 'flags', folder: row.folder, uid: row.uid as number, uidValidity: f?.uidValidity ?? '', identity: identityOf(row), add: add ? [flag] : [], remove: add ? [] : [flag] });
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
      state.enqueue({ account: a.name, kind: 'delete', folder: row.folder, uid: row.uid as number, uidValidity: f?.uidValidity ?? '', identity: identityOf(row) });
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
      state.enqueue({ account: a.name, kind: 'move', folder: row.folder, uid: row.uid as number, uidValidity: f?.uidValidity ?? '', identity: identityOf(row), to: folder, messageRow: id });
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

/** What a queued change records of its message (see imap/remap.ts). */
function identityOf(row: MessageRow): QueuedIdentity {
  return { emailId: row.emailId, messageId: row.messageId, size: row.size, internalDate: row.internalDate };
}

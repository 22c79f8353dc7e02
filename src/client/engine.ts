/**
 * The client engine: one profile directory (Maildir folders + state.sqlite) and its accounts.
 *
 * Layout of a profile:
 *   state.sqlite                       accounts, folder sync state, message index, POP3 UIDLs, offline queue
 *   mail/local/INBOX/                  the unified inbox every POP3 account delivers into (Maildir)
 *   mail/local/<Folder>/               local folders of POP3 mail (Sent, and folders messages were moved to)
 *   mail/imap/<account>/<folder>/      cached bodies of an IMAP account's folders (Maildir)
 * Folder names are percent-encoded into directory names; no server-provided name reaches the file system raw.
 *
 * `list`, `read` of cached bodies and flag/move/delete work without network: IMAP changes are queued
 * and replayed by the next sync. Errors are ClientError values (errors.ts). The work itself lives in
 * accounts.ts (settings), sync-run.ts (POP3 and IMAP runs), maildir-reconcile.ts (changes made by other
 * programs), views.ts (lists), message-ops.ts (read/flag/move/delete/prune), send.ts (SMTP submission)
 * and watch.ts (the IDLE loop); this class owns the profile and hands them an EngineContext.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { silentLogger, type Logger } from '../lib/logger.js';
import { mkdirPrivate, sqliteFiles, tightenModes } from '../lib/private-files.js';
import { ClientError } from './errors.js';
import { Maildir, encodeFolderName } from './store/maildir.js';
import { StateDb, type AccountConfig, type MessageRow } from './store/state.js';
import type { EngineContext, EngineOptions } from './context.js';
import { addAccount, removeAccount, setAccountCaFile, setAccountProgress, type AccountInput } from './accounts.js';
import { reconcileMaildirs } from './maildir-reconcile.js';
import { syncAccount, syncEach, type SyncReport, type SyncResult } from './sync-run.js';
import { folderSummaries, listMessages, type FolderSummary, type ListFilter } from './views.js';
import { deleteMessage, flagMessage, moveMessage, pruneCache, readMessage, resolveFolder, viewMessage, writeMessage, type FlagChange } from './message-ops.js';
import { sendMessage, type SendResult } from './send.js';
import { watchAccounts, type WatchOptions } from './watch.js';
import type { StallRule } from './stall.js';

export type { EngineOptions, AccountInput, SyncReport, SyncResult, FlagChange };

/** The profile directory: --profile, else $MAILROOM_PROFILE, else ~/.mailroom. */
export function defaultProfileDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? env.MAILROOM_PROFILE ?? join(homedir(), '.mailroom');
}

export { encodeFolderName };

export class ClientEngine {
  readonly state: StateDb;
  readonly profileDir: string;
  private readonly ctx: EngineContext;

  constructor(private readonly opts: EngineOptions) {
    this.profileDir = opts.profileDir;
    mkdirPrivate(this.profileDir);
    mkdirSync(join(this.profileDir, 'mail', 'local'), { recursive: true, mode: 0o700 });
    this.state = new StateDb(join(this.profileDir, 'state.sqlite'), { durable: opts.fsync !== false });
    // The profile and its state file are the user's alone, whatever the umask was.
    tightenModes(this.profileDir, sqliteFiles('state.sqlite'));
    const logger: Logger = opts.logger ?? silentLogger;
    this.ctx = {
      state: this.state,
      logger,
      now: opts.now ?? Date.now,
      opts,
      account: (name) => this.account(name),
      listAccounts: () => this.listAccounts(),
      message: (id) => this.message(id),
      localFolder: (folder) => this.localFolder(folder),
      imapFolder: (account, folder) => this.imapFolder(account, folder),
    };
  }

  close(): void {
    this.state.close();
  }

  // ------------------------------------------------------------ layout

  localFolder(folder: string): Maildir {
    return new Maildir(join(this.profileDir, 'mail', 'local', encodeFolderName(folder)), { fsync: this.opts.fsync !== false }).ensure();
  }

  imapFolder(account: string, folder: string): Maildir {
    return new Maildir(join(this.profileDir, 'mail', 'imap', encodeFolderName(account), encodeFolderName(folder)), { fsync: this.opts.fsync !== false }).ensure();
  }

  /** The unified inbox Maildir (POP3 accounts deliver here). */
  get inbox(): Maildir {
    return this.localFolder('INBOX');
  }

  // ------------------------------------------------------------ accounts

  addAccount(input: AccountInput): AccountConfig {
    return addAccount(this.state, input);
  }

  listAccounts(): AccountConfig[] {
    return this.state.listAccounts();
  }

  account(name: string): AccountConfig {
    const a = this.state.getAccount(name);
    if (!a) throw new ClientError('NOT_FOUND', `no account named ${name} (see: mailroom client account list)`);
    return a;
  }

  /** Trusts the CA certificates in `file` (PEM) for this account's server, or only the system's (null); keeps all state. */
  setCaFile(name: string, file: string | null): AccountConfig {
    return setAccountCaFile(this.state, this.account(name), file);
  }

  /** Sets an account's progress rule (stall.ts), or with null goes back to the default. */
  setProgress(name: string, rule: StallRule | null): AccountConfig {
    return setAccountProgress(this.state, this.account(name), rule);
  }

  /** Removes an account, its index and its IMAP cache. POP3 mail already downloaded stays in the Maildir. */
  removeAccount(name: string): void {
    removeAccount(this.state, this.account(name));
  }

  // ------------------------------------------------------------ sync

  /** Synchronises one account; throws a ClientError on failure. */
  async syncAccount(name: string, folders?: string[]): Promise<SyncReport> {
    return syncAccount(this.ctx, this.account(name), folders);
  }

  /**
   * Picks up changes other programs (mutt, neomutt) made in the Maildir folders: flag letters in file names
   * become index flags (and, for IMAP, queued flag changes for the server); a vanished file means a POP3
   * message deleted locally, or an evicted IMAP body (never a server delete: the cache may be pruned).
   * Returns how many messages changed.
   */
  reconcileMaildirs(accounts?: string[]): number {
    return reconcileMaildirs(this.ctx, accounts);
  }

  /** Synchronises the named accounts (all when none are named); failures are reported per account. */
  async sync(names: string[] = []): Promise<SyncResult[]> {
    const list = names.length ? names : this.listAccounts().map((a) => a.name);
    return syncEach(list, (n) => this.syncAccount(n));
  }

  // ------------------------------------------------------------ local views

  /**
   * Messages from the index, newest first. `unified` (or no folder given): the INBOX of every account.
   */
  list(f: ListFilter = {}): MessageRow[] {
    return listMessages(this.ctx, f);
  }

  /** The folder tree as last mirrored from LIST (IMAP) or the local folders holding POP3 mail, with counts. */
  folders(account?: string): FolderSummary[] {
    return folderSummaries(this.ctx, account);
  }

  message(id: number): MessageRow {
    const m = Number.isInteger(id) ? this.state.getMessage(id) : null;
    if (!m) throw new ClientError('NOT_FOUND', `no message with id ${id} (see: mailroom client list)`);
    return m;
  }

  /**
   * The raw message. A cached body is read from the Maildir (no network); otherwise (IMAP) it is fetched
   * from the server and cached. Unless `peek`, the message is marked \Seen (queued for IMAP).
   */
  async read(id: number, opts: { peek?: boolean } = {}): Promise<{ row: MessageRow; raw: Buffer; fetched: boolean }> {
    return readMessage(this.ctx, id, opts);
  }

  /** As read(), but the raw message goes to `out` in pieces from its cached file (never whole in memory). */
  async readTo(id: number, out: NodeJS.WritableStream, opts: { peek?: boolean } = {}): Promise<{ row: MessageRow; fetched: boolean }> {
    return writeMessage(this.ctx, id, out, opts);
  }

  /**
   * The readable view (main headers, first text part). Of a big IMAP message not cached yet only the header
   * and that text part are fetched (BODY.PEEK[section]), not the attachments; nothing is cached then.
   */
  async view(id: number, opts: { peek?: boolean } = {}): Promise<{ row: MessageRow; text: string; fetched: boolean }> {
    return viewMessage(this.ctx, id, opts);
  }

  /** Changes a flag locally (file name and index) and queues it for IMAP accounts. */
  flag(id: number, change: FlagChange): MessageRow {
    return flagMessage(this.ctx, id, change);
  }

  /** Deletes locally; IMAP: queued for the server; POP3: remembered for the until-deleted-locally policy. */
  delete(id: number): void {
    deleteMessage(this.ctx, id);
  }

  /** Moves a message to another folder (IMAP: an existing server folder, queued; POP3: a local folder). */
  move(id: number, folderArg: string): MessageRow {
    return moveMessage(this.ctx, id, folderArg);
  }

  /**
   * A server folder by exact path, else by case-insensitive path, else by special use ("Trash" or "\\Trash"
   * finds the \\Trash folder whatever the server calls it, e.g. "[Gmail]/Bin").
   */
  resolveFolder(account: string, name: string): string | null {
    return resolveFolder(this.ctx, account, name);
  }

  /** Evicts cached IMAP bodies older than `days` (accounts with --cache all keep theirs: permanent copy). */
  prune(days: number): { evicted: number; bytes: number } {
    return pruneCache(this.ctx, days);
  }

  // ------------------------------------------------------------ send

  /**
   * Sends an RFC 5322 message through the account's SMTP submission server (envelope from From/To/Cc/Bcc;
   * Bcc is removed from the transmitted header) and saves a copy to Sent (the server's \Sent folder for IMAP,
   * the local Sent folder for POP3).
   */
  async send(accountName: string, message: Buffer): Promise<SendResult> {
    return sendMessage(this.ctx, this.account(accountName), message);
  }

  // ------------------------------------------------------------ watch

  /**
   * Keeps IDLE on every IMAP account's INBOX and syncs the account when the server reports a change;
   * every `pollSeconds` all accounts (POP3 too, and the other IMAP folders) are synchronised.
   * Runs until `signal` aborts.
   */
  async watch(opts: WatchOptions): Promise<void> {
    return watchAccounts(this.ctx, opts, (names) => this.sync(names));
  }
}

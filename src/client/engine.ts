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
 * and replayed by the next sync.
 */
import { mkdirSync, readFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { homedir } from 'node:os';
import nodemailer from 'nodemailer';
import type { ImapFlow } from 'imapflow';
import { silentLogger, type Logger } from '../lib/logger.js';
import { isLoopback } from '../lib/service.js';
import { mkdirPrivate, sqliteFiles, tightenModes } from '../lib/private-files.js';
import { parseAddressList } from '../mime/index.js';
import { ClientError, classifyError } from './errors.js';
import { resolvePassword, type PasswordOptions } from './credentials.js';
import { Maildir, encodeFolderName } from './store/maildir.js';
import { StateDb, type AccountConfig, type MessageRow, type PasswordSource } from './store/state.js';
import type { Security } from './pop3/client.js';
import { syncPop3, type Pop3Report } from './pop3/fetch.js';
import { ImapSyncer, openImap, type ImapReport } from './imap/syncer.js';
import { parseCachePolicy, type Pop3Policy } from './sync/plan.js';
import type { ProgressFn } from './progress.js';
import { summaryFromRaw, parseDate } from './summary.js';

export type SyncReport = Pop3Report | ImapReport;
export type SyncResult = { account: string; ok: true; report: SyncReport } | { account: string; ok: false; error: ClientError };

export interface EngineOptions {
  profileDir: string;
  logger?: Logger;
  passwords?: PasswordOptions;
  now?: () => number;
  onProgress?: ProgressFn;
  /** false: no fsync of message files (throwaway profiles, benchmarks); the default is durable. */
  fsync?: boolean;
  /** Pretend IMAP servers lack QRESYNC/CONDSTORE (forces the fallback paths). */
  imapDisable?: { qresync?: boolean; condstore?: boolean };
}

export interface AccountInput {
  name: string;
  protocol: 'pop3' | 'imap';
  host: string;
  port?: number;
  tls?: boolean;
  starttls?: boolean;
  insecurePlain?: boolean;
  user: string;
  password: PasswordSource;
  leaveOnServer?: boolean;
  keepDays?: number;
  untilDeletedLocally?: boolean;
  cache?: string;
  caFile?: string;
  maxSize?: number;
  oversize?: 'skip' | 'headers';
  smtpHost?: string;
  smtpPort?: number;
  smtpTls?: boolean;
  smtpStarttls?: boolean;
}

export type FlagChange = 'seen' | 'unseen' | 'flagged' | 'unflagged';

/** The profile directory: --profile, else $MAILROOM_PROFILE, else ~/.mailroom. */
export function defaultProfileDir(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ?? env.MAILROOM_PROFILE ?? join(homedir(), '.mailroom');
}

export { encodeFolderName };

const DEFAULT_PORTS = { pop3: { tls: 995, starttls: 110, plain: 110 }, imap: { tls: 993, starttls: 143, plain: 143 } } as const;

export class ClientEngine {
  readonly state: StateDb;
  readonly profileDir: string;
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(private readonly opts: EngineOptions) {
    this.profileDir = opts.profileDir;
    mkdirPrivate(this.profileDir);
    mkdirSync(join(this.profileDir, 'mail', 'local'), { recursive: true, mode: 0o700 });
    this.state = new StateDb(join(this.profileDir, 'state.sqlite'), { durable: opts.fsync !== false });
    // The profile and its state file are the user's alone, whatever the umask was.
    tightenModes(this.profileDir, sqliteFiles('state.sqlite'));
    this.logger = opts.logger ?? silentLogger;
    this.now = opts.now ?? Date.now;
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
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$/.test(input.name)) {
      throw new ClientError('CONFIG', `account name "${input.name}" must be 1-64 letters, digits, "_", ".", "@" or "-"`);
    }
    if (this.state.getAccount(input.name)) throw new ClientError('CONFIG', `account ${input.name} already exists`);
    if (input.protocol !== 'pop3' && input.protocol !== 'imap') throw new ClientError('CONFIG', `protocol must be pop3 or imap`);
    if (!input.host) throw new ClientError('CONFIG', '--host is required');
    if (!input.user) throw new ClientError('CONFIG', '--user is required');
    const modes = [input.tls, input.starttls, input.insecurePlain].filter(Boolean).length;
    if (modes > 1) throw new ClientError('CONFIG', 'choose one of --tls, --starttls, --insecure-plain');
    // Plain text only when asked for explicitly, or by default on loopback (a local test server).
    const security: Security = input.tls ? 'tls' : input.starttls ? 'starttls' : input.insecurePlain ? 'plain' : isLoopback(input.host) || input.host === 'localhost' ? 'plain' : 'tls';
    const port = input.port ?? DEFAULT_PORTS[input.protocol][security];
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ClientError('CONFIG', `invalid port ${String(input.port)}`);
    const cfg: AccountConfig = { name: input.name, protocol: input.protocol, host: input.host, port, security, user: input.user, password: input.password };
    if (input.password.kind === 'env' && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(input.password.name)) {
      throw new ClientError('CONFIG', `--password-env needs an environment variable name, got "${input.password.name}"`);
    }
    if (input.caFile) {
      if (!existsSync(input.caFile)) throw new ClientError('CONFIG', `CA file ${input.caFile} does not exist`);
      cfg.caFile = input.caFile;
    }
    if (input.protocol === 'pop3') {
      if (input.cache) throw new ClientError('CONFIG', '--cache applies to IMAP accounts (POP3 always keeps a full local copy)');
      let policy: Pop3Policy = { kind: 'delete' };
      if (input.keepDays !== undefined || input.untilDeletedLocally) {
        if (!input.leaveOnServer) throw new ClientError('CONFIG', '--keep-days and --until-deleted-locally need --leave-on-server');
      }
      if (input.leaveOnServer) {
        if (input.keepDays !== undefined && input.untilDeletedLocally) throw new ClientError('CONFIG', 'choose --keep-days or --until-deleted-locally, not both');
        if (input.keepDays !== undefined) {
          if (!Number.isInteger(input.keepDays) || input.keepDays < 0) throw new ClientError('CONFIG', '--keep-days must be a whole number of days');
          policy = { kind: 'keep-days', days: input.keepDays };
        } else if (input.untilDeletedLocally) policy = { kind: 'until-deleted-locally' };
        else policy = { kind: 'keep' };
      }
      cfg.policy = policy;
      if (input.maxSize !== undefined) {
        if (!Number.isInteger(input.maxSize) || input.maxSize <= 0) throw new ClientError('CONFIG', '--max-size must be a positive number of bytes');
        cfg.maxSize = input.maxSize;
        cfg.oversize = input.oversize ?? 'skip';
      }
    } else {
      if (input.leaveOnServer || input.keepDays !== undefined || input.untilDeletedLocally) {
        throw new ClientError('CONFIG', '--leave-on-server and --keep-days apply to POP3 accounts (IMAP mail always stays on the server)');
      }
      try {
        cfg.cache = parseCachePolicy(input.cache ?? 'headers');
      } catch (e) {
        throw new ClientError('CONFIG', (e as Error).message);
      }
    }
    if (input.smtpHost) {
      const smtpSecurity: Security = input.smtpTls ? 'tls' : input.smtpStarttls ? 'starttls' : isLoopback(input.smtpHost) || input.smtpHost === 'localhost' ? 'plain' : 'starttls';
      cfg.smtp = { host: input.smtpHost, port: input.smtpPort ?? (smtpSecurity === 'tls' ? 465 : 587), security: smtpSecurity };
    } else if (input.smtpPort || input.smtpTls || input.smtpStarttls) {
      throw new ClientError('CONFIG', '--smtp-port/--smtp-tls/--smtp-starttls need --smtp-host');
    }
    this.state.addAccount(cfg);
    return cfg;
  }

  listAccounts(): AccountConfig[] {
    return this.state.listAccounts();
  }

  account(name: string): AccountConfig {
    const a = this.state.getAccount(name);
    if (!a) throw new ClientError('NOT_FOUND', `no account named ${name} (see: mailroom client account list)`);
    return a;
  }

  /** Removes an account, its index and its IMAP cache. POP3 mail already downloaded stays in the Maildir. */
  removeAccount(name: string): void {
    const a = this.account(name);
    if (a.protocol === 'imap') {
      for (const r of this.state.query({ accounts: [name] })) if (r.fileKey) new Maildir(r.maildir).remove(r.fileKey, r.filePath ?? undefined);
    }
    this.state.removeAccount(name);
  }

  private ca(a: AccountConfig): Buffer | undefined {
    if (!a.caFile) return undefined;
    try {
      return readFileSync(a.caFile);
    } catch (e) {
      throw new ClientError('CONFIG', `cannot read CA file ${a.caFile}: ${(e as Error).message}`);
    }
  }

  private async password(a: AccountConfig): Promise<string> {
    return resolvePassword(a, this.opts.passwords ?? {});
  }

  private syncer(a: AccountConfig, password: string): ImapSyncer {
    const ca = this.ca(a);
    return new ImapSyncer({
      state: this.state,
      account: a,
      password,
      ...(ca ? { ca } : {}),
      logger: this.logger,
      now: this.now,
      folderDir: (f) => this.imapFolder(a.name, f),
      ...(this.opts.onProgress ? { onProgress: this.opts.onProgress } : {}),
      ...(this.opts.imapDisable ? { disable: this.opts.imapDisable } : {}),
    });
  }

  // ------------------------------------------------------------ sync

  /** Synchronises one account; throws a ClientError on failure. */
  async syncAccount(name: string, folders?: string[]): Promise<SyncReport> {
    const a = this.account(name);
    this.recoverTmp(a);
    this.reconcileMaildirs([a.name]);
    const password = await this.password(a);
    if (a.protocol === 'pop3') {
      const ca = this.ca(a);
      try {
        return await syncPop3({
          state: this.state,
          account: a,
          password,
          inbox: this.inbox,
          ...(ca ? { ca } : {}),
          logger: this.logger,
          now: this.now,
          ...(this.opts.onProgress ? { onProgress: this.opts.onProgress } : {}),
        });
      } catch (e) {
        throw classifyError(e, `${a.host}:${a.port}`);
      }
    }
    return this.syncer(a, password).sync(folders);
  }

  /**
   * Picks up changes other programs (mutt, neomutt) made in the Maildir folders: flag letters in file names
   * become index flags (and, for IMAP, queued flag changes for the server); a vanished file means a POP3
   * message deleted locally, or an evicted IMAP body (never a server delete: the cache may be pruned).
   * Returns how many messages changed.
   */
  reconcileMaildirs(accounts?: string[]): number {
    const names = new Set(accounts ?? this.listAccounts().map((a) => a.name));
    const byDir = new Map<string, MessageRow[]>();
    for (const r of this.state.query({ accounts: [...names] })) {
      if (!r.fileKey) continue;
      byDir.set(r.maildir, [...(byDir.get(r.maildir) ?? []), r]);
    }
    const mappable = new Set(['\\Draft', '\\Flagged', '$Forwarded', '\\Answered', '\\Seen', '\\Deleted']);
    let changed = 0;
    for (const [dir, rows] of byDir) {
      const files = new Map(new Maildir(dir).list().map((f) => [f.key, f]));
      this.state.tx(() => {
        for (const r of rows) {
          const a = this.state.getAccount(r.account);
          if (!a) continue;
          const f = files.get(r.fileKey as string);
          if (!f) {
            if (new Maildir(dir).find(r.fileKey as string)) continue; // a staged file, now published
            changed++;
            if (a.protocol === 'pop3') {
              this.state.deleteMessage(r.id);
              if (r.uidl) this.state.markUidlLocallyDeleted(a.name, r.uidl);
            } else this.state.setFile(r.id, r.maildir, null, null, false);
            continue;
          }
          if (f.path !== r.filePath) this.state.setFile(r.id, r.maildir, r.fileKey, f.path, true);
          // new/ files carry no flags: only cur/ names state the flags.
          if (f.sub === 'new') continue;
          const have = r.flags.filter((x) => mappable.has(x));
          const add = f.flags.filter((x) => !have.includes(x));
          const remove = have.filter((x) => !f.flags.includes(x));
          if (!add.length && !remove.length) continue;
          changed++;
          const next = [...r.flags.filter((x) => !remove.includes(x)), ...add].sort();
          this.state.setFlags(r.id, next);
          if (a.protocol === 'imap' && r.uid !== null) {
            const folder = this.state.getFolder(a.name, r.folder);
            this.state.enqueue({ account: a.name, kind: 'flags', folder: r.folder, uid: r.uid, uidValidity: folder?.uidValidity ?? '', add, remove });
          }
        }
      });
    }
    return changed;
  }

  /**
   * Maildir tmp/ housekeeping (the spec's 36 hours): a staged file whose row was committed before the
   * process stopped is published; an unrecorded one (the commit never happened) is removed.
   */
  private recoverTmp(a: AccountConfig): void {
    const dirs = a.protocol === 'pop3' ? [this.inbox] : this.state.listFolders(a.name).map((f) => this.imapFolder(a.name, f.path));
    for (const dir of dirs) {
      for (const t of dir.staleTmp(36 * 60 * 60 * 1000, this.now())) {
        if (this.state.hasFileKey(t.key)) dir.find(t.key);
        else rmSync(t.path, { force: true });
      }
    }
  }

  /** Synchronises the named accounts (all when none are named); failures are reported per account. */
  async sync(names: string[] = []): Promise<SyncResult[]> {
    const list = names.length ? names : this.listAccounts().map((a) => a.name);
    const out: SyncResult[] = [];
    for (const n of list) {
      try {
        out.push({ account: n, ok: true, report: await this.syncAccount(n) });
      } catch (e) {
        out.push({ account: n, ok: false, error: e instanceof ClientError ? e : classifyError(e, n) });
      }
    }
    return out;
  }

  // ------------------------------------------------------------ local views

  /**
   * Messages from the index, newest first. `unified` (or no folder given): the INBOX of every account.
   */
  list(f: { account?: string; folder?: string; unified?: boolean; unread?: boolean; limit?: number } = {}): MessageRow[] {
    if (f.account) this.account(f.account);
    this.reconcileMaildirs(f.account ? [f.account] : undefined);
    const folder = f.unified || f.folder === undefined ? 'INBOX' : f.folder;
    return this.state.query({ ...(f.account ? { accounts: [f.account] } : {}), folder, ...(f.unread ? { unread: true } : {}), ...(f.limit !== undefined ? { limit: f.limit } : {}) });
  }

  /** The folder tree as last mirrored from LIST (IMAP) or the local folders holding POP3 mail, with counts. */
  folders(account?: string): Array<{ account: string; path: string; specialUse: string | null; messages: number; unread: number; cached: number; lastSync: number | null }> {
    const accounts = account ? [this.account(account)] : this.listAccounts();
    const out: Array<{ account: string; path: string; specialUse: string | null; messages: number; unread: number; cached: number; lastSync: number | null }> = [];
    for (const a of accounts) {
      const rows = this.state.query({ accounts: [a.name] });
      const paths =
        a.protocol === 'imap'
          ? this.state.listFolders(a.name).map((f) => ({ path: f.path, specialUse: f.specialUse, lastSync: f.lastSync }))
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
    let row = this.message(id);
    let raw: Buffer | null = null;
    let fetched = false;
    if (row.bodyCached && row.fileKey) raw = new Maildir(row.maildir).read(row.fileKey, row.filePath ?? undefined);
    if (!raw) {
      const a = this.account(row.account);
      if (a.protocol === 'pop3') {
        throw new ClientError('NOT_FOUND', row.bodyCached ? `message ${id}'s file is gone from the Maildir` : `message ${id} was too big: only its header was downloaded (it is still on the server)`);
      }
      raw = await this.syncer(a, await this.password(a)).fetchBody(row);
      fetched = true;
    }
    if (!opts.peek && !row.flags.includes('\\Seen')) this.flag(id, 'seen');
    row = this.message(id);
    return { row, raw, fetched };
  }

  /** Changes a flag locally (file name and index) and queues it for IMAP accounts. */
  flag(id: number, change: FlagChange): MessageRow {
    const row = this.message(id);
    const a = this.account(row.account);
    const flag = change === 'seen' || change === 'unseen' ? '\\Seen' : '\\Flagged';
    const add = change === 'seen' || change === 'flagged';
    const has = row.flags.includes(flag);
    if (has === add) return row;
    if (a.protocol === 'imap' && row.uid === null) throw new ClientError('CONFIG', `message ${id} is waiting to be moved on the server: run sync first`);
    const flags = add ? [...row.flags, flag].sort() : row.flags.filter((f) => f !== flag);
    this.state.tx(() => {
      this.state.setFlags(id, flags);
      if (row.fileKey) {
        const moved = new Maildir(row.maildir).setFlags(row.fileKey, flags, row.filePath ?? undefined);
        if (moved) this.state.setFile(id, row.maildir, row.fileKey, moved.path, true);
      }
      if (a.protocol === 'imap') {
        const f = this.state.getFolder(a.name, row.folder);
        this.state.enqueue({ account: a.name, kind: 'flags', folder: row.folder, uid: row.uid as number, uidValidity: f?.uidValidity ?? '', add: add ? [flag] : [], remove: add ? [] : [flag] });
      }
    });
    return this.message(id);
  }

  /** Deletes locally; IMAP: queued for the server; POP3: remembered for the until-deleted-locally policy. */
  delete(id: number): void {
    const row = this.message(id);
    const a = this.account(row.account);
    if (a.protocol === 'imap' && row.uid === null) throw new ClientError('CONFIG', `message ${id} is waiting to be moved on the server: run sync first`);
    this.state.tx(() => {
      if (row.fileKey) new Maildir(row.maildir).remove(row.fileKey, row.filePath ?? undefined);
      this.state.deleteMessage(id);
      if (a.protocol === 'imap') {
        const f = this.state.getFolder(a.name, row.folder);
        this.state.enqueue({ account: a.name, kind: 'delete', folder: row.folder, uid: row.uid as number, uidValidity: f?.uidValidity ?? '' });
      } else if (row.uidl) {
        this.state.markUidlLocallyDeleted(a.name, row.uidl);
      }
    });
  }

  /** Moves a message to another folder (IMAP: an existing server folder, queued; POP3: a local folder). */
  move(id: number, folderArg: string): MessageRow {
    const row = this.message(id);
    const a = this.account(row.account);
    if (!folderArg) throw new ClientError('CONFIG', 'folder name is empty');
    let folder = folderArg;
    if (a.protocol === 'imap') {
      if (row.uid === null) throw new ClientError('CONFIG', `message ${id} is waiting to be moved on the server: run sync first`);
      const resolved = this.resolveFolder(a.name, folderArg);
      if (!resolved) {
        throw new ClientError('NOT_FOUND', `account ${a.name} has no folder "${folderArg}" (known: ${this.state.listFolders(a.name).map((f) => f.path).join(', ')})`);
      }
      folder = resolved;
    }
    if (folder === row.folder) return row;
    const dest = a.protocol === 'imap' ? this.imapFolder(a.name, folder) : this.localFolder(folder);
    this.state.tx(() => {
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
      this.state.setFile(id, dest.root, key, path, key !== null);
      if (a.protocol === 'imap') {
        const f = this.state.getFolder(a.name, row.folder);
        this.state.enqueue({ account: a.name, kind: 'move', folder: row.folder, uid: row.uid as number, uidValidity: f?.uidValidity ?? '', to: folder, messageRow: id });
        this.state.moveRow(id, folder, null);
      } else {
        this.state.moveRow(id, folder, null);
      }
    });
    return this.message(id);
  }

  /**
   * A server folder by exact path, else by case-insensitive path, else by special use ("Trash" or "\\Trash"
   * finds the \\Trash folder whatever the server calls it, e.g. "[Gmail]/Bin").
   */
  resolveFolder(account: string, name: string): string | null {
    const folders = this.state.listFolders(account);
    const exact = folders.find((f) => f.path === name);
    if (exact) return exact.path;
    const ci = folders.filter((f) => f.path.toLowerCase() === name.toLowerCase());
    if (ci.length === 1 && ci[0]) return ci[0].path;
    const use = '\\' + name.replace(/^\\/, '').toLowerCase();
    const special = folders.find((f) => f.specialUse?.toLowerCase() === use);
    return special?.path ?? null;
  }

  /** Evicts cached IMAP bodies older than `days` (accounts with --cache all keep theirs: permanent copy). */
  prune(days: number): { evicted: number; bytes: number } {
    if (!Number.isFinite(days) || days < 0) throw new ClientError('CONFIG', '--older-than must be a number of days');
    const before = this.now() - days * 24 * 60 * 60 * 1000;
    let evicted = 0;
    let bytes = 0;
    for (const r of this.state.evictable(before)) {
      const a = this.state.getAccount(r.account);
      if (!a || a.cache?.kind === 'all') continue;
      if (r.fileKey) new Maildir(r.maildir).remove(r.fileKey, r.filePath ?? undefined);
      this.state.setFile(r.id, r.maildir, null, null, false);
      evicted++;
      bytes += r.size;
    }
    return { evicted, bytes };
  }

  // ------------------------------------------------------------ send

  /**
   * Sends an RFC 5322 message through the account's SMTP submission server (envelope from From/To/Cc/Bcc;
   * Bcc is removed from the transmitted header) and saves a copy to Sent (the server's \Sent folder for IMAP,
   * the local Sent folder for POP3).
   */
  async send(accountName: string, message: Buffer): Promise<{ accepted: string[]; rejected: string[]; savedTo: string; messageId: string | null }> {
    const a = this.account(accountName);
    if (!a.smtp) throw new ClientError('CONFIG', `account ${a.name} has no SMTP settings: add it with --smtp-host H [--smtp-port N] [--smtp-tls|--smtp-starttls]`);
    const { header, body } = splitHeader(message);
    const fields = headerFields(header);
    const addrs = (name: string): string[] =>
      fields
        .filter((f) => f.name === name)
        .flatMap((f) => parseAddressList(f.value) ?? [])
        .filter((x) => x.mailbox && x.host)
        .map((x) => `${x.mailbox}@${x.host}`);
    const from = addrs('from')[0];
    const rcpts = [...new Set([...addrs('to'), ...addrs('cc'), ...addrs('bcc')])];
    if (!from) throw new ClientError('CONFIG', 'the message has no From: address');
    if (!rcpts.length) throw new ClientError('CONFIG', 'the message has no To:, Cc: or Bcc: recipients');
    const transmitted = Buffer.concat([stripHeader(header, 'bcc'), body]);
    const password = await this.password(a);
    const ca = this.ca(a);
    const transport = nodemailer.createTransport({
      host: a.smtp.host,
      port: a.smtp.port,
      secure: a.smtp.security === 'tls',
      requireTLS: a.smtp.security === 'starttls',
      ignoreTLS: a.smtp.security === 'plain',
      auth: { user: a.user, pass: password },
      tls: { ...(ca ? { ca: [ca] } : {}) },
      connectionTimeout: 30_000,
    });
    let info: { accepted: Array<string | { address: string }>; rejected: Array<string | { address: string }> };
    try {
      info = (await transport.sendMail({ envelope: { from, to: rcpts }, raw: transmitted })) as typeof info;
    } catch (e) {
      throw classifyError(e, `${a.smtp.host}:${a.smtp.port}`);
    } finally {
      transport.close();
    }
    const norm = (l: Array<string | { address: string }>): string[] => l.map((x) => (typeof x === 'string' ? x : x.address));
    const savedTo = await this.saveSent(a, password, transmitted);
    const { summary } = summaryFromRaw(transmitted);
    return { accepted: norm(info.accepted), rejected: norm(info.rejected), savedTo, messageId: summary.messageId };
  }

  private async saveSent(a: AccountConfig, password: string, raw: Buffer): Promise<string> {
    if (a.protocol === 'pop3') {
      const dir = this.localFolder('Sent');
      const file = dir.deliver(raw, { flags: ['\\Seen'] });
      const { summary } = summaryFromRaw(raw);
      this.state.insertMessage({
        account: a.name,
        folder: 'Sent',
        uid: null,
        uidl: null,
        messageId: summary.messageId,
        flags: ['\\Seen'],
        summary,
        internalDate: parseDate(summary.date, this.now()),
        size: raw.length,
        maildir: dir.root,
        fileKey: file.key,
        filePath: file.path,
        bodyCached: true,
        cachedAt: this.now(),
      });
      return 'Sent (local)';
    }
    const ca = this.ca(a);
    const client: ImapFlow = await openImap({ account: a, password, ...(ca ? { ca } : {}) });
    try {
      const listed = await client.list();
      const sent = listed.find((l) => l.specialUse === '\\Sent')?.path ?? 'Sent';
      if (!listed.some((l) => l.path === sent)) await client.mailboxCreate(sent);
      await client.append(sent, raw, ['\\Seen']);
      await client.logout().catch(() => undefined);
      return sent;
    } catch (e) {
      client.close();
      throw classifyError(e, `${a.host}:${a.port}`);
    }
  }

  // ------------------------------------------------------------ watch

  /**
   * Keeps IDLE on every IMAP account's INBOX and syncs the account when the server reports a change;
   * every `pollSeconds` all accounts (POP3 too, and the other IMAP folders) are synchronised.
   * Runs until `signal` aborts.
   */
  async watch(opts: { signal: AbortSignal; pollSeconds?: number; onSync?: (r: SyncResult[]) => void }): Promise<void> {
    const pollMs = (opts.pollSeconds ?? 300) * 1000;
    let running: Promise<void> = Promise.resolve();
    const queueSync = (names: string[]): Promise<void> => {
      running = running.then(async () => {
        if (opts.signal.aborted) return;
        const r = await this.sync(names);
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
          const ca = this.ca(a);
          client = await openImap({ account: a, password: await this.password(a), ...(ca ? { ca } : {}) }, { autoIdle: false });
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
          this.logger.warn({ account: a.name, err: e instanceof Error ? e.message : String(e) }, 'IDLE connection failed; reconnecting');
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
    const loops = this.listAccounts()
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
}

function splitHeader(raw: Buffer): { header: Buffer; body: Buffer } {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { header: raw.subarray(0, crlf + 2), body: raw.subarray(crlf + 2) };
  if (lf >= 0) return { header: raw.subarray(0, lf + 1), body: raw.subarray(lf + 1) };
  return { header: raw, body: Buffer.alloc(0) };
}

function headerFields(header: Buffer): Array<{ name: string; value: string }> {
  const out: Array<{ name: string; value: string }> = [];
  for (const line of header.toString('utf8').split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && out.length) (out[out.length - 1] as { value: string }).value += ' ' + line.trim();
    else {
      const i = line.indexOf(':');
      if (i > 0) out.push({ name: line.slice(0, i).trim().toLowerCase(), value: line.slice(i + 1).trim() });
    }
  }
  return out;
}

/** Removes every occurrence of one header field (with its continuation lines). */
function stripHeader(header: Buffer, name: string): Buffer {
  const lines = header.toString('latin1').split(/(?<=\n)/);
  const out: string[] = [];
  let skipping = false;
  for (const l of lines) {
    if (/^[ \t]/.test(l)) {
      if (!skipping) out.push(l);
      continue;
    }
    skipping = l.toLowerCase().startsWith(name + ':');
    if (!skipping) out.push(l);
  }
  return Buffer.from(out.join(''), 'latin1');
}

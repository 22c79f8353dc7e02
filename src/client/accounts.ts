/**
 * Account settings of a client profile: validation of what `account add` was given, and removal.
 *
 * Contract: `addAccount` stores a complete AccountConfig (port, security, POP3 retention policy or IMAP
 * cache policy, optional SMTP submission) or throws ClientError CONFIG naming the offending option and
 * stores nothing. Plain text is chosen only when asked for, or by default on a loopback host; otherwise
 * implicit TLS (RFC 8314 section 3) for POP3/IMAP and STARTTLS on 587 (RFC 6409) for submission.
 */
import { existsSync } from 'node:fs';
import { isLoopback } from '../lib/service.js';
import { ClientError } from './errors.js';
import { Maildir } from './store/maildir.js';
import type { StateDb, AccountConfig, PasswordSource } from './store/state.js';
import type { Security } from './pop3/client.js';
import { parseCachePolicy, type Pop3Policy } from './sync/plan.js';
import { DEFAULT_STALL, type StallRule } from './stall.js';

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
  /** The progress rule (stall.ts): bytes the server must send ... */
  progressBytes?: number;
  /** ... within every this many seconds while a command is outstanding. Either alone keeps the other's default. */
  progressWindow?: number;
}

const DEFAULT_PORTS = { pop3: { tls: 995, starttls: 110, plain: 110 }, imap: { tls: 993, starttls: 143, plain: 143 } } as const;

/** Validates `input` and stores the account; throws ClientError CONFIG (nothing stored) on bad settings. */
export function addAccount(state: StateDb, input: AccountInput): AccountConfig {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$/.test(input.name)) {
    throw new ClientError('CONFIG', `account name "${input.name}" must be 1-64 letters, digits, "_", ".", "@" or "-"`);
  }
  if (state.getAccount(input.name)) throw new ClientError('CONFIG', `account ${input.name} already exists`);
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
  const progress = progressRule(input);
  if (progress) cfg.progress = progress;
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
  state.addAccount(cfg);
  return cfg;
}

/** Removes an account, its index and its IMAP cache. POP3 mail already downloaded stays in the Maildir. */
export function removeAccount(state: StateDb, a: AccountConfig): void {
  if (a.protocol === 'imap') {
    for (const r of state.query({ accounts: [a.name] })) if (r.fileKey) new Maildir(r.maildir).remove(r.fileKey, r.filePath ?? undefined);
  }
  state.removeAccount(a.name);
}

/**
 * Sets (a path) or clears (null) the PEM file of extra CA certificates an account trusts, keeping everything
 * else: its index, cached bodies, POP3 UIDLs and queued changes (removing and re-adding the account would
 * lose them, and a leave-on-server POP3 account would download everything again). Throws ClientError CONFIG
 * when the file does not exist.
 */
export function setAccountCaFile(state: StateDb, a: AccountConfig, caFile: string | null): AccountConfig {
  const next: AccountConfig = { ...a };
  if (caFile === null) delete next.caFile;
  else {
    if (!existsSync(caFile)) throw new ClientError('CONFIG', `CA file ${caFile} does not exist`);
    next.caFile = caFile;
  }
  state.updateAccount(next);
  return next;
}

/** Longest progress window: a day (a longer one is no guard at all). */
const MAX_PROGRESS_WINDOW_S = 24 * 3600;

/**
 * The progress rule `--progress-bytes N` / `--progress-window SECONDS` ask for (either alone takes the other
 * from DEFAULT_STALL), or undefined when neither is given. Throws ClientError CONFIG for a value that is not
 * a positive whole number, or a window over a day.
 */
export function progressRule(input: { progressBytes?: number | undefined; progressWindow?: number | undefined }): StallRule | undefined {
  const { progressBytes: bytes, progressWindow: window } = input;
  if (bytes === undefined && window === undefined) return undefined;
  if (bytes !== undefined && (!Number.isSafeInteger(bytes) || bytes < 1)) throw new ClientError('CONFIG', '--progress-bytes must be a positive whole number of bytes');
  if (window !== undefined && (!Number.isInteger(window) || window < 1 || window > MAX_PROGRESS_WINDOW_S)) {
    throw new ClientError('CONFIG', `--progress-window must be a whole number of seconds from 1 to ${MAX_PROGRESS_WINDOW_S}`);
  }
  return { minBytes: bytes ?? DEFAULT_STALL.minBytes, windowMs: window !== undefined ? window * 1000 : DEFAULT_STALL.windowMs };
}

/**
 * Sets (a rule) or clears (null: back to DEFAULT_STALL) the progress rule of an account, keeping everything
 * else, as setAccountCaFile does.
 */
export function setAccountProgress(state: StateDb, a: AccountConfig, rule: StallRule | null): AccountConfig {
  const next: AccountConfig = { ...a };
  if (rule === null) delete next.progress;
  else next.progress = rule;
  state.updateAccount(next);
  return next;
}

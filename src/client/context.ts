/**
 * What the client engine's parts share: the profile's state index and Maildir layout, the clock, the
 * logger, and per-account connection settings (CA bundle, password, IMAP syncer).
 *
 * Contract: every function here reads the account's settings as stored; `accountCa` throws
 * ClientError CONFIG when the configured CA file cannot be read, `accountPassword` throws ClientError
 * CREDENTIALS (see credentials.ts) when the password source fails. Nothing here opens a connection.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from '../lib/logger.js';
import { ClientError } from './errors.js';
import { resolvePassword, type PasswordOptions } from './credentials.js';
import type { Maildir } from './store/maildir.js';
import type { StateDb, AccountConfig, MessageRow } from './store/state.js';
import { ImapSyncer, type ImapContext } from './imap/syncer.js';
import { ImapReader } from './imap/reader.js';
import type { ProgressFn } from './progress.js';
import type { StallRule } from './stall.js';

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
  /** The progress rule for servers slow to answer (stall.ts): short in tests; its default when absent. */
  stall?: StallRule;
}

/** The engine as its parts see it; `account` and `message` throw ClientError NOT_FOUND for unknown names/ids. */
export interface EngineContext {
  readonly state: StateDb;
  readonly logger: Logger;
  readonly now: () => number;
  readonly opts: EngineOptions;
  account(name: string): AccountConfig;
  listAccounts(): AccountConfig[];
  message(id: number): MessageRow;
  /** A local folder's Maildir (created if missing); INBOX is the unified inbox POP3 accounts deliver into. */
  localFolder(folder: string): Maildir;
  /** The Maildir caching one IMAP account folder's bodies (created if missing). */
  imapFolder(account: string, folder: string): Maildir;
}

/** The account's extra CA certificates, or undefined when it trusts the system store only. */
export function accountCa(a: AccountConfig): Buffer | undefined {
  if (!a.caFile) return undefined;
  try {
    return readFileSync(a.caFile);
  } catch (e) {
    throw new ClientError('CONFIG', `cannot read CA file ${a.caFile}: ${(e as Error).message}`);
  }
}

export async function accountPassword(ctx: EngineContext, a: AccountConfig): Promise<string> {
  return resolvePassword(a, ctx.opts.passwords ?? {});
}

function imapContext(ctx: EngineContext, a: AccountConfig, password: string): ImapContext {
  const ca = accountCa(a);
  return {
    state: ctx.state,
    account: a,
    password,
    ...(ca ? { ca } : {}),
    logger: ctx.logger,
    now: ctx.now,
    folderDir: (f) => ctx.imapFolder(a.name, f),
    ...(ctx.opts.onProgress ? { onProgress: ctx.opts.onProgress } : {}),
    ...(ctx.opts.imapDisable ? { disable: ctx.opts.imapDisable } : {}),
    ...(ctx.opts.stall ? { stall: ctx.opts.stall } : {}),
  };
}

/** An IMAP syncer for one account, caching bodies in the profile's IMAP Maildirs. */
export function imapSyncer(ctx: EngineContext, a: AccountConfig, password: string): ImapSyncer {
  return new ImapSyncer(imapContext(ctx, a, password));
}

/** On-demand reads of one account's messages (whole bodies into the cache, or a big message's text part). */
export function imapReader(ctx: EngineContext, a: AccountConfig, password: string): ImapReader {
  return new ImapReader(imapContext(ctx, a, password));
}

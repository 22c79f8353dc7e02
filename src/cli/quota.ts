/**
 * Quotas on the command line: sizes with K/M/G/T suffixes (powers of 1024, as Dovecot reads them), the
 * `mailroom user quota ADDRESS [--storage SIZE] [--messages N]` command, and the usage/limit text that
 * `user quota` and `user list` print. A per-user value "none" clears the user's own limit (the server's
 * quota-storage / quota-messages apply again), "unlimited" exempts the user from any limit.
 */
import type { Command } from 'commander';
import { CliError, withStore, type StoreFlags } from './common.js';
import type { Store } from '../store/handle.js';
import type { QuotaSetting } from '../store/quota.js';
import { isStoreError } from '../store/types.js';
import type { MailroomQuota } from '../server/mailroom.js';

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** "512", "100K", "2G", "1.5G" (octets, suffixes in powers of 1024; "KB"/"KiB" too). Throws CliError naming `what`. */
export function parseSize(value: unknown, what: string): number {
  const m = /^(\d{1,15}(?:\.\d{1,6})?)\s*([KMGT]?)(?:I?B)?$/i.exec(String(value).trim());
  const n = m ? Math.floor(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!) : Number.NaN;
  if (!m || !Number.isSafeInteger(n)) throw new CliError(`invalid ${what}: ${String(value)} (expected a size like 500M or 2G)`);
  return n;
}

/** A whole number of messages. */
export function parseCount(value: unknown, what: string): number {
  const s = String(value).trim();
  if (!/^\d{1,15}$/.test(s)) throw new CliError(`invalid ${what}: ${String(value)} (expected a whole number)`);
  return Number(s);
}

/** A server default (config key or serve flag): a size/count, or "none" (no limit, also for an empty value). */
export function parseDefault(value: unknown, what: string, parse: (v: unknown, w: string) => number): number | null {
  const s = String(value).trim().toLowerCase();
  return s === 'none' || s === '' ? null : parse(value, what);
}

/** A user's own setting: a size/count, "none" (null: the default applies) or "unlimited" (Infinity). */
export function parseSetting(value: unknown, what: string, parse: (v: unknown, w: string) => number): QuotaSetting {
  const s = String(value).trim().toLowerCase();
  if (s === 'none') return null;
  if (s === 'unlimited') return Number.POSITIVE_INFINITY;
  return parse(value, what);
}

/** 1536 -> "1.5K", 2147483648 -> "2G". */
export function formatSize(n: number): string {
  for (const u of ['T', 'G', 'M', 'K'] as const) {
    const f = UNITS[u]!;
    if (n >= f) return `${Number((n / f).toFixed(1))}${u}`;
  }
  return String(n);
}

/** One user's usage against the effective limits, with where each limit comes from. */
export async function quotaReport(store: Store, userId: number): Promise<{
  storage: { used: number; limit: number | null; source: 'user' | 'default' };
  messages: { used: number; limit: number | null; source: 'user' | 'default' };
}> {
  const [usage, limits, settings] = await Promise.all([store.quota.usage(userId), store.quota.limits(userId), store.quota.settings(userId)]);
  return {
    storage: { used: usage.storage, limit: limits.storage, source: settings.storage === null ? 'default' : 'user' },
    messages: { used: usage.messages, limit: limits.messages, source: settings.messages === null ? 'default' : 'user' },
  };
}

/** "12.3K/2G 5/100000 messages" for `user list` ("-" where no limit applies in this process). */
export function quotaLine(r: Awaited<ReturnType<typeof quotaReport>>): string {
  const s = `${formatSize(r.storage.used)}/${r.storage.limit === null ? '-' : formatSize(r.storage.limit)}`;
  return `${s} ${r.messages.used}/${r.messages.limit === null ? '-' : r.messages.limit} messages`;
}

/**
 * The limits named by `--quota-storage` / `--quota-messages` of `user add` (prefix "quota-") or `--storage` /
 * `--messages` of `user quota` (prefix ""), checked before anything is written; null when none is given.
 */
export function quotaFlags(storage: unknown, messages: unknown, prefix: string): { storage?: QuotaSetting; messages?: QuotaSetting } | null {
  const limits: { storage?: QuotaSetting; messages?: QuotaSetting } = {};
  if (storage !== undefined) limits.storage = parseSetting(storage, `--${prefix}storage`, parseSize);
  if (messages !== undefined) limits.messages = parseSetting(messages, `--${prefix}messages`, parseCount);
  return limits.storage === undefined && limits.messages === undefined ? null : limits;
}

/** Registers `user quota ADDRESS [--storage SIZE|none|unlimited] [--messages N|none|unlimited] [--json]`. */
export function registerUserQuota(user: Command): void {
  user
    .command('quota <address>')
    .description("show a user's storage and message usage and limits; --storage/--messages set them (none: the server default, unlimited: no limit)")
    .option('--storage <size>', 'storage limit, e.g. 500M or 2G (K/M/G/T are powers of 1024), none or unlimited')
    .option('--messages <n>', 'message count limit, none or unlimited')
    .option('--json', 'JSON output')
    .action(async (address: string, _o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<StoreFlags & { storage?: string; messages?: string; json?: boolean }>();
      const a = address.trim().toLowerCase();
      const limits = quotaFlags(flags.storage, flags.messages, '');
      await withStore(flags, async (store) => {
        const u = await store.directory.getUser(a);
        if (!u) throw new CliError(`no such user: ${a}`);
        if (limits) {
          try {
            await store.quota.setLimits(u.id, limits);
          } catch (e) {
            if (isStoreError(e, 'NOT_FOUND')) throw new CliError(`no such user: ${a}`);
            throw e;
          }
        }
        const r = await quotaReport(store, u.id);
        if (flags.json) {
          process.stdout.write(JSON.stringify({ address: a, ...r }) + '\n');
          return;
        }
        // This command does not read the server's config: without an own setting it names the default.
        const limit = (x: { limit: number | null; source: string }, fmt: (n: number) => string, key: string): string =>
          x.source === 'default' ? `the server default (${key})` : x.limit === null ? 'no limit (unlimited)' : fmt(x.limit);
        process.stdout.write(
          `${a}\n  storage   ${formatSize(r.storage.used)} (${r.storage.used} octets) of ${limit(r.storage, formatSize, 'quota-storage')}\n` +
            `  messages  ${r.messages.used} of ${limit(r.messages, String, 'quota-messages')}\n`,
        );
      });
    });
}

/**
 * The serve config's quota keys: quota-storage (a size, default none), quota-messages (a count, default
 * none) and quota-full-temporary (on: over quota is 452 4.2.2 instead of 552 5.2.2; default off).
 */
export function quotaConfig(get: (name: string) => unknown, onOff: (v: unknown, what: string) => boolean): MailroomQuota {
  const storage = get('quotaStorage');
  const messages = get('quotaMessages');
  const temporary = get('quotaFullTemporary');
  return {
    storage: storage === undefined || storage === null ? null : parseDefault(storage, '--quota-storage', parseSize),
    messages: messages === undefined || messages === null ? null : parseDefault(messages, '--quota-messages', parseCount),
    fullTemporary: temporary === undefined || temporary === null ? false : onOff(temporary, '--quota-full-temporary'),
  };
}

/**
 * serve's flags (and config keys) of Sieve and of the spam filter. Apart from the `mailroom sieve` and
 * `mailroom spam` commands (cli/sieve.ts, cli/spam.ts) so that `serve` does not load the Sieve compiler,
 * the spam filter and the MIME parser only to declare its options: the primary of `serve --workers N`
 * would keep them in memory for nothing.
 */
import { Option, type Command } from 'commander';
import { CliError } from './common.js';
import { DEFAULT_SIEVE_QUOTA, type SieveQuota } from '../store/sieve.js';
import type { SieveSettings } from '../sieve/stage.js';
import type { SpamSettings } from '../spam/index.js';

/**
 * The spam filter's defaults shown in the help (DEFAULT_SPAM_SETTINGS of spam/filter.ts, which loads the
 * whole filter; serve-options.test.ts checks that they agree).
 */
export const SPAM_DEFAULTS: Pick<SpamSettings, 'threshold' | 'minTrained' | 'junkMailbox'> = { threshold: 0.9, minTrained: 5, junkMailbox: 'Junk' };

/**
 * The serve flags and config keys of Sieve: sieve-before, sieve-after (repeatable; a file or a directory of
 * *.sieve files), sieve-global (directory for include :global), sieve-max-scripts, sieve-max-script-size,
 * sieve-quota (per-user octets).
 */
export function addSieveServeOptions(cmd: Command): void {
  const list = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];
  cmd.addOption(new Option('--sieve-before <path>', 'Sieve script (or directory of *.sieve) run before each user\'s script (repeatable)').argParser(list));
  cmd.addOption(new Option('--sieve-after <path>', 'Sieve script (or directory of *.sieve) run after each user\'s script (repeatable)').argParser(list));
  cmd.addOption(new Option('--sieve-global <dir>', 'directory of scripts for include :global'));
  cmd.addOption(new Option('--sieve-max-scripts <n>', `Sieve scripts per user (default ${DEFAULT_SIEVE_QUOTA.maxScripts})`));
  cmd.addOption(new Option('--sieve-max-script-size <n>', `octets per Sieve script (default ${DEFAULT_SIEVE_QUOTA.maxScriptSize})`));
  cmd.addOption(new Option('--sieve-quota <n>', `octets of all of a user's Sieve scripts (default ${DEFAULT_SIEVE_QUOTA.maxStorage})`));
}

/** Sieve settings from flags and config keys (`get` looks a camel-cased key up in both, flags first). */
export function sieveServeSettings(get: (name: string) => unknown): SieveSettings | undefined {
  const paths = (name: string): string[] | undefined => {
    const v = get(name);
    if (v === undefined || v === null || v === '') return undefined;
    return (Array.isArray(v) ? v : [v]).map(String);
  };
  const out: SieveSettings = {};
  const before = paths('sieveBefore');
  const after = paths('sieveAfter');
  const global = get('sieveGlobal');
  if (before) out.before = before;
  if (after) out.after = after;
  if (global !== undefined && global !== null) out.globalDir = String(global);
  const quota: Partial<SieveQuota> = {};
  const num = (key: string, field: keyof SieveQuota, flag: string): void => {
    const v = get(key);
    if (v === undefined || v === null) return;
    const s = String(v);
    if (!/^\d{1,12}$/.test(s) || Number(s) < 1) throw new CliError(`invalid ${flag}: ${s} (expected a positive number)`);
    quota[field] = Number(s);
  };
  num('sieveMaxScripts', 'maxScripts', '--sieve-max-scripts');
  num('sieveMaxScriptSize', 'maxScriptSize', '--sieve-max-script-size');
  num('sieveQuota', 'maxStorage', '--sieve-quota');
  if (Object.keys(quota).length) out.quota = quota;
  return Object.keys(out).length ? out : undefined;
}

/** serve's spam flags (config keys: the same names). */
export function addSpamServeOptions(cmd: Command): void {
  cmd.addOption(new Option('--spam <on|off>', 'the spam filter: score every delivery, file spam into Junk, learn from moves (default on)'));
  cmd.addOption(new Option('--spam-threshold <p>', `spam probability (0..1) from which a message goes to Junk (default ${SPAM_DEFAULTS.threshold})`));
  cmd.addOption(new Option('--spam-min-trained <n>', `spam and ham messages each a user must have trained before the filter files anything (default ${SPAM_DEFAULTS.minTrained})`));
  cmd.addOption(new Option('--spam-junk-mailbox <name>', `mailbox created (marked \\Junk) for spam when a user has none (default ${SPAM_DEFAULTS.junkMailbox})`));
  cmd.addOption(new Option('--rspamd <url>', "ask rspamd's controller (e.g. http://127.0.0.1:11334) instead of the built-in filter; training is forwarded to it"));
  cmd.addOption(new Option('--rspamd-password <pw>', "rspamd controller password (for learning)"));
}

/** Spam settings from flags and config keys (`get` looks a camel-cased key up in both, flags first). */
export function spamServeSettings(get: (name: string) => unknown): Partial<SpamSettings> | undefined {
  const out: Partial<SpamSettings> = {};
  const on = get('spam');
  if (on !== undefined && on !== null) {
    const v = String(on).toLowerCase();
    if (!['on', 'off', 'true', 'false', 'yes', 'no'].includes(v)) throw new CliError(`invalid --spam: ${String(on)} (expected on or off)`);
    out.enabled = ['on', 'true', 'yes'].includes(v);
  }
  const t = get('spamThreshold');
  if (t !== undefined && t !== null) {
    const n = Number(t);
    if (!Number.isFinite(n) || n <= 0 || n > 1) throw new CliError(`invalid --spam-threshold: ${String(t)} (expected a probability above 0, at most 1)`);
    out.threshold = n;
  }
  const m = get('spamMinTrained');
  if (m !== undefined && m !== null) {
    const n = Number(m);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`invalid --spam-min-trained: ${String(m)} (expected a whole number of at least 1)`);
    out.minTrained = n;
  }
  const j = get('spamJunkMailbox');
  if (j !== undefined && j !== null) {
    if (String(j).trim() === '' || String(j).toUpperCase() === 'INBOX') throw new CliError(`invalid --spam-junk-mailbox: ${String(j)}`);
    out.junkMailbox = String(j);
  }
  const r = get('rspamd');
  if (r !== undefined && r !== null && r !== '') {
    if (!/^https?:\/\/[^/]+/i.test(String(r))) throw new CliError(`invalid --rspamd: ${String(r)} (expected http://HOST:PORT)`);
    out.rspamdUrl = String(r);
  }
  const pw = get('rspamdPassword');
  if (pw !== undefined && pw !== null) out.rspamdPassword = String(pw);
  return Object.keys(out).length ? out : undefined;
}

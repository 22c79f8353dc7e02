/**
 * `mailroom client ...`: the POP3/IMAP client (sync engine) commands. Every command takes --json for
 * scripts; human output is a table. Errors are ClientErrors: one line, exit code 1.
 */
import { Command, Option } from 'commander';
import { createInterface } from 'node:readline/promises';
import cliProgress from 'cli-progress';
import { ClientEngine, defaultProfileDir, type AccountInput, type FlagChange, type SyncResult } from '../client/engine.js';
import { ClientError } from '../client/errors.js';
import { describeSource } from '../client/credentials.js';
import { advise, type AdviceAnswers } from '../client/advise.js';
import { formatCachePolicy } from '../client/sync/plan.js';
import type { AccountConfig, MessageRow, PasswordSource } from '../client/store/state.js';
import type { ProgressEvent } from '../client/progress.js';
import { progressRule } from '../client/accounts.js';
import { DEFAULT_STALL } from '../client/stall.js';

interface Globals {
  profile?: string;
  json?: boolean;
  passwordStdin?: boolean;
}

let stdinCache: Promise<string> | null = null;
function readStdinOnce(): Promise<string> {
  stdinCache ??= (async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '').trim();
  })();
  return stdinCache;
}

async function readStdinBytes(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A reader that stops early (`mailroom client read 42 | head`) closes the pipe: the rest of the output is
 * dropped quietly, as Unix tools do, instead of an unhandled EPIPE crashing the command.
 */
function ignoreClosedStdout(e: NodeJS.ErrnoException): void {
  if (e.code !== 'EPIPE') throw e;
}

function isEpipe(e: unknown): boolean {
  return !!e && typeof e === 'object' && (e as { code?: unknown }).code === 'EPIPE';
}

function out(s: string): void {
  process.stdout.write(s.endsWith('\n') ? s : s + '\n');
}

function json(v: unknown): void {
  out(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? String(x) : x), 2));
}

function table(rows: string[][]): string {
  if (!rows.length) return '';
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

function progressReporter(): { onProgress?: (e: ProgressEvent) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: '{label} [{bar}] {value}/{total}', hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let key = '';
  let active = false;
  return {
    onProgress(e: ProgressEvent) {
      const k = `${e.account}/${e.folder ?? ''}/${e.phase}`;
      if (k !== key) {
        if (active) bar.stop();
        bar.start(e.total, e.done, { label: `${e.account}${e.folder ? ' ' + e.folder : ''} ${e.phase}` });
        key = k;
        active = true;
      } else bar.update(e.done);
    },
    stop() {
      if (active) bar.stop();
      active = false;
    },
  };
}

const PROGRESS_BYTES_HELP = 'while a command is outstanding the server must send this many bytes (default 65536) ...';
const PROGRESS_WINDOW_HELP = '... or finish it within every this many seconds (default 300), else the sync gives it up';

function intArg(name: string) {
  return (v: string): number => {
    if (!/^\d+$/.test(v)) throw new ClientError('CONFIG', `${name} must be a whole number, got "${v}"`);
    return Number(v);
  };
}

function flagsLabel(r: MessageRow): string {
  return (r.flags.includes('\\Seen') ? ' ' : 'N') + (r.flags.includes('\\Flagged') ? '!' : ' ') + (r.bodyCached ? ' ' : '~');
}

function accountJson(a: AccountConfig): Record<string, unknown> {
  return { ...a, passwordSource: describeSource(a.password) };
}

function policyText(a: AccountConfig): string {
  if (a.protocol === 'imap') return `cache ${formatCachePolicy(a.cache ?? { kind: 'headers' })}`;
  const p = a.policy ?? { kind: 'delete' };
  return p.kind === 'delete' ? 'delete after download' : p.kind === 'keep' ? 'leave on server' : p.kind === 'keep-days' ? `leave ${p.days} days` : 'leave until deleted locally';
}

function printSync(results: SyncResult[], asJson: boolean): void {
  if (asJson) {
    json(results.map((r) => (r.ok ? r : { account: r.account, ok: false, error: { code: r.error.code, message: r.error.message } })));
    return;
  }
  for (const r of results) {
    if (!r.ok) {
      // A single failed account is reported once, by the caller's error line.
      if (results.length > 1) process.stderr.write(`${r.account}: ${r.error.message}\n`);
      continue;
    }
    const x = r.report;
    if (x.protocol === 'pop3') {
      out(`${x.account}: ${x.downloaded} downloaded, ${x.headersOnly} headers only, ${x.deletedOnServer} deleted on server`);
      for (const w of x.warnings) process.stderr.write(`warning: ${w}\n`);
    } else {
      out(
        `${x.account}: ${x.folders} folders, ${x.newHeaders} new, ${x.flagUpdates} flag changes, ${x.removed} removed, ${x.bodiesFetched} bodies cached, ${x.pushed} local changes pushed` +
          (x.resets.length ? `; UIDVALIDITY changed, refetched: ${x.resets.join(', ')}` : ''),
      );
      for (const c of x.conflicts) process.stderr.write(`conflict: ${c}\n`);
      for (const d of x.deferred) process.stderr.write(`deferred: ${d}\n`);
      for (const f of x.failed) process.stderr.write(`folder not synchronised: ${f.folder}: ${f.error}\n`);
    }
  }
}

export function registerClientCommands(program: Command): void {
  if (!process.stdout.listeners('error').includes(ignoreClosedStdout)) process.stdout.on('error', ignoreClosedStdout);
  const client = program
    .command('client')
    .description('POP3/IMAP client: download or synchronise mail into a local profile (Maildir + state file)')
    .option('--profile <dir>', 'profile directory (default: $MAILROOM_PROFILE, else ~/.mailroom)')
    .option('--json', 'JSON output for scripts');

  const globals = (cmd: Command): Globals => cmd.optsWithGlobals<Globals>();
  const withEngine = async <T>(cmd: Command, fn: (e: ClientEngine, g: Globals, stopProgress: () => void) => Promise<T>, extra: { progress?: boolean } = {}): Promise<T> => {
    const g = globals(cmd);
    const progress = extra.progress && !g.json ? progressReporter() : { stop: () => undefined };
    const engine = new ClientEngine({
      profileDir: defaultProfileDir(g.profile),
      passwords: g.passwordStdin ? { stdin: readStdinOnce } : {},
      ...('onProgress' in progress && progress.onProgress ? { onProgress: progress.onProgress } : {}),
    });
    try {
      return await fn(engine, g, () => progress.stop());
    } finally {
      progress.stop();
      engine.close();
    }
  };

  // ---------------------------------------------------------------- account
  const account = client.command('account').description('manage accounts');
  account
    .command('add <name>')
    .description('add a POP3 or IMAP account')
    .addOption(new Option('--protocol <p>', 'pop3 (download) or imap (synchronise)').choices(['pop3', 'imap']).makeOptionMandatory())
    .requiredOption('--host <host>', 'server host name')
    .option('--port <n>', 'server port (default: 995/993 with --tls, 110/143 otherwise)', intArg('--port'))
    .option('--tls', 'implicit TLS (the default, except for loopback hosts)')
    .option('--starttls', 'plain connection upgraded with STLS/STARTTLS (required)')
    .option('--insecure-plain', 'no TLS at all: the password crosses the network in clear (default only on loopback)')
    .requiredOption('--user <user>', 'login name')
    .option('--password-stdin', 'the password is read from stdin at every sync (nothing is stored); use env/command for unattended syncs')
    .option('--password-command <cmd>', 'command printing the password, run at sync time (e.g. "pass show mail")')
    .option('--password-env <var>', 'environment variable holding the password at sync time')
    .option('--leave-on-server', 'POP3: keep a copy on the server (needs UIDL)')
    .option('--keep-days <n>', 'POP3 with --leave-on-server: delete from the server N days after download', intArg('--keep-days'))
    .option('--until-deleted-locally', 'POP3 with --leave-on-server: delete from the server once deleted locally')
    .option('--max-size <bytes>', 'POP3: do not download messages larger than this', intArg('--max-size'))
    .addOption(new Option('--oversize <what>', 'POP3: for messages over --max-size').choices(['skip', 'headers']).default('skip'))
    .option('--cache <policy>', 'IMAP: headers | recent:DAYS | all (bodies kept locally)')
    .option('--ca-file <file>', 'PEM file of a CA to trust for this server')
    .option('--smtp-host <host>', 'SMTP submission server for `client send`')
    .option('--smtp-port <n>', 'SMTP port (default 587, or 465 with --smtp-tls)', intArg('--smtp-port'))
    .option('--smtp-tls', 'SMTP with implicit TLS')
    .option('--smtp-starttls', 'SMTP with STARTTLS (the default for non-loopback hosts)')
    .option('--progress-bytes <n>', PROGRESS_BYTES_HELP, intArg('--progress-bytes'))
    .option('--progress-window <seconds>', PROGRESS_WINDOW_HELP, intArg('--progress-window'))
    .addHelpText(
      'after',
      '\nPasswords are never stored. With --password-stdin nothing is kept: run `client sync NAME --password-stdin` and\n' +
        'pipe the password each time. For unattended syncs (cron, `client watch`) use --password-env or --password-command.',
    )
    .action(async (name: string, o: Record<string, unknown>, cmd: Command) => {
      const sources = [o.passwordStdin, o.passwordCommand, o.passwordEnv].filter((x) => x !== undefined).length;
      if (sources !== 1) throw new ClientError('CONFIG', 'give exactly one of --password-stdin, --password-command CMD, --password-env VAR');
      const password: PasswordSource = o.passwordStdin
        ? { kind: 'stdin' }
        : o.passwordCommand
          ? { kind: 'command', command: String(o.passwordCommand) }
          : { kind: 'env', name: String(o.passwordEnv) };
      const input: AccountInput = {
        name,
        protocol: o.protocol as 'pop3' | 'imap',
        host: String(o.host),
        user: String(o.user),
        password,
        ...(o.port !== undefined ? { port: o.port as number } : {}),
        ...(o.tls ? { tls: true } : {}),
        ...(o.starttls ? { starttls: true } : {}),
        ...(o.insecurePlain ? { insecurePlain: true } : {}),
        ...(o.leaveOnServer ? { leaveOnServer: true } : {}),
        ...(o.keepDays !== undefined ? { keepDays: o.keepDays as number } : {}),
        ...(o.untilDeletedLocally ? { untilDeletedLocally: true } : {}),
        ...(o.maxSize !== undefined ? { maxSize: o.maxSize as number, oversize: o.oversize as 'skip' | 'headers' } : {}),
        ...(o.cache !== undefined ? { cache: String(o.cache) } : {}),
        ...(o.caFile !== undefined ? { caFile: String(o.caFile) } : {}),
        ...(o.smtpHost !== undefined ? { smtpHost: String(o.smtpHost) } : {}),
        ...(o.smtpPort !== undefined ? { smtpPort: o.smtpPort as number } : {}),
        ...(o.smtpTls ? { smtpTls: true } : {}),
        ...(o.smtpStarttls ? { smtpStarttls: true } : {}),
        ...(o.progressBytes !== undefined ? { progressBytes: o.progressBytes as number } : {}),
        ...(o.progressWindow !== undefined ? { progressWindow: o.progressWindow as number } : {}),
      };
      // --password-stdin here only records how the password comes; do not consume stdin.
      const g = { ...globals(cmd), passwordStdin: false };
      const engine = new ClientEngine({ profileDir: defaultProfileDir(g.profile) });
      try {
        const a = engine.addAccount(input);
        if (g.json) json(accountJson(a));
        else out(`added ${a.protocol} account ${a.name} (${a.user}@${a.host}:${a.port}, ${a.security}); password from ${describeSource(a.password)}`);
      } finally {
        engine.close();
      }
    });
  account
    .command('list')
    .description('list accounts')
    .option('--json', 'JSON output')
    .action(async (_o: unknown, cmd: Command) =>
      withEngine(cmd, async (e, g) => {
        const list = e.listAccounts();
        if (g.json) return json(list.map(accountJson));
        if (!list.length) return out('no accounts (add one with: mailroom client account add NAME ...)');
        out(table([['NAME', 'PROTO', 'SERVER', 'USER', 'SECURITY', 'POLICY', 'PASSWORD'], ...list.map((a) => [a.name, a.protocol, `${a.host}:${a.port}`, a.user, a.security, policyText(a), describeSource(a.password)])]));
      }),
    );
  account
    .command('set <name>')
    .description("change an account's trusted CA file or progress rule, keeping its local mail and sync state")
    .option('--ca-file <file>', 'PEM file of a CA (or the self-signed certificate) to trust for this server')
    .option('--no-ca-file', "trust only the system's CAs again")
    .option('--progress-bytes <n>', PROGRESS_BYTES_HELP, intArg('--progress-bytes'))
    .option('--progress-window <seconds>', PROGRESS_WINDOW_HELP, intArg('--progress-window'))
    .option('--default-progress', 'back to the default progress rule (64 KiB or a finished answer every 300 s)')
    .option('--json', 'JSON output')
    .action(async (name: string, o: { caFile?: string | false; progressBytes?: number; progressWindow?: number; defaultProgress?: boolean }, cmd: Command) =>
      withEngine(cmd, async (e, g) => {
        // One of the two alone keeps the account's other value.
        const cur = e.account(name).progress;
        const progress =
          o.progressBytes === undefined && o.progressWindow === undefined
            ? undefined
            : progressRule({ progressBytes: o.progressBytes ?? cur?.minBytes, progressWindow: o.progressWindow ?? (cur ? cur.windowMs / 1000 : undefined) });
        if (progress && o.defaultProgress) throw new ClientError('CONFIG', 'give --progress-bytes/--progress-window or --default-progress, not both');
        if (o.caFile === undefined && !progress && !o.defaultProgress) {
          throw new ClientError('CONFIG', 'nothing to change: give --ca-file FILE, --no-ca-file, --progress-bytes N, --progress-window SECONDS or --default-progress');
        }
        let a = e.account(name);
        const said: string[] = [];
        if (o.caFile !== undefined) {
          a = e.setCaFile(name, o.caFile === false ? null : o.caFile);
          said.push(a.caFile ? `now trusts the CA certificates in ${a.caFile}` : "now trusts the system's CAs only");
        }
        if (progress || o.defaultProgress) {
          a = e.setProgress(name, progress ?? null);
          const r = a.progress ?? DEFAULT_STALL;
          said.push(`now expects ${r.minBytes} bytes or a finished answer every ${r.windowMs / 1000} s from its server${a.progress ? '' : ' (the default)'}`);
        }
        if (g.json) json(accountJson(a));
        else out(`account ${a.name} ${said.join(', and ')}`);
      }),
    );
  account
    .command('remove <name>')
    .description('remove an account (its IMAP cache too; downloaded POP3 mail stays in the Maildir)')
    .option('--json', 'JSON output')
    .action(async (name: string, _o: unknown, cmd: Command) =>
      withEngine(cmd, async (e, g) => {
        e.removeAccount(name);
        if (g.json) json({ removed: name });
        else out(`removed account ${name}`);
      }),
    );

  // ---------------------------------------------------------------- sync
  client
    .command('sync [names...]')
    .description('POP3: download new mail; IMAP: two-way sync (all accounts when none named)')
    .option('--password-stdin', 'read the password of --password-stdin accounts from stdin')
    .option('--json', 'JSON output')
    .action(async (names: string[], _o: unknown, cmd: Command) =>
      withEngine(
        cmd,
        async (e, g, stopProgress) => {
          const results = await e.sync(names);
          stopProgress();
          printSync(results, g.json === true);
          // Per-account errors were printed above (or are in the JSON); the exit status says some failed.
          const failed = results.filter((r) => !r.ok);
          const only = results.length === 1 ? results[0] : undefined;
          if (only && !only.ok && !g.json) throw only.error;
          if (failed.length) throw new ClientError('NETWORK', `sync failed for ${failed.length} of ${results.length} accounts: ${failed.map((r) => r.account).join(', ')}`);
        },
        { progress: true },
      ),
    );

  // ---------------------------------------------------------------- list
  client
    .command('list')
    .description('list messages (default: the unified inbox of all accounts)')
    .option('--account <name>', 'only this account')
    .option('--folder <folder>', 'this folder instead of INBOX')
    .option('--unified', 'the INBOX of every account (the default)')
    .option('--unread', 'only unread messages')
    .option('--json', 'JSON output')
    .action(async (o: { account?: string; folder?: string; unified?: boolean; unread?: boolean }, cmd: Command) =>
      withEngine(cmd, async (e, g) => {
        const rows = e.list({ ...(o.account ? { account: o.account } : {}), ...(o.folder ? { folder: o.folder } : {}), ...(o.unified ? { unified: true } : {}), ...(o.unread ? { unread: true } : {}) });
        if (g.json) return json(rows);
        if (!rows.length) return out('no messages');
        out(
          table([
            ['ID', 'FLG', 'ACCOUNT', 'FOLDER', 'DATE', 'FROM', 'SUBJECT'],
            ...rows.map((r) => [String(r.id), flagsLabel(r), r.account, r.folder, new Date(r.internalDate).toISOString().slice(0, 16).replace('T', ' '), r.summary.from.slice(0, 30), r.summary.subject.slice(0, 60)]),
          ]),
        );
      }),
    );

  // ---------------------------------------------------------------- folders
  client
    .command('folders')
    .description('the folder tree mirrored from the server (IMAP; special-use folders marked) and local POP3 folders')
    .option('--account <name>', 'only this account')
    .option('--json', 'JSON output')
    .action(async (o: { account?: string }, cmd: Command) =>
      withEngine(cmd, async (e, g) => {
        const list = e.folders(o.account);
        if (g.json) return json(list);
        if (!list.length) return out('no folders (run: mailroom client sync)');
        out(
          table([
            ['ACCOUNT', 'FOLDER', 'USE', 'MESSAGES', 'UNREAD', 'CACHED', 'LAST SYNC'],
            ...list.map((f) => [f.account, f.path, f.specialUse ?? '', String(f.messages), String(f.unread), String(f.cached), f.lastSync ? new Date(f.lastSync).toISOString().slice(0, 19).replace('T', ' ') : '']),
          ]),
        );
      }),
    );

  // ---------------------------------------------------------------- read
  client
    .command('read <id>')
    .description('show a message (fetches and caches the body from an IMAP server when needed)')
    .option('--raw', 'print the raw RFC 5322 message')
    .option('--peek', 'do not mark the message as read')
    .option('--password-stdin', 'read the password from stdin if the body must be fetched')
    .option('--json', 'JSON output')
    .action(async (id: string, o: { raw?: boolean; peek?: boolean }, cmd: Command) =>
      withEngine(cmd, async (e, g) => {
        if (o.raw) {
          await e.readTo(intArg('ID')(id), process.stdout, { peek: o.peek === true }).catch((err: unknown) => {
            if (!isEpipe(err)) throw err;
          });
          return;
        }
        const r = await e.view(intArg('ID')(id), { peek: o.peek === true });
        if (g.json) json({ ...r.row, fetched: r.fetched, text: r.text });
        else out(r.text);
      }),
    );

  // ---------------------------------------------------------------- flag / delete / move
  client
    .command('flag <id>')
    .description('change a flag (works offline; IMAP changes are pushed at the next sync)')
    .option('--seen')
    .option('--unseen')
    .option('--flagged')
    .option('--unflagged')
    .option('--json', 'JSON output')
    .action(async (id: string, o: Record<string, boolean | undefined>, cmd: Command) =>
      withEngine(cmd, async (e, g) => {
        const changes = (['seen', 'unseen', 'flagged', 'unflagged'] as const).filter((k) => o[k]);
        if (changes.length !== 1) throw new ClientError('CONFIG', 'give exactly one of --seen, --unseen, --flagged, --unflagged');
        const row = e.flag(intArg('ID')(id), changes[0] as FlagChange);
        if (g.json) json(row);
        else out(`message ${row.id}: ${row.flags.join(' ') || '(no flags)'}`);
      }),
    );
  client
    .command('delete <id>')
    .description('delete a message (works offline; IMAP deletes are pushed at the next sync)')
    .option('--json', 'JSON output')
    .action(async (id: string, _o: unknown, cmd: Command) =>
      withEngine(cmd, async (e, g) => {
        const n = intArg('ID')(id);
        e.delete(n);
        if (g.json) json({ deleted: n });
        else out(`deleted message ${n}`);
      }),
    );
  client
    .command('move <id> <folder>')
    .description('move a message to another folder (works offline; pushed at the next sync)')
    .option('--json', 'JSON output')
    .action(async (id: string, folder: string, _o: unknown, cmd: Command) =>
      withEngine(cmd, async (e, g) => {
        const row = e.move(intArg('ID')(id), folder);
        if (g.json) json(row);
        else out(`moved message ${row.id} to ${row.folder}`);
      }),
    );

  // ---------------------------------------------------------------- send
  client
    .command('send')
    .description('send an RFC 5322 message read from stdin through the account\'s SMTP submission server; a copy goes to Sent')
    .requiredOption('--account <name>', 'account whose SMTP settings and credentials are used')
    .option('--json', 'JSON output')
    .action(async (o: { account: string }, cmd: Command) =>
      withEngine(cmd, async (e, g) => {
        const a = e.account(o.account);
        if (a.password.kind === 'stdin') throw new ClientError('CREDENTIALS', `account ${a.name} takes its password on stdin, but stdin carries the message: use --password-env or --password-command for sending`);
        const raw = await readStdinBytes();
        if (!raw.length) throw new ClientError('CONFIG', 'no message on stdin');
        const r = await e.send(o.account, raw);
        if (g.json) json(r);
        else out(`sent to ${r.accepted.join(', ')}${r.rejected.length ? `; rejected: ${r.rejected.join(', ')}` : ''}; saved to ${r.savedTo}`);
      }),
    );

  // ---------------------------------------------------------------- watch
  client
    .command('watch')
    .description('stay connected: IDLE on every IMAP INBOX, sync on changes, poll everything else')
    .option('--poll <seconds>', 'how often to sync all accounts', intArg('--poll'), 300)
    .option('--json', 'JSON lines output')
    .action(async (o: { poll: number }, cmd: Command) =>
      withEngine(cmd, async (e, g) => {
        const ac = new AbortController();
        const stop = (): void => ac.abort();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        try {
          await e.watch({
            signal: ac.signal,
            pollSeconds: o.poll,
            onSync: (r) => {
              if (g.json) out(JSON.stringify(r.map((x) => (x.ok ? x : { account: x.account, ok: false, error: x.error.message }))));
              else printSync(r, false);
            },
          });
        } finally {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
        }
      }),
    );

  // ---------------------------------------------------------------- cache
  const cache = client.command('cache').description('the local body cache of IMAP accounts');
  cache
    .command('prune')
    .description('evict cached IMAP bodies older than N days (accounts with --cache all are permanent copies and are kept)')
    .requiredOption('--older-than <days>', 'age in days', intArg('--older-than'))
    .option('--json', 'JSON output')
    .action(async (o: { olderThan: number }, cmd: Command) =>
      withEngine(cmd, async (e, g) => {
        const r = e.prune(o.olderThan);
        if (g.json) json(r);
        else out(`evicted ${r.evicted} cached bodies (${r.bytes} bytes)`);
      }),
    );

  // ---------------------------------------------------------------- advise
  client
    .command('advise')
    .description('POP3 or IMAP? Asks a few questions (or takes them as flags) and recommends one, with reasons')
    .option('--devices <n>', 'how many devices read this mail', intArg('--devices'))
    .addOption(new Option('--reliable <yn>', 'is the connection reliable').choices(['yes', 'no']))
    .addOption(new Option('--limited-server <yn>', 'is server storage limited').choices(['yes', 'no']))
    .addOption(new Option('--limited-local <yn>', 'is local storage limited').choices(['yes', 'no']))
    .addOption(new Option('--backups <yn>', 'does the provider back up the server').choices(['yes', 'no']))
    .option('--json', 'JSON output')
    .action(async (o: { devices?: number; reliable?: string; limitedServer?: string; limitedLocal?: string; backups?: string }, cmd: Command) => {
      const g = globals(cmd);
      const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
      const rl = interactive ? createInterface({ input: process.stdin, output: process.stdout }) : null;
      const yes = async (v: string | undefined, q: string, dflt: boolean): Promise<boolean> => {
        if (v !== undefined) return v === 'yes';
        if (!rl) return dflt;
        const a = (await rl.question(`${q} [${dflt ? 'Y/n' : 'y/N'}] `)).trim().toLowerCase();
        return a === '' ? dflt : a.startsWith('y');
      };
      try {
        let devices = o.devices;
        if (devices === undefined && rl) {
          const a = (await rl.question('How many devices read this mail? [1] ')).trim();
          devices = /^\d+$/.test(a) ? Number(a) : 1;
        }
        const answers: AdviceAnswers = {
          devices: devices ?? 1,
          reliable: await yes(o.reliable, 'Is your connection reliable (mostly online)?', true),
          limitedServerStorage: await yes(o.limitedServer, 'Is storage on the server limited?', false),
          limitedLocalStorage: await yes(o.limitedLocal, 'Is local storage limited?', false),
          serverBackups: await yes(o.backups, 'Does your provider back up the server?', true),
        };
        const r = advise(answers);
        if (g.json) return json({ answers, ...r });
        out(`Recommendation: ${r.protocol.toUpperCase()}${r.options.length ? ` (account add ... --protocol ${r.protocol} ${r.options.join(' ')})` : ''}`);
        for (const reason of r.reasons) out(`  - ${reason}`);
      } finally {
        rl?.close();
      }
    });
}

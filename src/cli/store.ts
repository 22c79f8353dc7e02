/**
 * Store administration: `mailroom migrate`, `mailroom compact`, `mailroom export --to TARGET`,
 * `mailroom import store SOURCE`, `mailroom import maildir DIR --user ADDRESS`,
 * `mailroom import mbox FILE --user ADDRESS`.
 * A store target/source is a postgres:// URL or a data directory (SQLite).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { withStore, CliError, type StoreFlags } from './common.js';
import { openServerStore } from '../server/store.js';
import type { Store } from '../store/handle.js';
import { transferStore, importMaildir, importMbox, type TransferReport, type ImportReport, type Skipped } from '../transfer/index.js';

function openOther(spec: string): Promise<Store> {
  return openServerStore(/^postgres(ql)?:\/\//.test(spec) ? { url: spec } : { dataDir: resolve(spec) });
}

function printReport(report: TransferReport | ImportReport, json: boolean | undefined, what: string): void {
  if (json) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return;
  }
  const parts = Object.entries(report)
    .filter(([k]) => k !== 'skipped')
    .map(([k, v]) => `${String(v)} ${k}`);
  process.stdout.write(`${what}: ${parts.join(', ')}\n`);
  const skipped: Skipped[] = report.skipped;
  for (const s of skipped) process.stdout.write(`skipped ${s.item}: ${s.reason}\n`);
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

interface TransferFlags extends StoreFlags {
  users?: string;
  merge?: boolean;
  json?: boolean;
}

async function transfer(from: Store, to: Store, flags: TransferFlags): Promise<TransferReport> {
  return transferStore(from, to, {
    ...(flags.users ? { users: flags.users.split(',').map((u) => u.trim()).filter(Boolean) } : {}),
    existing: flags.merge ? 'merge' : 'fail',
  });
}

export function registerStoreCommands(program: Command): void {
  program
    .command('migrate')
    .description('apply pending store schema migrations (also done automatically at serve)')
    .action(async (_o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<StoreFlags>();
      await withStore(flags, async () => undefined);
      process.stdout.write('store is up to date\n');
    });

  program
    .command('compact')
    .description('return the space of deleted mail to the file system (SQLite store; pauses writers while it runs)')
    .option('--json', 'JSON output')
    .action(async (_o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<StoreFlags & { json?: boolean }>();
      await withStore(flags, async (store) => {
        const compactable = store as Store & { compact?: () => Promise<{ before: number; after: number }> };
        if (typeof compactable.compact !== 'function') throw new CliError('compact applies to the SQLite store (PostgreSQL reclaims space with its own VACUUM)');
        const r = await compactable.compact();
        if (flags.json) process.stdout.write(JSON.stringify(r) + '\n');
        else process.stdout.write(`compacted: ${mb(r.before)} -> ${mb(r.after)}\n`);
      });
    });

  program
    .command('export')
    .description('copy users, mailboxes, messages (flags, dates, ids), domains, aliases and the queue to another store')
    .requiredOption('--to <target>', 'postgres:// URL or a data directory (SQLite)')
    .option('--users <list>', 'only these users (comma-separated addresses)')
    .option('--merge', 'add to users that already exist in the target instead of failing')
    .option('--json', 'JSON output')
    .action(async (_o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<TransferFlags & { to: string }>();
      await withStore(flags, async (from) => {
        const to = await openOther(flags.to);
        try {
          printReport(await transfer(from, to, flags), flags.json, 'exported');
        } finally {
          await to.close();
        }
      });
    });

  const imp = program.command('import').description('import mail into this store');
  imp
    .command('store <source>')
    .description('copy everything from another store (postgres:// URL or data directory) into this one')
    .option('--users <list>', 'only these users (comma-separated addresses)')
    .option('--merge', 'add to users that already exist here instead of failing')
    .option('--json', 'JSON output')
    .action(async (source: string, _o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<TransferFlags>();
      const from = await openOther(source);
      try {
        await withStore(flags, async (to) => printReport(await transfer(from, to, flags), flags.json, 'imported'));
      } finally {
        await from.close();
      }
    });
  for (const kind of ['maildir', 'mbox'] as const) {
    imp
      .command(`${kind} <path>`)
      .description(kind === 'maildir' ? "import a Maildir (with its folders) into a user's mailboxes" : "import an mbox file into a user's mailbox")
      .requiredOption('--user <address>', 'the user who receives the mail')
      .option('--mailbox <name>', 'target mailbox (default INBOX); created when missing')
      .option('--json', 'JSON output')
      .action(async (path: string, _o: unknown, cmd: Command) => {
        const flags = cmd.optsWithGlobals<StoreFlags & { user: string; mailbox?: string; json?: boolean }>();
        const user = flags.user.trim().toLowerCase();
        await withStore(flags, async (store) => {
          if (!(await store.directory.getUser(user))) throw new CliError(`no such user: ${user}`);
          const opts = flags.mailbox ? { mailbox: flags.mailbox } : {};
          const report = kind === 'maildir' ? await importMaildir(store, user, resolve(path), opts) : await importMbox(store, user, resolve(path), opts);
          printReport(report, flags.json, 'imported');
        });
      });
  }
}

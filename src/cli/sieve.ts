/**
 * `mailroom sieve list|get|put|activate|deactivate|delete|check USER [NAME] [FILE]`: a user's Sieve scripts
 * in the store (the data directory or --store), as ManageSieve manages them. put and check compile the
 * script first and refuse one with errors (the parser's messages with line and column, exit 1); put reads
 * FILE or standard input.
 *
 * Also the serve flags and config keys of Sieve: sieve-before, sieve-after (repeatable; a file or a
 * directory of *.sieve files), sieve-global (directory for include :global), sieve-max-scripts,
 * sieve-max-script-size, sieve-quota (per-user octets).
 */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { withStore, CliError, type StoreFlags } from './common.js';
import type { Store } from '../store/handle.js';
import { isStoreError, type User } from '../store/types.js';
import { DEFAULT_SIEVE_QUOTA, type SieveQuota } from '../store/sieve.js';
import { compileSieve } from '../sieve/index.js';
import type { SieveSettings } from '../sieve/stage.js';

async function userOf(store: Store, address: string): Promise<User> {
  const u = await store.directory.getUser(address.trim().toLowerCase());
  if (!u) throw new CliError(`no such user: ${address}`);
  return u;
}

async function readSource(file: string | undefined): Promise<string> {
  let bytes: Buffer;
  if (file === undefined || file === '-') {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    bytes = Buffer.concat(chunks);
  } else {
    try {
      bytes = await readFile(file);
    } catch (e) {
      throw new CliError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CliError('script is not valid UTF-8');
  }
}

/** Compiles `source`; throws the parser's messages; prints warnings to stderr. */
function compileOrThrow(source: string, name: string): void {
  const r = compileSieve(source, { name });
  const fmt = (e: { line: number; column: number; message: string }): string => `${name}: line ${e.line}, column ${e.column}: ${e.message}`;
  if (!r.ok) throw new CliError(r.errors.map(fmt).join('\n') || `${name}: does not compile`);
  for (const w of r.warnings) process.stderr.write(`warning: ${fmt(w)}\n`);
}

export function registerSieveCommands(program: Command): void {
  const sieve = program.command('sieve').description("manage users' Sieve filter scripts");
  const run = (fn: (store: Store, flags: StoreFlags & { json?: boolean }) => Promise<void>) => async (...a: unknown[]) => {
    const cmd = a[a.length - 1] as Command;
    const flags = cmd.optsWithGlobals<StoreFlags & { json?: boolean }>();
    await withStore(flags, (store) => fn(store, flags)).catch((e: unknown) => {
      if (isStoreError(e, 'NOT_FOUND')) throw new CliError('no such script');
      if (isStoreError(e, 'NO_PERM')) throw new CliError('the active script cannot be deleted (deactivate it first)');
      if (isStoreError(e, 'EXISTS')) throw new CliError('a script with that name exists');
      throw e;
    });
  };

  sieve
    .command('list <user>')
    .description("list the user's scripts (the active one is marked)")
    .option('--json', 'JSON output')
    .action((user: string, ...rest: unknown[]) =>
      run(async (store, flags) => {
        const list = await store.sieve.listScripts((await userOf(store, user)).id);
        if (flags.json) process.stdout.write(JSON.stringify(list.map((s) => ({ name: s.name, active: s.active, size: s.size, updated: s.updatedAt.toISOString() }))) + '\n');
        else for (const s of list) process.stdout.write(`${s.name}${s.active ? '  (active)' : ''}\n`);
      })(...rest),
    );

  sieve
    .command('get <user> <name>')
    .description('print a script')
    .action((user: string, name: string, ...rest: unknown[]) =>
      run(async (store) => {
        const s = await store.sieve.getScript((await userOf(store, user)).id, name);
        if (!s) throw new CliError(`no such script: ${name}`);
        process.stdout.write(s.content);
      })(...rest),
    );

  sieve
    .command('put <user> <name> [file]')
    .description('store a script from FILE or standard input (checked first; replaces one of the same name)')
    .option('--activate', 'make it the active script')
    .action((user: string, name: string, file: string | undefined, ...rest: unknown[]) =>
      run(async (store) => {
        const source = await readSource(file);
        compileOrThrow(source, name);
        const u = await userOf(store, user);
        const r = await store.sieve.putScript(u.id, name, source, DEFAULT_SIEVE_QUOTA);
        if (r !== 'ok') throw new CliError(r === 'maxsize' ? 'script is too large' : r === 'maxscripts' ? 'too many scripts' : 'script storage quota exceeded');
        const cmd = rest[rest.length - 1] as Command;
        if (cmd.opts<{ activate?: boolean }>().activate) await store.sieve.setActive(u.id, name);
        process.stdout.write(`stored ${name}\n`);
      })(...rest),
    );

  sieve
    .command('activate <user> <name>')
    .description('make a script the active one (the one run at delivery)')
    .action((user: string, name: string, ...rest: unknown[]) =>
      run(async (store) => {
        await store.sieve.setActive((await userOf(store, user)).id, name);
        process.stdout.write(`activated ${name}\n`);
      })(...rest),
    );

  sieve
    .command('deactivate <user>')
    .description('run no script at delivery')
    .action((user: string, ...rest: unknown[]) =>
      run(async (store) => {
        await store.sieve.setActive((await userOf(store, user)).id, null);
        process.stdout.write('deactivated\n');
      })(...rest),
    );

  sieve
    .command('delete <user> <name>')
    .description('delete a script (not the active one)')
    .action((user: string, name: string, ...rest: unknown[]) =>
      run(async (store) => {
        await store.sieve.deleteScript((await userOf(store, user)).id, name);
        process.stdout.write(`deleted ${name}\n`);
      })(...rest),
    );

  sieve
    .command('check <user> [file]')
    .description('check a script from FILE or standard input without storing it (or the stored script named FILE)')
    .action((user: string, file: string | undefined, ...rest: unknown[]) =>
      run(async (store) => {
        const u = await userOf(store, user);
        const stored = file !== undefined ? await store.sieve.getScript(u.id, file) : null;
        const source = stored ? stored.content : await readSource(file);
        compileOrThrow(source, file ?? 'stdin');
        process.stdout.write('valid\n');
      })(...rest),
    );
}

/** The serve flags of Sieve (see the header). */
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

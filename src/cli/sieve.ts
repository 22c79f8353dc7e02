/**
 * `mailroom sieve list|get|put|activate|deactivate|delete|check USER [NAME] [FILE]`: a user's Sieve scripts
 * in the store (the data directory or --store), as ManageSieve manages them. put and check compile the
 * script first and refuse one with errors (the parser's messages with line and column, exit 1); put reads
 * FILE or standard input.
 * (serve's Sieve flags are in serve-options.ts.)
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { withStore, CliError, type StoreFlags } from './common.js';
import type { Store } from '../store/handle.js';
import { isStoreError, type User } from '../store/types.js';
import { DEFAULT_SIEVE_QUOTA } from '../store/sieve.js';
import { compileSieve } from '../sieve/index.js';

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

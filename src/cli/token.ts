/**
 * `mailroom token add USER [--name N] [--expires DAYS] | list USER [--json] | del USER ID`: HTTP API tokens
 * (JMAP `Authorization: Bearer`). add prints the secret once; only its hash is stored.
 */
import type { Command } from 'commander';
import { withStore, CliError, type StoreFlags } from './common.js';
import type { Store } from '../store/handle.js';
import type { User } from '../store/types.js';

interface TokenFlags extends StoreFlags {
  name?: string;
  expires?: string;
  json?: boolean;
}

async function userOf(store: Store, address: string): Promise<User> {
  const u = await store.directory.getUser(address.trim().toLowerCase());
  if (!u) throw new CliError(`no such user: ${address}`);
  return u;
}

export function registerTokenCommands(program: Command): void {
  const token = program.command('token').description('manage HTTP API tokens (JMAP Bearer authentication)');

  token
    .command('add <user>')
    .description('create an API token for USER and print it (shown only once)')
    .option('--name <name>', 'a label for the token (default "cli")')
    .option('--expires <days>', 'days until the token expires (default: never)')
    .action(async (address: string, _o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<TokenFlags>();
      let expiresAt: Date | null = null;
      if (flags.expires !== undefined) {
        if (!/^\d{1,5}$/.test(flags.expires) || Number(flags.expires) === 0) throw new CliError(`invalid --expires: ${flags.expires} (whole days, at least 1)`);
        expiresAt = new Date(Date.now() + Number(flags.expires) * 86_400_000);
      }
      const name = flags.name ?? 'cli';
      if (name.trim() === '' || name.length > 200) throw new CliError('invalid --name (1-200 characters)');
      const t = await withStore(flags, async (store) => store.tokens.create((await userOf(store, address)).id, { name, kind: 'app', expiresAt }));
      process.stdout.write(`${t.secret}\n`);
      process.stderr.write(`token ${t.id} created; use it as "Authorization: Bearer <token>"\n`);
    });

  token
    .command('list <user>')
    .description("list the user's tokens (ids and names; secrets are never shown again)")
    .option('--json', 'JSON output')
    .action(async (address: string, _o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<TokenFlags>();
      const list = await withStore(flags, async (store) => store.tokens.list((await userOf(store, address)).id));
      if (flags.json) {
        const rows = list.map((t) => ({ id: t.id, name: t.name, kind: t.kind, created: t.createdAt.toISOString(), expires: t.expiresAt?.toISOString() ?? null, lastUsed: t.lastUsedAt?.toISOString() ?? null }));
        process.stdout.write(JSON.stringify(rows) + '\n');
        return;
      }
      for (const t of list) {
        process.stdout.write(`${t.id}\t${t.kind}\t${t.name}\tcreated ${t.createdAt.toISOString()}\texpires ${t.expiresAt?.toISOString() ?? 'never'}\tlast used ${t.lastUsedAt?.toISOString() ?? 'never'}\n`);
      }
    });

  token
    .command('del <user> <id>')
    .description('revoke a token')
    .action(async (address: string, id: string, _o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<TokenFlags>();
      const ok = await withStore(flags, async (store) => store.tokens.revoke((await userOf(store, address)).id, id));
      if (!ok) throw new CliError(`no token ${id} for ${address}`);
      process.stdout.write(`revoked ${id}\n`);
    });
}

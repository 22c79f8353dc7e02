/** `mailroom user add|list|passwd|set|del`. */
import { isInternalOwner } from '../store/acl.js';
import type { Command } from 'commander';
import { withStore, readPasswordFromStdin, CliError, type StoreFlags } from './common.js';
import { createUserWithDomain, isValidAddress } from '../server/users.js';
import { hashPassword } from '../auth/index.js';
import { isStoreError } from '../store/types.js';
import { setSentCopy } from '../delivery/sent.js';
import { quotaFlags, quotaLine, quotaReport, registerUserQuota } from './quota.js';
import { isAdmin } from '../store/directory.js';
import { generatePassword } from './password.js';

export { generatePassword };

interface PasswordFlags extends StoreFlags {
  passwordStdin?: boolean;
  json?: boolean;
}

export function registerUserCommands(program: Command): void {
  const user = program.command('user').description('manage mail users');

  user
      .command('add <address>')
      .description('create a user with INBOX, Sent, Drafts, Trash, Junk and Archive; prints a generated password unless --password-stdin')
      .option('--password-stdin', 'read the password from standard input')
      .option('--admin', 'grant the administrator role (web admin pages and API)')
      .option('--quota-storage <size>', 'storage limit, e.g. 500M or 2G (none: the server default, unlimited: no limit)')
      .option('--quota-messages <n>', 'message count limit (none: the server default, unlimited: no limit)')
    .action(async (address: string, _o: unknown, cmd: Command) => {
    const q = cmd.opts<{ quotaStorage?: string; quotaMessages?: string }>();
    const limits = quotaFlags(q.quotaStorage, q.quotaMessages, 'quota-');
    const flags = cmd.optsWithGlobals<PasswordFlags & { admin?: boolean }>();
    const a = address.trim().toLowerCase();
    if (!isValidAddress(a)) throw new CliError(`invalid address: ${address}`);
    const generated = !flags.passwordStdin;
    const password = flags.passwordStdin ? await readPasswordFromStdin() : generatePassword();
    await withStore(flags, async (store) => {
      try {
        await createUserWithDomain(store.directory, a, password);
      } catch (e) {
        if (isStoreError(e, 'EXISTS')) throw new CliError(`user ${a} already exists`);
        throw e;
      }
      if (limits) await store.quota.setLimits((await store.directory.getUser(a))!.id, limits);
      if (flags.admin) await store.directory.setAdmin(a, true);
    });
    const role = flags.admin ? ' (administrator)' : '';
    process.stdout.write(generated ? `created ${a}${role}\npassword: ${password}\n` : `created ${a}${role}\n`);
  });

  user.command('list').description('list users').option('--json', 'JSON output').action(async (_o: unknown, cmd: Command) => {
    const flags = cmd.optsWithGlobals<PasswordFlags>();
    await withStore(flags, async (store) => {
      const users = (await store.directory.listUsers()).filter((u) => !isInternalOwner(u.address));
      const quotas = await Promise.all(users.map((u) => quotaReport(store, u.id)));
      if (flags.json) {
        process.stdout.write(JSON.stringify(users.map((u, i) => ({ address: u.address, created: u.createdAt.toISOString(), admin: isAdmin(u), quota: quotas[i] }))) + '\n');
        return;
      }
      for (const [i, u] of users.entries()) process.stdout.write(`${u.address}\t${u.createdAt.toISOString()}\t${quotaLine(quotas[i]!)}${isAdmin(u) ? '\tadmin' : ''}\n`);
    });
  });

  registerUserQuota(user);

  user
      .command('passwd <address>')
      .description("change a user's password (prints a generated one unless --password-stdin)")
      .option('--password-stdin', 'read the password from standard input')
    .action(async (address: string, _o: unknown, cmd: Command) => {
    const flags = cmd.optsWithGlobals<PasswordFlags>();
    const a = address.trim().toLowerCase();
    const generated = !flags.passwordStdin;
    const password = flags.passwordStdin ? await readPasswordFromStdin() : generatePassword();
    await withStore(flags, async (store) => {
      try {
        await store.directory.setPasswordHash(a, await hashPassword(password));
      } catch (e) {
        if (isStoreError(e, 'NOT_FOUND')) throw new CliError(`no such user: ${a}`);
        throw e;
      }
    });
    process.stdout.write(generated ? `password of ${a} changed\npassword: ${password}\n` : `password of ${a} changed\n`);
  });

  user
    .command('set <address>')
    .description("change a user's settings")
    .option('--sent-copy <mode>', 'on: the server keeps a Sent copy of submitted mail; off: it does not (the client does); default: the server setting')
    .action(async (address: string, _o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<StoreFlags & { sentCopy?: string }>();
      const a = address.trim().toLowerCase();
      const mode = flags.sentCopy?.trim().toLowerCase();
      if (mode === undefined) throw new CliError('nothing to set (try --sent-copy on|off|default)');
      if (mode !== 'on' && mode !== 'off' && mode !== 'default') throw new CliError(`invalid --sent-copy: ${flags.sentCopy} (expected on, off or default)`);
      await withStore(flags, async (store) => {
        const u = await store.directory.getUser(a);
        if (!u) throw new CliError(`no such user: ${a}`);
        await setSentCopy(store.mail, u.id, mode === 'default' ? null : mode === 'on');
      });
      process.stdout.write(`${a}: sent-copy ${mode}\n`);
    });

  user
    .command('admin <address> <on|off>')
    .description('grant (on) or take (off) the administrator role')
    .action(async (address: string, mode: string, _o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<StoreFlags>();
      const a = address.trim().toLowerCase();
      const m = mode.trim().toLowerCase();
      if (m !== 'on' && m !== 'off') throw new CliError(`invalid mode: ${mode} (expected on or off)`);
      await withStore(flags, async (store) => {
        try {
          await store.directory.setAdmin(a, m === 'on');
        } catch (e) {
          if (isStoreError(e, 'NOT_FOUND')) throw new CliError(`no such user: ${a}`);
          throw e;
        }
      });
      process.stdout.write(`${a}: admin ${m}\n`);
    });

  user.command('del <address>').alias('delete').description('delete a user and all their mail').action(
    async (address: string, _o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<StoreFlags>();
      const a = address.trim().toLowerCase();
      await withStore(flags, async (store) => {
        try {
          await store.directory.deleteUser(a);
        } catch (e) {
          if (isStoreError(e, 'NOT_FOUND')) throw new CliError(`no such user: ${a}`);
          throw e;
        }
      });
      process.stdout.write(`deleted ${a}\n`);
    },
  );
}

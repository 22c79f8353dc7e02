/** `mailroom domain add|list` (and `domain dkim|dns`, dkim.ts), `mailroom alias add|list|remove`, `mailroom queue list|retry|remove`. */
import type { Command } from 'commander';
import type { Store } from '../store/handle.js';
import { isStoreError } from '../store/types.js';
import { isValidDomain, parseAddress } from '../delivery/address.js';
import { CliError } from './common.js';
import { registerDkimCommands } from './dkim.js';

async function withOpen<T>(open: () => Promise<Store>, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await open();
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}

/** An alias source: a full address or "@domain" (catch-all). Returns it lowercased. */
function aliasSource(input: string): { from: string; domain: string } {
  const v = input.trim().toLowerCase();
  if (v.startsWith('@')) {
    const domain = v.slice(1);
    if (!isValidDomain(domain)) throw new CliError(`invalid alias source: ${input}`);
    return { from: v, domain };
  }
  const p = parseAddress(v);
  if (!p) throw new CliError(`invalid alias source: ${input}`);
  return { from: p.address, domain: p.domain };
}

export function registerDomainCommands(program: Command, open: () => Promise<Store>): void {
  const domain = program.command('domain').description('manage local mail domains');
  registerDkimCommands(domain, (fn) => withOpen(open, fn));
  domain
    .command('add <domain>')
    .description('accept mail for DOMAIN')
    .action(async (name: string) => {
      const d = name.trim().toLowerCase().replace(/\.$/, '');
      if (!isValidDomain(d) || d.startsWith('[')) throw new CliError(`invalid domain: ${name}`);
      await withOpen(open, async (store) => {
        if (await store.directory.hasDomain(d)) throw new CliError(`domain ${d} already exists`);
        await store.directory.addDomain(d);
      });
      out(`added domain ${d}`);
    });
  domain
    .command('list')
    .description('list local domains')
    .action(async () => {
      const list = await withOpen(open, (store) => store.directory.listDomains());
      for (const d of list) out(d);
    });

  const alias = program.command('alias').description('manage aliases ("@domain" as the source is a catch-all)');
  alias
    .command('add <from> <to>')
    .description('deliver mail for FROM (an address or @domain) to the user TO')
    .action(async (fromArg: string, toArg: string) => {
      const { from, domain: fromDomain } = aliasSource(fromArg);
      const to = parseAddress(toArg);
      if (!to) throw new CliError(`invalid alias target: ${toArg}`);
      await withOpen(open, async (store) => {
        if (!(await store.directory.hasDomain(fromDomain))) throw new CliError(`${fromDomain} is not a local domain (add it with: mailroom domain add ${fromDomain})`);
        if (!from.startsWith('@') && (await store.directory.getUser(from))) throw new CliError(`${from} is a user; an alias cannot shadow it`);
        if (await store.directory.hasDomain(to.domain)) {
          const target = await store.directory.getUser(to.address);
          const aliases = await store.directory.listAliases();
          if (!target && !aliases.some((a) => a.from === to.address)) throw new CliError(`alias target ${to.address} is not a user or alias`);
        } else {
          throw new CliError(`alias target ${to.address} is not in a local domain (aliases do not forward)`);
        }
        const existing = (await store.directory.listAliases()).find((a) => a.from === from);
        if (existing) throw new CliError(`alias ${from} already exists (-> ${existing.to})`);
        try {
          await store.directory.addAlias(from, to.address);
        } catch (e) {
          if (isStoreError(e, 'EXISTS')) throw new CliError(`alias ${from} already exists`);
          throw e;
        }
      });
      out(`added alias ${from} -> ${to.address}`);
    });
  alias
    .command('list')
    .description('list aliases')
    .action(async () => {
      const list = await withOpen(open, (store) => store.directory.listAliases());
      for (const a of list) out(`${a.from} -> ${a.to}`);
    });
  alias
    .command('remove <from>')
    .alias('rm')
    .description('remove the alias for FROM')
    .action(async (fromArg: string) => {
      const { from } = aliasSource(fromArg);
      await withOpen(open, async (store) => {
        try {
          await store.directory.removeAlias(from);
        } catch (e) {
          if (isStoreError(e, 'NOT_FOUND')) throw new CliError(`no alias ${from}`);
          throw e;
        }
      });
      out(`removed alias ${from}`);
    });

  const queue = program.command('queue').description('inspect and manage the outbound queue');
  queue
    .command('list')
    .description('list queued outbound messages')
    .action(async () => {
      const list = await withOpen(open, (store) => store.queue.list());
      if (!list.length) {
        out('queue is empty');
        return;
      }
      for (const m of list) {
        const parts = [
          m.id,
          `<${m.sender}>`,
          m.recipients.join(','),
          `${m.size} bytes`,
          `attempts ${m.attempts}`,
          `next ${m.nextAttemptAt.toISOString()}`,
        ];
        if (m.lastError) parts.push(`last error: ${m.lastError.replace(/[\r\n]+/g, ' ')}`);
        out(parts.join('\t'));
      }
    });
  queue
    .command('retry [id]')
    .description('make queued messages (all, or ID) due now; a running server sends them at its next pass')
    .action(async (id: string | undefined) => {
      const n = await withOpen(open, async (store) => {
        const list = (await store.queue.list()).filter((m) => id === undefined || m.id === id);
        if (id !== undefined && !list.length) throw new CliError(`no queued message ${id}`);
        for (const m of list) await store.queue.update(m.id, { recipients: m.recipients, attempts: m.attempts, nextAttemptAt: new Date(), lastError: m.lastError });
        return list.length;
      });
      out(`${n} message${n === 1 ? '' : 's'} due now`);
    });
  queue
    .command('remove <id>')
    .alias('rm')
    .description('drop a queued message without sending it or bouncing it')
    .action(async (id: string) => {
      await withOpen(open, async (store) => {
        if (!(await store.queue.list()).some((m) => m.id === id)) throw new CliError(`no queued message ${id}`);
        await store.queue.remove(id);
      });
      out(`removed ${id}`);
    });
}

/**
 * `mailroom spam train --user U (--spam|--ham) PATH`: teaches the user's built-in filter every message of a
 * Maildir (its cur/ and new/) or an mbox file, exactly as moving them into or out of Junk would (each
 * message once: training the same message again changes nothing, training it as the other class re-classes
 * it). `mailroom spam stats [--user U] [--json]`: trained messages and tokens per user.
 */
import type { Command } from 'commander';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { normalizeLineEndings } from '../mime/index.js';
import type { Store } from '../store/handle.js';
import { readMbox } from '../transfer/index.js';
import { entryKind } from '../transfer/common.js';
import { MAX_MESSAGE_SIZE } from '../lib/limits.js';
import { SpamFilter } from '../spam/index.js';
import { CliError, withStore, type StoreFlags } from './common.js';

function out(line: string): void {
  process.stdout.write(line + '\n');
}

/** The messages of a Maildir (cur/ and new/, regular files only, no symbolic links) or an mbox file. */
async function* messagesAt(path: string): AsyncGenerator<{ item: string; raw: Buffer | null }> {
  const kind = await entryKind(path);
  if (kind === 'missing') throw new CliError(`${path}: no such file or directory`);
  if (kind === 'symlink' || kind === 'other') throw new CliError(`${path}: not a Maildir or an mbox file`);
  if (kind === 'file') {
    let n = 0;
    for await (const m of readMbox(path)) {
      n++;
      yield { item: `${path}#${n}`, raw: m.tooBig ? null : m.raw };
    }
    return;
  }
  if ((await entryKind(join(path, 'cur'))) !== 'dir') throw new CliError(`${path} is not a Maildir (no cur/ directory)`);
  for (const sub of ['cur', 'new']) {
    const dir = join(path, sub);
    if ((await entryKind(dir)) !== 'dir') continue;
    for (const name of (await fs.readdir(dir)).sort()) {
      const file = join(dir, name);
      if ((await entryKind(file)) !== 'file') continue;
      const st = await fs.stat(file);
      yield { item: file, raw: st.size > MAX_MESSAGE_SIZE ? null : await fs.readFile(file) };
    }
  }
}

export async function trainFromPath(store: Store, address: string, cls: 'spam' | 'ham', path: string): Promise<{ trained: number; retrained: number; unchanged: number; skipped: number }> {
  const user = await store.directory.getUser(address);
  if (!user) throw new CliError(`no such user: ${address}`);
  const filter = new SpamFilter(store);
  const report = { trained: 0, retrained: 0, unchanged: 0, skipped: 0 };
  for await (const m of messagesAt(path)) {
    if (!m.raw || m.raw.length === 0) {
      report.skipped++;
      continue;
    }
    report[await filter.train(user.id, normalizeLineEndings(m.raw), cls)]++;
  }
  return report;
}

export function registerSpamCommands(program: Command): void {
  const flags = (): StoreFlags => program.opts<StoreFlags>();
  const spam = program.command('spam').description("the spam filter's per-user statistics");
  spam
    .command('train <path>')
    .description('train a user\'s filter with the messages of a Maildir or an mbox file')
    .requiredOption('--user <address>', 'the user whose filter learns')
    .option('--spam', 'the messages are spam')
    .option('--ham', 'the messages are not spam')
    .action(async (path: string, o: { user: string; spam?: boolean; ham?: boolean }) => {
      if (Boolean(o.spam) === Boolean(o.ham)) throw new CliError('give exactly one of --spam and --ham');
      const cls = o.spam ? 'spam' : 'ham';
      const r = await withStore(flags(), (store) => trainFromPath(store, o.user, cls, path));
      out(`${o.user}: ${r.trained} trained as ${cls}, ${r.retrained} re-classed as ${cls}, ${r.unchanged} already known, ${r.skipped} skipped`);
    });
  spam
    .command('stats')
    .description('trained messages and tokens per user')
    .option('--user <address>', 'one user only')
    .option('--json', 'one JSON object per user')
    .action(async (o: { user?: string; json?: boolean }) => {
      await withStore(flags(), async (store) => {
        let rows;
        const names = new Map<number, string>();
        if (o.user) {
          const user = await store.directory.getUser(o.user);
          if (!user) throw new CliError(`no such user: ${o.user}`);
          names.set(user.id, user.address);
          rows = await store.spam.stats(user.id);
        } else {
          rows = await store.spam.stats();
          for (const u of await store.directory.listUsers()) names.set(u.id, u.address);
        }
        for (const r of rows) {
          const user = names.get(r.userId) ?? `#${r.userId}`;
          if (o.json) out(JSON.stringify({ user, spam: r.spamMessages, ham: r.hamMessages, tokens: r.tokens }));
          else out(`${user}: ${r.spamMessages} spam, ${r.hamMessages} ham, ${r.tokens} tokens`);
        }
      });
    });
}

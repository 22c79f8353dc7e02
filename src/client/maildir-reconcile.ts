/**
 * Keeps the state index and the profile's Maildirs in agreement.
 *
 * Contract: `reconcileMaildirs` adopts changes other programs (mutt, neomutt) made to the folders: Maildir
 * flag letters in cur/ file names become index flags (and, for IMAP, queued flag changes for the server);
 * a vanished file means a POP3 message deleted locally, or an evicted IMAP body (never a server delete:
 * the cache may be pruned). Each folder is reconciled in one state transaction. `recoverTmp` does the
 * Maildir tmp/ housekeeping (files older than 36 hours). Neither touches the network.
 */
import { rmSync } from 'node:fs';
import { Maildir } from './store/maildir.js';
import type { AccountConfig, MessageRow } from './store/state.js';
import type { EngineContext } from './context.js';

/** Flags that Maildir file names can state (the letters D, F, P, R, S, T). */
const MAPPABLE_FLAGS = new Set(['\\Draft', '\\Flagged', '$Forwarded', '\\Answered', '\\Seen', '\\Deleted']);

/** Reconciles the named accounts' folders (all accounts when none are named); returns how many messages changed. */
export function reconcileMaildirs(ctx: EngineContext, accounts?: string[]): number {
  const { state } = ctx;
  const names = new Set(accounts ?? ctx.listAccounts().map((a) => a.name));
  const byDir = new Map<string, MessageRow[]>();
  for (const r of state.query({ accounts: [...names] })) {
    if (!r.fileKey) continue;
    const list = byDir.get(r.maildir);
    if (list) list.push(r);
    else byDir.set(r.maildir, [r]);
  }
  let changed = 0;
  for (const [dir, rows] of byDir) {
    const files = new Map(new Maildir(dir).list().map((f) => [f.key, f]));
    state.tx(() => {
      for (const r of rows) {
        const a = state.getAccount(r.account);
        if (!a) continue;
        const f = files.get(r.fileKey as string);
        if (!f) {
          if (new Maildir(dir).find(r.fileKey as string)) continue; // a staged file, now published
          changed++;
          if (a.protocol === 'pop3') {
            state.deleteMessage(r.id);
            if (r.uidl) state.markUidlLocallyDeleted(a.name, r.uidl);
          } else state.setFile(r.id, r.maildir, null, null, false);
          continue;
        }
        if (f.path !== r.filePath) state.setFile(r.id, r.maildir, r.fileKey, f.path, true);
        // new/ files carry no flags: only cur/ names state the flags.
        if (f.sub === 'new') continue;
        const have = r.flags.filter((x) => MAPPABLE_FLAGS.has(x));
        const add = f.flags.filter((x) => !have.includes(x));
        const remove = have.filter((x) => !f.flags.includes(x));
        if (!add.length && !remove.length) continue;
        changed++;
        const next = [...r.flags.filter((x) => !remove.includes(x)), ...add].sort();
        state.setFlags(r.id, next);
        if (a.protocol === 'imap' && r.uid !== null) {
          const folder = state.getFolder(a.name, r.folder);
          state.enqueue({ account: a.name, kind: 'flags', folder: r.folder, uid: r.uid, uidValidity: folder?.uidValidity ?? '', add, remove });
        }
      }
    });
  }
  return changed;
}

/**
 * Maildir tmp/ housekeeping (the spec's 36 hours): a staged file whose row was committed before the
 * process stopped is published; an unrecorded one (the commit never happened) is removed.
 */
export function recoverTmp(ctx: EngineContext, a: AccountConfig): void {
  const dirs = a.protocol === 'pop3' ? [ctx.localFolder('INBOX')] : ctx.state.listFolders(a.name).map((f) => ctx.imapFolder(a.name, f.path));
  for (const dir of dirs) {
    for (const t of dir.staleTmp(36 * 60 * 60 * 1000, ctx.now())) {
      if (ctx.state.hasFileKey(t.key)) dir.find(t.key);
      else rmSync(t.path, { force: true });
    }
  }
}

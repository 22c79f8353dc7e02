/**
 * importMaildir(store, user, dir): a Maildir (cur/new; tmp is ignored) with its sub-folders, in the
 * Maildir++ layout (".Sent", ".Archive.2023", names in modified UTF-7, RFC 3501 5.1.3) or as plain nested
 * directories. Flags come from the ":2," info suffix (lib/maildir-flags.ts letters, a-z keywords via
 * dovecot-keywords); INTERNALDATE is the file's mtime, as Dovecot uses it. Bad messages are skipped and
 * reported. Symbolic links are never followed: a linked root, folder, cur/ or new/ directory, message file
 * or dovecot-keywords is skipped and reported (reason SYMLINK_SKIPPED), and files are opened with
 * O_NOFOLLOW. Throws StoreError NOT_FOUND for an unknown user, INVALID when `dir` is not a Maildir.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { decodeMailboxUtf7Lenient } from '../imap/wire/utf7.js';
import { MAILDIR_LETTER_FLAGS } from '../lib/maildir-flags.js';
import { MAX_MESSAGE_SIZE } from '../lib/limits.js';
import { normalizeMailboxName } from '../store/names.js';
import { StoreError, isStoreError } from '../store/types.js';
import {
  SYMLINK_SKIPPED,
  ensureMailbox,
  entryKind,
  openRegularFile,
  userId,
  type ImportOptions,
  type ImportReport,
  type ImportTarget,
  type Skipped,
} from './common.js';

/** Flags from a Maildir file name; `keywords` maps a-z letters to names (dovecot-keywords). */
export function maildirFlags(fileName: string, keywords: ReadonlyMap<string, string>): string[] {
  const m = /[:;!]2,([A-Za-z]*)$/.exec(fileName);
  if (!m) return [];
  const out: string[] = [];
  for (const ch of m[1]!) {
    const f = MAILDIR_LETTER_FLAGS[ch] ?? keywords.get(ch);
    if (f && !out.includes(f)) out.push(f);
  }
  return out;
}

/** A directory with cur/ (a linked cur/ still marks a Maildir; it is reported when the folder is read). */
async function isMaildir(dir: string): Promise<boolean> {
  const kind = await entryKind(join(dir, 'cur'));
  return kind === 'dir' || kind === 'symlink';
}

/** Whether `path` is a symbolic link to a directory (stat of the target only; nothing is read through it). */
async function linksToDirectory(path: string): Promise<boolean> {
  return (await fs.stat(path).catch(() => null))?.isDirectory() ?? false;
}

async function readKeywords(dir: string, skipped: Skipped[]): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  const path = join(dir, 'dovecot-keywords');
  const file = await openRegularFile(path);
  if (file === 'symlink') skipped.push({ item: path, reason: SYMLINK_SKIPPED });
  if (typeof file === 'string') return map;
  const text = await file.handle.readFile('utf8').finally(() => file.handle.close());
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\S+)$/.exec(line.trim());
    if (m && Number(m[1]) < 26) map.set(String.fromCharCode(97 + Number(m[1])), m[2]!);
  }
  return map;
}

/** Folders of a Maildir: [mailbox name relative to the root ('' = root), directory]. */
async function maildirFolders(root: string, withFolders: boolean, skipped: Skipped[]): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [['', root]];
  if (!withFolders) return out;
  const entries = await fs.readdir(root, { withFileTypes: true });
  for (const e of entries) {
    const path = join(root, e.name);
    if (e.isSymbolicLink() && e.name.startsWith('.') && (await linksToDirectory(path))) skipped.push({ item: path, reason: SYMLINK_SKIPPED });
  }
  const dotted = entries.filter((e) => e.isDirectory() && e.name.startsWith('.') && e.name.length > 1 && e.name !== '..');
  for (const e of dotted) {
    const dir = join(root, e.name);
    if (!(await isMaildir(dir))) continue;
    // Maildir++: ".A.B" is A/B. An "INBOX." prefix some tools write means the same folder.
    let name = decodeMailboxUtf7Lenient(e.name.slice(1)).split('.').join('/');
    if (/^INBOX\//i.test(name)) name = name.slice(6);
    out.push([name, dir]);
  }
  if (dotted.length === 0) {
    // Plain nested layout (e.g. mbsync "SubFolders Verbatim"): every directory holding cur/ is a folder.
    const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
      if (depth > 32) return;
      for (const e of await fs.readdir(dir, { withFileTypes: true })) {
        if (['cur', 'new', 'tmp'].includes(e.name) || e.name.startsWith('.')) continue;
        const sub = join(dir, e.name);
        if (e.isSymbolicLink() && (await linksToDirectory(sub))) skipped.push({ item: sub, reason: SYMLINK_SKIPPED });
        if (!e.isDirectory()) continue;
        const name = prefix ? `${prefix}/${e.name}` : e.name;
        if (await isMaildir(sub)) out.push([name, sub]);
        await walk(sub, name, depth + 1);
      }
    };
    await walk(root, '', 0);
  }
  return out;
}

/** Imports a Maildir (and its folders) into the user's mailboxes. Throws NOT_FOUND for an unknown user. */
export async function importMaildir(store: ImportTarget, userAddress: string, dir: string, opts: ImportOptions = {}): Promise<ImportReport> {
  const uid = await userId(store.directory, userAddress);
  if ((await entryKind(dir)) === 'symlink') return { mailboxes: 0, messages: 0, bytes: 0, skipped: [{ item: dir, reason: SYMLINK_SKIPPED }] };
  if (!(await isMaildir(dir))) throw new StoreError('INVALID', `${dir} is not a Maildir (no cur/ directory)`);
  const base = normalizeMailboxName(opts.mailbox ?? 'INBOX');
  const report: ImportReport = { mailboxes: 0, messages: 0, bytes: 0, skipped: [] };
  for (const [rel, folderDir] of await maildirFolders(dir, opts.folders ?? true, report.skipped)) {
    let name: string;
    try {
      name = normalizeMailboxName(rel === '' ? base : base === 'INBOX' ? rel : `${base}/${rel}`);
    } catch (e) {
      report.skipped.push({ item: folderDir, reason: `unusable folder name: ${(e as Error).message}` });
      continue;
    }
    const box = await ensureMailbox(store.mail, uid, name, null);
    report.mailboxes++;
    const keywords = await readKeywords(folderDir, report.skipped);
    const files: Array<{ path: string; name: string; recent: boolean }> = [];
    for (const sub of ['new', 'cur'] as const) {
      const subDir = join(folderDir, sub);
      const kind = await entryKind(subDir);
      if (kind === 'symlink') report.skipped.push({ item: subDir, reason: SYMLINK_SKIPPED });
      if (kind !== 'dir') continue;
      for (const e of await fs.readdir(subDir, { withFileTypes: true })) {
        const path = join(subDir, e.name);
        if (e.name.startsWith('.')) continue;
        if (e.isSymbolicLink()) report.skipped.push({ item: path, reason: SYMLINK_SKIPPED });
        else files.push({ path, name: e.name, recent: sub === 'new' });
      }
    }
    // Delivery order: the leading seconds[.micro] of a Maildir name, then the name.
    const stamp = (n: string): number => Number(/^(\d+)/.exec(n)?.[1] ?? Infinity);
    files.sort((a, b) => stamp(a.name) - stamp(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const f of files) {
      // Opened without following a link, so a file replaced by a link after the listing is refused too.
      const file = await openRegularFile(f.path);
      if (file === 'symlink') report.skipped.push({ item: f.path, reason: SYMLINK_SKIPPED });
      if (typeof file === 'string') continue;
      const st = file.stat;
      if (st.size > MAX_MESSAGE_SIZE) {
        await file.handle.close();
        report.skipped.push({ item: f.path, reason: `larger than ${MAX_MESSAGE_SIZE} octets` });
        continue;
      }
      const raw = await file.handle.readFile().finally(() => file.handle.close());
      try {
        await store.mail.append(box.id, raw, { flags: f.recent ? [] : maildirFlags(f.name, keywords), internalDate: st.mtime });
      } catch (e) {
        if (isStoreError(e, 'INVALID') || isStoreError(e, 'TOO_BIG') || isStoreError(e, 'OVER_QUOTA')) {
          report.skipped.push({ item: f.path, reason: e.message });
          continue;
        }
        throw e;
      }
      report.messages++;
      report.bytes += raw.length;
      opts.onProgress?.({ mailbox: name, messages: report.messages, bytes: report.bytes });
    }
  }
  return report;
}


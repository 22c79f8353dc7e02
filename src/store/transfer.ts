/**
 * Moving mail in and out of a MailStore, through the MailStore interface only (any implementation on
 * either side):
 *
 * - transferStore(from, to): users (with password hashes), domains, aliases, mailboxes (special-use,
 *   subscriptions), messages with flags, INTERNALDATE and EMAILID (so POP3 UIDLs survive a migration such
 *   as SQLite -> PostgreSQL), and the outbound queue. UIDs are renumbered and UIDVALIDITY is new (the target
 *   allocates them), so IMAP clients resynchronise once; that is what RFC 9051 UIDVALIDITY is for.
 * - importMaildir(store, user, dir): a Maildir (cur/new; tmp is ignored) with its sub-folders, in the
 *   Maildir++ layout (".Sent", ".Archive.2023", names in modified UTF-7) or as plain nested directories.
 *   Flags come from the ":2," info suffix (S R F T D P, a-z keywords via dovecot-keywords); INTERNALDATE is
 *   the file's mtime, as Dovecot uses it.
 * - importMbox(store, user, file): an mbox file (mboxrd unescaping of ">From "), streamed, so files of any
 *   size work. INTERNALDATE from the From_ line (else the Date: header); flags from Status/X-Status.
 *
 * Each function resolves with a report (counts and the items skipped with their reason); individual bad
 * messages are skipped and reported, never fatal. Failures of the stores themselves propagate.
 */
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { MAX_MESSAGE_SIZE } from '../lib/limits.js';
import { normalizeMailboxName } from './names.js';
import type { MailStore, Mailbox, SpecialUse } from './types.js';
import { StoreError, isStoreError } from './types.js';

export interface Skipped {
  /** What was skipped: "user@x/Mailbox uid 7", a file path, "mbox message 12". */
  item: string;
  reason: string;
}

export interface TransferProgress {
  user: string;
  mailbox: string;
  /** Messages copied so far in this mailbox, and how many it has. */
  done: number;
  total: number;
}

export interface TransferOptions {
  /** Only these users (addresses, any case). Default: all. */
  users?: string[];
  /**
   * A user who already exists in the target: 'fail' (default; StoreError EXISTS before anything is written
   * for that user) or 'merge' (mailboxes are reused, messages added; with EMAILIDs kept, a message already
   * present is skipped, so re-running a merge does not duplicate mail).
   */
  existing?: 'fail' | 'merge';
  /** Keep EMAILIDs (default true). */
  keepEmailIds?: boolean;
  /** Also copy domains, aliases and the outbound queue (default true). */
  includeGlobal?: boolean;
  onProgress?: (p: TransferProgress) => void;
}

export interface TransferReport {
  users: number;
  mailboxes: number;
  messages: number;
  bytes: number;
  domains: number;
  aliases: number;
  outbound: number;
  skipped: Skipped[];
}

/** Copies everything from `from` into `to` (see the module comment). */
export async function transferStore(from: MailStore, to: MailStore, opts: TransferOptions = {}): Promise<TransferReport> {
  const report: TransferReport = { users: 0, mailboxes: 0, messages: 0, bytes: 0, domains: 0, aliases: 0, outbound: 0, skipped: [] };
  const keepIds = opts.keepEmailIds ?? true;
  const only = opts.users ? new Set(opts.users.map((u) => u.trim().toLowerCase())) : null;
  const users = (await from.listUsers()).filter((u) => !only || only.has(u.address));
  if (only) {
    for (const a of only) if (!users.some((u) => u.address === a)) throw new StoreError('NOT_FOUND', `no such user in the source: ${a}`);
  }
  if ((opts.existing ?? 'fail') === 'fail') {
    for (const u of users) if (await to.getUser(u.address)) throw new StoreError('EXISTS', `user ${u.address} already exists in the target`);
  }

  if (opts.includeGlobal ?? true) {
    for (const d of await from.listDomains()) {
      await to.addDomain(d);
      report.domains++;
    }
    for (const a of await from.listAliases()) {
      await to.addAlias(a.from, a.to);
      report.aliases++;
    }
  }

  for (const u of users) {
    let target = await to.getUser(u.address);
    const created = !target;
    if (!target) target = await to.createUser(u.address, u.passwordHash);
    report.users++;
    const boxes = await from.listMailboxes(u.id);
    if (created) {
      // A new target user starts with the default mailboxes; drop those the source user does not have.
      const names = new Set(boxes.map((b) => b.name));
      for (const b of await to.listMailboxes(target.id)) {
        if (!names.has(b.name) && b.name !== 'INBOX') await to.deleteMailbox(target.id, b.name).catch(() => undefined);
      }
    }
    for (const box of boxes) {
      const dst = await ensureMailbox(to, target.id, box.name, box.specialUse);
      if (dst.specialUse !== box.specialUse && (created || box.specialUse !== null)) await to.setSpecialUse(dst.id, box.specialUse);
      report.mailboxes++;
      const metas = await from.listMessages(box.id);
      let done = 0;
      for (const m of metas) {
        let raw: Buffer;
        try {
          raw = await from.readMessage(box.id, m.uid);
        } catch (e) {
          if (isStoreError(e, 'NOT_FOUND')) {
            report.skipped.push({ item: `${u.address}/${box.name} uid ${m.uid}`, reason: 'expunged during the transfer' });
            continue;
          }
          throw e;
        }
        try {
          await to.append(dst.id, raw, { flags: m.flags, internalDate: m.internalDate, ...(keepIds ? { emailId: m.emailId } : {}) });
          report.messages++;
          report.bytes += raw.length;
        } catch (e) {
          if (isStoreError(e, 'EXISTS')) report.skipped.push({ item: `${u.address}/${box.name} uid ${m.uid}`, reason: 'already present (same EMAILID)' });
          else if (isStoreError(e, 'TOO_BIG') || isStoreError(e, 'INVALID')) {
            report.skipped.push({ item: `${u.address}/${box.name} uid ${m.uid}`, reason: e.message });
          } else throw e;
        }
        done++;
        opts.onProgress?.({ user: u.address, mailbox: box.name, done, total: metas.length });
      }
    }
    // Subscriptions: the source's set exactly (a new target user starts with its defaults subscribed).
    const want = new Set(await from.listSubscriptions(u.id));
    for (const name of want) await to.setSubscribed(target.id, name, true);
    if (created) for (const name of await to.listSubscriptions(target.id)) if (!want.has(name)) await to.setSubscribed(target.id, name, false);
  }

  if (opts.includeGlobal ?? true) {
    for (const o of await from.listOutbound()) {
      const raw = await from.readOutbound(o.id);
      const id = await to.enqueueOutbound(o.sender, o.recipients, raw);
      await to.updateOutbound(id, { recipients: o.recipients, attempts: o.attempts, nextAttemptAt: o.nextAttemptAt, lastError: o.lastError });
      report.outbound++;
    }
  }
  return report;
}

async function ensureMailbox(store: MailStore, userId: number, name: string, specialUse: SpecialUse | null): Promise<Mailbox> {
  const existing = await store.getMailbox(userId, name);
  if (existing) return existing;
  try {
    return await store.createMailbox(userId, name, { specialUse });
  } catch (e) {
    if (isStoreError(e, 'EXISTS')) {
      const again = await store.getMailbox(userId, name);
      if (again) return again;
    }
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------
// imports

export interface ImportOptions {
  /** Target mailbox for the Maildir root / the mbox file (default INBOX); created when missing. */
  mailbox?: string;
  /** Maildir: also import sub-folders (default true). */
  folders?: boolean;
  onProgress?: (p: { mailbox: string; messages: number; bytes: number }) => void;
}

export interface ImportReport {
  mailboxes: number;
  messages: number;
  bytes: number;
  skipped: Skipped[];
}

async function userId(store: MailStore, address: string): Promise<number> {
  const u = await store.getUser(address);
  if (!u) throw new StoreError('NOT_FOUND', `no such user: ${address}`);
  return u.id;
}

/** Decodes IMAP modified UTF-7 (RFC 3501 5.1.3), as Maildir++ folder names are written. Bad input is kept. */
export function decodeModifiedUtf7(s: string): string {
  return s.replace(/&([A-Za-z0-9+,]*)-/g, (whole, b64: string) => {
    if (b64 === '') return '&';
    const buf = Buffer.from(b64.replace(/,/g, '/'), 'base64');
    if (buf.length % 2 !== 0) return whole;
    return buf.swap16().toString('utf16le');
  });
}

/** Maildir flag letters (the ":2," info) -> IMAP flags. */
const MAILDIR_FLAGS: Record<string, string> = { S: '\\Seen', R: '\\Answered', F: '\\Flagged', T: '\\Deleted', D: '\\Draft', P: '$Forwarded' };

/** Flags from a Maildir file name; `keywords` maps a-z letters to names (dovecot-keywords). */
export function maildirFlags(fileName: string, keywords: ReadonlyMap<string, string>): string[] {
  const m = /[:;!]2,([A-Za-z]*)$/.exec(fileName);
  if (!m) return [];
  const out: string[] = [];
  for (const ch of m[1]!) {
    const f = MAILDIR_FLAGS[ch] ?? keywords.get(ch);
    if (f && !out.includes(f)) out.push(f);
  }
  return out;
}

async function isMaildir(dir: string): Promise<boolean> {
  const st = await fs.stat(join(dir, 'cur')).catch(() => null);
  return st?.isDirectory() ?? false;
}

async function readKeywords(dir: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  const text = await fs.readFile(join(dir, 'dovecot-keywords'), 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\S+)$/.exec(line.trim());
    if (m && Number(m[1]) < 26) map.set(String.fromCharCode(97 + Number(m[1])), m[2]!);
  }
  return map;
}

/** Folders of a Maildir: [mailbox name relative to the root ('' = root), directory]. */
async function maildirFolders(root: string, withFolders: boolean): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [['', root]];
  if (!withFolders) return out;
  const entries = await fs.readdir(root, { withFileTypes: true });
  const dotted = entries.filter((e) => e.isDirectory() && e.name.startsWith('.') && e.name.length > 1 && e.name !== '..');
  for (const e of dotted) {
    const dir = join(root, e.name);
    if (!(await isMaildir(dir))) continue;
    // Maildir++: ".A.B" is A/B. An "INBOX." prefix some tools write means the same folder.
    let name = decodeModifiedUtf7(e.name.slice(1)).split('.').join('/');
    if (/^INBOX\//i.test(name)) name = name.slice(6);
    out.push([name, dir]);
  }
  if (dotted.length === 0) {
    // Plain nested layout (e.g. mbsync "SubFolders Verbatim"): every directory holding cur/ is a folder.
    const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
      if (depth > 32) return;
      for (const e of await fs.readdir(dir, { withFileTypes: true })) {
        if (!e.isDirectory() || ['cur', 'new', 'tmp'].includes(e.name) || e.name.startsWith('.')) continue;
        const sub = join(dir, e.name);
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
export async function importMaildir(store: MailStore, userAddress: string, dir: string, opts: ImportOptions = {}): Promise<ImportReport> {
  const uid = await userId(store, userAddress);
  if (!(await isMaildir(dir))) throw new StoreError('INVALID', `${dir} is not a Maildir (no cur/ directory)`);
  const base = normalizeMailboxName(opts.mailbox ?? 'INBOX');
  const report: ImportReport = { mailboxes: 0, messages: 0, bytes: 0, skipped: [] };
  for (const [rel, folderDir] of await maildirFolders(dir, opts.folders ?? true)) {
    let name: string;
    try {
      name = normalizeMailboxName(rel === '' ? base : base === 'INBOX' ? rel : `${base}/${rel}`);
    } catch (e) {
      report.skipped.push({ item: folderDir, reason: `unusable folder name: ${(e as Error).message}` });
      continue;
    }
    const box = await ensureMailbox(store, uid, name, null);
    report.mailboxes++;
    const keywords = await readKeywords(folderDir);
    const files: Array<{ path: string; name: string; recent: boolean }> = [];
    for (const sub of ['new', 'cur'] as const) {
      const names = await fs.readdir(join(folderDir, sub)).catch(() => [] as string[]);
      for (const n of names) if (!n.startsWith('.')) files.push({ path: join(folderDir, sub, n), name: n, recent: sub === 'new' });
    }
    // Delivery order: the leading seconds[.micro] of a Maildir name, then the name.
    const stamp = (n: string): number => Number(/^(\d+)/.exec(n)?.[1] ?? Infinity);
    files.sort((a, b) => stamp(a.name) - stamp(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const f of files) {
      const st = await fs.stat(f.path).catch(() => null);
      if (!st?.isFile()) continue;
      if (st.size > MAX_MESSAGE_SIZE) {
        report.skipped.push({ item: f.path, reason: `larger than ${MAX_MESSAGE_SIZE} octets` });
        continue;
      }
      const raw = await fs.readFile(f.path);
      try {
        await store.append(box.id, raw, { flags: f.recent ? [] : maildirFlags(f.name, keywords), internalDate: st.mtime });
      } catch (e) {
        if (isStoreError(e, 'INVALID') || isStoreError(e, 'TOO_BIG')) {
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

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

/** The date of an mbox From_ line ("From sender Mon Jan  2 10:00:00 2023", taken as UTC), or null. */
export function fromLineDate(line: string): Date | null {
  const m = /\s(?:[A-Za-z]{3},?\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:([A-Z]{1,5}|[+-]\d{4})\s+)?(\d{4})\s*(?:([+-]\d{4})\s*)?$/.exec(
    line,
  );
  if (!m) return null;
  const mon = MONTHS.indexOf(m[1]!.toLowerCase());
  if (mon < 0) return null;
  let t = Date.UTC(Number(m[7]), mon, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5] ?? 0));
  const zone = /^[+-]\d{4}$/.test(m[6] ?? '') ? m[6]! : /^[+-]\d{4}$/.test(m[8] ?? '') ? m[8]! : null;
  if (zone) t -= (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5))) * 60_000;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Flags from the Status / X-Status header fields mbox readers (mutt, pine, Dovecot) write. */
export function mboxFlags(header: string): string[] {
  const out: string[] = [];
  const status = /(?:^|\n)Status:[ \t]*([A-Za-z]*)/i.exec(header)?.[1] ?? '';
  const xstatus = /(?:^|\n)X-Status:[ \t]*([A-Za-z]*)/i.exec(header)?.[1] ?? '';
  if (status.includes('R')) out.push('\\Seen');
  if (xstatus.includes('A')) out.push('\\Answered');
  if (xstatus.includes('F')) out.push('\\Flagged');
  if (xstatus.includes('T')) out.push('\\Draft');
  if (xstatus.includes('D')) out.push('\\Deleted');
  return out;
}

/** A From_ separator line: "From " then an address-ish token and something with a time in it. */
const FROM_LINE = /^From \S*\s.*\d{1,2}:\d{2}/;

interface MboxMessage {
  fromLine: string;
  raw: Buffer;
  tooBig: boolean;
}

/**
 * Streams the messages of an mbox file. A message starts at a From_ line at the start of the file or after
 * an empty line; the empty line before the next From_ line belongs to the separator. Lines ">From ",
 * ">>From " ... lose one '>' (mboxrd). Messages over MAX_MESSAGE_SIZE are reported with tooBig and no bytes.
 */
export async function* readMbox(file: string): AsyncGenerator<MboxMessage> {
  let lines: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  let fromLine: string | null = null;
  let prevEmpty = true;
  let carry: Buffer = Buffer.alloc(0);
  const finish = (): MboxMessage | null => {
    if (fromLine === null) return null;
    // Drop the separator's empty line.
    if (lines.length && isEmptyLine(lines[lines.length - 1]!)) lines.pop();
    const msg: MboxMessage = { fromLine, raw: tooBig ? Buffer.alloc(0) : Buffer.concat(lines), tooBig };
    lines = [];
    size = 0;
    tooBig = false;
    return msg;
  };
  const onLine = (line: Buffer): MboxMessage | null => {
    // line includes its '\n' (except possibly the last line of the file)
    let out: MboxMessage | null = null;
    if (prevEmpty && line.length >= 5 && line.subarray(0, 5).toString('latin1') === 'From ') {
      const text = line.toString('latin1').replace(/\r?\n$/, '');
      if (FROM_LINE.test(text) || fromLine === null) {
        out = finish();
        fromLine = text;
        prevEmpty = false;
        return out;
      }
    }
    prevEmpty = isEmptyLine(line);
    if (fromLine === null) return null; // garbage before the first From_ line
    let l = line;
    if (l[0] === 0x3e /* > */) {
      let i = 0;
      while (l[i] === 0x3e) i++;
      if (l.subarray(i, i + 5).toString('latin1') === 'From ') l = l.subarray(1);
    }
    if (tooBig) return null;
    size += l.length;
    if (size > MAX_MESSAGE_SIZE) {
      tooBig = true;
      lines = [];
      return null;
    }
    lines.push(Buffer.from(l));
    return null;
  };
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    let buf = carry.length ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      const msg = onLine(buf.subarray(start, nl + 1));
      if (msg) yield msg;
      start = nl + 1;
    }
    carry = Buffer.from(buf.subarray(start));
    buf = carry;
  }
  if (carry.length) {
    const msg = onLine(carry);
    if (msg) yield msg;
  }
  const last = finish();
  if (last) yield last;
}

function isEmptyLine(line: Buffer): boolean {
  return line.length === 0 || (line.length === 1 && line[0] === 0x0a) || (line.length === 2 && line[0] === 0x0d && line[1] === 0x0a);
}

/** Imports an mbox file into one mailbox of the user. Throws NOT_FOUND for an unknown user. */
export async function importMbox(store: MailStore, userAddress: string, file: string, opts: ImportOptions = {}): Promise<ImportReport> {
  const uid = await userId(store, userAddress);
  const name = normalizeMailboxName(opts.mailbox ?? 'INBOX');
  const st = await fs.stat(file).catch(() => null);
  if (!st?.isFile()) throw new StoreError('NOT_FOUND', `no such file: ${file}`);
  const box = await ensureMailbox(store, uid, name, null);
  const report: ImportReport = { mailboxes: 1, messages: 0, bytes: 0, skipped: [] };
  let n = 0;
  for await (const m of readMbox(file)) {
    n++;
    if (m.tooBig) {
      report.skipped.push({ item: `mbox message ${n}`, reason: `larger than ${MAX_MESSAGE_SIZE} octets` });
      continue;
    }
    const headerEnd = m.raw.indexOf('\n\n') >= 0 ? m.raw.indexOf('\n\n') : m.raw.indexOf('\r\n\r\n');
    const header = m.raw.subarray(0, headerEnd < 0 ? Math.min(m.raw.length, 64 * 1024) : headerEnd).toString('latin1');
    let date = fromLineDate(m.fromLine);
    if (!date) {
      const hdr = /(?:^|\n)Date:[ \t]*([^\r\n]*)/i.exec(header)?.[1];
      const t = hdr ? Date.parse(hdr) : Number.NaN;
      date = Number.isNaN(t) ? new Date() : new Date(t);
    }
    try {
      await store.append(box.id, m.raw, { flags: mboxFlags(header), internalDate: date });
    } catch (e) {
      if (isStoreError(e, 'INVALID') || isStoreError(e, 'TOO_BIG')) {
        report.skipped.push({ item: `mbox message ${n}`, reason: e.message });
        continue;
      }
      throw e;
    }
    report.messages++;
    report.bytes += m.raw.length;
    opts.onProgress?.({ mailbox: name, messages: report.messages, bytes: report.bytes });
  }
  return report;
}

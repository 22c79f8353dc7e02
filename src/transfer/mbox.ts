/**
 * importMbox(store, user, file): an mbox file (mboxrd unescaping of ">From "), streamed, so files of any
 * size work. INTERNALDATE from the From_ line (else the Date: header); flags from Status/X-Status. Bad
 * messages are skipped and reported. A symbolic link is never followed: an mbox path that is a link is
 * skipped and reported (reason SYMLINK_SKIPPED), nothing read. Throws StoreError NOT_FOUND for an unknown
 * user or a missing file.
 */
import { constants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { MAX_MESSAGE_SIZE } from '../lib/limits.js';
import { normalizeMailboxName } from '../store/names.js';
import { StoreError, isStoreError } from '../store/types.js';
import { SYMLINK_SKIPPED, ensureMailbox, openRegularFile, userId, type ImportOptions, type ImportReport, type ImportTarget } from './common.js';

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
 * A path is opened with O_NOFOLLOW (a symbolic link fails with ELOOP); an open handle is read and left open.
 */
export async function* readMbox(file: string | FileHandle): AsyncGenerator<MboxMessage> {
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
  const highWaterMark = 1 << 20;
  const stream =
    typeof file === 'string'
      ? (await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW)).createReadStream({ highWaterMark })
      : file.createReadStream({ highWaterMark, autoClose: false });
  for await (const chunk of stream) {
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
export async function importMbox(store: ImportTarget, userAddress: string, file: string, opts: ImportOptions = {}): Promise<ImportReport> {
  const uid = await userId(store.directory, userAddress);
  const name = normalizeMailboxName(opts.mailbox ?? 'INBOX');
  const opened = await openRegularFile(file);
  if (opened === 'symlink') return { mailboxes: 0, messages: 0, bytes: 0, skipped: [{ item: file, reason: SYMLINK_SKIPPED }] };
  if (typeof opened === 'string') throw new StoreError('NOT_FOUND', `no such file: ${file}`);
  try {
    return await importOpenMbox(store.mail, uid, name, opened.handle, opts);
  } finally {
    await opened.handle.close();
  }
}

async function importOpenMbox(mail: ImportTarget['mail'], uid: number, name: string, handle: FileHandle, opts: ImportOptions): Promise<ImportReport> {
  const box = await ensureMailbox(mail, uid, name, null);
  const report: ImportReport = { mailboxes: 1, messages: 0, bytes: 0, skipped: [] };
  let n = 0;
  for await (const m of readMbox(handle)) {
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
      await mail.append(box.id, m.raw, { flags: mboxFlags(header), internalDate: date });
    } catch (e) {
      if (isStoreError(e, 'INVALID') || isStoreError(e, 'TOO_BIG') || isStoreError(e, 'OVER_QUOTA')) {
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

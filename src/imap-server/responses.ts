/**
 * The server's untagged and continuation responses (RFC 9051 section 7), one function each, so every
 * command, the view, the dispatcher and the connection put the same bytes on the wire for the same
 * response. Functions named `*Line` return one complete response as text ending in CRLF; `write*`
 * functions append one complete response to a WireWriter (for responses carrying astrings, which the
 * writer quotes or sends as literals). Nothing here writes to a session or throws; tagged completions are
 * written only by the dispatcher.
 */
import { formatSequenceSet, type WireWriter } from '../imap/wire/encode.js';
import { numberList } from '../imap/wire/numbers.js';

/** "* n EXISTS" (RFC 9051 7.4.1). */
export function existsLine(n: number): string {
  return `* ${n} EXISTS\r\n`;
}

/** "* n RECENT" (RFC 3501 7.3.2; never sent to IMAP4rev2 sessions). */
export function recentLine(n: number): string {
  return `* ${n} RECENT\r\n`;
}

/** "* seq EXPUNGE" (RFC 9051 7.5.1). */
export function expungeLine(seq: number): string {
  return `* ${seq} EXPUNGE\r\n`;
}

/** "* VANISHED [(EARLIER)] uids" (RFC 7162 3.2.10); `uids` ascending. */
export function vanishedLine(uids: readonly number[], earlier = false): string {
  return `* VANISHED ${earlier ? '(EARLIER) ' : ''}${formatSequenceSet(uids)}\r\n`;
}

/** "(flag flag ...)": a flag list as FLAGS, PERMANENTFLAGS and FETCH FLAGS carry it. */
export function flagList(flags: readonly string[]): string {
  return '(' + flags.join(' ') + ')';
}

/** "* FLAGS (...)" (RFC 9051 7.3.5). */
export function flagsLine(flags: readonly string[]): string {
  return `* FLAGS ${flagList(flags)}\r\n`;
}

/** "* OK [PERMANENTFLAGS (...)] text" (RFC 9051 7.1): the flags plus \* when writable, () when read-only. */
export function permanentFlagsLine(flags: readonly string[], readOnly: boolean, newKeywords = true): string {
  if (readOnly) return okLine('PERMANENTFLAGS ()', 'Read-only mailbox.');
  return okLine(`PERMANENTFLAGS ${flagList(newKeywords ? [...flags, '\\*'] : flags)}`, 'Flags permitted.');
}

/** "* OK [code] text", or "* OK text" without a code (RFC 9051 7.1.1). */
export function okLine(code: string | null, text: string): string {
  return code === null ? `* OK ${text}\r\n` : `* OK [${code}] ${text}\r\n`;
}

/** Untagged "* BAD text" (RFC 9051 7.1.3): input that has no usable tag. */
export function badLine(text: string): string {
  return `* BAD ${text}\r\n`;
}

/** "* BYE text" (RFC 9051 7.1.5). */
export function byeLine(text: string): string {
  return `* BYE ${text}\r\n`;
}

/**
 * The BYE sent when the selected mailbox is deleted under the session (by itself or by another one): its
 * sequence numbers mean nothing any more, so the connection ends after it (as Dovecot does).
 */
export function mailboxDeletedBye(): Buffer {
  return Buffer.from(byeLine('Selected mailbox was deleted, have to disconnect.'));
}

/** "+ text" (RFC 9051 7.5): a command continuation request. */
export function continuationLine(text: string): string {
  return `+ ${text}\r\n`;
}

/** "* CAPABILITY ..." (RFC 9051 7.2.2). */
export function capabilityLine(caps: readonly string[]): string {
  return `* CAPABILITY ${caps.join(' ')}\r\n`;
}

/** The greeting (RFC 9051 7.1.1 with the CAPABILITY response code). */
export function greetingLine(caps: readonly string[], hostname: string): string {
  return okLine(`CAPABILITY ${caps.join(' ')}`, `${hostname} mailroom IMAP ready.`);
}

/** "* ENABLED ..." (RFC 5161 3.2); the list may be empty. */
export function enabledLine(caps: readonly string[]): string {
  return `* ENABLED${caps.map((c) => ' ' + c).join('')}\r\n`;
}

/** "* NAMESPACE ..." (RFC 2342): one personal namespace, "" with delimiter "/". */
export function namespaceLine(): string {
  return '* NAMESPACE (("" "/")) NIL NIL\r\n';
}

/** "* SEARCH n n ... [(MODSEQ m)]" (RFC 3501 7.2.5, RFC 7162 3.1.5). */
export function searchLine(nums: readonly number[], modseq: number | null): string {
  return `* SEARCH${nums.map((n) => ' ' + n).join('')}${modseq !== null ? ` (MODSEQ ${modseq})` : ''}\r\n`;
}

export interface EsearchResult {
  min?: number;
  max?: number;
  count?: number;
  /** Ascending for SEARCH, in sort order for SORT (RFC 5267); omitted when empty. */
  all?: readonly number[];
  modseq?: number;
  /** RFC 9394 PARTIAL: the range as asked (normalized) and the numbers in it (NIL when none). */
  partial?: { range: string; set: readonly number[] };
  /** RFC 5267 section 4.4 context updates: a position in the result and the numbers added or removed there. */
  addTo?: { pos: number; set: readonly number[] };
  removeFrom?: { pos: number; set: readonly number[] };
}

/** "* ESEARCH (TAG "t") [UID] MIN .. MAX .. COUNT .. ALL .. MODSEQ .." (RFC 4731 3.1, RFC 9051 7.3.4). */
export function esearchLine(tag: string, uid: boolean, r: EsearchResult): string {
  let text = `* ESEARCH (TAG "${tag.replace(/[\\"]/g, '\\$&')}")${uid ? ' UID' : ''}`;
  if (r.min !== undefined) text += ` MIN ${r.min}`;
  if (r.max !== undefined) text += ` MAX ${r.max}`;
  if (r.count !== undefined) text += ` COUNT ${r.count}`;
  if (r.all !== undefined && r.all.length) text += ` ALL ${formatSequenceSet(r.all)}`;
  if (r.partial !== undefined) text += ` PARTIAL (${r.partial.range} ${r.partial.set.length ? formatSequenceSet(r.partial.set) : 'NIL'})`;
  if (r.addTo !== undefined) text += ` ADDTO (${r.addTo.pos} ${formatSequenceSet(r.addTo.set)})`;
  if (r.removeFrom !== undefined) text += ` REMOVEFROM (${r.removeFrom.pos} ${formatSequenceSet(r.removeFrom.set)})`;
  if (r.modseq !== undefined) text += ` MODSEQ ${r.modseq}`;
  return text + '\r\n';
}

/**
 * "* SORT n n ... [(MODSEQ m)]" (RFC 5256 section 4, RFC 7162 3.1.5): numbers in sort order, as bytes (a
 * whole mailbox's numbers are written straight into one Buffer).
 */
export function sortBytes(nums: ArrayLike<number>, modseq: number | null): Buffer {
  return numberList('* SORT', nums, `${modseq !== null ? ` (MODSEQ ${modseq})` : ''}\r\n`);
}

/** "* THREAD thread-list..." (RFC 5256 section 4) as bytes; `threads` already rendered (commands/thread.ts). */
export function threadBytes(threads: Buffer): Buffer {
  return Buffer.concat([Buffer.from(threads.length ? '* THREAD ' : '* THREAD'), threads, Buffer.from('\r\n')]);
}

/** "* LIST|LSUB (\Noselect) "/" """: the hierarchy delimiter and root (RFC 9051 6.3.9). */
export function listRootLine(cmd: 'LIST' | 'LSUB'): string {
  return `* ${cmd} (\\Noselect) "/" ""\r\n`;
}

/** "* LIST|LSUB (attrs) "/" name [extra]" (RFC 9051 7.3.1); `wireName` already encoded for the session. */
export function writeList(w: WireWriter, cmd: 'LIST' | 'LSUB', attrs: readonly string[], wireName: string, extra?: string): void {
  w.text(`* ${cmd} (${attrs.join(' ')}) "/" `).string(wireName);
  if (extra) w.text(' ' + extra);
  w.text('\r\n');
}

/** "* STATUS name (item value ...)" (RFC 9051 7.3.2); `items` already formatted as "NAME value". */
export function writeStatus(w: WireWriter, wireName: string, items: readonly string[]): void {
  w.text('* STATUS ').string(wireName).text(` (${items.join(' ')})\r\n`);
}

/** "* ID (name value ...)" (RFC 2971 3.2). */
export function writeId(w: WireWriter, params: ReadonlyArray<readonly [string, string]>): void {
  w.text('* ID ');
  w.list(params, (ww, [k, v]) => ww.string(k).sp().string(v));
  w.text('\r\n');
}

/** Opens "* seq FETCH (" (RFC 9051 7.5.2); the caller writes the items and closes with fetchClose. */
export function writeFetchOpen(w: WireWriter, seq: number): void {
  w.text(`* ${seq} FETCH (`);
}

/** Closes a FETCH response opened with writeFetchOpen. */
export function writeFetchClose(w: WireWriter): void {
  w.text(')\r\n');
}

/** "* seq FETCH ([UID u ]MODSEQ (m))": what STORE .SILENT owes a CONDSTORE client (RFC 7162 3.1.3). */
export function modseqFetchLine(seq: number, uid: number | null, modseq: number): string {
  return `* ${seq} FETCH (${uid !== null ? `UID ${uid} ` : ''}MODSEQ (${modseq}))\r\n`;
}

/** "* GENURLAUTH url ..." (RFC 4467 section 7). */
export function writeGenurlauth(w: WireWriter, urls: readonly string[]): void {
  w.text('* GENURLAUTH');
  for (const u of urls) w.sp().astring(u);
  w.text('\r\n');
}

/**
 * "* URLFETCH url " (RFC 4467 section 7, RFC 5524 section 6); the caller writes the data (a literal, NIL
 * or the parenthesised RFC 5524 form) and closes with writeUrlfetchClose.
 */
export function writeUrlfetchOpen(w: WireWriter, url: string): void {
  w.text('* URLFETCH ').astring(url).sp();
}

export function writeUrlfetchClose(w: WireWriter): void {
  w.text('\r\n');
}

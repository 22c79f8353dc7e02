/**
 * The flag helpers of the selected-mailbox view (view.ts) and the interfaces it is built with: the system
 * flags, flag lists on the wire, the \Seen test of SELECT's UNSEEN and the flag comparison of refresh.
 */
import { WireWriter } from '../imap/wire/encode.js';
import type { MessageMeta } from '../store/types.js';
import { flagList, writeFetchClose, writeFetchOpen } from './responses.js';

/** The session user's own \Seen in another owner's mailbox: the uids now, and how to read them again. */
export interface PrivateSeen {
  uids: Set<number>;
  load(): Promise<readonly number[]>;
}

export interface UpdateSink {
  /** Writes one complete untagged response. */
  send(buf: Buffer): void;
  readonly condstore: boolean;
  readonly qresync: boolean;
  /** IMAP4rev2 enabled: no RECENT responses, no \Recent flag. */
  readonly rev2: boolean;
}

export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;

export function writeFlags(w: WireWriter, flags: readonly string[]): void {
  w.text(flagList(flags));
}

export function hasSeen(flags: readonly string[]): boolean {
  for (const f of flags) if (f === '\\Seen' || (f.length === 5 && f.toLowerCase() === '\\seen')) return true;
  return false;
}

export function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const s = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => s.has(f.toLowerCase()));
}

/**
 * The flags in use when the keywords noted so far are not known to be exactly the messages' (see
 * MailboxView.flagsInUse): system flags, the messages' keywords in message order, each in the case first
 * seen, then the noted keywords (lower-cased key -> spelling) no message carries any more.
 */
export function flagsOfMessages(metas: readonly MessageMeta[], keywords: ReadonlyMap<string, string>): string[] {
  const seen = new Map<string, string>();
  for (const f of SYSTEM_FLAGS) seen.set(f.toLowerCase(), f);
  for (const m of metas) for (const f of m.flags) if (!seen.has(f.toLowerCase())) seen.set(f.toLowerCase(), f);
  for (const [k, f] of keywords) if (!seen.has(k)) seen.set(k, f);
  return [...seen.values()];
}

/** "* seq FETCH (UID n FLAGS (...) MODSEQ (m))" for an unsolicited flag update, `flags` as reported. */
export function flagsFetch(seq: number, m: MessageMeta, flags: readonly string[], sink: UpdateSink, withUid: boolean): Buffer {
  const w = new WireWriter();
  writeFetchOpen(w, seq);
  if (withUid || sink.qresync) w.text(`UID ${m.uid} `);
  w.text('FLAGS ');
  writeFlags(w, flags);
  if (sink.condstore) w.text(` MODSEQ (${m.modseq})`);
  writeFetchClose(w);
  return w.toBuffer();
}

/**
 * Messages another client moved (or copied) on the server come back as new UIDs in another folder, with the
 * same bytes. Their cached bodies are not downloaded again: a body leaving a folder during a sync is parked
 * (out of the Maildir's view, in its tmp/) until the sync ends, and a new message naming the same message
 * takes a parked body (moved) or the body another folder still holds (hard-linked). "The same message":
 * the same EMAILID when the server has OBJECTID (RFC 8474), else the same Message-ID, RFC822.SIZE and
 * INTERNALDATE (which COPY and MOVE keep, RFC 3501 section 6.4.7, RFC 6851).
 *
 * Contract: a parked body nobody took is deleted by finish(); after a crash it is a stale tmp/ file, never a
 * message a mail reader shows. A row is only given a file that exists.
 */
import { rmSync } from 'node:fs';
import { Maildir, type StoredFile } from '../store/maildir.js';
import type { MessageRow, StateDb } from '../store/state.js';

export interface MessageIdentity {
  emailId: string | null;
  messageId: string | null;
  size: number;
  internalDate: number;
}

interface Parked extends MessageIdentity {
  path: string;
  taken: boolean;
}

/** The keys a message is found under: its EMAILID, and its Message-ID with size and date. */
export function keysOf(id: MessageIdentity): string[] {
  const out: string[] = [];
  if (id.emailId) out.push(`e\0${id.emailId}`);
  if (id.messageId) out.push(`m\0${id.messageId}\0${id.size}\0${id.internalDate}`);
  return out;
}

export function sameIdentity(a: MessageIdentity, b: MessageIdentity): boolean {
  if (a.emailId && b.emailId) return a.emailId === b.emailId;
  return !!a.messageId && a.messageId === b.messageId && a.size === b.size && a.internalDate === b.internalDate;
}

export class Relocator {
  private parked: Parked[] = [];
  /** Parked bodies by keysOf (a folder reset parks thousands: no linear search). */
  private byKey = new Map<string, Parked[]>();

  constructor(
    private readonly state: StateDb,
    private readonly account: string,
  ) {}

  /**
   * Removes a row's cached body from its folder: parked when it can name a message (so a move found later
   * in this sync takes it), else deleted.
   */
  release(row: MessageRow): void {
    if (!row.fileKey) return;
    const dir = new Maildir(row.maildir);
    if (!row.bodyCached || (!row.emailId && !row.messageId)) {
      dir.remove(row.fileKey, row.filePath ?? undefined);
      return;
    }
    const path = dir.park(row.fileKey, row.filePath ?? undefined);
    if (!path) return;
    const p: Parked = { path, emailId: row.emailId, messageId: row.messageId, size: row.size, internalDate: row.internalDate, taken: false };
    this.parked.push(p);
    for (const k of keysOf(p)) this.byKey.set(k, [...(this.byKey.get(k) ?? []), p]);
  }

  /**
   * A local body for a new message in `dir`: a parked one (moved in) or another row's cached file
   * (linked), stored with `flags`; null when we have none.
   */
  adopt(dir: Maildir, id: MessageIdentity, flags: string[]): StoredFile | null {
    if (!id.emailId && !id.messageId) return null;
    const p = keysOf(id)
      .flatMap((k) => this.byKey.get(k) ?? [])
      .find((x) => !x.taken && sameIdentity(x, id));
    if (p) {
      p.taken = true;
      try {
        return dir.adopt(p.path, id.size, { flags, move: true });
      } catch {
        rmSync(p.path, { force: true });
      }
    }
    for (const row of this.state.sameMessage(this.account, id)) {
      if (!row.fileKey || !sameIdentity(row, id)) continue;
      const f = new Maildir(row.maildir).find(row.fileKey, row.filePath ?? undefined);
      if (!f) continue;
      try {
        return dir.adopt(f.path, id.size, { flags, move: false });
      } catch {
        /* the file went away meanwhile: try another, else download */
      }
    }
    return null;
  }

  /** Deletes the parked bodies nobody took. */
  finish(): void {
    for (const p of this.parked) if (!p.taken) rmSync(p.path, { force: true });
    this.parked = [];
    this.byKey = new Map();
  }
}

/**
 * SqliteMaildrop: the POP3 maildrop (RFC 1939) over the SQLite core: the per-user session lock, the UPDATE
 * state's commit (expunge + \Seen + retrieved marks in one transaction, durable before it resolves) and the
 * retention purge of retrieved messages. The lock is held in the core's SqliteHub: it excludes the sessions
 * of every store opened with the same hub (see core.ts), and with the hub's link (serve --workers N) those
 * of every worker; not other processes. Failures are StoreError
 * values (NOT_FOUND, TEMPORARY).
 */
import { closeSync, readSync } from 'node:fs';
import type { Maildrop, MessageReader } from '../maildrop.js';
import { StoreError, type MaildropCommit } from '../types.js';
import { FLAG_SEEN } from '../flags.js';
import type { SqliteCore } from './core.js';
import { heldBlob } from './held.js';
import { deleteRows } from './mutations.js';
import { cleanUids, mapError } from './rows.js';

const EMPTY = Buffer.alloc(0);
const SET_RETRIEVED = 'UPDATE messages SET retrieved_at = ? WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))';
const UNSEEN_ROWS = `SELECT uid, flags, keywords FROM messages WHERE mailbox_id = ? AND (flags & ${FLAG_SEEN}) = 0 AND uid IN (SELECT value FROM json_each(?))`;
const DOOMED_ROWS = 'SELECT uid, blob_id FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid';

/** A message kept in blob_inline: its bytes came with the look-up; next() hands out views of them. */
class InlineReader implements MessageReader {
  readonly size: number;
  readonly inMemory = true;
  #pos = 0;
  constructor(private readonly raw: Buffer) {
    this.size = raw.length;
  }
  next(_into: Buffer, end = this.size): Buffer {
    const from = this.#pos;
    const to = Math.min(end, this.size);
    if (from >= to) return EMPTY;
    this.#pos = to;
    return from === 0 && to === this.size ? this.raw : this.raw.subarray(from, to);
  }
  close(): void {}
}

/** A message kept in a blob file, open for the reader's life: one pread per next() (the kernel may give less). */
class FileReader implements MessageReader {
  readonly inMemory = false;
  #pos = 0;
  #fd: number;
  constructor(
    fd: number,
    readonly size: number,
  ) {
    this.#fd = fd;
  }
  next(into: Buffer, end = this.size): Buffer {
    const want = Math.min(into.length, Math.min(end, this.size) - this.#pos);
    if (want <= 0 || this.#fd < 0) return EMPTY;
    const n = readSync(this.#fd, into, 0, want, this.#pos);
    this.#pos += n;
    return into.subarray(0, n);
  }
  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}

export class SqliteMaildrop implements Maildrop {
  constructor(private readonly core: SqliteCore) {}

  lock(userId: number): Promise<(() => Promise<void>) | null> {
    // The workers of `serve --workers N` take the lock from their primary, so it holds across them.
    const link = this.core.hub.link;
    if (link) return link.lockMaildrop(userId);
    return this.core.run(async () => {
      if (this.core.hub.maildrops.has(userId)) return null;
      this.core.hub.maildrops.add(userId);
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        this.core.hub.maildrops.delete(userId);
      };
    });
  }

  /**
   * One statement finds the message and, when it is kept inline, brings its bytes; a file is opened at once
   * (gone meanwhile: null, like the row). Held rows (expunged but still shown to a session) are read too.
   */
  openMessage(mailboxId: number, uid: number): MessageReader | null {
    const core = this.core;
    if (core.closed) throw new StoreError('TEMPORARY', 'store is closed');
    try {
      const row = core.st.blobRead.get(mailboxId, uid) as [string, number, Buffer | null] | undefined;
      if (row) return row[2] !== null ? new InlineReader(row[2]) : this.#openFile(row[0], row[1]);
      const held = heldBlob(core, mailboxId, uid);
      if (!held) return null;
      const inline = core.st.blobInline.get(held.blob_id) as Buffer | undefined;
      return inline !== undefined ? new InlineReader(inline) : this.#openFile(held.blob_id, held.size);
    } catch (e) {
      throw mapError(e);
    }
  }

  #openFile(blobId: string, size: number): MessageReader | null {
    try {
      return new FileReader(this.core.blobs.openSync(blobId), size);
    } catch (e) {
      // Unlinked after an expunge that committed since the look-up: gone like the row.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  /** What deleteRows needs of the rows still present among `uids` (uid and blob), in one statement. */
  #doomedRows(mailboxId: number, uids: readonly number[]): Array<{ uid: number; blob_id: string }> {
    if (uids.length === 0) return [];
    return this.core.sql(DOOMED_ROWS).all(mailboxId, JSON.stringify(uids)) as Array<{ uid: number; blob_id: string }>;
  }

  commit(mailboxId: number, commit: MaildropCommit): Promise<number[]> {
    return this.core.run(async () => {
      const doomed: string[] = [];
      let ev: [number, number] | null = null;
      const out = await this.core.groupCommit((): number[] => {
        const b = this.core.mailboxRow(mailboxId);
        const gone = new Set(cleanUids(commit.expunge));
        const now = Date.now();
        // One statement each over a JSON list of uids (a session that read 1,000 messages used to run 1,000
        // updates and read every row twice); \Seen is set on the rows that lack it, which after the first
        // session is none.
        const retrieved = cleanUids(commit.retrieved.filter((u) => !gone.has(u)));
        if (retrieved.length > 0) this.core.sql(SET_RETRIEVED).run(now, mailboxId, JSON.stringify(retrieved));
        const seen = cleanUids(commit.seen.filter((u) => !gone.has(u)));
        const seenRows = seen.length === 0 ? [] : (this.core.sql(UNSEEN_ROWS).all(mailboxId, JSON.stringify(seen)) as Array<{ uid: number; flags: number; keywords: string }>);
        const expRows = this.#doomedRows(mailboxId, [...gone]);
        if (seenRows.length === 0 && expRows.length === 0) return [];
        const modseq = b.highest_modseq + 1;
        for (const r of seenRows) this.core.st.updateFlags.run(r.flags | FLAG_SEEN, r.keywords, modseq, mailboxId, r.uid);
        deleteRows(this.core, mailboxId, expRows, modseq, doomed);
        this.core.st.setModseq.run(modseq, mailboxId);
        ev = [b.user_id, modseq];
        return expRows.map((r) => r.uid);
      });
      if (ev) this.core.emit(ev[0], mailboxId, ev[1]);
      this.core.unlinkAll(doomed);
      return out;
    });
  }

  purgeRetrieved(mailboxId: number, before: Date): Promise<number> {
    return this.core.run(async () => {
      const doomed: string[] = [];
      let ev: [number, number] | null = null;
      const n = this.core.tx((): number => {
        const b = this.core.mailboxRow(mailboxId);
        const uids = this.core.st.retrievedBefore.pluck().all(mailboxId, before.getTime()) as number[];
        if (uids.length === 0) return 0;
        const rows = this.#doomedRows(mailboxId, uids);
        const modseq = b.highest_modseq + 1;
        deleteRows(this.core, mailboxId, rows, modseq, doomed);
        this.core.st.setModseq.run(modseq, mailboxId);
        ev = [b.user_id, modseq];
        return rows.length;
      });
      if (ev) this.core.emit(ev[0], mailboxId, ev[1]);
      this.core.unlinkAll(doomed);
      return n;
    });
  }
}

/**
 * SqliteMaildrop: the POP3 maildrop (RFC 1939) over the SQLite core: the per-user session lock, the UPDATE
 * state's commit (expunge + \Seen + retrieved marks in one transaction, durable before it resolves) and the
 * retention purge of retrieved messages. The lock is held in the core's SqliteHub: it excludes the sessions
 * of every store opened with the same hub (see core.ts), and with the hub's link (serve --workers N) those
 * of every worker; not other processes. Failures are StoreError
 * values (NOT_FOUND, TEMPORARY).
 */
import type { Maildrop } from '../maildrop.js';
import type { MaildropCommit } from '../types.js';
import { FLAG_SEEN } from '../flags.js';
import type { SqliteCore } from './core.js';
import { deleteRows } from './mutations.js';
import { chunks } from '../helpers.js';
import { CHUNK, IN_LIST, cleanUids, padChunk } from './rows.js';

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

  commit(mailboxId: number, commit: MaildropCommit): Promise<number[]> {
    return this.core.run(async () => {
      const doomed: string[] = [];
      let ev: [number, number] | null = null;
      const out = await this.core.groupCommit((): number[] => {
        const b = this.core.mailboxRow(mailboxId);
        const gone = new Set(cleanUids(commit.expunge));
        const now = Date.now();
        // One statement per CHUNK uids (a session that read 1,000 messages used to run 1,000 updates and read
        // every row twice); \Seen is set on the rows that lack it, which after the first session is none.
        const setRetrieved = this.core.sql(`UPDATE messages SET retrieved_at = ? WHERE mailbox_id = ? AND uid IN (${IN_LIST})`);
        for (const c of chunks(cleanUids(commit.retrieved.filter((u) => !gone.has(u))), CHUNK)) setRetrieved.run(now, mailboxId, ...padChunk(c));
        const unseen = this.core.sql(`SELECT uid, flags, keywords FROM messages WHERE mailbox_id = ? AND (flags & ${FLAG_SEEN}) = 0 AND uid IN (${IN_LIST})`);
        const seenRows: Array<{ uid: number; flags: number; keywords: string }> = [];
        for (const c of chunks(cleanUids(commit.seen.filter((u) => !gone.has(u))), CHUNK)) seenRows.push(...(unseen.all(mailboxId, ...padChunk(c)) as typeof seenRows));
        const expRows = this.core.rowsIn(mailboxId, [...gone]);
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
        const rows = this.core.rowsIn(mailboxId, uids);
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

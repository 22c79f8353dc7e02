/**
 * SqliteMailWrites: the message writes of the SQLite MailStore (mail.ts completes it): the appends of
 * append.ts, STORE flag changes with UNCHANGEDSINCE (RFC 7162 3.1.3), EXPUNGE, COPY and MOVE (RFC 6851).
 * Appends, copies and moves resolve after their commit is durable; flag changes and expunges at COMMIT
 * (see core.ts; an expunge's sync starts at once and its blob files go after it). Failures are StoreError
 * values (NOT_FOUND, TOO_BIG, EXISTS, INVALID, OVER_QUOTA, TEMPORARY).
 */
import type { CopyResult, ExpungeResult, MessageMeta, StoreFlagsOptions, StoreFlagsResult } from '../types.js';
import { applyFlagOp, checkStoreFlags, type ParsedFlags } from '../flags.js';
import { StoreError } from '../types.js';
import { SqliteAppends } from './append.js';
import { canonicalKeywords, deleteRows, moveRows } from './mutations.js';
import { checkQuota } from './quota.js';
import { chunks } from '../helpers.js';
import { CHUNK, cleanUids, padChunk, splitKeywords, toMeta, type MailboxRow, type MsgRow } from './rows.js';

export class SqliteMailWrites extends SqliteAppends {
  storeFlags(mailboxId: number, uids: number[], opts: StoreFlagsOptions): Promise<StoreFlagsResult> {
    return this.core.run(async () => {
      const change = checkStoreFlags(opts);
      const since = opts.unchangedSince;
      // Read first, outside any transaction (HIGHESTMODSEQ before the rows): a change that changes nothing
      // (+FLAGS (\Seen) on messages already seen, the common re-read) is answered from these rows without a
      // write transaction, as the transaction's own read would have answered it.
      const { highest, before } = this.rowsWithHighest(mailboxId, uids);
      const noop = unchangedBy(before, opts.op, change, since);
      if (noop) return { ...noop, highestModseq: highest };
      let userId = 0;
      const result = await this.core.groupCommit((): StoreFlagsResult => {
        const b = this.core.mailboxRow(mailboxId);
        userId = b.user_id;
        const canon = opts.op === 'remove' || change.keywords.length === 0 ? change : { mask: change.mask, keywords: canonicalKeywords(this.core, mailboxId, change.keywords, new Map()) };
        // Every write of flags, or of message rows at all, bumps HIGHESTMODSEQ in its transaction: while it
        // is unchanged, the rows read above are the rows now.
        const rows = b.highest_modseq === highest ? before : this.core.rowsIn(mailboxId, uids);
        const modified: number[] = [];
        const updates: Array<[MsgRow, number, string[]]> = [];
        for (const r of rows) {
          if (since !== undefined && r.modseq > since) {
            modified.push(r.uid);
            continue;
          }
          const next = applyFlagOp(opts.op, { mask: r.flags, keywords: splitKeywords(r.keywords) }, canon);
          if (next.changed) updates.push([r, next.mask, next.keywords]);
        }
        if (updates.length === 0) return { changed: [], modified, highestModseq: b.highest_modseq };
        const modseq = b.highest_modseq + 1;
        const changed: MessageMeta[] = [];
        for (const [r, mask, kw] of updates) {
          const k = kw.join(' ');
          this.core.st.updateFlags.run(mask, k, modseq, mailboxId, r.uid);
          changed.push(toMeta({ ...r, flags: mask, keywords: k, modseq }));
        }
        this.core.st.setModseq.run(modseq, mailboxId);
        return { changed, modified, highestModseq: modseq };
        // Flag changes are not synced before the reply (see groupCommit).
      }, undefined, false);
      if (result.changed.length > 0) this.core.emit(userId, mailboxId, result.changed[0]!.modseq);
      return result;
    });
  }

  /**
   * HIGHESTMODSEQ and then the rows of `uids` (see storeFlags). One message (a STORE on the message being
   * read) is one statement that reads both; more take the HIGHESTMODSEQ lookup and rowsIn. Throws NOT_FOUND.
   */
  private rowsWithHighest(mailboxId: number, uids: readonly number[]): { highest: number; before: MsgRow[] } {
    if (uids.length === 1 && Number.isSafeInteger(uids[0]) && uids[0]! > 0) {
      const r = this.core
        .sql(`SELECT b.highest_modseq AS highest, m.uid, m.email_id, m.thread_id, m.flags, m.keywords, m.internal_date, m.size, m.modseq, m.saved_date
              FROM mailboxes b LEFT JOIN messages m ON m.mailbox_id = b.id AND m.uid = ? WHERE b.id = ?`)
        .get(uids[0], mailboxId) as (MsgRow & { highest: number; uid: number | null }) | undefined;
      if (!r) throw new StoreError('NOT_FOUND', 'no such mailbox');
      const { highest, ...row } = r;
      return { highest, before: row.uid === null ? [] : [row] };
    }
    const highest = this.core.st.highestModseq.get(mailboxId) as number | undefined;
    if (highest === undefined) throw new StoreError('NOT_FOUND', 'no such mailbox');
    return { highest, before: this.core.rowsIn(mailboxId, uids) };
  }

  async expunge(mailboxId: number, uids?: number[]): Promise<number[]> {
    return (await this.expungeReport(mailboxId, uids)).uids;
  }

  expungeReport(mailboxId: number, uids?: number[]): Promise<ExpungeResult> {
    return this.core.run(async () => {
      const doomed: string[] = [];
      let ev: [number, number] | null = null;
      const out = await this.core.groupCommit((): ExpungeResult => {
        const b = this.core.mailboxRow(mailboxId);
        let rows: Array<{ uid: number; blob_id: string }>;
        // EXPUNGE of every \Deleted message (the usual one): the rows' uids and blobs in one statement.
        if (uids === undefined) rows = this.core.st.deletedRows.all(mailboxId) as Array<{ uid: number; blob_id: string }>;
        else {
          const targets: number[] = [];
          for (const c of chunks(cleanUids(uids), CHUNK)) targets.push(...(this.core.st.deletedUidsIn.pluck().all(mailboxId, ...padChunk(c)) as number[]));
          rows = targets.length === 0 ? [] : this.core.rowsIn(mailboxId, targets);
        }
        if (rows.length === 0) return { uids: [], highestModseq: b.highest_modseq };
        const modseq = b.highest_modseq + 1;
        deleteRows(this.core, mailboxId, rows, modseq, doomed);
        this.core.st.setModseq.run(modseq, mailboxId);
        ev = [b.user_id, modseq];
        return { uids: rows.map((r) => r.uid), highestModseq: modseq };
        // Resolves at COMMIT, not after the WAL sync: a crash before that sync brings the messages back,
        // which loses nothing (Dovecot's default mail_fsync=optimized never syncs an expunge). When blob
        // files or inline blobs are freed the sync starts at once and they go only after it; otherwise (the
        // rows are held for readers, held.ts) the expunge is synced as a flag change is, within LAZY_SYNC_MS.
      }, undefined, false);
      if (ev) this.core.emit(ev[0], mailboxId, ev[1]);
      if (doomed.length > 0 || this.core.garbageWanted) this.core.unlinkAfterSync(doomed);
      return out;
    });
  }

  private copyOrMove(fromMailboxId: number, uids: number[], toMailboxId: number, move: boolean): Promise<CopyResult> {
    return this.core.run(async () => {
      const events: Array<[number, number, number]> = [];
      const result = await this.core.groupCommit((): CopyResult => {
        const src = this.core.mailboxRow(fromMailboxId);
        const dst = this.core.mailboxRow(toMailboxId);
        const rows = this.core.rowsIn(fromMailboxId, uids);
        const pairs = moveRows(this.core, src, rows, dst, move);
        // A move within one user's mailboxes changes no usage and is never refused (quota.ts).
        if (pairs.length > 0 && (!move || src.user_id !== dst.user_id)) checkQuota(this.core, dst.user_id);
        const d = this.core.st.mailbox.get(toMailboxId) as MailboxRow;
        if (pairs.length > 0) {
          if (move && src.id !== dst.id) events.push([src.user_id, src.id, src.highest_modseq + 1]);
          events.push([d.user_id, d.id, d.highest_modseq]);
        }
        return { uidValidity: d.uid_validity, pairs };
      });
      for (const [u, m, ms] of events) this.core.emit(u, m, ms);
      return result;
    });
  }

  copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.copyOrMove(fromMailboxId, uids, toMailboxId, false);
  }

  move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.copyOrMove(fromMailboxId, uids, toMailboxId, true);
  }
}

/**
 * The result of a flag change that would change none of `rows` (the UNCHANGEDSINCE failures among them
 * listed), or null when some message would change. Keywords compare case-insensitively, so their canonical
 * spelling does not matter here.
 */
function unchangedBy(rows: readonly MsgRow[], op: StoreFlagsOptions['op'], change: ParsedFlags, since: number | undefined): StoreFlagsResult | null {
  const modified: number[] = [];
  for (const r of rows) {
    if (since !== undefined && r.modseq > since) modified.push(r.uid);
    else if (applyFlagOp(op, { mask: r.flags, keywords: splitKeywords(r.keywords) }, change).changed) return null;
  }
  return { changed: [], modified };
}

/**
 * SqliteMailWrites: the message writes of the SQLite MailStore (mail.ts completes it): APPEND (RFC 9051
 * 6.3.12), STORE flag changes with UNCHANGEDSINCE (RFC 7162 3.1.3), EXPUNGE, COPY and MOVE (RFC 6851).
 * Appends, copies and moves resolve after their commit is durable; flag changes and expunges at COMMIT
 * (see core.ts; an expunge's sync starts at once and its blob files go after it). Failures are StoreError
 * values (NOT_FOUND, TOO_BIG, EXISTS, INVALID, OVER_QUOTA, TEMPORARY).
 */
import type { AppendOptions, AppendResult, CopyResult, MessageMeta, StoreFlagsOptions, StoreFlagsResult } from '../types.js';
import { StoreError } from '../types.js';
import { HEADER_ROW_MAX, prepareStoredForm } from '../message-prep.js';
import { MAX_MESSAGE_SIZE } from '../../lib/limits.js';
import { applyFlagOp, checkStoreFlags, parseFlags } from '../flags.js';
import { isObjectId, newObjectId } from '../ids.js';
import { SqliteMailboxes } from './mailboxes.js';
import { canonicalKeywords, deleteRows, moveRows, threadFor } from './mutations.js';
import { checkQuota } from './quota.js';
import { insertSortKeys } from './sort-keys.js';
import { checkInternalDate, chunks } from '../helpers.js';
import { CHUNK, cleanUids, padChunk, splitKeywords, toMeta, type MailboxRow, type MsgRow } from './rows.js';

export class SqliteMailWrites extends SqliteMailboxes {
  // ---------------------------------------------------------------------------------------------
  // messages

  append(mailboxId: number, raw: Buffer, opts?: AppendOptions): Promise<AppendResult> {
    return this.core.run(async () => {
      if (!Buffer.isBuffer(raw)) throw new StoreError('INVALID', 'message must be a Buffer');
      if (raw.length > MAX_MESSAGE_SIZE) throw new StoreError('TOO_BIG', `message exceeds ${MAX_MESSAGE_SIZE} octets`);
      const parsed = parseFlags(opts?.flags ?? []);
      const internalDate = checkInternalDate(opts?.internalDate);
      // Optional caller-chosen EMAILID (store-to-store transfer keeps POP3 UIDLs); read structurally so this
      // compiles whether or not AppendOptions declares it.
      const keepId = (opts as { emailId?: unknown } | undefined)?.emailId;
      if (keepId !== undefined && (typeof keepId !== 'string' || !isObjectId(keepId))) throw new StoreError('INVALID', 'invalid EMAILID');
      if (keepId !== undefined && this.core.st.emailIdExists.get(keepId)) throw new StoreError('EXISTS', 'EMAILID already in use');
      const first = this.core.st.mailbox.get(mailboxId) as MailboxRow | undefined;
      if (!first) throw new StoreError('NOT_FOUND', 'no such mailbox');
      const { data, mime, envelope: envelopeJson, headerEnd, headersText, bodyText, threadKeys, ownIds, sortKeys } = prepareStoredForm(raw, this.core.envelopeText);
      const header = headerEnd <= HEADER_ROW_MAX ? data.subarray(0, headerEnd) : null;

      let userId = first.user_id;
      const rep = opts?.replaces;
      const doomed: string[] = [];
      let replaced: [number, number] | null = null;
      const writer = this.core.startWriter();
      // Small messages go into blob_inline with the row (durable with the commit's WAL sync); larger ones
      // into a file that is fsynced before the commit.
      const inline = data.length <= this.core.inlineMax;
      const commit = (blobId: string): Promise<AppendResult> =>
        this.core.groupCommit((): AppendResult => {
          const b = this.core.mailboxRow(mailboxId);
          userId = b.user_id;
          const uid = b.uid_next;
          const modseq = b.highest_modseq + 1;
          const keywords = canonicalKeywords(this.core, mailboxId, parsed.keywords, new Map());
          const threadId = threadFor(this.core, b.user_id, ownIds, threadKeys);
          if (keepId !== undefined && this.core.st.emailIdExists.get(keepId)) throw new StoreError('EXISTS', 'EMAILID already in use');
          const emailId = keepId ?? newObjectId('M');
          this.core.st.insertBlob.run(blobId, data.length);
          this.core.st.insertBlobData.run(blobId, mime, headersText, bodyText);
          insertSortKeys(this.core, blobId, sortKeys);
          if (inline) this.core.st.insertBlobInline.run(blobId, data);
          if (header) this.core.st.insertBlobHeader.run(blobId, header);
          this.core.st.insertMessage.run(mailboxId, uid, emailId, threadId, parsed.mask, keywords.join(' '), internalDate.getTime(), data.length, modseq, blobId, null, Date.now());
          this.core.st.insertEnvelope.run(mailboxId, uid, envelopeJson);
          this.core.st.bumpMailbox.run(uid + 1, modseq, mailboxId);
          if (rep) {
            // REPLACE: the old message goes in this transaction (with this modseq when it is the same mailbox).
            const sb = this.core.mailboxRow(rep.mailboxId);
            const rows = this.core.rowsIn(rep.mailboxId, [rep.uid]);
            if (rows.length) {
              const ms = rep.mailboxId === mailboxId ? sb.highest_modseq : sb.highest_modseq + 1;
              deleteRows(this.core, rep.mailboxId, rows, ms, doomed);
              this.core.st.setModseq.run(ms, rep.mailboxId);
              replaced = [sb.user_id, ms];
            }
          }
          checkQuota(this.core, b.user_id);
          return { uid, uidValidity: b.uid_validity, emailId, modseq };
        }, writer);
      let result: AppendResult;
      try {
        result = inline ? await commit(this.core.blobs.newId()) : await this.core.withBlob(data, commit);
      } finally {
        this.core.endWriter(writer);
      }
      this.core.emit(userId, mailboxId, result.modseq);
      const gone = replaced as [number, number] | null;
      if (gone && rep && rep.mailboxId !== mailboxId) this.core.emit(gone[0], rep.mailboxId, gone[1]);
      this.core.unlinkAll(doomed);
      return result;
    });
  }

  storeFlags(mailboxId: number, uids: number[], opts: StoreFlagsOptions): Promise<StoreFlagsResult> {
    return this.core.run(async () => {
      const change = checkStoreFlags(opts);
      const since = opts.unchangedSince;
      let userId = 0;
      const result = await this.core.groupCommit((): StoreFlagsResult => {
        const b = this.core.mailboxRow(mailboxId);
        userId = b.user_id;
        const canon = opts.op === 'remove' ? change : { mask: change.mask, keywords: canonicalKeywords(this.core, mailboxId, change.keywords, new Map()) };
        const rows = this.core.rowsIn(mailboxId, uids);
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
        if (updates.length === 0) return { changed: [], modified };
        const modseq = b.highest_modseq + 1;
        const changed: MessageMeta[] = [];
        for (const [r, mask, kw] of updates) {
          const k = kw.join(' ');
          this.core.st.updateFlags.run(mask, k, modseq, mailboxId, r.uid);
          changed.push(toMeta({ ...r, flags: mask, keywords: k, modseq }));
        }
        this.core.st.setModseq.run(modseq, mailboxId);
        return { changed, modified };
        // Flag changes are not synced before the reply (see groupCommit).
      }, undefined, false);
      if (result.changed.length > 0) this.core.emit(userId, mailboxId, result.changed[0]!.modseq);
      return result;
    });
  }

  expunge(mailboxId: number, uids?: number[]): Promise<number[]> {
    return this.core.run(async () => {
      const doomed: string[] = [];
      let ev: [number, number] | null = null;
      const out = await this.core.groupCommit((): number[] => {
        const b = this.core.mailboxRow(mailboxId);
        let targets: number[];
        if (uids === undefined) targets = this.core.st.deletedUids.pluck().all(mailboxId) as number[];
        else {
          targets = [];
          for (const c of chunks(cleanUids(uids), CHUNK)) targets.push(...(this.core.st.deletedUidsIn.pluck().all(mailboxId, ...padChunk(c)) as number[]));
        }
        if (targets.length === 0) return [];
        const rows = this.core.rowsIn(mailboxId, targets);
        const modseq = b.highest_modseq + 1;
        deleteRows(this.core, mailboxId, rows, modseq, doomed);
        this.core.st.setModseq.run(modseq, mailboxId);
        ev = [b.user_id, modseq];
        return rows.map((r) => r.uid);
        // Resolves at COMMIT, not after the WAL sync: a crash before that sync brings the messages back,
        // which loses nothing (Dovecot's default mail_fsync=optimized never syncs an expunge). The sync
        // starts at once, and the blob files are unlinked only after it.
      }, undefined, false);
      if (ev) this.core.emit(ev[0], mailboxId, ev[1]);
      if (out.length > 0) this.core.unlinkAfterSync(doomed);
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

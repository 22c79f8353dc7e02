/**
 * SqliteAppends: APPEND (RFC 9051 6.3.12), REPLACE (RFC 8508) and the all-or-nothing MULTIAPPEND (RFC
 * 3502) of the SQLite MailStore; mail-write.ts extends it with the other message writes.
 *
 * Every message is checked and parsed (MIME index, search text, thread keys) before anything is written.
 * Then the files of the messages larger than inlineMax are written and fsynced (all of them at once), and
 * one commit function inserts every row: consecutive UIDs, one MODSEQ, the quota checked after the last
 * row. It runs in its own savepoint of a group commit, so a failure rolls back every row of the batch and
 * the mailbox's UIDNEXT and HIGHESTMODSEQ, and its files are unlinked before the promise rejects. Rows are
 * the truth: a crash before the COMMIT leaves files no row references, which the open-time sweep removes
 * (their writer is dead by then); after it, every row has its file. Resolves after the WAL sync covering
 * the commit, and only then wakes the mailbox's subscribers, once per batch.
 */
import type { AppendItem, AppendOptions, AppendResult } from '../types.js';
import { StoreError } from '../types.js';
import { checkAppend, checkAppendBatch, type CheckedAppend } from '../append-check.js';
import { HEADER_ROW_MAX, prepareStoredForm, type StoredForm } from '../message-prep.js';
import { newObjectId } from '../ids.js';
import { SqliteMailboxes } from './mailboxes.js';
import { canonicalKeywords, deleteRows, threadFor } from './mutations.js';
import { checkQuota } from './quota.js';
import { insertSortKeys } from './sort-keys.js';
import { rawToMeta } from './rows.js';

/** A checked message with what is stored for it. */
interface Prepared extends CheckedAppend {
  form: StoredForm;
  /** The header block when it is kept in blob_headers (up to HEADER_ROW_MAX). */
  header: Buffer | null;
  /** Stored in blob_inline with the row (durable with the WAL sync) rather than in a file. */
  inline: boolean;
}

export class SqliteAppends extends SqliteMailboxes {
  append(mailboxId: number, raw: Buffer, opts?: AppendOptions): Promise<AppendResult> {
    return this.core.run(async () => (await this.appendChecked(mailboxId, [checkAppend(raw, opts)], opts?.replaces, opts?.claimRecent === true))[0]!);
  }

  appendMany(mailboxId: number, items: readonly AppendItem[]): Promise<AppendResult[]> {
    return this.core.run(async () => this.appendChecked(mailboxId, checkAppendBatch(items)));
  }

  /** The work of append and appendMany (see the header), inside core.run. */
  private async appendChecked(mailboxId: number, checked: readonly CheckedAppend[], rep?: AppendOptions['replaces'], claimRecent = false): Promise<AppendResult[]> {
    const core = this.core;
    for (const c of checked) if (c.emailId !== undefined && core.st.emailIdExists.get(c.emailId)) throw new StoreError('EXISTS', 'EMAILID already in use');
    const messages = checked.map((c): Prepared => {
      const form = prepareStoredForm(c.raw, core.envelopeText);
      return { ...c, form, header: form.headerEnd <= HEADER_ROW_MAX ? form.data.subarray(0, form.headerEnd) : null, inline: form.data.length <= core.inlineMax };
    });
    let userId = 0;
    const doomed: string[] = [];
    let replaced: [number, number] | null = null;
    const writer = core.startWriter();
    const commit = (fileIds: readonly string[]): Promise<AppendResult[]> =>
      core.groupCommit((): AppendResult[] => {
        const b = core.mailboxRow(mailboxId);
        userId = b.user_id;
        const modseq = b.highest_modseq + 1;
        const spellings = new Map<string, string>();
        let uid = b.uid_next;
        let file = 0;
        const results = messages.map((m): AppendResult => {
          const form = m.form;
          const data = form.data;
          const blobId = m.inline ? core.blobs.newId() : fileIds[file++]!;
          const keywords = canonicalKeywords(core, mailboxId, m.flags.keywords, spellings);
          const threadId = threadFor(core, b.user_id, form.ownIds, form.threadKeys);
          if (m.emailId !== undefined && core.st.emailIdExists.get(m.emailId)) throw new StoreError('EXISTS', 'EMAILID already in use');
          const emailId = m.emailId ?? newObjectId('M');
          core.st.insertBlob.run(blobId, data.length);
          core.st.insertBlobData.run(blobId, form.mime, form.headersText, form.bodyText);
          insertSortKeys(core, blobId, form.sortKeys);
          if (m.inline) core.st.insertBlobInline.run(blobId, data);
          if (m.header) core.st.insertBlobHeader.run(blobId, m.header);
          const kw = keywords.join(' ');
          const internalDate = m.internalDate.getTime();
          const savedDate = Date.now();
          core.st.insertMessage.run(mailboxId, uid, emailId, threadId, m.flags.mask, kw, internalDate, data.length, modseq, blobId, null, savedDate);
          core.st.insertEnvelope.run(mailboxId, uid, form.envelope);
          const meta = rawToMeta([uid, emailId, threadId, m.flags.mask, kw, internalDate, data.length, modseq, savedDate]);
          return { uid: uid++, uidValidity: b.uid_validity, emailId, modseq, meta };
        });
        if (claimRecent) {
          // \Recent claimed with the append (see AppendOptions.claimRecent): every message up to the new UIDNEXT,
          // in the statement that moves UIDNEXT and HIGHESTMODSEQ.
          core.sql('UPDATE mailboxes SET uid_next = ?, highest_modseq = ?, first_recent = ? WHERE id = ?').run(uid, modseq, uid, mailboxId);
          const claim = { first: Math.min(b.first_recent, uid), next: uid };
          for (const r of results) r.recentClaim = claim;
        } else core.st.bumpMailbox.run(uid, modseq, mailboxId);
        if (rep) {
          // REPLACE: the old message goes in this transaction (with this modseq when it is the same mailbox).
          const sb = core.mailboxRow(rep.mailboxId);
          const rows = core.rowsIn(rep.mailboxId, [rep.uid]);
          if (rows.length) {
            const ms = rep.mailboxId === mailboxId ? sb.highest_modseq : sb.highest_modseq + 1;
            deleteRows(core, rep.mailboxId, rows, ms, doomed);
            core.st.setModseq.run(ms, rep.mailboxId);
            replaced = [sb.user_id, ms];
          }
        }
        // After every row of the batch: the quota counts the whole batch (the triggers added each row).
        checkQuota(core, b.user_id);
        return results;
      }, writer);
    const files = messages.filter((m) => !m.inline).map((m) => m.form.data);
    let results: AppendResult[];
    try {
      results = files.length ? await core.withBlobs(files, commit) : await commit([]);
    } finally {
      core.endWriter(writer);
    }
    core.emit(userId, mailboxId, results[0]!.modseq);
    const gone = replaced as [number, number] | null;
    if (gone && rep && rep.mailboxId !== mailboxId) core.emit(gone[0], rep.mailboxId, gone[1]);
    core.unlinkAll(doomed);
    return results;
  }
}

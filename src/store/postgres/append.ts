/**
 * PgAppends: APPEND (RFC 9051 6.3.12), REPLACE (RFC 8508) and the all-or-nothing MULTIAPPEND (RFC 3502)
 * of the PostgreSQL MailStore; messages.ts extends it with the other message writes.
 *
 * Every message is checked and parsed (../message-prep.ts) before anything is written. Then the blobs
 * are prepared (in dir mode their files are written and fsynced, all at once) and one transaction inserts
 * every blob row, takes the mailbox row lock to allocate consecutive UIDs and one MODSEQ for the batch,
 * inserts the message rows and checks the quota after the last one. A failure rolls the whole batch back
 * (UIDNEXT and HIGHESTMODSEQ included) and discards its files; a crash before the COMMIT leaves files no
 * row references, which sweepOrphans removes. One notification (NOTIFY, sent at COMMIT) per batch.
 * Errors: NOT_FOUND, TOO_BIG, INVALID, EXISTS (a kept EMAILID already present), OVER_QUOTA, TEMPORARY.
 */
import type { AppendItem, AppendOptions, AppendResult, ChangeEvent } from '../types.js';
import { StoreError } from '../types.js';
import type { Envelope } from '../../mime/types.js';
import { checkAppend, checkAppendBatch, type CheckedAppend } from '../append-check.js';
import { HEADER_ROW_MAX, prepareMessage } from '../message-prep.js';
import { newObjectId } from '../ids.js';
import { contentKeysOf } from '../sort-keys.js';
import { validId } from './core.js';
import { num, pgCode, type Queryable } from './db.js';
import { PgMailboxes } from './mailboxes.js';
import { encodePayload } from './notify.js';
import { insertSortKeys } from './sort-keys.js';
import { checkQuota } from './quota.js';
import { canonicalKeywords, expungeRows, mailboxRow, spell, toMeta, withBlobs } from './rows.js';
import { encodeIndex, pgText } from './util.js';
import type { PreparedBlob } from './blobs.js';

/** What one message of an append writes besides its blob bytes. */
interface Prepared extends CheckedAppend {
  data: Buffer;
  headersText: string;
  bodyText: string;
  mime: ReturnType<typeof encodeIndex>;
  envelopeText: string | null;
  header: Buffer | null;
  sortKeys: ReturnType<typeof contentKeysOf>;
  /** Thread look-up order: the last References entry / In-Reply-To first, then the message's own id. */
  candidates: string[];
  /** Ids recorded for later replies: the message's own and those it refers to. */
  record: string[];
  emailId: string;
  freshThread: string;
}

/** The thread of the nearest referenced message known for the user, or null (within the transaction). */
async function knownThread(q: Queryable, userId: number, candidates: readonly string[]): Promise<string | null> {
  if (!candidates.length) return null;
  const r = await q.query<{ thread_id: string }>({
    name: 'append_thread',
    text: `SELECT thread_id FROM thread_refs WHERE user_id = $1 AND message_id = ANY($2::text[])
           ORDER BY array_position($2::text[], message_id) LIMIT 1`,
    values: [userId, candidates],
  });
  return r.rows[0]?.thread_id ?? null;
}

export class PgAppends extends PgMailboxes {
  /** The envelope text kept for a new message: StoreOptions.envelopeText's result, if PostgreSQL text can hold it. */
  private envelopeText(envelope: Envelope): string | null {
    const text = this.core.envelopeText?.(envelope) ?? null;
    return text !== null && !text.includes('\u0000') ? text : null;
  }

  append(mailboxId: number, raw: Buffer, opts?: AppendOptions): Promise<AppendResult> {
    return this.core.run(async () => (await this.appendChecked(mailboxId, [checkAppend(raw, opts)], opts?.replaces))[0]!);
  }

  appendMany(mailboxId: number, items: readonly AppendItem[]): Promise<AppendResult[]> {
    return this.core.run(async () => this.appendChecked(mailboxId, checkAppendBatch(items)));
  }

  private prepare(c: CheckedAppend): Prepared {
    const p = prepareMessage(c.raw, { idsWithoutNul: true });
    const { data, index, threadKeys, ownIds } = p;
    const headerEnd = index.root.headerEnd;
    return {
      ...c,
      data,
      headersText: pgText(p.headersText),
      bodyText: pgText(p.bodyText),
      mime: encodeIndex(index),
      envelopeText: this.envelopeText(index.envelope),
      header: headerEnd <= HEADER_ROW_MAX ? data.subarray(0, headerEnd) : null,
      sortKeys: contentKeysOf(index.envelope, data.subarray(0, headerEnd)),
      candidates: [...threadKeys].reverse().concat(ownIds),
      record: [...new Set([...ownIds, ...threadKeys])],
      emailId: c.emailId ?? newObjectId('M'),
      freshThread: newObjectId('T'),
    };
  }

  /** The work of append and appendMany (see the header), inside core.run. */
  private async appendChecked(mailboxId: number, checked: readonly CheckedAppend[], rep?: AppendOptions['replaces']): Promise<AppendResult[]> {
    const core = this.core;
    if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
    const messages = checked.map((c) => this.prepare(c));
    const commit = (blobs: readonly PreparedBlob[]): Promise<AppendResult[]> =>
      core.db.tx(async (q, after) => {
        // The (possibly large) blob rows first, before the mailbox lock, so the lock is held briefly.
        for (const [i, m] of messages.entries()) {
          const blob = blobs[i]!;
          await q.query({
            name: 'append_blob',
            text: `WITH b AS (INSERT INTO blobs (id, size, refs, data) VALUES ($1, $2, 1, $3) RETURNING id),
                   h AS (INSERT INTO blob_headers (blob_id, header) SELECT id, $9::bytea FROM b WHERE $9::bytea IS NOT NULL)
                   INSERT INTO blob_meta (blob_id, mime, mime_text, text_headers, text_body, envelope_text)
                   SELECT id, $4, $5, $6, $7, $8 FROM b`,
            values: [blob.id, blob.size, blob.data, m.mime.jsonb, m.mime.text, m.headersText, m.bodyText, m.envelopeText, m.header],
          });
          await insertSortKeys(q, blob.id, m.sortKeys);
        }
        // Locks the mailbox row, allocates the batch's UIDs and its one MODSEQ, finds the first message's thread.
        const b = (
          await q.query<{ user_id: number; uid_validity: string; uid: string; modseq: string; thread_id: string | null }>({
            name: 'append_allocate',
            text: `WITH mb AS (
                     UPDATE mailboxes SET uid_next = uid_next + $3, highest_modseq = highest_modseq + 1 WHERE id = $1
                     RETURNING user_id, uid_validity, uid_next - $3 AS uid, highest_modseq AS modseq)
                   SELECT mb.*, (SELECT t.thread_id FROM thread_refs t
                                 WHERE t.user_id = mb.user_id AND t.message_id = ANY($2::text[])
                                 ORDER BY array_position($2::text[], t.message_id) LIMIT 1) AS thread_id
                   FROM mb`,
            values: [mailboxId, messages[0]!.candidates, messages.length],
          })
        ).rows[0];
        if (!b) throw new StoreError('NOT_FOUND', 'no such mailbox');
        const first = num(b.uid);
        const modseq = num(b.modseq);
        const userId = num(b.user_id);
        const ev: ChangeEvent = { userId, mailboxId, highestModseq: modseq };
        const results: AppendResult[] = [];
        for (const [i, m] of messages.entries()) {
          // Later messages of a batch may reply to earlier ones: their thread refs are visible here.
          const threadId = (i === 0 ? b.thread_id : await knownThread(q, userId, m.candidates)) ?? m.freshThread;
          const keywords = m.flags.keywords.length ? spell(await canonicalKeywords(q, mailboxId, m.flags.keywords), m.flags.keywords) : [];
          const last = i === messages.length - 1;
          // RFC 8514 save date, set here rather than by the column default so the result can carry it.
          const savedDate = new Date();
          // Message row, thread references and, with the last one, the notification (sent at COMMIT).
          await q.query({
            name: 'append_message',
            text: `WITH tr AS (
                     INSERT INTO thread_refs (user_id, message_id, thread_id)
                     SELECT $11, m, $4 FROM unnest($12::text[]) AS m ON CONFLICT DO NOTHING),
                   msg AS (
                     INSERT INTO messages (mailbox_id, uid, email_id, thread_id, flags, keywords, internal_date, size, modseq, blob_id, saved_date)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $16))
                   SELECT pg_notify($13, $14) WHERE $15::boolean`,
            values: [
              mailboxId,
              first + i,
              m.emailId,
              threadId,
              m.flags.mask,
              keywords,
              m.internalDate,
              m.data.length,
              modseq,
              blobs[i]!.id,
              userId,
              m.record,
              core.channel,
              encodePayload(ev),
              last,
              savedDate,
            ],
          });
          const meta = toMeta({ uid: String(first + i), email_id: m.emailId, thread_id: threadId, flags: m.flags.mask, keywords, internal_date: m.internalDate, size: String(m.data.length), modseq: String(modseq), saved_date: savedDate });
          results.push({ uid: first + i, uidValidity: num(b.uid_validity), emailId: m.emailId, modseq, meta });
        }
        after.push(() => core.deliver(ev, false));
        if (rep) {
          // REPLACE: the old message goes in this transaction (RFC 8508).
          if (!validId(rep.mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
          const sb = await mailboxRow(q, rep.mailboxId, true);
          const old = await q.query('SELECT 1 FROM messages WHERE mailbox_id = $1 AND uid = $2', [rep.mailboxId, rep.uid]);
          if (old.rowCount) await expungeRows(core, q, after, sb, [rep.uid]);
        }
        // After every row of the batch: the quota counts the whole batch.
        await checkQuota(core, q, userId);
        return results;
      });
    try {
      return await withBlobs(
        core,
        messages.map((m) => m.data),
        commit,
      );
    } catch (e) {
      if (checked.some((c) => c.emailId !== undefined) && pgCode(e) === '23505') throw new StoreError('EXISTS', 'a message with this EMAILID exists');
      throw e;
    }
  }
}

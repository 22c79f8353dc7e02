/**
 * The message writes of the PostgreSQL MailStore (../mail.ts), plus the change log and text search: append
 * (parsed once here, ../message-prep.ts; resolves after COMMIT), flags with CONDSTORE UNCHANGEDSINCE
 * (RFC 7162 3.1.3), expunge, COPY and MOVE (RFC 6851: one transaction), changesSince, searchText. Every
 * write is one MODSEQ step per mailbox under the mailbox row lock (see core.ts). Errors: NOT_FOUND,
 * TOO_BIG, INVALID, EXISTS (a kept EMAILID already present), TEMPORARY.
 */
import type { AppendOptions, AppendResult, ChangeEvent, Changes, CopyResult, MessageMeta, StoreFlagsOptions, StoreFlagsResult, TextScope } from '../types.js';
import { StoreError } from '../types.js';
import type { Envelope } from '../../mime/types.js';
import { MAX_MESSAGE_SIZE } from '../../lib/limits.js';
import { HEADER_ROW_MAX, prepareMessage } from '../message-prep.js';
import { FLAG_DELETED, applyFlagOp, checkStoreFlags, parseFlags } from '../flags.js';
import { isObjectId, newObjectId } from '../ids.js';
import { checkInternalDate } from '../helpers.js';
import { validId } from './core.js';
import { num, pgCode } from './db.js';
import { PgMailboxes } from './mailboxes.js';
import { encodePayload } from './notify.js';
import { insertSortKeys } from './sort-keys.js';
import { contentKeysOf } from '../sort-keys.js';
import { checkQuota, lockQuotaRows } from './quota.js';
import {
  MSG_COLS,
  bump,
  canonicalKeywords,
  expungeRows,
  mailboxRow,
  moveRows,
  rowsIn,
  spell,
  toMeta,
  withBlob,
  type FullMsgRow,
  type MailboxRow,
  type MsgRow,
} from './rows.js';
import { cleanUids, encodeIndex, pgText } from './util.js';

export class PgMessages extends PgMailboxes {
  /** The envelope text kept for a new message: StoreOptions.envelopeText's result, if PostgreSQL text can hold it. */
  private envelopeText(envelope: Envelope): string | null {
    const text = this.core.envelopeText?.(envelope) ?? null;
    return text !== null && !text.includes('\u0000') ? text : null;
  }

  append(mailboxId: number, raw: Buffer, opts?: AppendOptions): Promise<AppendResult> {
    const core = this.core;
    return core.run(async () => {
      if (!Buffer.isBuffer(raw)) throw new StoreError('INVALID', 'message must be a Buffer');
      if (raw.length > MAX_MESSAGE_SIZE) throw new StoreError('TOO_BIG', `message exceeds ${MAX_MESSAGE_SIZE} octets`);
      const parsed = parseFlags(opts?.flags ?? []);
      const internalDate = checkInternalDate(opts?.internalDate);
      if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      const prepared = prepareMessage(raw, { idsWithoutNul: true });
      const { data, index, threadKeys, ownIds } = prepared;
      const headersText = pgText(prepared.headersText);
      const bodyText = pgText(prepared.bodyText);
      const mime = encodeIndex(index);
      const envelopeText = this.envelopeText(index.envelope);
      const header = index.root.headerEnd <= HEADER_ROW_MAX ? data.subarray(0, index.root.headerEnd) : null;
      const sortKeys = contentKeysOf(index.envelope, data.subarray(0, index.root.headerEnd));
      // THREADID: the thread of the nearest referenced message known for this user (last References entry /
      // In-Reply-To first), else of a message that referenced this one, else a new thread. The message's own
      // id and its references are recorded so later replies find the thread.
      const candidates = [...threadKeys].reverse().concat(ownIds);
      const record = [...new Set([...ownIds, ...threadKeys])];
      const wanted = opts?.emailId;
      if (wanted !== undefined && (typeof wanted !== 'string' || !isObjectId(wanted))) throw new StoreError('INVALID', 'invalid EMAILID');
      const emailId = wanted ?? newObjectId('M');
      const freshThread = newObjectId('T');

      const commit = (): Promise<AppendResult> =>
        withBlob(core, data, (blob) =>
          core.db.tx(async (q, after) => {
            // The (possibly large) blob row first, before the mailbox lock, so the lock is held briefly.
            await q.query({
              name: 'append_blob',
              text: `WITH b AS (INSERT INTO blobs (id, size, refs, data) VALUES ($1, $2, 1, $3) RETURNING id),
                     h AS (INSERT INTO blob_headers (blob_id, header) SELECT id, $9::bytea FROM b WHERE $9::bytea IS NOT NULL)
                     INSERT INTO blob_meta (blob_id, mime, mime_text, text_headers, text_body, envelope_text)
                     SELECT id, $4, $5, $6, $7, $8 FROM b`,
              values: [blob.id, blob.size, blob.data, mime.jsonb, mime.text, headersText, bodyText, envelopeText, header],
            });
            await insertSortKeys(q, blob.id, sortKeys);
            // Locks the mailbox row, allocates the UID and the MODSEQ of this transaction, finds the thread.
            const b = (
              await q.query<{ user_id: number; uid_validity: string; uid: string; modseq: string; thread_id: string | null }>({
                name: 'append_allocate',
                text: `WITH mb AS (
                         UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1 WHERE id = $1
                         RETURNING user_id, uid_validity, uid_next - 1 AS uid, highest_modseq AS modseq)
                       SELECT mb.*, (SELECT t.thread_id FROM thread_refs t
                                     WHERE t.user_id = mb.user_id AND t.message_id = ANY($2::text[])
                                     ORDER BY array_position($2::text[], t.message_id) LIMIT 1) AS thread_id
                       FROM mb`,
                values: [mailboxId, candidates],
              })
            ).rows[0];
            if (!b) throw new StoreError('NOT_FOUND', 'no such mailbox');
            const uid = num(b.uid);
            const modseq = num(b.modseq);
            const userId = num(b.user_id);
            const threadId = b.thread_id ?? freshThread;
            const keywords = parsed.keywords.length ? spell(await canonicalKeywords(q, mailboxId, parsed.keywords), parsed.keywords) : [];
            const ev: ChangeEvent = { userId, mailboxId, highestModseq: modseq };
            // Message row, thread references and the notification (sent at COMMIT) in one round trip.
            await q.query({
              name: 'append_message',
              text: `WITH tr AS (
                       INSERT INTO thread_refs (user_id, message_id, thread_id)
                       SELECT $11, m, $4 FROM unnest($12::text[]) AS m ON CONFLICT DO NOTHING),
                     msg AS (
                       INSERT INTO messages (mailbox_id, uid, email_id, thread_id, flags, keywords, internal_date, size, modseq, blob_id)
                       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10))
                     SELECT pg_notify($13, $14)`,
              values: [
                mailboxId,
                uid,
                emailId,
                threadId,
                parsed.mask,
                keywords,
                internalDate,
                data.length,
                modseq,
                blob.id,
                userId,
                record,
                core.channel,
                encodePayload(ev),
              ],
            });
            after.push(() => core.deliver(ev, false));
            const rep = opts?.replaces;
            if (rep) {
              // REPLACE: the old message goes in this transaction (RFC 8508).
              if (!validId(rep.mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
              const sb = await mailboxRow(q, rep.mailboxId, true);
              const old = await q.query('SELECT 1 FROM messages WHERE mailbox_id = $1 AND uid = $2', [rep.mailboxId, rep.uid]);
              if (old.rowCount) await expungeRows(core, q, after, sb, [rep.uid]);
            }
            await checkQuota(core, q, userId);
            return { uid, uidValidity: num(b.uid_validity), emailId, modseq };
          }),
        );
      try {
        return await commit();
      } catch (e) {
        if (wanted !== undefined && pgCode(e) === '23505') throw new StoreError('EXISTS', 'a message with this EMAILID exists');
        throw e;
      }
    });
  }

  listMessages(mailboxId: number): Promise<MessageMeta[]> {
    return this.core.run(async () => {
      if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      const r = await this.core.db.query<MsgRow>(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = $1 ORDER BY uid`, [mailboxId], 'list_messages');
      if (r.rows.length === 0) {
        const exists = await this.core.db.query('SELECT 1 FROM mailboxes WHERE id = $1', [mailboxId]);
        if (!exists.rows.length) throw new StoreError('NOT_FOUND', 'no such mailbox');
      }
      return r.rows.map(toMeta);
    });
  }

  storeFlags(mailboxId: number, uids: number[], opts: StoreFlagsOptions): Promise<StoreFlagsResult> {
    return this.core.run(async () => {
      const change = checkStoreFlags(opts);
      const since = opts.unchangedSince;
      return this.core.db.tx(async (q, after): Promise<StoreFlagsResult> => {
        const b = await mailboxRow(q, mailboxId, true);
        const canon =
          opts.op === 'remove' ? change : { mask: change.mask, keywords: spell(await canonicalKeywords(q, mailboxId, change.keywords), change.keywords) };
        const rows = await rowsIn(q, mailboxId, uids);
        const modified: number[] = [];
        const updates: Array<{ row: FullMsgRow; mask: number; keywords: string[] }> = [];
        for (const r of rows) {
          if (since !== undefined && num(r.modseq) > since) {
            modified.push(num(r.uid));
            continue;
          }
          const next = applyFlagOp(opts.op, { mask: r.flags, keywords: r.keywords }, canon);
          if (next.changed) updates.push({ row: r, mask: next.mask, keywords: next.keywords });
        }
        if (!updates.length) return { changed: [], modified };
        const modseq = num(b.highest_modseq) + 1;
        await q.query(
          `UPDATE messages m SET flags = u.flags, keywords = ARRAY(SELECT jsonb_array_elements_text(u.kw)), modseq = $3
           FROM jsonb_to_recordset($2::jsonb) AS u(uid bigint, flags integer, kw jsonb)
           WHERE m.mailbox_id = $1 AND m.uid = u.uid`,
          [mailboxId, JSON.stringify(updates.map((u) => ({ uid: num(u.row.uid), flags: u.mask, kw: u.keywords }))), modseq],
        );
        await bump(q, mailboxId, modseq);
        await this.core.changed(q, after, num(b.user_id), mailboxId, modseq);
        const changed = updates.map((u) => toMeta({ ...u.row, flags: u.mask, keywords: u.keywords, modseq: String(modseq) }));
        return { changed, modified };
      });
    });
  }

  expunge(mailboxId: number, uids?: number[]): Promise<number[]> {
    return this.core.run(async () =>
      this.core.db.tx(async (q, after) => {
        const b = await mailboxRow(q, mailboxId, true);
        const r =
          uids === undefined
            ? await q.query<{ uid: string }>(`SELECT uid FROM messages WHERE mailbox_id = $1 AND (flags & ${FLAG_DELETED}) <> 0 ORDER BY uid`, [
                mailboxId,
              ])
            : await q.query<{ uid: string }>(
                `SELECT uid FROM messages WHERE mailbox_id = $1 AND (flags & ${FLAG_DELETED}) <> 0 AND uid = ANY($2::bigint[]) ORDER BY uid`,
                [mailboxId, cleanUids(uids)],
              );
        if (!r.rows.length) return [];
        return expungeRows(
          this.core,
          q,
          after,
          b,
          r.rows.map((row) => num(row.uid)),
        );
      }),
    );
  }

  private copyOrMove(fromMailboxId: number, uids: number[], toMailboxId: number, move: boolean): Promise<CopyResult> {
    return this.core.run(async () => {
      if (!validId(fromMailboxId) || !validId(toMailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      return this.core.db.tx(async (q, after): Promise<CopyResult> => {
        // Both rows locked in id order: two opposite copies cannot deadlock.
        const locked = await q.query<MailboxRow>('SELECT * FROM mailboxes WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [
          [fromMailboxId, toMailboxId],
        ]);
        const src = locked.rows.find((r) => num(r.id) === fromMailboxId);
        const dst = locked.rows.find((r) => num(r.id) === toMailboxId);
        if (!src || !dst) throw new StoreError('NOT_FOUND', 'no such mailbox');
        const rows = await rowsIn(q, fromMailboxId, uids);
        // Between two users the quota triggers update both counters: take their rows in user order first.
        if (num(src.user_id) !== num(dst.user_id)) await lockQuotaRows(q, [num(src.user_id), num(dst.user_id)]);
        const pairs = await moveRows(this.core, q, after, src, rows, dst, move);
        // A move within one user's mailboxes changes no usage and is never refused (quota.ts).
        if (pairs.length && (!move || num(src.user_id) !== num(dst.user_id))) await checkQuota(this.core, q, num(dst.user_id));
        return { uidValidity: num(dst.uid_validity), pairs };
      });
    });
  }

  copy(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.copyOrMove(fromMailboxId, uids, toMailboxId, false);
  }

  move(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    return this.copyOrMove(fromMailboxId, uids, toMailboxId, true);
  }

  changesSince(mailboxId: number, modseq: number): Promise<Changes> {
    return this.core.run(async () => {
      const since = Number.isFinite(modseq) ? Math.floor(modseq) : 0;
      return this.core.db.tx(
        async (q) => {
          const b = await mailboxRow(q, mailboxId);
          const changed = await q.query<MsgRow>(`SELECT ${MSG_COLS} FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid`, [
            mailboxId,
            since,
          ]);
          const gone = await q.query<{ uid: string }>('SELECT uid FROM tombstones WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid', [
            mailboxId,
            since,
          ]);
          return { highestModseq: num(b.highest_modseq), changed: changed.rows.map(toMeta), expunged: gone.rows.map((r) => num(r.uid)) };
        },
        { isolation: 'repeatable read', readOnly: true },
      );
    });
  }

  searchText(mailboxId: number, uids: number[], needle: string, scope: TextScope): Promise<number[]> {
    return this.core.run(async () => {
      if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      const exists = await this.core.db.query('SELECT 1 FROM mailboxes WHERE id = $1', [mailboxId]);
      if (!exists.rows.length) throw new StoreError('NOT_FOUND', 'no such mailbox');
      if (scope !== 'header' && scope !== 'body' && scope !== 'text') throw new StoreError('INVALID', 'invalid search scope');
      const clean = cleanUids(uids);
      if (!clean.length) return [];
      const n = pgText(String(needle).toLowerCase());
      const cond =
        scope === 'header'
          ? 'strpos(d.text_headers, $3) > 0'
          : scope === 'body'
            ? 'strpos(d.text_body, $3) > 0'
            : '(strpos(d.text_headers, $3) > 0 OR strpos(d.text_body, $3) > 0)';
      const r = await this.core.db.query<{ uid: string }>(
        `SELECT m.uid FROM messages m JOIN blob_meta d ON d.blob_id = m.blob_id
         WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) AND ${cond} ORDER BY m.uid`,
        [mailboxId, clean, n],
      );
      return r.rows.map((row) => num(row.uid));
    });
  }
}

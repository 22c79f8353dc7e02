/**
 * The message writes of the PostgreSQL MailStore (../mail.ts), plus the change log and text search: the
 * appends of append.ts, flags with CONDSTORE UNCHANGEDSINCE
 * (RFC 7162 3.1.3), expunge, COPY and MOVE (RFC 6851: one transaction), changesSince, searchText. Every
 * write is one MODSEQ step per mailbox under the mailbox row lock (see core.ts). Errors: NOT_FOUND,
 * TOO_BIG, INVALID, EXISTS (a kept EMAILID already present), TEMPORARY.
 */
import type { Changes, CopyResult, ExpungeResult, MessageMeta, StoreFlagsOptions, StoreFlagsResult, TextScope } from '../types.js';
import { StoreError } from '../types.js';
import { FLAG_DELETED, applyFlagOp, checkStoreFlags } from '../flags.js';
import { validId } from './core.js';
import { num } from './db.js';
import { PgAppends } from './append.js';
import { checkQuota, lockQuotaRows } from './quota.js';
import { MSG_COLS, bump, canonicalKeywords, expungeRows, mailboxRow, moveRows, rowsIn, spell, toMeta, type FullMsgRow, type MailboxRow, type MsgRow } from './rows.js';
import { cleanUids, pgText } from './util.js';

export class PgMessages extends PgAppends {
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

  async expunge(mailboxId: number, uids?: number[]): Promise<number[]> {
    return (await this.expungeReport(mailboxId, uids)).uids;
  }

  expungeReport(mailboxId: number, uids?: number[]): Promise<ExpungeResult> {
    return this.core.run(async () =>
      this.core.db.tx(async (q, after): Promise<ExpungeResult> => {
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
        if (!r.rows.length) return { uids: [], highestModseq: num(b.highest_modseq) };
        const gone = await expungeRows(
          this.core,
          q,
          after,
          b,
          r.rows.map((row) => num(row.uid)),
        );
        // expungeRows stamps the next modseq (rows.ts).
        return { uids: gone, highestModseq: num(b.highest_modseq) + 1 };
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

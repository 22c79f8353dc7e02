/**
 * The mailbox half of the PostgreSQL MailStore (../mail.ts): list, create, delete, rename (RFC 9051 6.3.6,
 * INBOX moves its messages), subscriptions (RFC 9051 6.3.7: by name, for mailboxes that may not exist),
 * special-use (RFC 6154), URLAUTH access keys (RFC 4467), STATUS counts and IMAP4rev1 \Recent claims. Names follow ../names.ts. Errors:
 * NOT_FOUND, EXISTS (also for a unique-key race with another node), NO_PERM (INBOX), HAS_CHILDREN, INVALID.
 * messages.ts and mail.ts extend this class with the message operations.
 */
import { randomBytes } from 'node:crypto';
import type { Mailbox, MailboxChangeOptions, MailboxStatus, SpecialUse } from '../types.js';
import { listEvent, originOf } from '../mailbox-list.js';
import { StoreError } from '../types.js';
import { checkSpecialUse } from '../message-prep.js';
import { FLAG_DELETED, FLAG_SEEN } from '../flags.js';
import { mailboxNameOrNull, normalizeMailboxName, renameNames } from '../names.js';
import { validId, validUserId, type PgCore } from './core.js';
import { num, pgCode } from './db.js';
import { FULL_COLS, MAILBOX_COLS, dropMailbox, insertMailboxRow, mailboxRow, moveRows, toMailbox, type FullMsgRow, type MailboxRow } from './rows.js';

export class PgMailboxes {
  constructor(protected readonly core: PgCore) {}

  listMailboxes(userId: number): Promise<Mailbox[]> {
    return this.core.run(async () => {
      if (!validUserId(userId)) return [];
      const r = await this.core.db.query<MailboxRow>(
        `SELECT ${MAILBOX_COLS} FROM mailboxes m WHERE m.user_id = $1 ORDER BY (m.name <> 'INBOX'), m.name COLLATE "C"`,
        [userId],
      );
      return r.rows.map(toMailbox);
    });
  }

  getMailbox(userId: number, name: string): Promise<Mailbox | null> {
    return this.core.run(async () => {
      const n = mailboxNameOrNull(name);
      if (n === null) return null;
      if (!validUserId(userId)) return null;
      const r = await this.core.db.query<MailboxRow>(`SELECT ${MAILBOX_COLS} FROM mailboxes m WHERE m.user_id = $1 AND m.name = $2`, [userId, n]);
      return r.rows[0] ? toMailbox(r.rows[0]) : null;
    });
  }

  getMailboxById(mailboxId: number): Promise<Mailbox | null> {
    return this.core.run(async () => {
      if (!validId(mailboxId)) return null;
      const r = await this.core.db.query<MailboxRow>(`SELECT ${MAILBOX_COLS} FROM mailboxes m WHERE m.id = $1`, [mailboxId]);
      return r.rows[0] ? toMailbox(r.rows[0]) : null;
    });
  }

  createMailbox(userId: number, name: string, opts?: { specialUse?: SpecialUse | null } & MailboxChangeOptions): Promise<Mailbox> {
    return this.core.run(async () => {
      const n = normalizeMailboxName(name);
      const su = opts?.specialUse ?? null;
      checkSpecialUse(su);
      if (!validUserId(userId)) throw new StoreError('NOT_FOUND', 'no such user');
      try {
        return await this.core.db.tx(async (q, after) => {
          const u = await q.query('SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE', [userId]);
          if (!u.rows.length) throw new StoreError('NOT_FOUND', 'no such user');
          const row = await insertMailboxRow(q, userId, n, su);
          await this.core.listChanged(q, after, listEvent(userId, 'create', n, null, originOf(opts)));
          const sub = await q.query('SELECT 1 FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, n]);
          return toMailbox({ ...row, subscribed: sub.rows.length > 0 });
        });
      } catch (e) {
        if (pgCode(e) === '23505') throw new StoreError('EXISTS', 'mailbox exists');
        throw e;
      }
    });
  }

  deleteMailbox(userId: number, name: string, opts?: MailboxChangeOptions): Promise<void> {
    return this.core.run(async () => {
      const n = normalizeMailboxName(name);
      if (n === 'INBOX') throw new StoreError('NO_PERM', 'INBOX cannot be deleted');
      if (!validUserId(userId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      await this.core.db.tx(async (q, after) => {
        const b = (await q.query<MailboxRow>('SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE', [userId, n])).rows[0];
        if (!b) throw new StoreError('NOT_FOUND', 'no such mailbox');
        const child = await q.query('SELECT 1 FROM mailboxes WHERE user_id = $1 AND starts_with(name, $2) LIMIT 1', [userId, n + '/']);
        if (child.rows.length) throw new StoreError('HAS_CHILDREN', 'mailbox has children');
        await dropMailbox(this.core, q, after, b);
        await this.core.listChanged(q, after, listEvent(userId, 'delete', n, null, originOf(opts)));
      });
    });
  }

  renameMailbox(userId: number, from: string, to: string, opts?: MailboxChangeOptions): Promise<void> {
    return this.core.run(async () => {
      const { from: f, to: t } = renameNames(from, to);
      if (!validUserId(userId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      try {
        await this.core.db.tx(async (q, after) => {
          const src = (await q.query<MailboxRow>('SELECT * FROM mailboxes WHERE user_id = $1 AND name = $2 FOR UPDATE', [userId, f])).rows[0];
          if (!src) throw new StoreError('NOT_FOUND', 'no such mailbox');
          const exists = await q.query('SELECT 1 FROM mailboxes WHERE user_id = $1 AND name = $2', [userId, t]);
          if (exists.rows.length) throw new StoreError('EXISTS', 'target mailbox exists');
          if (f === 'INBOX') {
            // RFC 9051 6.3.6: INBOX's messages move to a new mailbox; INBOX stays (empty); children unaffected.
            const dst = await insertMailboxRow(q, userId, t, null);
            const rows = (await q.query<FullMsgRow>(`SELECT ${FULL_COLS} FROM messages WHERE mailbox_id = $1 ORDER BY uid`, [src.id])).rows;
            await moveRows(this.core, q, after, src, rows, dst, true);
            // INBOX stays: the list gained the new name.
            await this.core.listChanged(q, after, listEvent(userId, 'create', t, null, originOf(opts)));
            return;
          }
          const children = await q.query<{ id: string; name: string }>(
            'SELECT id, name FROM mailboxes WHERE user_id = $1 AND starts_with(name, $2) ORDER BY id FOR UPDATE',
            [userId, f + '/'],
          );
          const renames: Array<[string, string, string]> = [[src.id, f, t]];
          for (const c of children.rows) renames.push([c.id, c.name, t + c.name.slice(f.length)]);
          const targets = renames.slice(1).map((x) => x[2]);
          if (targets.length) {
            const clash = await q.query<{ name: string }>('SELECT name FROM mailboxes WHERE user_id = $1 AND name = ANY($2::text[]) LIMIT 1', [
              userId,
              targets,
            ]);
            if (clash.rows[0]) throw new StoreError('EXISTS', `target mailbox ${clash.rows[0].name} exists`);
          }
          for (const [id, oldName, newName] of renames) {
            await q.query('UPDATE mailboxes SET name = $2 WHERE id = $1', [id, newName]);
            const d = await q.query('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, oldName]);
            if ((d.rowCount ?? 0) > 0) {
              await q.query('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, newName]);
            }
          }
          await this.core.listChanged(q, after, listEvent(userId, 'rename', t, f, originOf(opts)));
        });
      } catch (e) {
        if (pgCode(e) === '23505') throw new StoreError('EXISTS', 'target mailbox exists');
        throw e;
      }
    });
  }

  setSubscribed(userId: number, name: string, subscribed: boolean, opts?: MailboxChangeOptions): Promise<void> {
    return this.core.run(async () => {
      const n = normalizeMailboxName(name);
      if (!validUserId(userId)) throw new StoreError('NOT_FOUND', 'no such user');
      await this.core.db.tx(async (q, after) => {
        const u = await q.query('SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE', [userId]);
        if (!u.rows.length) throw new StoreError('NOT_FOUND', 'no such user');
        const r = subscribed
          ? await q.query('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [userId, n])
          : await q.query('DELETE FROM subscriptions WHERE user_id = $1 AND name = $2', [userId, n]);
        if ((r.rowCount ?? 0) > 0) await this.core.listChanged(q, after, listEvent(userId, subscribed ? 'subscribe' : 'unsubscribe', n, null, originOf(opts)));
      });
    });
  }

  listSubscriptions(userId: number): Promise<string[]> {
    return this.core.run(async () => {
      if (!validUserId(userId)) return [];
      const r = await this.core.db.query<{ name: string }>('SELECT name FROM subscriptions WHERE user_id = $1 ORDER BY name COLLATE "C"', [userId]);
      return r.rows.map((row) => row.name);
    });
  }

  setSpecialUse(mailboxId: number, specialUse: SpecialUse | null, opts?: MailboxChangeOptions): Promise<void> {
    return this.core.run(async () => {
      checkSpecialUse(specialUse);
      if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      await this.core.db.tx(async (q, after) => {
        const r = await q.query<{ user_id: string | number; name: string; special_use: string | null }>(
          'SELECT user_id, name, special_use FROM mailboxes WHERE id = $1 FOR UPDATE',
          [mailboxId],
        );
        const b = r.rows[0];
        if (!b) throw new StoreError('NOT_FOUND', 'no such mailbox');
        if (b.special_use === specialUse) return;
        await q.query('UPDATE mailboxes SET special_use = $2 WHERE id = $1', [mailboxId, specialUse]);
        await this.core.listChanged(q, after, listEvent(num(b.user_id), 'special-use', b.name, null, originOf(opts)));
      });
    });
  }

  urlauthKey(mailboxId: number, create: boolean): Promise<Buffer | null> {
    return this.core.run(async () => {
      if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      const get = async (): Promise<Buffer | null> =>
        (await this.core.db.query<{ key: Buffer }>('SELECT key FROM urlauth_keys WHERE mailbox_id = $1', [mailboxId])).rows[0]?.key ?? null;
      const key = await get();
      if (key || !create) return key;
      const r = await this.core.db.query(
        'INSERT INTO urlauth_keys (mailbox_id, key) SELECT id, $2 FROM mailboxes WHERE id = $1 ON CONFLICT DO NOTHING',
        [mailboxId, randomBytes(32)],
      );
      const made = await get();
      if (!made && r.rowCount === 0) throw new StoreError('NOT_FOUND', 'no such mailbox');
      return made;
    });
  }

  resetUrlauthKeys(userId: number, mailboxId: number | null): Promise<void> {
    return this.core.run(async () => {
      if (!validUserId(userId)) return;
      await this.core.db.query(
        'DELETE FROM urlauth_keys k USING mailboxes m WHERE k.mailbox_id = m.id AND m.user_id = $1 AND ($2::bigint IS NULL OR m.id = $2)',
        [userId, mailboxId],
      );
    });
  }

  status(mailboxId: number): Promise<MailboxStatus> {
    return this.core.run(async () => {
      if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
      // One statement, one snapshot: the counts agree with UIDNEXT and HIGHESTMODSEQ.
      const r = await this.core.db.query<{
        messages: string;
        unseen: string;
        deleted: string;
        size: string;
        recent: string;
        uid_next: string;
        uid_validity: string;
        highest_modseq: string;
      }>(
        `SELECT b.uid_next, b.uid_validity, b.highest_modseq, s.*
         FROM mailboxes b CROSS JOIN LATERAL (
           SELECT count(*) AS messages,
                  count(*) FILTER (WHERE (flags & ${FLAG_SEEN}) = 0) AS unseen,
                  count(*) FILTER (WHERE (flags & ${FLAG_DELETED}) <> 0) AS deleted,
                  coalesce(sum(size), 0) AS size,
                  count(*) FILTER (WHERE uid >= b.first_recent) AS recent
           FROM messages WHERE mailbox_id = b.id) s
         WHERE b.id = $1`,
        [mailboxId],
        'status',
      );
      const row = r.rows[0];
      if (!row) throw new StoreError('NOT_FOUND', 'no such mailbox');
      return {
        messages: num(row.messages),
        unseen: num(row.unseen),
        deleted: num(row.deleted),
        size: num(row.size),
        recent: num(row.recent),
        uidNext: num(row.uid_next),
        uidValidity: num(row.uid_validity),
        highestModseq: num(row.highest_modseq),
      };
    });
  }

  claimRecent(mailboxId: number): Promise<number> {
    return this.core.run(async () =>
      this.core.db.tx(async (q) => {
        const b = await mailboxRow(q, mailboxId, true);
        await q.query('UPDATE mailboxes SET first_recent = uid_next WHERE id = $1', [mailboxId]);
        return num(b.first_recent);
      }),
    );
  }
}

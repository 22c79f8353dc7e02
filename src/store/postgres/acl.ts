/**
 * Access control lists of the PostgreSQL store (../acl.ts): table `acl` keyed by (mailbox, identifier) with
 * canonical rights, table `acl_seen` with the private \Seen of non-owners keyed by (mailbox, user, uid)
 * (migration 8). Rows go with their mailbox (ON DELETE CASCADE).
 */
import { StoreError } from '../types.js';
import { canonicalRights, normalizeIdentifier, PUBLIC_OWNER, type AclEntry, type AclStore, type SharedMailbox } from '../acl.js';
import type { PgCore } from './core.js';
import { num } from './db.js';
import { mailboxRow, toMailbox, type MailboxRow } from './rows.js';
import { asciiLower } from '../../lib/ascii.js';

/** A password hash no verifier accepts: the public owner never logs in. */
const NO_LOGIN = '!disabled';

export class PgAcl implements AclStore {
  constructor(private readonly core: PgCore) {}

  list(mailboxId: number): Promise<AclEntry[]> {
    return this.core.run(async () =>
      this.core.db.tx(async (q) => {
        await mailboxRow(q, mailboxId);
        const r = await q.query<AclEntry>('SELECT identifier, rights FROM acl WHERE mailbox_id = $1 ORDER BY identifier', [mailboxId]);
        return r.rows.map((e) => ({ identifier: e.identifier, rights: e.rights }));
      }),
    );
  }

  set(mailboxId: number, identifier: string, rights: string): Promise<void> {
    const id = normalizeIdentifier(identifier);
    const canon = canonicalRights(rights);
    if (id === null || canon === null) return Promise.reject(new StoreError('INVALID', 'bad identifier or rights'));
    return this.core.run(async () =>
      this.core.db.tx(async (q) => {
        await mailboxRow(q, mailboxId);
        if (canon === '') await q.query('DELETE FROM acl WHERE mailbox_id = $1 AND identifier = $2', [mailboxId, id]);
        else
          await q.query('INSERT INTO acl (mailbox_id, identifier, rights) VALUES ($1, $2, $3) ON CONFLICT (mailbox_id, identifier) DO UPDATE SET rights = EXCLUDED.rights', [
            mailboxId,
            id,
            canon,
          ]);
      }),
    );
  }

  remove(mailboxId: number, identifier: string): Promise<boolean> {
    const id = normalizeIdentifier(identifier) ?? '';
    return this.core.run(async () =>
      this.core.db.tx(async (q) => {
        await mailboxRow(q, mailboxId);
        return ((await q.query('DELETE FROM acl WHERE mailbox_id = $1 AND identifier = $2', [mailboxId, id])).rowCount ?? 0) > 0;
      }),
    );
  }

  sharedWith(userId: number, identifiers: readonly string[]): Promise<SharedMailbox[]> {
    const ids = [...new Set(identifiers.map((i) => asciiLower(i)))];
    return this.core.run(async () => {
      if (!ids.length) return [];
      const r = await this.core.db.query<MailboxRow & { owner_address: string; identifier: string; rights: string }>(
        `SELECT m.*, u.address AS owner_address, a.identifier, a.rights FROM acl a
         JOIN mailboxes m ON m.id = a.mailbox_id JOIN users u ON u.id = m.user_id
         WHERE a.identifier = ANY($1::text[]) AND m.user_id <> $2
         ORDER BY u.address COLLATE "C", m.name COLLATE "C", m.id, a.identifier`,
        [ids, userId],
      );
      const out: SharedMailbox[] = [];
      for (const row of r.rows) {
        const last = out[out.length - 1];
        const entry = { identifier: row.identifier, rights: row.rights };
        if (last && last.mailbox.id === num(row.id)) last.entries.push(entry);
        else out.push({ mailbox: toMailbox(row), ownerId: num(row.user_id), ownerAddress: row.owner_address, entries: [entry] });
      }
      return out;
    });
  }

  seenUids(mailboxId: number, userId: number): Promise<number[]> {
    return this.core.run(async () => {
      const r = await this.core.db.query<{ uid: string }>('SELECT uid FROM acl_seen WHERE mailbox_id = $1 AND user_id = $2 ORDER BY uid', [mailboxId, userId]);
      return r.rows.map((row) => num(row.uid));
    });
  }

  setSeen(mailboxId: number, userId: number, uids: readonly number[], seen: boolean): Promise<void> {
    if (!uids.length) return Promise.resolve();
    return this.core.run(async () => {
      if (seen)
        await this.core.db.query(
          'INSERT INTO acl_seen (mailbox_id, user_id, uid) SELECT $1, $2, u FROM unnest($3::bigint[]) AS u WHERE EXISTS (SELECT 1 FROM mailboxes WHERE id = $1) ON CONFLICT DO NOTHING',
          [mailboxId, userId, [...uids]],
        );
      else await this.core.db.query('DELETE FROM acl_seen WHERE mailbox_id = $1 AND user_id = $2 AND uid = ANY($3::bigint[])', [mailboxId, userId, [...uids]]);
    });
  }

  publicOwner(): Promise<number> {
    return this.core.run(async () => {
      await this.core.db.query('INSERT INTO users (address, password_hash) VALUES ($1, $2) ON CONFLICT (address) DO NOTHING', [PUBLIC_OWNER, NO_LOGIN]);
      const r = await this.core.db.query<{ id: number }>('SELECT id FROM users WHERE address = $1', [PUBLIC_OWNER]);
      return num(r.rows[0]!.id);
    });
  }
}

/**
 * Access control lists of the SQLite store (../acl.ts): table `acl` keyed by (mailbox, identifier) with
 * canonical rights, table `acl_seen` with the private \Seen of non-owners keyed by (mailbox, user, uid).
 * Both are created at open (schema.ts). Writes are durable commits; reads are index scans.
 */
import { StoreError } from '../types.js';
import { canonicalRights, normalizeIdentifier, PUBLIC_OWNER, type AclEntry, type AclStore, type SharedMailbox } from '../acl.js';
import type { SqliteCore } from './core.js';
import { toMailbox, type MailboxRow } from './rows.js';
import { asciiLower } from '../../lib/ascii.js';

/** A password hash no verifier accepts: the public owner never logs in. */
const NO_LOGIN = '!disabled';

export class SqliteAcl implements AclStore {
  constructor(private readonly core: SqliteCore) {}

  list(mailboxId: number): Promise<AclEntry[]> {
    return this.core.run(async () => {
      this.core.mailboxRow(mailboxId);
      return this.core.sql('SELECT identifier, rights FROM acl WHERE mailbox_id = ? ORDER BY identifier').all(mailboxId) as AclEntry[];
    });
  }

  set(mailboxId: number, identifier: string, rights: string): Promise<void> {
    const id = normalizeIdentifier(identifier);
    const canon = canonicalRights(rights);
    if (id === null || canon === null) return Promise.reject(new StoreError('INVALID', 'bad identifier or rights'));
    return this.core.run(async () =>
      this.core.groupCommit(() => {
        this.core.mailboxRow(mailboxId);
        if (canon === '') this.core.sql('DELETE FROM acl WHERE mailbox_id = ? AND identifier = ?').run(mailboxId, id);
        else this.core.sql('INSERT OR REPLACE INTO acl (mailbox_id, identifier, rights) VALUES (?, ?, ?)').run(mailboxId, id, canon);
      }),
    );
  }

  remove(mailboxId: number, identifier: string): Promise<boolean> {
    const id = normalizeIdentifier(identifier) ?? '';
    return this.core.run(async () =>
      this.core.groupCommit(() => {
        this.core.mailboxRow(mailboxId);
        return this.core.sql('DELETE FROM acl WHERE mailbox_id = ? AND identifier = ?').run(mailboxId, id).changes > 0;
      }),
    );
  }

  sharedWith(userId: number, identifiers: readonly string[]): Promise<SharedMailbox[]> {
    const ids = [...new Set(identifiers.map((i) => asciiLower(i)))];
    return this.core.run(async () => {
      if (!ids.length) return [];
      const rows = this.core
        .sql(
          `SELECT m.*, u.address AS owner_address, a.identifier, a.rights FROM acl a
           JOIN mailboxes m ON m.id = a.mailbox_id JOIN users u ON u.id = m.user_id
           WHERE a.identifier IN (${ids.map(() => '?').join(',')}) AND m.user_id <> ?
           ORDER BY u.address, m.name, a.identifier`,
        )
        .all(...ids, userId) as Array<MailboxRow & { owner_address: string; identifier: string; rights: string }>;
      const out: SharedMailbox[] = [];
      for (const r of rows) {
        const last = out[out.length - 1];
        if (last && last.mailbox.id === r.id) last.entries.push({ identifier: r.identifier, rights: r.rights });
        else out.push({ mailbox: toMailbox(r, false), ownerId: r.user_id, ownerAddress: r.owner_address, entries: [{ identifier: r.identifier, rights: r.rights }] });
      }
      return out;
    });
  }

  seenUids(mailboxId: number, userId: number): Promise<number[]> {
    return this.core.run(async () => this.core.sql('SELECT uid FROM acl_seen WHERE mailbox_id = ? AND user_id = ? ORDER BY uid').pluck().all(mailboxId, userId) as number[]);
  }

  setSeen(mailboxId: number, userId: number, uids: readonly number[], seen: boolean): Promise<void> {
    return this.core.run(async () =>
      this.core.groupCommit(
        () => {
          const st = seen
            ? this.core.sql('INSERT OR IGNORE INTO acl_seen (mailbox_id, user_id, uid) VALUES (?, ?, ?)')
            : this.core.sql('DELETE FROM acl_seen WHERE mailbox_id = ? AND user_id = ? AND uid = ?');
          for (const uid of uids) st.run(mailboxId, userId, uid);
        },
        undefined,
        false,
      ),
    );
  }

  publicOwner(): Promise<number> {
    return this.core.run(async () =>
      this.core.groupCommit(() => {
        this.core.sql('INSERT OR IGNORE INTO users (address, password_hash, created_at) VALUES (?, ?, ?)').run(PUBLIC_OWNER, NO_LOGIN, Date.now());
        return this.core.sql('SELECT id FROM users WHERE address = ?').pluck().get(PUBLIC_OWNER) as number;
      }),
    );
  }
}

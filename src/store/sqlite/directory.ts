/**
 * SqliteDirectory: the Directory (directory.ts) over the SQLite core: users with their credentials,
 * domains and aliases. Addresses and domains are lowercased; failures are StoreError values (EXISTS,
 * NOT_FOUND, INVALID, TEMPORARY when the database is busy or the store is closed). deleteUser removes all
 * the user's mail in one transaction and wakes the subscribers of each of their mailboxes.
 */
import type { Directory } from '../directory.js';
import type { Alias, User } from '../types.js';
import { StoreError } from '../types.js';
import { DEFAULT_MAILBOXES } from '../message-prep.js';
import type { SqliteCore } from './core.js';
import { dropMailbox, insertMailboxRow } from './mutations.js';
import { normalizeAddress, normalizeDomain } from '../helpers.js';
import { toUser, type MailboxRow, type UserRow } from './rows.js';
import { addressKey } from '../../lib/ascii.js';

/**
 * Removes every row a user owns outside their mailboxes (dropped before): each table with a user_id column
 * holds per-user data (subscriptions, metadata, Sieve, quota, spam counts, tokens, push subscriptions, ...),
 * so tables added later are covered without a list to keep in step. PostgreSQL does this by ON DELETE CASCADE.
 */
function deleteUserRows(core: SqliteCore, userId: number): void {
  const tables = core.sql("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as Array<{ name: string }>;
  for (const { name } of tables) {
    const cols = core.sql(`SELECT name FROM pragma_table_info(?)`).all(name) as Array<{ name: string }>;
    if (name !== 'users' && cols.some((c) => c.name === 'user_id')) core.sql(`DELETE FROM "${name}" WHERE user_id = ?`).run(userId);
  }
}

export class SqliteDirectory implements Directory {
  constructor(private readonly core: SqliteCore) {}

  createUser(address: string, passwordHash: string): Promise<User> {
    return this.core.run(async () => {
      const a = normalizeAddress(address);
      if (typeof passwordHash !== 'string') throw new StoreError('INVALID', 'password hash must be a string');
      return this.core.tx(() => {
        if (this.core.st.userByAddress.get(a)) throw new StoreError('EXISTS', 'user exists');
        const now = Date.now();
        const id = Number(this.core.st.insertUser.run(a, passwordHash, now).lastInsertRowid);
        for (const [name, su] of DEFAULT_MAILBOXES) {
          if (!this.core.st.mailboxByName.get(id, name)) insertMailboxRow(this.core, id, name, su);
          this.core.sql('INSERT OR IGNORE INTO subscriptions (user_id, name) VALUES (?, ?)').run(id, name);
        }
        return toUser(this.core.st.userById.get(id) as UserRow);
      });
    });
  }

  getUser(address: string): Promise<User | null> {
    return this.core.run(async () => {
      if (typeof address !== 'string') return null;
      const r = this.core.st.userByAddress.get(addressKey(address)) as UserRow | undefined;
      return r ? toUser(r) : null;
    });
  }

  getUserById(id: number): Promise<User | null> {
    return this.core.run(async () => {
      const r = this.core.st.userById.get(id) as UserRow | undefined;
      return r ? toUser(r) : null;
    });
  }

  listUsers(): Promise<User[]> {
    return this.core.run(async () => (this.core.sql('SELECT * FROM users ORDER BY address').all() as UserRow[]).map(toUser));
  }

  setPasswordHash(address: string, passwordHash: string): Promise<void> {
    return this.core.run(async () => {
      const a = normalizeAddress(address);
      const info = this.core.sql('UPDATE users SET password_hash = ? WHERE address = ?').run(passwordHash, a);
      if (info.changes === 0) throw new StoreError('NOT_FOUND', 'no such user');
    });
  }

  setAdmin(address: string, admin: boolean): Promise<void> {
    return this.core.run(async () => {
      const info = this.core.sql('UPDATE users SET admin = ? WHERE address = ?').run(admin === true ? 1 : 0, normalizeAddress(address));
      if (info.changes === 0) throw new StoreError('NOT_FOUND', 'no such user');
    });
  }

  deleteUser(address: string): Promise<void> {
    return this.core.run(async () => {
      const a = normalizeAddress(address);
      const doomed: string[] = [];
      const events: Array<[number, number, number]> = [];
      this.core.tx(() => {
        const u = this.core.st.userByAddress.get(a) as UserRow | undefined;
        if (!u) throw new StoreError('NOT_FOUND', 'no such user');
        const boxes = this.core.sql('SELECT * FROM mailboxes WHERE user_id = ?').all(u.id) as MailboxRow[];
        for (const b of boxes) {
          dropMailbox(this.core, b, doomed);
          events.push([u.id, b.id, b.highest_modseq + 1]);
        }
        deleteUserRows(this.core, u.id);
        this.core.sql('DELETE FROM users WHERE id = ?').run(u.id);
      });
      for (const [uid, mid, ms] of events) {
        this.core.emit(uid, mid, ms);
        this.core.hub.announced.delete(mid);
      }
      this.core.unlinkAll(doomed);
    });
  }


  addDomain(domain: string): Promise<void> {
    return this.core.run(async () => {
      this.core.sql('INSERT OR IGNORE INTO domains (domain) VALUES (?)').run(normalizeDomain(domain));
    });
  }

  listDomains(): Promise<string[]> {
    return this.core.run(async () => this.core.sql('SELECT domain FROM domains ORDER BY domain').pluck().all() as string[]);
  }

  hasDomain(domain: string): Promise<boolean> {
    return this.core.run(async () => {
      if (typeof domain !== 'string') return false;
      return this.core.sql('SELECT 1 FROM domains WHERE domain = ?').get(addressKey(domain)) !== undefined;
    });
  }

  addAlias(from: string, to: string): Promise<void> {
    return this.core.run(async () => {
      const f = normalizeAddress(from);
      const t = normalizeAddress(to);
      this.core.sql('INSERT INTO aliases (source, target) VALUES (?, ?) ON CONFLICT (source) DO UPDATE SET target = excluded.target').run(f, t);
    });
  }

  removeAlias(from: string): Promise<void> {
    return this.core.run(async () => {
      const info = this.core.sql('DELETE FROM aliases WHERE source = ?').run(normalizeAddress(from));
      if (info.changes === 0) throw new StoreError('NOT_FOUND', 'no such alias');
    });
  }

  listAliases(): Promise<Alias[]> {
    return this.core.run(async () =>
      (this.core.sql('SELECT source, target FROM aliases ORDER BY source').all() as Array<{ source: string; target: string }>).map((r) => ({
        from: r.source,
        to: r.target,
      })),
    );
  }
}

/**
 * The PostgreSQL Directory (../directory.ts): users, domains and aliases, shared by every node. Addresses
 * are lowercased and checked (util.ts normalizeAddress: INVALID when empty, too long or containing
 * whitespace/control characters). createUser makes the default mailboxes and subscribes them in the same
 * transaction; deleteUser drops the user's mailboxes (their blob references released, files unlinked after
 * commit, subscribers woken) and the user in one transaction.
 */
import type { Directory } from '../directory.js';
import type { Alias, User } from '../types.js';
import { StoreError } from '../types.js';
import { DEFAULT_MAILBOXES } from '../message-prep.js';
import { validUserId, type PgCore } from './core.js';
import { dropMailbox, insertMailboxRow, toUser, type MailboxRow, type UserRow } from './rows.js';
import { normalizeAddress, normalizeDomain } from '../helpers.js';
import { pgText } from './util.js';
import { addressKey } from '../../lib/ascii.js';

function checkHash(passwordHash: string): void {
  if (typeof passwordHash !== 'string' || passwordHash.includes('\u0000')) throw new StoreError('INVALID', 'password hash must be a string');
}

export class PgDirectory implements Directory {
  constructor(private readonly core: PgCore) {}

  createUser(address: string, passwordHash: string): Promise<User> {
    return this.core.run(async () => {
      const a = normalizeAddress(address);
      checkHash(passwordHash);
      return this.core.db.tx(async (q) => {
        const r = await q.query<UserRow>(
          'INSERT INTO users (address, password_hash) VALUES ($1, $2) ON CONFLICT (address) DO NOTHING RETURNING *',
          [a, passwordHash],
        );
        const u = r.rows[0];
        if (!u) throw new StoreError('EXISTS', 'user exists');
        for (const [name, su] of DEFAULT_MAILBOXES) {
          await insertMailboxRow(q, u.id, name, su);
          await q.query('INSERT INTO subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [u.id, name]);
        }
        return toUser(u);
      });
    });
  }

  getUser(address: string): Promise<User | null> {
    return this.core.run(async () => {
      if (typeof address !== 'string') return null;
      const r = await this.core.db.query<UserRow>('SELECT * FROM users WHERE address = $1', [pgText(addressKey(address))]);
      return r.rows[0] ? toUser(r.rows[0]) : null;
    });
  }

  getUserById(id: number): Promise<User | null> {
    return this.core.run(async () => {
      if (!validUserId(id)) return null;
      const r = await this.core.db.query<UserRow>('SELECT * FROM users WHERE id = $1', [id]);
      return r.rows[0] ? toUser(r.rows[0]) : null;
    });
  }

  listUsers(): Promise<User[]> {
    return this.core.run(async () => (await this.core.db.query<UserRow>('SELECT * FROM users ORDER BY address COLLATE "C"')).rows.map(toUser));
  }

  setPasswordHash(address: string, passwordHash: string): Promise<void> {
    return this.core.run(async () => {
      const a = normalizeAddress(address);
      checkHash(passwordHash);
      const r = await this.core.db.query('UPDATE users SET password_hash = $2 WHERE address = $1', [a, passwordHash]);
      if (r.rowCount === 0) throw new StoreError('NOT_FOUND', 'no such user');
    });
  }

  setAdmin(address: string, admin: boolean): Promise<void> {
    return this.core.run(async () => {
      const r = await this.core.db.query('UPDATE users SET admin = $2 WHERE address = $1', [normalizeAddress(address), admin === true]);
      if (r.rowCount === 0) throw new StoreError('NOT_FOUND', 'no such user');
    });
  }

  deleteUser(address: string): Promise<void> {
    return this.core.run(async () => {
      const a = normalizeAddress(address);
      await this.core.db.tx(async (q, after) => {
        const u = (await q.query<{ id: number }>('SELECT id FROM users WHERE address = $1 FOR UPDATE', [a])).rows[0];
        if (!u) throw new StoreError('NOT_FOUND', 'no such user');
        const boxes = await q.query<MailboxRow>('SELECT * FROM mailboxes WHERE user_id = $1 ORDER BY id FOR UPDATE', [u.id]);
        for (const b of boxes.rows) await dropMailbox(this.core, q, after, b);
        await q.query('DELETE FROM users WHERE id = $1', [u.id]);
      });
    });
  }

  addDomain(domain: string): Promise<void> {
    return this.core.run(async () => {
      await this.core.db.query('INSERT INTO domains (domain) VALUES ($1) ON CONFLICT DO NOTHING', [normalizeDomain(domain)]);
    });
  }

  listDomains(): Promise<string[]> {
    return this.core.run(async () =>
      (await this.core.db.query<{ domain: string }>('SELECT domain FROM domains ORDER BY domain COLLATE "C"')).rows.map((r) => r.domain),
    );
  }

  hasDomain(domain: string): Promise<boolean> {
    return this.core.run(async () => {
      if (typeof domain !== 'string') return false;
      const r = await this.core.db.query('SELECT 1 FROM domains WHERE domain = $1', [pgText(addressKey(domain))]);
      return r.rows.length > 0;
    });
  }

  addAlias(from: string, to: string): Promise<void> {
    return this.core.run(async () => {
      const f = normalizeAddress(from);
      const t = normalizeAddress(to);
      await this.core.db.query('INSERT INTO aliases (source, target) VALUES ($1, $2) ON CONFLICT (source) DO UPDATE SET target = EXCLUDED.target', [
        f,
        t,
      ]);
    });
  }

  removeAlias(from: string): Promise<void> {
    return this.core.run(async () => {
      const r = await this.core.db.query('DELETE FROM aliases WHERE source = $1', [normalizeAddress(from)]);
      if (r.rowCount === 0) throw new StoreError('NOT_FOUND', 'no such alias');
    });
  }

  listAliases(): Promise<Alias[]> {
    return this.core.run(async () =>
      (await this.core.db.query<{ source: string; target: string }>('SELECT source, target FROM aliases ORDER BY source COLLATE "C"')).rows.map(
        (r) => ({ from: r.source, to: r.target }),
      ),
    );
  }
}

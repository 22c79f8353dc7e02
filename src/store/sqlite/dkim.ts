/**
 * SqliteDkimKeys: the DkimKeyStore (../dkim.ts) over the SQLite core; table `dkim_keys` (schema.ts). The
 * database file is private to the server's user (lib/private-files.ts), as the password hashes are.
 */
import { checkDkimKey, dkimKeyFromRow, type DkimKey, type DkimKeyRow, type DkimKeyStore } from '../dkim.js';
import { StoreError } from '../types.js';
import type { SqliteCore } from './core.js';

interface DkimRow extends DkimKeyRow {
  created_at: number;
}

function toKey(r: DkimRow): DkimKey {
  return dkimKeyFromRow(r, new Date(r.created_at));
}

export class SqliteDkimKeys implements DkimKeyStore {
  constructor(private readonly core: SqliteCore) {}

  list(domain?: string): Promise<DkimKey[]> {
    return this.core.run(async () => {
      const rows = (domain === undefined
        ? this.core.sql('SELECT * FROM dkim_keys ORDER BY created_at, domain, selector').all()
        : this.core.sql('SELECT * FROM dkim_keys WHERE domain = ? ORDER BY created_at, selector').all(domain.toLowerCase())) as DkimRow[];
      return rows.map(toKey);
    });
  }

  add(key: Omit<DkimKey, 'createdAt'>): Promise<DkimKey> {
    return this.core.run(async () => {
      const ok = checkDkimKey(key);
      if (typeof ok === 'string') throw new StoreError('INVALID', ok);
      const now = Date.now();
      const info = this.core
        .sql('INSERT OR IGNORE INTO dkim_keys (domain, selector, algorithm, private_key, public_key, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(ok.domain, ok.selector, key.algorithm, key.privateKey, key.publicKey, now);
      if (info.changes === 0) throw new StoreError('EXISTS', `selector ${ok.selector} already exists for ${ok.domain}`);
      return { ...key, domain: ok.domain, selector: ok.selector, createdAt: new Date(now) };
    });
  }

  remove(domain: string, selector: string): Promise<void> {
    return this.core.run(async () => {
      const info = this.core.sql('DELETE FROM dkim_keys WHERE domain = ? AND selector = ?').run(domain.toLowerCase(), selector.toLowerCase());
      if (info.changes === 0) throw new StoreError('NOT_FOUND', 'no such DKIM key');
    });
  }
}

/**
 * PgDkimKeys: the DkimKeyStore (../dkim.ts) over PostgreSQL; table `dkim_keys` from migration 9 (schema.ts).
 */
import { checkDkimKey, dkimKeyFromRow, type DkimKey, type DkimKeyRow, type DkimKeyStore } from '../dkim.js';
import { StoreError } from '../types.js';
import type { PgCore } from './core.js';

interface DkimRow extends DkimKeyRow {
  created_at: Date;
}

function toKey(r: DkimRow): DkimKey {
  return dkimKeyFromRow(r, r.created_at);
}

export class PgDkimKeys implements DkimKeyStore {
  constructor(private readonly core: PgCore) {}

  list(domain?: string): Promise<DkimKey[]> {
    return this.core.run(async () => {
      const r = domain === undefined
        ? await this.core.db.query<DkimRow>('SELECT * FROM dkim_keys ORDER BY created_at, domain, selector')
        : await this.core.db.query<DkimRow>('SELECT * FROM dkim_keys WHERE domain = $1 ORDER BY created_at, selector', [domain.toLowerCase()]);
      return r.rows.map(toKey);
    });
  }

  add(key: Omit<DkimKey, 'createdAt'>): Promise<DkimKey> {
    return this.core.run(async () => {
      const ok = checkDkimKey(key);
      if (typeof ok === 'string') throw new StoreError('INVALID', ok);
      const r = await this.core.db.query<DkimRow>(
        `INSERT INTO dkim_keys (domain, selector, algorithm, private_key, public_key, created_at)
         VALUES ($1, $2, $3, $4, $5, clock_timestamp()) ON CONFLICT DO NOTHING RETURNING *`,
        [ok.domain, ok.selector, key.algorithm, key.privateKey, key.publicKey],
      );
      if (!r.rows[0]) throw new StoreError('EXISTS', `selector ${ok.selector} already exists for ${ok.domain}`);
      return toKey(r.rows[0]);
    });
  }

  remove(domain: string, selector: string): Promise<void> {
    return this.core.run(async () => {
      const r = await this.core.db.query('DELETE FROM dkim_keys WHERE domain = $1 AND selector = $2', [domain.toLowerCase(), selector.toLowerCase()]);
      if (!r.rowCount) throw new StoreError('NOT_FOUND', 'no such DKIM key');
    });
  }
}

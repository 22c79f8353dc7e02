/**
 * SqliteOutboundQueue: the outbound queue over the SQLite core. Message bytes are blob files (shared blob
 * code with the mail, never inline); the row commits after the file is durable. A single-node store:
 * due() claims nothing (no other node competes). Failures are StoreError values (NOT_FOUND, INVALID,
 * TOO_BIG, TEMPORARY).
 */
import type { OutboundPatch, OutboundQueue } from '../queue.js';
import type { OutboundMessage } from '../types.js';
import { StoreError } from '../types.js';
import { MAX_MESSAGE_SIZE } from '../../lib/limits.js';
import { newObjectId } from '../ids.js';
import type { SqliteCore } from './core.js';
import { unref } from './mutations.js';
import { toOutbound, type OutboundRow } from './rows.js';

export class SqliteOutboundQueue implements OutboundQueue {
  constructor(private readonly core: SqliteCore) {}

  enqueue(sender: string, recipients: string[], raw: Buffer, opts: { notBefore?: Date } = {}): Promise<string> {
    return this.core.run(async () => {
      if (!Buffer.isBuffer(raw)) throw new StoreError('INVALID', 'message must be a Buffer');
      if (raw.length > MAX_MESSAGE_SIZE) throw new StoreError('TOO_BIG', `message exceeds ${MAX_MESSAGE_SIZE} octets`);
      if (typeof sender !== 'string') throw new StoreError('INVALID', 'sender must be a string');
      if (!Array.isArray(recipients) || recipients.length === 0 || recipients.some((r) => typeof r !== 'string' || r.length === 0)) {
        throw new StoreError('INVALID', 'at least one recipient is required');
      }
      const id = newObjectId('Q');
      const now = Date.now();
      await this.core.withBlob(raw, (blobId) =>
        this.core.tx(() => {
          this.core.st.insertBlob.run(blobId, raw.length);
          this.core
            .sql(
              'INSERT INTO outbound (id, sender, recipients, attempts, created_at, next_attempt_at, last_error, size, blob_id) VALUES (?, ?, ?, 0, ?, ?, NULL, ?, ?)',
            )
            .run(id, sender, JSON.stringify(recipients), now, Math.max(now, opts.notBefore?.getTime() ?? now), raw.length, blobId);
        }),
      );
      return id;
    });
  }

  due(now: Date, limit: number): Promise<OutboundMessage[]> {
    return this.core.run(async () => {
      const lim = Math.max(0, Math.floor(limit));
      const rows = this.core
        .sql('SELECT * FROM outbound WHERE next_attempt_at <= ? ORDER BY created_at, id LIMIT ?')
        .all(now.getTime(), lim) as OutboundRow[];
      return rows.map(toOutbound);
    });
  }

  read(id: string): Promise<Buffer> {
    return this.core.run(async () => {
      const r = this.core.st.outbound.get(id) as OutboundRow | undefined;
      if (!r) throw new StoreError('NOT_FOUND', 'no such outbound message');
      try {
        return await this.core.blobs.read(r.blob_id, 0, r.size);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError('NOT_FOUND', 'outbound message was deleted', { cause: e });
        throw e;
      }
    });
  }

  update(id: string, patch: OutboundPatch): Promise<void> {
    return this.core.run(async () => {
      const info = this.core
        .sql('UPDATE outbound SET recipients = ?, attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?')
        .run(JSON.stringify(patch.recipients), patch.attempts, patch.nextAttemptAt.getTime(), patch.lastError, id);
      if (info.changes === 0) throw new StoreError('NOT_FOUND', 'no such outbound message');
    });
  }

  remove(id: string): Promise<void> {
    return this.core.run(async () => {
      const doomed: string[] = [];
      this.core.tx(() => {
        const r = this.core.st.outbound.get(id) as OutboundRow | undefined;
        if (!r) throw new StoreError('NOT_FOUND', 'no such outbound message');
        this.core.sql('DELETE FROM outbound WHERE id = ?').run(id);
        unref(this.core, r.blob_id, doomed);
      });
      this.core.unlinkAll(doomed);
    });
  }

  list(): Promise<OutboundMessage[]> {
    return this.core.run(async () => (this.core.sql('SELECT * FROM outbound ORDER BY created_at, id').all() as OutboundRow[]).map(toOutbound));
  }
}

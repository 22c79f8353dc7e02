/**
 * The PostgreSQL OutboundQueue (../queue.ts): messages waiting to leave, shared by every node. Order is
 * creation time then insertion sequence. due() claims what it returns for this node with a lease (see
 * core.ts outboundLeaseMs) so no two nodes attempt one message. The bytes are a blob like a mailbox
 * message's (bytea or a file under blobDir, written before the row commits). Errors: INVALID (sender or
 * recipients holding NUL/CR/LF, no recipient, bad patch), TOO_BIG, NOT_FOUND, TEMPORARY.
 */
import type { OutboundPatch, OutboundQueue } from '../queue.js';
import type { OutboundMessage } from '../types.js';
import { StoreError } from '../types.js';
import { MAX_MESSAGE_SIZE } from '../../lib/limits.js';
import { newObjectId } from '../ids.js';
import type { PgCore } from './core.js';
import { num } from './db.js';
import { release, toOutbound, withBlob, type OutboundRow } from './rows.js';
import { checkEnvelopeString, pgText } from './util.js';

export class PgOutboundQueue implements OutboundQueue {
  constructor(private readonly core: PgCore) {}

  enqueue(sender: string, recipients: string[], raw: Buffer, opts: { notBefore?: Date } = {}): Promise<string> {
    const core = this.core;
    return core.run(async () => {
      if (!Buffer.isBuffer(raw)) throw new StoreError('INVALID', 'message must be a Buffer');
      if (raw.length > MAX_MESSAGE_SIZE) throw new StoreError('TOO_BIG', `message exceeds ${MAX_MESSAGE_SIZE} octets`);
      if (typeof sender !== 'string') throw new StoreError('INVALID', 'sender must be a string');
      checkEnvelopeString(sender, 'sender');
      if (!Array.isArray(recipients) || recipients.length === 0 || recipients.some((r) => typeof r !== 'string' || r.length === 0)) {
        throw new StoreError('INVALID', 'at least one recipient is required');
      }
      for (const r of recipients) checkEnvelopeString(r, 'recipient');
      const id = newObjectId('Q');
      await withBlob(core, raw, (blob) =>
        core.db.tx(async (q) => {
          await core.blobs.insert(q, blob, 1);
          await q.query(
            `INSERT INTO outbound (id, sender, recipients, attempts, created_at, next_attempt_at, size, blob_id)
             VALUES ($1, $2, $3, 0, clock_timestamp(), GREATEST(clock_timestamp(), COALESCE($6::timestamptz, clock_timestamp())), $4, $5)`,
            [id, sender, recipients, raw.length, blob.id, opts.notBefore ?? null],
          );
        }),
      );
      return id;
    });
  }

  /**
   * Due messages, oldest first, claimed for this node: each returned message is leased to this node until
   * `now + outboundLeaseMs` (or until update/remove), and other nodes skip it meanwhile (FOR UPDATE SKIP
   * LOCKED makes concurrent claims from several nodes pick disjoint rows). This node's own leased messages
   * stay visible to it, so one node's worker sees the plain queue semantics.
   */
  due(now: Date, limit: number): Promise<OutboundMessage[]> {
    return this.core.run(async () => {
      if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw new StoreError('INVALID', 'invalid date');
      const lim = Math.max(0, Math.floor(Number.isFinite(limit) ? limit : 0));
      if (lim === 0) return [];
      const leaseUntil = new Date(now.getTime() + this.core.leaseMs);
      const r = await this.core.db.query<OutboundRow>(
        `WITH due AS (
           SELECT id FROM outbound
           WHERE next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1 OR lease_owner = $3)
           ORDER BY created_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED
         )
         UPDATE outbound o SET lease_owner = $3, lease_until = $4 FROM due WHERE o.id = due.id
         RETURNING o.*`,
        [now, lim, this.core.nodeName, leaseUntil],
      );
      return r.rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || num(a.seq) - num(b.seq)).map(toOutbound);
    });
  }

  read(id: string): Promise<Buffer> {
    return this.core.run(async () => {
      if (typeof id !== 'string') throw new StoreError('NOT_FOUND', 'no such outbound message');
      const r = await this.core.db.query<{ blob_id: string }>('SELECT blob_id FROM outbound WHERE id = $1', [pgText(id)]);
      const row = r.rows[0];
      if (!row) throw new StoreError('NOT_FOUND', 'no such outbound message');
      return this.core.blobs.read(this.core.db.pool, row.blob_id);
    });
  }

  update(id: string, patch: OutboundPatch): Promise<void> {
    return this.core.run(async () => {
      if (!Array.isArray(patch.recipients) || patch.recipients.some((r) => typeof r !== 'string')) throw new StoreError('INVALID', 'invalid recipients');
      for (const r of patch.recipients) checkEnvelopeString(r, 'recipient');
      if (!Number.isSafeInteger(patch.attempts) || patch.attempts < 0 || patch.attempts > 0x7fffffff) throw new StoreError('INVALID', 'invalid attempts');
      if (!(patch.nextAttemptAt instanceof Date) || Number.isNaN(patch.nextAttemptAt.getTime())) throw new StoreError('INVALID', 'invalid date');
      const r = await this.core.db.query(
        `UPDATE outbound SET recipients = $2, attempts = $3, next_attempt_at = $4, last_error = $5, lease_owner = NULL, lease_until = NULL
         WHERE id = $1`,
        [pgText(String(id)), patch.recipients, patch.attempts, patch.nextAttemptAt, patch.lastError === null ? null : pgText(patch.lastError)],
      );
      if (r.rowCount === 0) throw new StoreError('NOT_FOUND', 'no such outbound message');
    });
  }

  remove(id: string): Promise<void> {
    return this.core.run(async () => {
      await this.core.db.tx(async (q, after) => {
        const r = await q.query<{ blob_id: string }>('DELETE FROM outbound WHERE id = $1 RETURNING blob_id', [pgText(String(id))]);
        const row = r.rows[0];
        if (!row) throw new StoreError('NOT_FOUND', 'no such outbound message');
        await release(this.core, q, after, [row.blob_id]);
      });
    });
  }

  list(): Promise<OutboundMessage[]> {
    return this.core.run(async () => (await this.core.db.query<OutboundRow>('SELECT * FROM outbound ORDER BY created_at, seq')).rows.map(toOutbound));
  }
}

/**
 * The PostgreSQL Maildrop (../maildrop.ts, RFC 1939): the POP3 session lock, the UPDATE state's commit and
 * retention. The lock is a session-level advisory lock on a connection of its own, so it holds across nodes
 * and PostgreSQL releases it if this node dies (the connection closes). commit and purgeRetrieved are one
 * transaction each under the mailbox row lock, one MODSEQ step, resolving after COMMIT. Errors: NOT_FOUND
 * (user or mailbox), INVALID (date), TEMPORARY.
 */
import pg from 'pg';
import type { Maildrop } from '../maildrop.js';
import type { MaildropCommit } from '../types.js';
import { StoreError } from '../types.js';
import { FLAG_SEEN } from '../flags.js';
import { validUserId, type PgCore } from './core.js';
import { clientConfig, errorMessage, num } from './db.js';
import { expungeRows, mailboxRow } from './rows.js';
import { cleanUids } from './util.js';

export class PgMaildrop implements Maildrop {
  constructor(private readonly core: PgCore) {}

  /**
   * Exclusive maildrop: advisory lock (namespace = this schema, key = user id) on a dedicated connection.
   * The returned function unlocks and closes that connection; it is idempotent. null when held elsewhere.
   */
  lock(userId: number): Promise<(() => Promise<void>) | null> {
    const core = this.core;
    return core.run(async () => {
      if (!validUserId(userId)) throw new StoreError('NOT_FOUND', 'no such user');
      const client = new pg.Client(clientConfig(core.db.opts, 'maildrop'));
      client.on('error', (err) => {
        core.logger.warn({ err: errorMessage(err), userId }, 'maildrop lock connection failed; lock released by the server');
      });
      const key = `mailroom.maildrop.${core.schema}`;
      try {
        await client.connect();
        const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1), $2) AS ok', [key, userId]);
        if (!r.rows[0]?.ok) {
          await client.end().catch(() => undefined);
          return null;
        }
      } catch (e) {
        await client.end().catch(() => undefined);
        throw e;
      }
      core.lockClients.add(client);
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        try {
          await client.query('SELECT pg_advisory_unlock(hashtext($1), $2)', [key, userId]);
        } catch {
          // The connection is gone: the server released the lock with it.
        } finally {
          core.lockClients.delete(client);
          await client.end().catch(() => undefined);
        }
      };
    });
  }

  commit(mailboxId: number, commit: MaildropCommit): Promise<number[]> {
    return this.core.run(async () =>
      this.core.db.tx(async (q, after) => {
        const b = await mailboxRow(q, mailboxId, true);
        const gone = new Set(cleanUids(commit.expunge ?? []));
        const retrieved = cleanUids(commit.retrieved ?? []).filter((u) => !gone.has(u));
        if (retrieved.length) {
          await q.query('UPDATE messages SET retrieved_at = now() WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [mailboxId, retrieved]);
        }
        const seen = cleanUids(commit.seen ?? []).filter((u) => !gone.has(u));
        const seenRows = seen.length
          ? (
              await q.query<{ uid: string }>(
                `SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) AND (flags & ${FLAG_SEEN}) = 0`,
                [mailboxId, seen],
              )
            ).rows.map((r) => num(r.uid))
          : [];
        const expRows = gone.size
          ? (await q.query<{ uid: string }>('SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [mailboxId, [...gone]])).rows.map(
              (r) => num(r.uid),
            )
          : [];
        if (!seenRows.length && !expRows.length) return [];
        if (seenRows.length) {
          await q.query(`UPDATE messages SET flags = flags | ${FLAG_SEEN}, modseq = $3 WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])`, [
            mailboxId,
            seenRows,
            num(b.highest_modseq) + 1,
          ]);
        }
        return expungeRows(this.core, q, after, b, expRows);
      }),
    );
  }

  purgeRetrieved(mailboxId: number, before: Date): Promise<number> {
    return this.core.run(async () => {
      if (!(before instanceof Date) || Number.isNaN(before.getTime())) throw new StoreError('INVALID', 'invalid date');
      return this.core.db.tx(async (q, after) => {
        const b = await mailboxRow(q, mailboxId, true);
        const r = await q.query<{ uid: string }>(
          'SELECT uid FROM messages WHERE mailbox_id = $1 AND retrieved_at IS NOT NULL AND retrieved_at <= $2 ORDER BY uid',
          [mailboxId, before],
        );
        if (!r.rows.length) return 0;
        const gone = await expungeRows(
          this.core,
          q,
          after,
          b,
          r.rows.map((row) => num(row.uid)),
        );
        return gone.length;
      });
    });
  }
}

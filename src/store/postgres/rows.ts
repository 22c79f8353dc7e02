/**
 * Rows of the PostgreSQL store and the statements several parts share inside one transaction: mailbox row
 * lock and MODSEQ bump, keyword spelling, deleting rows with tombstones and blob release, dropping a
 * mailbox, copying/moving rows between mailboxes. Callers run them inside Db.tx and hold the mailbox row
 * lock where a function says so (see core.ts for the concurrency rules).
 */
import type { Mailbox, MessageMeta, OutboundMessage, SpecialUse, User } from '../types.js';
import { StoreError } from '../types.js';
import { flagList } from '../flags.js';
import { newObjectId } from '../ids.js';
import { releaseBlobs, retainBlobs, type PreparedBlob } from './blobs.js';
import { validId, type PgCore } from './core.js';
import { num, type AfterCommit, type Queryable } from './db.js';
import { cleanUids } from './util.js';
import { dropHeld, holdRows } from './held.js';

export interface UserRow {
  id: number;
  address: string;
  password_hash: string;
  created_at: Date;
  admin?: boolean;
}

export interface MailboxRow {
  id: string;
  user_id: number;
  name: string;
  uid_validity: string;
  uid_next: string;
  highest_modseq: string;
  first_recent: string;
  special_use: string | null;
  object_id: string;
  subscribed?: boolean;
}

export interface MsgRow {
  uid: string;
  email_id: string;
  thread_id: string;
  flags: number;
  keywords: string[];
  internal_date: Date;
  size: string;
  modseq: string;
  /** RFC 8514 save date; null for rows written before migration 6 (and for held rows). */
  saved_date?: Date | null;
}

export interface FullMsgRow extends MsgRow {
  blob_id: string;
  retrieved_at: Date | null;
}

export interface OutboundRow {
  id: string;
  sender: string;
  recipients: string[];
  attempts: number;
  created_at: Date;
  next_attempt_at: Date;
  last_error: string | null;
  size: string;
  blob_id: string;
  seq: string;
}

export const MSG_COLS = 'uid, email_id, thread_id, flags, keywords, internal_date, size, modseq, saved_date';
export const FULL_COLS = `${MSG_COLS}, blob_id, retrieved_at`;
export const MAILBOX_COLS = `m.id, m.user_id, m.name, m.uid_validity, m.uid_next, m.highest_modseq, m.first_recent, m.special_use, m.object_id,
  EXISTS (SELECT 1 FROM subscriptions s WHERE s.user_id = m.user_id AND s.name = m.name) AS subscribed`;

export function toUser(r: UserRow): User {
  return { id: num(r.id), address: r.address, passwordHash: r.password_hash, createdAt: r.created_at, admin: r.admin === true };
}

export function toMailbox(r: MailboxRow): Mailbox {
  return {
    id: num(r.id),
    userId: num(r.user_id),
    name: r.name,
    uidValidity: num(r.uid_validity),
    uidNext: num(r.uid_next),
    highestModseq: num(r.highest_modseq),
    specialUse: (r.special_use as SpecialUse | null) ?? null,
    subscribed: r.subscribed === true,
    mailboxObjectId: r.object_id,
  };
}

export function toMeta(r: MsgRow): MessageMeta {
  const m: MessageMeta = {
    uid: num(r.uid),
    emailId: r.email_id,
    threadId: r.thread_id,
    flags: flagList(r.flags, r.keywords),
    internalDate: r.internal_date,
    size: num(r.size),
    modseq: num(r.modseq),
  };
  if (r.saved_date) m.savedDate = r.saved_date;
  return m;
}

export function toOutbound(r: OutboundRow): OutboundMessage {
  return {
    id: r.id,
    sender: r.sender,
    recipients: r.recipients,
    attempts: r.attempts,
    createdAt: r.created_at,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    size: num(r.size),
  };
}

/** The mailbox row (locked FOR UPDATE with `lock`). Throws NOT_FOUND. */
export async function mailboxRow(q: Queryable, mailboxId: number, lock = false): Promise<MailboxRow> {
  if (!validId(mailboxId)) throw new StoreError('NOT_FOUND', 'no such mailbox');
  const r = await q.query<MailboxRow>(`SELECT * FROM mailboxes WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [mailboxId]);
  const row = r.rows[0];
  if (!row) throw new StoreError('NOT_FOUND', 'no such mailbox');
  return row;
}

/** Sets the mailbox's HIGHESTMODSEQ (and optionally UIDNEXT) after the caller locked the row. */
export async function bump(q: Queryable, mailboxId: number, modseq: number, uidNext?: number): Promise<void> {
  if (uidNext === undefined) await q.query('UPDATE mailboxes SET highest_modseq = $2 WHERE id = $1', [mailboxId, modseq]);
  else await q.query('UPDATE mailboxes SET highest_modseq = $2, uid_next = $3 WHERE id = $1', [mailboxId, modseq, uidNext]);
}

/** The existing rows among `uids`, uid order. */
export async function rowsIn(q: Queryable, mailboxId: number, uids: readonly number[]): Promise<FullMsgRow[]> {
  const clean = cleanUids(uids);
  if (!clean.length) return [];
  const r = await q.query<FullMsgRow>(`SELECT ${FULL_COLS} FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid`, [
    mailboxId,
    clean,
  ]);
  return r.rows;
}

/** Keywords in the mailbox's canonical spelling (first seen wins); registers new ones. */
export async function canonicalKeywords(q: Queryable, mailboxId: number, keywords: readonly string[]): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  if (!keywords.length) return map;
  const distinct = new Map<string, string>();
  for (const k of keywords) if (!distinct.has(k.toLowerCase())) distinct.set(k.toLowerCase(), k);
  const lowers = [...distinct.keys()];
  await q.query(
    `INSERT INTO mailbox_keywords (mailbox_id, lower, spelling)
     SELECT $1, l, s FROM unnest($2::text[], $3::text[]) AS t(l, s) ON CONFLICT DO NOTHING`,
    [mailboxId, lowers, [...distinct.values()]],
  );
  const r = await q.query<{ lower: string; spelling: string }>(
    'SELECT lower, spelling FROM mailbox_keywords WHERE mailbox_id = $1 AND lower = ANY($2::text[])',
    [mailboxId, lowers],
  );
  for (const row of r.rows) map.set(row.lower, row.spelling);
  return map;
}

export function spell(map: Map<string, string>, keywords: readonly string[]): string[] {
  return keywords.map((k) => map.get(k.toLowerCase()) ?? k);
}

/** Inserts a mailbox; its UIDVALIDITY comes from a database-wide sequence started at the schema's creation. */
export async function insertMailboxRow(q: Queryable, userId: number, name: string, specialUse: SpecialUse | null): Promise<MailboxRow> {
  const r = await q.query<MailboxRow>(
    `INSERT INTO mailboxes (user_id, name, uid_validity, special_use, object_id)
     VALUES ($1, $2, nextval('uid_validity_seq'), $3, $4) RETURNING *`,
    [userId, name, specialUse, newObjectId('F')],
  );
  return r.rows[0]!;
}

/** Drops blob references; files whose last reference went are unlinked after commit. */
export async function release(core: PgCore, q: Queryable, after: AfterCommit, blobIds: readonly string[]): Promise<void> {
  const files = await releaseBlobs(q, blobIds);
  if (files.length) after.push(() => core.blobs.unlinkFiles(files));
}

/**
 * Deletes message rows, leaving tombstones stamped `modseq`, and drops their blob references. Returns the
 * deleted UIDs ascending. The caller holds the mailbox lock.
 */
export async function deleteRows(
  core: PgCore,
  q: Queryable,
  after: AfterCommit,
  mailboxId: number,
  uids: readonly number[],
  modseq: number,
): Promise<number[]> {
  if (!uids.length) return [];
  // A reader of this node (or the grace) holds the mailbox's expunged messages: keep them aside (held.ts).
  const hold = core.holdsExpunged(mailboxId);
  if (hold) await holdRows(core, q, mailboxId, uids, modseq);
  const r = await q.query<{ uid: string; blob_id: string }>(
    'DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) RETURNING uid, blob_id',
    [mailboxId, uids],
  );
  const gone = r.rows.map((row) => num(row.uid)).sort((a, b) => a - b);
  if (gone.length) await insertTombstones(q, mailboxId, gone, modseq);
  if (!hold) {
    await release(
      core,
      q,
      after,
      r.rows.map((row) => row.blob_id),
    );
  }
  return gone;
}

async function insertTombstones(q: Queryable, mailboxId: number, uids: readonly number[], modseq: number): Promise<void> {
  await q.query(
    `INSERT INTO tombstones (mailbox_id, uid, modseq) SELECT $1, u, $3 FROM unnest($2::bigint[]) AS u
     ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`,
    [mailboxId, uids, modseq],
  );
}

/**
 * Expunges `uids` in one step of the change log: deletes the rows (tombstones stamped with the next
 * MODSEQ), bumps HIGHESTMODSEQ and notifies. The caller locked `b`. Returns the expunged UIDs ascending.
 */
export async function expungeRows(core: PgCore, q: Queryable, after: AfterCommit, b: MailboxRow, uids: readonly number[]): Promise<number[]> {
  const mailboxId = num(b.id);
  const modseq = num(b.highest_modseq) + 1;
  const gone = await deleteRows(core, q, after, mailboxId, uids, modseq);
  await bump(q, mailboxId, modseq);
  await core.changed(q, after, num(b.user_id), mailboxId, modseq);
  return gone;
}

/** Deletes a mailbox with its messages (no tombstones: they go with the mailbox). Caller holds the lock. */
export async function dropMailbox(core: PgCore, q: Queryable, after: AfterCommit, b: MailboxRow): Promise<void> {
  const r = await q.query<{ blob_id: string }>('DELETE FROM messages WHERE mailbox_id = $1 RETURNING blob_id', [b.id]);
  const held = await dropHeld(q, num(b.id));
  await release(core, q, after, [...r.rows.map((row) => row.blob_id), ...held]);
  await q.query('DELETE FROM metadata WHERE mailbox_id = $1', [b.id]);
  await q.query('DELETE FROM mailboxes WHERE id = $1', [b.id]);
  await core.changed(q, after, num(b.user_id), num(b.id), num(b.highest_modseq) + 1);
}

/** Writes the blob (file mode), runs the transaction, and removes the file if the transaction failed. */
export function withBlob<T>(core: PgCore, data: Buffer, commit: (blob: PreparedBlob) => Promise<T>): Promise<T> {
  return withBlobs(core, [data], (blobs) => commit(blobs[0]!));
}

/**
 * withBlob for several blobs, prepared at once: when one cannot be prepared the others are discarded and
 * its error is thrown; when `commit` throws, all are discarded before the error goes on. A crash in between
 * leaves files no row references, which sweepOrphans removes.
 */
export async function withBlobs<T>(core: PgCore, data: readonly Buffer[], commit: (blobs: PreparedBlob[]) => Promise<T>): Promise<T> {
  let blobs: PreparedBlob[];
  if (data.length === 1) blobs = [await core.blobs.prepare(data[0]!)];
  else {
    const prepared = await Promise.allSettled(data.map((d) => core.blobs.prepare(d)));
    const failed = prepared.find((p): p is PromiseRejectedResult => p.status === 'rejected');
    blobs = prepared.flatMap((p) => (p.status === 'fulfilled' ? [p.value] : []));
    if (failed) {
      await Promise.all(blobs.map((b) => core.blobs.discard(b)));
      throw failed.reason;
    }
  }
  try {
    return await commit(blobs);
  } catch (e) {
    await Promise.all(blobs.map((b) => core.blobs.discard(b)));
    throw e;
  }
}

/**
 * Inserts copies of `rows` into `dst` (uid order), sharing blobs. With `move`, the source rows are deleted
 * (tombstones stamped with the source's next modseq) and EMAILIDs and POP3 retrieval marks are kept; a copy
 * gets new EMAILIDs. Bumps each mailbox's modseq once (twice when src is dst and moving). The caller holds
 * both mailbox locks. Returns the uid pairs.
 */
export async function moveRows(
  core: PgCore,
  q: Queryable,
  after: AfterCommit,
  src: MailboxRow,
  rows: readonly FullMsgRow[],
  dst: MailboxRow,
  move: boolean,
): Promise<Array<[number, number]>> {
  const pairs: Array<[number, number]> = [];
  if (!rows.length) return pairs;
  const srcId = num(src.id);
  const dstId = num(dst.id);
  let dstModseqBase = num(dst.highest_modseq);
  if (move) {
    const srcModseq = num(src.highest_modseq) + 1;
    const srcUids = rows.map((r) => num(r.uid));
    if (core.holdsExpunged(srcId)) {
      // The moved rows stay readable for readers of the source (held.ts); the held copy is one more reference.
      await holdRows(core, q, srcId, srcUids, srcModseq);
      await retainBlobs(
        q,
        rows.map((r) => r.blob_id),
      );
    }
    await q.query('DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[])', [srcId, srcUids]);
    await insertTombstones(q, srcId, srcUids, srcModseq);
    await bump(q, srcId, srcModseq);
    await core.changed(q, after, num(src.user_id), srcId, srcModseq);
    if (srcId === dstId) dstModseqBase = srcModseq;
  } else {
    await retainBlobs(
      q,
      rows.map((r) => r.blob_id),
    );
  }
  const modseq = dstModseqBase + 1;
  let uid = srcId === dstId && move ? num(src.uid_next) : num(dst.uid_next);
  const allKeywords = rows.flatMap((r) => r.keywords);
  const spelling = await canonicalKeywords(q, dstId, allKeywords);
  const records = rows.map((r) => {
    const rec = {
      uid,
      email_id: move ? r.email_id : newObjectId('M'),
      thread_id: r.thread_id,
      flags: r.flags,
      kw: spell(spelling, r.keywords),
      internal_date: r.internal_date.toISOString(),
      size: num(r.size),
      blob_id: r.blob_id,
      retrieved_at: move && r.retrieved_at ? r.retrieved_at.toISOString() : null,
    };
    pairs.push([num(r.uid), uid]);
    uid++;
    return rec;
  });
  await q.query(
    `INSERT INTO messages (mailbox_id, uid, email_id, thread_id, flags, keywords, internal_date, size, modseq, blob_id, retrieved_at)
     SELECT $1, r.uid, r.email_id, r.thread_id, r.flags, ARRAY(SELECT jsonb_array_elements_text(r.kw)), r.internal_date, r.size, $3,
            r.blob_id, r.retrieved_at
     FROM jsonb_to_recordset($2::jsonb) AS r(uid bigint, email_id text, thread_id text, flags integer, kw jsonb,
          internal_date timestamptz, size bigint, blob_id text, retrieved_at timestamptz)`,
    [dstId, JSON.stringify(records), modseq],
  );
  await bump(q, dstId, modseq, uid);
  await core.changed(q, after, num(dst.user_id), dstId, modseq);
  return pairs;
}


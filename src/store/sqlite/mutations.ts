/**
 * Row-level writes the parts of the SQLite store share, run inside a transaction the caller holds:
 * UIDVALIDITY and mailbox rows, canonical keywords, THREADID, blob reference counts and the set-based
 * deletion of message rows, dropping a mailbox, and copying/moving rows between mailboxes.
 */
import type { SpecialUse } from '../types.js';
import { newObjectId } from '../ids.js';
import type { SqliteCore } from './core.js';
import { dropBlobRefs, dropHeld, holdRows } from './held.js';
import { splitKeywords, type FullMsgRow, type MailboxRow } from './rows.js';

/** A fresh UIDVALIDITY: seconds since the epoch, strictly greater than any handed out before. */
export function nextUidValidity(core: SqliteCore): number {
  const last = Number((core.st.getMeta.get('last_uidvalidity') as { value: string } | undefined)?.value ?? '0');
  let v = Math.max(last + 1, Math.floor(Date.now() / 1000));
  if (v > 0xffffffff) v = 1; // far future: wrap (never reached before 2106)
  core.st.setMeta.run('last_uidvalidity', String(v));
  return v;
}

export function insertMailboxRow(core: SqliteCore, userId: number, name: string, specialUse: SpecialUse | null): number {
  const info = core.st.insertMailbox.run(userId, name, nextUidValidity(core), specialUse, newObjectId('F'));
  return Number(info.lastInsertRowid);
}

/** Keywords in the mailbox's canonical spelling (first seen wins); registers new ones. */
export function canonicalKeywords(core: SqliteCore, mailboxId: number, keywords: readonly string[], cache: Map<string, string>): string[] {
  return keywords.map((k) => {
    const lower = k.toLowerCase();
    let sp = cache.get(lower);
    if (sp === undefined) {
      sp = (core.st.keyword.get(mailboxId, lower) as { spelling: string } | undefined)?.spelling;
      if (sp === undefined) {
        core.st.insertKeyword.run(mailboxId, lower, k);
        sp = k;
      }
      cache.set(lower, sp);
    }
    return sp;
  });
}

/**
 * Drops one reference to a blob. An unreferenced blob loses its rows; its id goes to `doomed` when it has a
 * file (unlinked after commit), to blob_garbage when its bytes are inline (deleted in the background).
 */
export function unref(core: SqliteCore, blobId: string, doomed: string[]): void {
  core.st.unrefBlob.run(blobId);
  const refs = core.st.blobRefs.get(blobId) as number | undefined;
  if (refs !== undefined && refs <= 0) {
    core.st.deleteBlob.run(blobId);
    core.st.deleteBlobData.run(blobId);
    core.st.deleteBlobHeader.run(blobId);
    if (core.st.garbageOne.run(blobId).changes === 0) doomed.push(blobId); // a file to unlink
    else core.garbageWanted = true;
  }
}

/**
 * Deletes message rows, leaving tombstones stamped `modseq`. Inside a transaction. Set-based statements
 * over a JSON list of the rows: a POP3 QUIT or an EXPUNGE of 10,000 messages takes ~10 statements instead
 * of ~80,000, and one row costs what the per-row statements did. When a reader holds the mailbox's expunged
 * messages (held.ts), the rows are kept aside with their blob references instead of dropping them.
 */
export function deleteRows(core: SqliteCore, mailboxId: number, rows: ReadonlyArray<Pick<FullMsgRow, 'uid' | 'blob_id'>>, modseq: number, doomed: string[], tombstones = true): void {
  if (rows.length === 0) return;
  const hold = tombstones && core.holdsExpunged(mailboxId);
  if (hold) holdRows(core, mailboxId, rows.map((r) => r.uid), modseq);
  if (rows.length === 1) {
    // One message (the usual EXPUNGE): plain statements, no JSON list to bind and walk.
    const r = rows[0]!;
    core.st.deleteMessage.run(mailboxId, r.uid);
    core.st.deleteEnvelope.run(mailboxId, r.uid);
    if (tombstones) core.st.insertTombstone.run(mailboxId, r.uid, modseq);
    if (!hold) dropBlobRefs(core, [r.blob_id], doomed);
    return;
  }
  const uids = JSON.stringify(rows.map((r) => r.uid));
  core.st.deleteMessagesJson.run(mailboxId, uids);
  core.st.deleteEnvelopesJson.run(mailboxId, uids);
  if (tombstones) core.st.insertTombstonesJson.run(mailboxId, modseq, uids);
  if (!hold) {
    dropBlobRefs(
      core,
      rows.map((r) => r.blob_id),
      doomed,
    );
  }
}

/** Deletes a mailbox row with its messages, tombstones, keywords and annotations. Inside a transaction. */
export function dropMailbox(core: SqliteCore, b: MailboxRow, doomed: string[]): void {
  const rows = core.st.allFull.all(b.id) as FullMsgRow[];
  deleteRows(core, b.id, rows, b.highest_modseq + 1, doomed, false);
  dropHeld(core, b.id, doomed);
  core.sql('DELETE FROM tombstones WHERE mailbox_id = ?').run(b.id);
  core.sql('DELETE FROM message_envelopes WHERE mailbox_id = ?').run(b.id);
  core.sql('DELETE FROM mailbox_keywords WHERE mailbox_id = ?').run(b.id);
  core.sql('DELETE FROM metadata WHERE mailbox_id = ?').run(b.id);
  core.sql('DELETE FROM mailboxes WHERE id = ?').run(b.id);
}

/**
 * Inserts copies of `rows` into `dst` (uid order), sharing blobs. With `move`, the source rows are deleted
 * (tombstones stamped with the source's next modseq) and EMAILIDs are kept; a copy gets new EMAILIDs.
 * Bumps both mailboxes' modseq once. Inside a transaction; returns the uid pairs.
 */
export function moveRows(core: SqliteCore, src: MailboxRow, rows: readonly FullMsgRow[], dst: MailboxRow, move: boolean): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  if (rows.length === 0) return pairs;
  if (move) {
    const srcModseq = src.highest_modseq + 1;
    if (core.holdsExpunged(src.id)) {
      // The moved rows stay readable for readers of the source (held.ts); the held copy is one more reference.
      holdRows(core, src.id, rows.map((r) => r.uid), srcModseq);
      for (const r of rows) core.st.refBlob.run(r.blob_id);
    }
    for (const r of rows) {
      core.st.deleteMessage.run(src.id, r.uid);
      core.st.insertTombstone.run(src.id, r.uid, srcModseq);
    }
    core.st.setModseq.run(srcModseq, src.id);
  }
  // Re-read the destination: when src === dst its modseq just moved.
  const d = core.st.mailbox.get(dst.id) as MailboxRow;
  let uid = d.uid_next;
  const modseq = d.highest_modseq + 1;
  const cache = new Map<string, string>();
  // RFC 8514: a copy or a moved message is saved into the destination now.
  const savedAt = Date.now();
  for (const r of rows) {
    const kw = canonicalKeywords(core, d.id, splitKeywords(r.keywords), cache);
    const emailId = move ? r.email_id : newObjectId('M');
    if (!move) core.st.refBlob.run(r.blob_id);
    core.st.insertMessage.run(d.id, uid, emailId, r.thread_id, r.flags, kw.join(' '), r.internal_date, r.size, modseq, r.blob_id, move ? r.retrieved_at : null, savedAt);
    core.st.copyEnvelope.run(d.id, uid, src.id, r.uid);
    pairs.push([r.uid, uid]);
    uid++;
  }
  core.st.bumpMailbox.run(uid, modseq, d.id);
  if (move) for (const r of rows) core.st.deleteEnvelope.run(src.id, r.uid);
  return pairs;
}

/**
 * THREADID: the thread of the nearest referenced message known for this user (last References entry /
 * In-Reply-To first), else of a message that referenced this one, else a new thread. Records the
 * message's own id and its references so later replies find the thread. Inside a transaction.
 */
export function threadFor(core: SqliteCore, userId: number, ownIds: readonly string[], refs: readonly string[]): string {
  let thread: string | undefined;
  const candidates = [...refs].reverse().concat(ownIds);
  for (const id of candidates) {
    const r = core.st.threadRef.get(userId, id) as { thread_id: string } | undefined;
    if (r) {
      thread = r.thread_id;
      break;
    }
  }
  thread ??= newObjectId('T');
  for (const id of [...ownIds, ...refs]) core.st.insertThreadRef.run(userId, id, thread);
  return thread;
}

/**
 * SqliteMail: the SQLite MailStore (mail.ts at the store root): SqliteMailboxes (mailboxes, lists, change
 * log) and SqliteMailWrites (append, flags, expunge, copy, move) completed by the reads: readMessages,
 * readBytes and the decoded-text search. Failures are StoreError values (NOT_FOUND, INVALID, TEMPORARY).
 *
 * readMessages reads only the columns of the wanted parts, one query per batch (see readerSql):
 * - meta: the message row itself (no join);
 * - index: the MIME index JSON (JOIN blob_data), which also gives the envelope when both are asked;
 * - envelopeText: message_envelopes.envelope (kept at append from StoreOptions.envelopeText; a value
 *   starting with "{" is the envelope's JSON, kept when there was no text, and reads as null);
 * - envelope without index: that JSON when it is one, else json_extract of the MIME index (so callers that
 *   render text ask for envelopeText first and for envelope only where it was null);
 * - header: blob_headers (header blocks up to HEADER_ROW_MAX), else read from the blob up to the header
 *   length recorded in the MIME index.
 * Dense uid sets ("1:*") are read as uid-range scans of RANGE_BATCH rows, sparse ones through IN lists of
 * CHUNK uids, a few uids by point lookups. With `expunged`, the held rows (held.ts) of the uids asked for
 * are merged in; readBytes falls back to them.
 */
import type Database from 'better-sqlite3';
import type { MailStore, MessageParts, Wanted } from '../mail.js';
import type { ByteRange, TextScope } from '../types.js';
import { StoreError } from '../types.js';
import type { Envelope, MessageIndex } from '../../mime/types.js';
import { SYNC_READ_MAX } from './core.js';
import { SqliteMailWrites } from './mail-write.js';
import { heldBlob } from './held.js';
import { getMetadata, setMetadata } from './metadata.js';
import type { MetadataDepth, MetadataEntry, MetadataLimits } from '../metadata.js';
import { mergeHeld, type ExpungeHold } from '../holds.js';
import { SortKeyCache } from '../sort-keys.js';
import { sqliteSortKeys } from './sort-keys.js';
import type { SortKeyTable } from '../../mailsort/index.js';
import { chunks, flattenBatches } from '../helpers.js';
import { CHUNK, FEW_UIDS, IN_LIST, RANGE_BATCH, cleanUids, padChunk, rawToMeta, type RawMsgRow } from './rows.js';

type Row = [number, ...unknown[]];

/** The statements and row decoder of one combination of wanted parts. */
interface Reader {
  /** The held expunged rows of a mailbox (held.ts), in uid order. */
  held: Database.Statement;
  range: Database.Statement;
  many: Database.Statement;
  one: Database.Statement;
  build: (r: Row) => Record<string, unknown>;
}

const META = 1;
const INDEX = 2;
const ENVELOPE = 4;
const TEXT = 8;
const HEADER = 16;

function maskOf(w: Wanted): number {
  return (w.meta ? META : 0) | (w.index ? INDEX : 0) | (w.envelope ? ENVELOPE : 0) | (w.envelopeText ? TEXT : 0) | (w.header ? HEADER : 0);
}

/** Columns and joins for a wanted mask, and where each part's columns start (-1 when absent). */
function readerSql(mask: number, table = 'messages'): { select: string; at: { index: number; text: number; envelope: number; header: number } } {
  const cols = ['m.uid'];
  const joins: string[] = [];
  const at = { index: -1, text: -1, envelope: -1, header: -1 };
  // Held expunged rows (held.ts) keep no save date.
  if (mask & META) cols.push(`m.email_id, m.thread_id, m.flags, m.keywords, m.internal_date, m.size, m.modseq, ${table === 'messages' ? 'm.saved_date' : 'NULL'}`);
  let n = mask & META ? 9 : 1;
  if (mask & INDEX) {
    joins.push('JOIN blob_data d ON d.blob_id = m.blob_id');
    cols.push('d.mime');
    at.index = n++;
  }
  // The envelope comes from the index when that is read anyway, else from message_envelopes.
  if (mask & TEXT || (mask & ENVELOPE && at.index < 0)) {
    joins.push('LEFT JOIN message_envelopes e ON e.mailbox_id = m.mailbox_id AND e.uid = m.uid');
  }
  if (mask & TEXT) {
    cols.push('e.envelope');
    at.text = n++;
  }
  if (mask & ENVELOPE && at.index < 0) {
    cols.push(
      `CASE WHEN substr(e.envelope, 1, 1) = '{' THEN e.envelope
        ELSE (SELECT json_extract(d2.mime, '$.envelope') FROM blob_data d2 WHERE d2.blob_id = m.blob_id) END`,
    );
    at.envelope = n++;
  }
  if (mask & HEADER) {
    joins.push('LEFT JOIN blob_headers h ON h.blob_id = m.blob_id');
    cols.push(
      `h.header, m.blob_id,
       CASE WHEN h.header IS NULL THEN (SELECT json_extract(d3.mime, '$.root.headerEnd') FROM blob_data d3 WHERE d3.blob_id = m.blob_id) END`,
    );
    at.header = n;
  }
  return { select: `SELECT ${cols.join(', ')} FROM ${table} m ${joins.join(' ')} WHERE m.mailbox_id = ?`, at };
}

export class SqliteMail extends SqliteMailWrites implements MailStore {
  /** Sort keys per mailbox, brought forward through the change log (see ../sort-keys.ts). */
  private readonly sortKeyCache = new SortKeyCache(this, { persisted: sqliteSortKeys(this.core) });

  sortKeys(mailboxId: number, uids?: readonly number[]): Promise<SortKeyTable> {
    return this.sortKeyCache.get(mailboxId, uids);
  }

  /** Readers per wanted mask, prepared on first use. */
  private readonly readers = new Map<number, Reader>();

  private reader(mask: number): Reader {
    let r = this.readers.get(mask);
    if (r) return r;
    const { select, at } = readerSql(mask);
    const db = this.core.db;
    const core = this.core;
    const meta = (mask & META) !== 0;
    const wantIndex = (mask & INDEX) !== 0;
    const wantEnvelope = (mask & ENVELOPE) !== 0;
    r = {
      held: db.prepare(`${readerSql(mask, 'expunged_held').select} ORDER BY m.uid`).raw(true),
      range: db.prepare(`${select} AND m.uid BETWEEN ? AND ? ORDER BY m.uid LIMIT ${RANGE_BATCH}`).raw(true),
      many: db.prepare(`${select} AND m.uid IN (${IN_LIST}) ORDER BY m.uid`).raw(true),
      one: db.prepare(`${select} AND m.uid = ?`).raw(true),
      build: (row: Row): Record<string, unknown> => {
        const out: Record<string, unknown> = { uid: row[0] };
        if (meta) out.meta = rawToMeta(row as unknown as RawMsgRow);
        let index: MessageIndex | undefined;
        if (at.index >= 0) {
          index = JSON.parse(row[at.index] as string) as MessageIndex;
          if (wantIndex) out.index = index;
        }
        if (at.text >= 0) {
          const t = row[at.text];
          out.envelopeText = typeof t === 'string' && t.charCodeAt(0) !== 0x7b ? t : null;
        }
        if (wantEnvelope) out.envelope = index ? index.envelope : (JSON.parse(row[at.envelope] as string) as Envelope);
        if (at.header >= 0) {
          const h = row[at.header] as Buffer | null;
          out.header = h ?? core.readBlobSync(row[at.header + 1] as string, 0, (row[at.header + 2] as number | null) ?? 0);
        }
        return out;
      },
    };
    this.readers.set(mask, r);
    return r;
  }

  readMessages<W extends Wanted>(mailboxId: number, uids: readonly number[], wanted: W): AsyncIterable<MessageParts<W>> {
    const mask = maskOf(wanted);
    // The reader is taken inside each batch (core.run): after close() the batch rejects instead of preparing.
    let rd: Reader | undefined;
    const live = this.batches(
      uids,
      (lo, hi) => (rd ??= this.reader(mask)).range.all(mailboxId, lo, hi) as Row[],
      (c) => {
        rd ??= this.reader(mask);
        return this.inList(c, rd.one, rd.many, mailboxId);
      },
      (r) => rd!.build(r) as unknown as MessageParts<W>,
    );
    if (!wanted.expunged) return live;
    const core = this.core;
    const held = (missing: number[]): Promise<Array<MessageParts<W>>> =>
      core.run(async () => {
        rd ??= this.reader(mask);
        const all = rd.held.all(mailboxId) as Row[];
        if (all.length === 0) return [];
        const want = new Set(missing);
        return all.filter((r) => want.has(r[0])).map((r) => rd!.build(r) as unknown as MessageParts<W>);
      });
    return mergeHeld(live, cleanUids(uids), held);
  }

  /** Rows of a sorted uid chunk: point lookups for a few uids (binding a padded IN list costs more), else one IN query. */
  private inList(c: readonly number[], one: Database.Statement, many: Database.Statement, mailboxId: number): Row[] {
    if (c.length > FEW_UIDS) return many.all(mailboxId, ...padChunk(c)) as Row[];
    const out: Row[] = [];
    for (const uid of c) {
      const r = one.get(mailboxId, uid) as Row | undefined;
      if (r) out.push(r);
    }
    return out;
  }

  /**
   * Streams rows for a uid list in uid order, one query per batch. A dense list (typically "1:*") is read
   * as uid-range scans of RANGE_BATCH rows, skipping uids not asked for; a sparse one through IN lists.
   */
  private batches<T>(uids: readonly number[], range: (lo: number, hi: number) => Row[], inList: (chunk: number[]) => Row[], build: (r: Row) => T): AsyncIterable<T> {
    const clean = cleanUids(uids);
    const core = this.core;
    // One generator step per batch; the rows of a batch reach the consumer without one (see flattenBatches).
    return flattenBatches(async function* (): AsyncGenerator<T[]> {
      if (clean.length === 0) return;
      const lo = clean[0]!;
      const hi = clean[clean.length - 1]!;
      // Dense sets ("1:*", the last 50 messages) are range scans; the IN path binds CHUNK parameters.
      if (clean.length > FEW_UIDS && clean.length * 2 >= hi - lo + 1) {
        const want = clean.length === hi - lo + 1 ? null : new Set(clean);
        let from = lo;
        for (;;) {
          const start = from;
          const rows = await core.run(async () => range(start, hi));
          const out: T[] = [];
          for (const r of rows) if (want === null || want.has(r[0])) out.push(build(r));
          yield out;
          if (rows.length < RANGE_BATCH) return;
          from = rows[rows.length - 1]![0] + 1;
        }
      }
      for (const c of chunks(clean, CHUNK)) yield await core.run(async () => inList(c).map(build));
    });
  }

  readBytes(mailboxId: number, uid: number, range?: ByteRange): Promise<Buffer> {
    return this.core.run(async () => {
      // One statement finds the blob and, when it is kept inline, reads its bytes too (a second statement
      // cost a read transaction of its own: RETR of one message did two). Held rows (expunged but still
      // shown to a session) are looked up apart.
      const row = this.core.st.blobRead.get(mailboxId, uid) as [string, number, Buffer | null] | undefined;
      const held = row ? undefined : heldBlob(this.core, mailboxId, uid);
      if (!row && !held) throw new StoreError('NOT_FOUND', 'no such message');
      const blobId = row ? row[0] : held!.blob_id;
      const size = row ? row[1] : held!.size;
      let start = 0;
      let end = size;
      if (range) {
        if (!Number.isFinite(range.start) || !Number.isFinite(range.end)) throw new StoreError('INVALID', 'invalid byte range');
        start = Math.min(Math.max(0, Math.floor(range.start)), size);
        end = Math.min(Math.max(start, Math.floor(range.end)), size);
      }
      if (end <= start) return Buffer.alloc(0);
      if (row && row[2] !== null) return start === 0 && end === row[2].length ? row[2] : row[2].subarray(start, end);
      const inline = row ? undefined : this.core.readInline(blobId, start, end, size);
      if (inline !== undefined) return inline;
      try {
        // Small reads (most whole messages, headers and parts) are synchronous: one
        // open/pread/close on this thread instead of three thread-pool round trips.
        return end - start <= SYNC_READ_MAX ? this.core.blobs.readSync(blobId, start, end, range?.into) : await this.core.blobs.read(blobId, start, end);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new StoreError('NOT_FOUND', 'message was expunged', { cause: e });
        throw e;
      }
    });
  }

  getMetadata(userId: number, mailboxId: number | null, names: readonly string[], depth: MetadataDepth): Promise<MetadataEntry[]> {
    return getMetadata(this.core, userId, mailboxId, names, depth);
  }

  setMetadata(userId: number, mailboxId: number | null, entries: ReadonlyArray<{ name: string; value: Buffer | null }>, limits: MetadataLimits): Promise<'ok' | 'toomany'> {
    return setMetadata(this.core, userId, mailboxId, entries, limits);
  }

  holdExpunged(mailboxId: number, modseq: number): ExpungeHold {
    return this.core.hub.holds.hold(mailboxId, modseq);
  }

  searchText(mailboxId: number, uids: number[], needle: string, scope: TextScope): Promise<number[]> {
    return this.core.run(async () => {
      this.core.mailboxRow(mailboxId);
      if (scope !== 'header' && scope !== 'body' && scope !== 'text') throw new StoreError('INVALID', 'invalid search scope');
      const clean = cleanUids(uids);
      if (clean.length === 0) return [];
      const n = String(needle).toLowerCase();
      const params = scope === 'text' ? [n, n] : [n];
      const lo = clean[0]!;
      const hi = clean[clean.length - 1]!;
      if (clean.length > CHUNK && clean.length * 4 >= hi - lo + 1) {
        // Large, dense sets (typically "1:*"): one range scan, intersected here, beats many IN queries.
        const want = new Set(clean);
        const hits = this.core.st.searchRange[scope].pluck().all(mailboxId, lo, hi, ...params) as number[];
        return hits.filter((u) => want.has(u)).sort((a, b) => a - b);
      }
      const out: number[] = [];
      for (const c of chunks(clean, CHUNK)) out.push(...(this.core.st.searchIn[scope].pluck().all(mailboxId, ...padChunk(c), ...params) as number[]));
      return out.sort((a, b) => a - b);
    });
  }

}

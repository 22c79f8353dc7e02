/**
 * The PostgreSQL MailStore (../mail.ts): mailboxes (mailboxes.ts) and message writes (messages.ts), plus
 * the reads: readMessages (one query per FETCH_CHUNK uids selecting only the columns the wanted parts
 * need), readBytes (one round trip; bytea ranges cut by the server, file blobs read from blobDir) and
 * change subscriptions (the core's bus, fed by LISTEN/NOTIFY from every node).
 *
 * readMessages yields the existing UIDs among those asked for, each once, in uid order; an invalid mailbox
 * id yields nothing. A message whose blob vanished while its header was being read (expunged meanwhile) is
 * left out. readBytes throws NOT_FOUND for an unknown or expunged message, INVALID for a non-finite range.
 */
import type { MailStore, MessageParts, Wanted } from '../mail.js';
import type { ByteRange, ChangeEvent, MailboxListEvent } from '../types.js';
import { StoreError, isStoreError } from '../types.js';
import type { Envelope, MessageIndex } from '../../mime/types.js';
import { MAX_MESSAGE_SIZE } from '../../lib/limits.js';
import { validId } from './core.js';
import { num } from './db.js';
import { PgMessages } from './messages.js';
import { SortKeyCache } from '../sort-keys.js';
import { pgSortKeys } from './sort-keys.js';
import type { SortKeyTable } from '../../mailsort/index.js';
import { toMeta, type MsgRow } from './rows.js';
import { chunks } from '../helpers.js';
import { cleanUids, decodeIndex } from './util.js';
import { mergeHeld, type ExpungeHold } from '../holds.js';
import { getMetadata, setMetadata } from './metadata.js';
import type { MetadataDepth, MetadataEntry, MetadataLimits } from '../metadata.js';

/** UIDs per readMessages query (keeps result sets and memory bounded). */
const FETCH_CHUNK = 500;

/** A row of a readMessages query; which columns are present depends on the wanted parts. */
interface ReadRow extends Partial<MsgRow> {
  uid: string;
  mime?: unknown;
  mime_text?: string | null;
  envelope?: Envelope | null;
  envelope_text?: string | null;
  header?: Buffer | null;
  blob_id?: string;
  header_end?: string | null;
  header_mime_text?: string | null;
}

interface ReadPlan {
  name: string;
  text: string;
}

const META_COLS = ['m.email_id', 'm.thread_id', 'm.flags', 'm.keywords', 'm.internal_date', 'm.size', 'm.modseq', 'm.saved_date'];

/**
 * The statement for one combination of wanted parts (a prepared statement per combination, at most 32):
 * - meta: the message row's own columns;
 * - index: blob_meta's index (jsonb, or JSON text when it holds a NUL);
 * - envelope without index: only `mime -> 'envelope'` leaves the server (the JSON text form only for the
 *   rare rows that have no jsonb);
 * - envelopeText: blob_meta.envelope_text;
 * - header: blob_headers (LEFT JOIN); for blobs without that row (header over HEADER_ROW_MAX, or written
 *   before migration 2) the header length from the index, evaluated only for those rows, and the bytes are
 *   then read from the blob.
 * blob_meta is joined only when index, envelope or envelopeText is wanted.
 */
function readPlan(w: Wanted, held = false): ReadPlan {
  const bits = (w.meta ? 1 : 0) | (w.index ? 2 : 0) | (w.envelope ? 4 : 0) | (w.envelopeText ? 8 : 0) | (w.header ? 16 : 0) | (held ? 32 : 0);
  let plan = PLANS.get(bits);
  if (!plan) {
    plan = buildPlan(w, bits);
    PLANS.set(bits, plan);
  }
  return plan;
}

/** Statements built so far, by wanted-parts bit set (a constant per combination). */
const PLANS = new Map<number, ReadPlan>();

function buildPlan(w: Wanted, bits: number): ReadPlan {
  const cols = new Set<string>(['m.uid']);
  // Held expunged rows keep no save date.
  if (w.meta) for (const c of META_COLS) cols.add(bits & 32 && c === 'm.saved_date' ? 'NULL::timestamptz AS saved_date' : c);
  if (w.index) {
    cols.add('d.mime');
    cols.add('d.mime_text');
  } else if (w.envelope) {
    cols.add(`d.mime -> 'envelope' AS envelope`);
    cols.add('CASE WHEN d.mime IS NULL THEN d.mime_text END AS mime_text');
  }
  if (w.envelopeText) cols.add('d.envelope_text');
  const joinMeta = w.index || w.envelope || w.envelopeText;
  if (w.header) {
    cols.add('m.size');
    cols.add('h.header');
    cols.add('m.blob_id');
    if (!w.index) {
      const meta = (expr: string): string => (joinMeta ? expr : `(SELECT ${expr} FROM blob_meta d WHERE d.blob_id = m.blob_id)`);
      cols.add(`CASE WHEN h.header IS NULL THEN ${meta(`(d.mime #>> '{root,headerEnd}')::bigint`)} END AS header_end`);
      cols.add(`CASE WHEN h.header IS NULL THEN ${meta('CASE WHEN d.mime IS NULL THEN d.mime_text END')} END AS header_mime_text`);
    }
  }
  const text =
    `SELECT ${[...cols].join(', ')} FROM ${bits & 32 ? 'expunged_held' : 'messages'} m` +
    (joinMeta ? ' JOIN blob_meta d ON d.blob_id = m.blob_id' : '') +
    (w.header ? ' LEFT JOIN blob_headers h ON h.blob_id = m.blob_id' : '') +
    ' WHERE m.mailbox_id = $1 AND m.uid = ANY($2::bigint[]) ORDER BY m.uid';
  return { name: `${bits & 32 ? 'read_held' : 'read_messages'}_${bits & 31}`, text };
}

export class PgMailStore extends PgMessages implements MailStore {
  /** Sort keys per mailbox, brought forward through the change log (see ../sort-keys.ts). */
  private readonly sortKeyCache = new SortKeyCache(this, { persisted: pgSortKeys(this.core) });

  sortKeys(mailboxId: number, uids?: readonly number[]): Promise<SortKeyTable> {
    return this.sortKeyCache.get(mailboxId, uids);
  }

  readMessages<W extends Wanted>(mailboxId: number, uids: readonly number[], wanted: W): AsyncIterable<MessageParts<W>> {
    const clean = cleanUids(uids);
    const plan = readPlan(wanted);
    const read = (c: number[]): Promise<Array<MessageParts<W>>> => this.core.run(() => this.readChunk(mailboxId, c, wanted, plan));
    const live: AsyncIterable<MessageParts<W>> = {
      async *[Symbol.asyncIterator]() {
        if (!validId(mailboxId)) return;
        for (const c of chunks(clean, FETCH_CHUNK)) yield* await read(c);
      },
    };
    if (!wanted.expunged) return live;
    // Held expunged messages (held.ts): asked for the uids the live rows lacked, merged in uid order.
    const heldPlan = readPlan(wanted, true);
    const held = async (missing: number[]): Promise<Array<MessageParts<W>>> =>
      validId(mailboxId) ? this.core.run(() => this.readChunk(mailboxId, missing, wanted, heldPlan)) : [];
    return mergeHeld(live, clean, held);
  }

  getMetadata(userId: number, mailboxId: number | null, names: readonly string[], depth: MetadataDepth): Promise<MetadataEntry[]> {
    return getMetadata(this.core, userId, mailboxId, names, depth);
  }

  setMetadata(userId: number, mailboxId: number | null, entries: ReadonlyArray<{ name: string; value: Buffer | null }>, limits: MetadataLimits): Promise<'ok' | 'toomany'> {
    return setMetadata(this.core, userId, mailboxId, entries, limits);
  }

  holdExpunged(mailboxId: number, modseq: number): ExpungeHold {
    return this.core.holds.hold(mailboxId, modseq);
  }

  private async readChunk<W extends Wanted>(mailboxId: number, uids: number[], w: W, plan: ReadPlan): Promise<Array<MessageParts<W>>> {
    const r = await this.core.db.query<ReadRow>(plan.text, [mailboxId, uids], plan.name);
    const indexes = w.index ? r.rows.map((row) => decodeIndex(row.mime, row.mime_text ?? null)) : null;
    const headers = w.header ? await this.headers(r.rows, indexes) : null;
    const out: Array<MessageParts<W>> = [];
    for (const [i, row] of r.rows.entries()) {
      const rec: Record<string, unknown> = { uid: num(row.uid) };
      if (headers) {
        const header = row.header ?? headers.get(row.blob_id!);
        if (!header) continue;
        rec['header'] = header;
      }
      if (w.meta) rec['meta'] = toMeta(row as MsgRow);
      if (indexes) rec['index'] = indexes[i]!;
      if (w.envelope) rec['envelope'] = indexes ? indexes[i]!.envelope : (row.envelope ?? decodeIndex(null, row.mime_text ?? null).envelope);
      if (w.envelopeText) rec['envelopeText'] = row.envelope_text ?? null;
      out.push(rec as unknown as MessageParts<W>);
    }
    return out;
  }

  /** The header blocks of rows that have no blob_headers row, read from their blobs, by blob id. */
  private async headers(rows: readonly ReadRow[], indexes: readonly MessageIndex[] | null): Promise<Map<string, Buffer>> {
    const missing = new Map<string, number>();
    for (const [i, row] of rows.entries()) {
      if (row.header !== null && row.header !== undefined) continue;
      const end = indexes
        ? indexes[i]!.root.headerEnd
        : row.header_end !== null && row.header_end !== undefined
          ? num(row.header_end)
          : decodeIndex(null, row.header_mime_text ?? null).root.headerEnd;
      missing.set(row.blob_id!, Math.min(end, num(row.size)));
    }
    return missing.size ? this.headersFromBlobs(missing) : new Map();
  }

  /** The first `length` bytes of each listed blob (one query; files read for blobs kept in the directory). */
  private async headersFromBlobs(lengths: Map<string, number>): Promise<Map<string, Buffer>> {
    const r = await this.core.db.query<{ id: string; external: boolean; data: Buffer | null }>(
      `SELECT b.id, b.data IS NULL AS external, substring(b.data FROM 1 FOR x.len) AS data
       FROM unnest($1::text[], $2::int[]) AS x(id, len) JOIN blobs b ON b.id = x.id`,
      [[...lengths.keys()], [...lengths.values()]],
    );
    const out = new Map<string, Buffer>();
    for (const row of r.rows) {
      if (!row.external) {
        out.set(row.id, row.data ?? Buffer.alloc(0));
        continue;
      }
      try {
        out.set(row.id, await this.core.blobs.readFile(row.id, { start: 0, end: lengths.get(row.id)! }));
      } catch (e) {
        if (!isStoreError(e, 'NOT_FOUND')) throw e;
      }
    }
    return out;
  }

  readBytes(mailboxId: number, uid: number, range?: ByteRange): Promise<Buffer> {
    return this.core.run(async () => {
      if (range && (!Number.isFinite(range.start) || !Number.isFinite(range.end))) throw new StoreError('INVALID', 'invalid byte range');
      if (!validId(mailboxId) || !Number.isSafeInteger(uid) || uid <= 0) throw new StoreError('NOT_FOUND', 'no such message');
      // One round trip: metadata plus, for bytea blobs, exactly the wanted bytes.
      // Offsets beyond the largest message behave like "at the end"; clamping keeps them in int range.
      const cap = MAX_MESSAGE_SIZE + 1;
      const start = range ? Math.min(cap, Math.max(0, Math.floor(range.start))) : 0;
      const end = range ? Math.min(cap, Math.max(start, Math.floor(range.end))) : 0;
      type BytesRow = { size: string; blob_id: string; external: boolean; data: Buffer | null };
      const query = (table: string): Promise<{ rows: BytesRow[] }> =>
        this.core.db.query<BytesRow>(
          range
            ? `SELECT m.size, m.blob_id, b.data IS NULL AS external,
                    substring(b.data FROM $3::int + 1 FOR greatest(0, least($4::int, m.size::int) - $3::int)) AS data
             FROM ${table} m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = $1 AND m.uid = $2`
            : `SELECT m.size, m.blob_id, b.data IS NULL AS external, b.data
             FROM ${table} m JOIN blobs b ON b.id = m.blob_id WHERE m.mailbox_id = $1 AND m.uid = $2`,
          range ? [mailboxId, uid, start, end] : [mailboxId, uid],
          `${range ? 'read_range' : 'read_whole'}${table === 'messages' ? '' : '_held'}`,
        );
      // An expunged message still held for a reader (held.ts) is read from its held row.
      const row = (await query('messages')).rows[0] ?? (await query('expunged_held')).rows[0];
      if (!row) throw new StoreError('NOT_FOUND', 'no such message');
      const size = num(row.size);
      let s = 0;
      let e = size;
      if (range) {
        s = Math.min(start, size);
        e = Math.min(end, size);
      }
      if (e <= s) return Buffer.alloc(0);
      if (!row.external) return row.data ?? Buffer.alloc(0);
      return this.core.blobs.readFile(row.blob_id, range ? { start: s, end: e } : undefined);
    });
  }

  subscribe(mailboxId: number, listener: (ev: ChangeEvent) => void): () => void {
    return this.core.subscribe(mailboxId, listener);
  }

  subscribeMailboxList(userId: number, listener: (ev: MailboxListEvent) => void): () => void {
    return this.core.subscribeList(userId, listener);
  }
}

/**
 * FETCH / UID FETCH (RFC 9051 6.4.5; CHANGEDSINCE and VANISHED from RFC 7162). The grammar (fetch items)
 * is shared in src/imap/grammar/fetch.ts; rendering is fetch/render.ts. Sets \Seen for non-PEEK body
 * items, asks the store for exactly the parts the items need (the kept envelope text, the header block,
 * or the MIME index; body bytes per section), writes with backpressure in batches. Messages another
 * session expunged that this view still shows are returned (the view holds them in the store, RFC 2180
 * 4.1.1); only one no longer readable at all gets NO [EXPUNGEISSUED] after the rest.
 */
import { isStoreError, type MessageMeta } from '../../store/types.js';
import type { MessageIndex } from '../../mime/types.js';
import { parseFetch, type FetchArgs } from '../../imap/grammar/fetch.js';
import { resolveRanges } from '../../imap/grammar/sequence.js';
import { bad, no, ok, type Completion } from '../errors.js';
import { vanishedLine } from '../responses.js';
import { storeFlagsFor } from '../acl-flags.js';
import { SELECTED, defineCommand, enableCondstore, selectedView, type CommandContext } from '../session.js';
import { envelopeOnly, headerKept, headerOnly, isRootHeader, needsIndex, plainItem, renderMessage, renderMessageInto, renderPlainInto, setsSeen, type RenderContext, type RenderRecord } from '../fetch/render.js';
import { inBatches } from '../../store/helpers.js';
import { WireWriter } from '../../imap/wire/encode.js';

/** Small responses are joined into one socket write per this many pieces (about three per message with a literal) or bytes, whichever first. */
const BATCH = 256;
const BATCH_BYTES = 64 * 1024;
/** Pending pieces averaging less than this are joined into one buffer before they are written. */
const SMALL_PIECE = 1024;

/** Placeholder for the reused render record before its first message. */
const NO_META: MessageMeta = { uid: 0, modseq: 0, flags: [], internalDate: new Date(0), size: 0, emailId: '', threadId: '' };

/** Points the reused render record at one message (no envelope data: ENVELOPE fills that in itself). */
function fillRecord(rec: RenderRecord, seq: number, meta: MessageMeta, index: MessageIndex | null, envelopeText: string | null, header: Buffer | null): void {
  rec.seq = seq;
  rec.meta = meta;
  rec.index = index;
  rec.envelopeText = envelopeText;
  rec.envelope = null;
  rec.header = header;
}

async function runFetch(ctx: CommandContext, args: FetchArgs): Promise<Completion> {
  const s = ctx.session;
  const view = selectedView(ctx);
  const store = ctx.service.store;
  if (args.vanished && (!ctx.uid || !s.qresync)) throw bad('VANISHED needs UID FETCH and QRESYNC enabled');
  if (!ctx.uid && view.seqOutOfRange(args.set)) throw bad('Invalid messageset');
  // CONDSTORE-enabling uses (RFC 7162 3.1): CHANGEDSINCE or the MODSEQ item.
  if (args.changedSince !== null || args.items.some((i) => i.kind === 'MODSEQ')) enableCondstore(s);
  let uids = view.resolve(args.set, ctx.uid);
  if (args.vanished && args.changedSince !== null && args.set.kind === 'ranges') {
    const ch = await store.changesSince(view.mailbox.id, args.changedSince);
    const gone = resolveRanges(args.set.ranges, ch.expunged);
    if (gone.length) s.send(Buffer.from(vanishedLine(gone, true)));
  }
  if (args.changedSince !== null) {
    const since = args.changedSince;
    uids = uids.filter((u) => (view.meta(u)?.modseq ?? 0) > since);
  }
  if (!uids.length) return ok('Fetch completed');

  const flagsChanged = new Set<number>();
  if (!view.readOnly && view.rights.includes('s') && args.items.some(setsSeen)) {
    const unseen = uids.filter((u) => {
      const m = view.meta(u);
      return m && !view.isExpunged(u) && !m.flags.some((f) => f.toLowerCase() === '\\seen');
    });
    if (unseen.length) {
      const r = await storeFlagsFor(ctx, view, unseen, { op: 'add', flags: ['\\Seen'] });
      view.applyOwn(r.changed);
      for (const m of r.changed) flagsChanged.add(m.uid);
    }
  }
  const opts = { uid: ctx.uid || s.qresync || args.items.some((i) => i.kind === 'UID'), modseq: args.changedSince !== null || (s.condstore && flagsChanged.size > 0), flagsChanged };
  const rctx: RenderContext = { store, session: s, view, items: args.items, opts, fieldSets: new Map() };
  // One record reused for every message: the per-message path allocates nothing for it.
  const rec: RenderRecord = { seq: 0, meta: NO_META, index: null, envelopeText: null, envelope: null, header: null };
  const withIndex = args.items.some(needsIndex);
  let missing = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /**
   * The pending pieces as one buffer when they are many small ones (metadata responses), else as they are:
   * a message body is not copied (the connection corks the pieces into one write either way).
   */
  const takePending = (): Buffer[] => {
    const parts = pending.length > 1 && pendingBytes < pending.length * SMALL_PIECE ? [Buffer.concat(pending, pendingBytes)] : pending;
    pending = [];
    pendingBytes = 0;
    return parts;
  };
  const flushPending = async (): Promise<void> => {
    if (!pending.length) return;
    const parts = takePending();
    for (let i = 0; i < parts.length - 1; i++) s.send(parts[i]!);
    await s.sendAsync(parts[parts.length - 1]!);
  };
  // A response too big to hold whole goes out in parts as it is rendered (see renderMessage).
  const spill = async (chunks: Buffer[]): Promise<void> => {
    await flushPending();
    for (const p of chunks) await s.sendAsync(p);
  };
  try {
    const emit = async (uid: number, index: MessageIndex | null): Promise<void> => {
      const meta = view.meta(uid);
      const seq = view.seqOf(uid);
      if (!meta || !seq) return;
      let parts: Buffer[];
      try {
        fillRecord(rec, seq, meta, index, null, null);
        parts = await renderMessage(rctx, rec, spill);
      } catch (e) {
        if (isStoreError(e, 'NOT_FOUND')) {
          missing++;
          return;
        }
        throw e;
      }
      let size = 0;
      for (const p of parts) size += p.length;
      if (size >= BATCH_BYTES / 4) {
        // Big responses go out piece by piece: the body literal is sent from the buffer the store read.
        await flushPending();
        for (const p of parts) await s.sendAsync(p);
        return;
      }
      for (const p of parts) pending.push(p);
      pendingBytes += size;
      if (pending.length >= BATCH || pendingBytes >= BATCH_BYTES) await flushPending();
    };
    const envelopes = withIndex && args.items.every(envelopeOnly);
    const headers = withIndex && !envelopes && args.items.every(headerOnly);
    if (envelopes || headers) {
      // Header overviews and message lists: the store reads only the kept envelope text or the header
      // blocks, not whole MIME indexes or message files, and the responses are rendered straight into one
      // writer per batch (these items read nothing else, so cannot fail midway).
      // The store yields only the UIDs asked for, each once, in order (MailStore contract).
      const mbId = view.mailbox.id;
      const plain = args.items.every(plainItem);
      const plainWithHeader = args.items.every((it) => plainItem(it) || isRootHeader(it));
      // A message list this session fetched before (the same header fields after every SELECT): messages
      // whose field slices are all kept are rendered from them, and only the others' header blocks are read.
      // A kept slice is the message's bytes for as long as the view shows it (uids are never reused).
      const kept = headers && plainWithHeader && !plain ? uids.filter((u) => headerKept(rctx, u)) : [];
      let toRead = uids;
      if (kept.length > 0) {
        const keptUids = new Set(kept);
        toRead = uids.filter((u) => !keptUids.has(u));
      }
      const overview: AsyncIterable<{ uid: number; envelopeText?: string | null; header?: Buffer }> = envelopes
        ? store.readMessages(mbId, toRead, { envelopeText: true, expunged: true })
        : store.readMessages(mbId, toRead, { header: true, expunged: true });
      let got = kept.length;
      let nextKept = 0;
      let w = new WireWriter(s.utf8);
      let count = 0;
      // Counts the response just rendered: true when the batch is due (no promise per message).
      const batchFull = (): boolean => ++count >= BATCH || w.approxLength >= BATCH_BYTES;
      const sendBatch = async (): Promise<void> => {
        const out = w.toBuffer();
        w = new WireWriter(s.utf8);
        count = 0;
        await s.sendAsync(out);
      };
      /** Renders the kept messages below `uid` (all of them for Infinity), in uid order with the read ones. */
      const keptBelow = async (uid: number): Promise<void> => {
        while (nextKept < kept.length && kept[nextKept]! < uid) {
          const u = kept[nextKept++]!;
          const meta = view.meta(u);
          const seq = view.seqOf(u);
          if (!meta || !seq) continue;
          let header: Buffer | null = null;
          if (!headerKept(rctx, u)) {
            // Dropped since (the slices cut for the messages read meanwhile push out the oldest): read it.
            for await (const r of store.readMessages(mbId, [u], { header: true, expunged: true })) header = r.header;
            if (header === null) {
              missing++;
              continue;
            }
          }
          fillRecord(rec, seq, meta, null, null, header);
          renderPlainInto(w, rctx, rec);
          if (batchFull()) await sendBatch();
        }
      };
      // Metadata and ENVELOPE (or header items cut from the header block read with the row) render without a
      // promise: a batch of rows from the store becomes responses in one synchronous pass.
      try {
        for await (const batch of inBatches(overview)) {
          for (const r of batch) {
            got++;
            if (nextKept < kept.length) await keptBelow(r.uid);
            const meta = view.meta(r.uid);
            const seq = view.seqOf(r.uid);
            if (!meta || !seq) continue;
            fillRecord(rec, seq, meta, null, r.envelopeText ?? null, r.header ?? null);
            if (envelopes && rec.envelopeText === null) {
              // No text kept (8-bit or over-long strings): the session renders the envelope data itself.
              for await (const e of store.readMessages(mbId, [r.uid], { envelope: true, expunged: true })) rec.envelope = e.envelope;
              if (!rec.envelope) {
                missing++;
                continue;
              }
            }
            if (plain || (plainWithHeader && rec.header !== null)) renderPlainInto(w, rctx, rec);
            else await renderMessageInto(w, rctx, rec);
            if (batchFull()) await sendBatch();
          }
        }
        await keptBelow(Infinity);
      } finally {
        if (count) s.send(w.toBuffer());
      }
      missing += Math.max(0, uids.length - got);
    } else if (withIndex) {
      const want = new Set(uids);
      const got = new Set<number>();
      for await (const r of store.readMessages(view.mailbox.id, uids, { index: true, expunged: true })) {
        if (!want.has(r.uid)) continue;
        got.add(r.uid);
        await emit(r.uid, r.index);
      }
      missing += uids.length - got.size;
    } else {
      for (const uid of uids) await emit(uid, null);
    }
  } finally {
    // Also on error: the responses already rendered go out before the tagged reply.
    if (pending.length) for (const p of takePending()) s.send(p);
  }
  if (missing && !ctx.uid) throw no('Some messages were expunged before they could be fetched', 'EXPUNGEISSUED');
  return ok('Fetch completed');
}

export const fetch = defineCommand({ states: SELECTED, seq: 'uses', parse: parseFetch, run: runFetch });
export const uidFetch = defineCommand({ states: SELECTED, seq: 'none', parse: parseFetch, run: runFetch });

/**
 * Reading stored message bytes for RETR and TOP in bounded chunks (readBytes with byte ranges), so a
 * large message never sits in memory whole and the socket's backpressure paces the reads. The first chunk
 * is read before the +OK is sent: a message expunged by another session is reported as -ERR, not as a
 * truncated body. With a BufferPool the chunks are read into pool buffers; the writer gives each back once
 * the socket has taken it (see BufferPool).
 */
import type { BufferPool } from '../lib/buffer-pool.js';
import type { MailStore } from '../store/mail.js';
import { isStoreError } from '../store/types.js';

/** Bytes per readBytes call while streaming. */
export const READ_CHUNK = 256 * 1024;

const LF = 0x0a;

export interface OpenedRange {
  /** The bytes from start to end, first chunk already read; a plain array when that chunk is all of them. */
  chunks: AsyncIterable<Buffer> | Buffer[];
}

/**
 * Opens bytes [start, end) of a message. Resolves null when the message no longer exists (expunged
 * through IMAP during this session); other store failures are thrown.
 */
export async function openRange(store: MailStore, mailboxId: number, uid: number, start: number, end: number, pool?: BufferPool): Promise<OpenedRange | null> {
  const read = async (from: number): Promise<Buffer> => {
    const into = pool?.take();
    const buf = await store.readBytes(mailboxId, uid, { start: from, end: Math.min(end, from + READ_CHUNK), ...(into ? { into } : {}) });
    // A store that could not use the scratch buffer returned other memory: the buffer is free again.
    if (into && buf.buffer !== into.buffer) pool!.give(into);
    return buf;
  };
  let first: Buffer;
  try {
    first = end > start ? await read(start) : Buffer.alloc(0);
  } catch (e) {
    if (isStoreError(e, 'NOT_FOUND')) return null;
    throw e;
  }
  // Most messages are one chunk: no generator (and its promise per step) for them.
  if (first.length === 0) return { chunks: [] };
  if (start + first.length >= end) return { chunks: [first] };
  async function* rest(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    let pos = start + first.length;
    while (first.length > 0 && pos < end) {
      const buf = await read(pos);
      if (buf.length === 0) break;
      yield buf;
      pos += buf.length;
    }
  }
  return { chunks: rest() };
}

/** Passes chunks through until `lines` line feeds have gone by (that line feed included), then stops. */
export async function* firstLines(chunks: AsyncIterable<Buffer> | Iterable<Buffer>, lines: number): AsyncGenerator<Buffer> {
  let remaining = lines;
  if (remaining <= 0) return;
  for await (const buf of chunks) {
    let idx = 0;
    while (remaining > 0) {
      const lf = buf.indexOf(LF, idx);
      if (lf === -1) break;
      remaining--;
      idx = lf + 1;
    }
    if (remaining === 0) {
      yield buf.subarray(0, idx);
      return;
    }
    yield buf;
  }
}

/**
 * Receiving DATA without holding every session's message in memory.
 *
 * collectData() keeps a message in memory while it is small (up to `threshold`, default 1 MiB) and the
 * process-wide MemoryBudget has room; past that it writes the message to a spool file
 * "<pid>.<random>.msg" in the spool directory (the data directory's "spool"). At the end of DATA a spooled
 * message is read back once the budget has room for it (the only moment a large message is in memory, one at
 * a time when it does not fit beside the others) and its file is removed. A client that leaves in the middle
 * of DATA leaves nothing behind. cleanSpool() removes the files of processes that no longer run (startup).
 *
 * The budget counts the bytes collectData() holds: chunks of messages being received and the messages
 * handed to delivery until their release() is called. It never refuses: a message bigger than the whole
 * budget is let in alone.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SMTPServerDataStream } from 'smtp-server';
import { randomString } from '../lib/random.js';
import { withHeadroom } from './headroom.js';
import { MemoryBudget } from '../lib/memory-budget.js';

export { MemoryBudget };

/** Bytes of one message kept in memory before it goes to a spool file. */
export const SPOOL_THRESHOLD = 1024 * 1024;
/** Bytes of DATA held in memory across all sessions of the process. */
export const SPOOL_MEMORY_LIMIT = 32 * 1024 * 1024;

/** The budget of services that are not given their own. */
export const processBudget = new MemoryBudget(SPOOL_MEMORY_LIMIT);

export interface SpoolOptions {
  /** Where spool files go; default "<tmpdir>/mailroom-spool". */
  dir?: string;
  /** Bytes of one message kept in memory before spooling (default SPOOL_THRESHOLD). */
  threshold?: number;
  /** The budget to count against (default processBudget). */
  budget?: MemoryBudget;
}

export interface Spool {
  dir: string;
  threshold: number;
  budget: MemoryBudget;
}

export function resolveSpool(opts: SpoolOptions | undefined): Spool {
  return {
    dir: opts?.dir ?? join(tmpdir(), 'mailroom-spool'),
    threshold: opts?.threshold ?? SPOOL_THRESHOLD,
    budget: opts?.budget ?? processBudget,
  };
}

const SPOOL_FILE = /^(\d+)\.[0-9a-f]+\.msg$/;

function running(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates the spool directory and removes files left by processes that no longer run. */
export async function cleanSpool(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let removed = 0;
  for (const name of await readdir(dir)) {
    const m = SPOOL_FILE.exec(name);
    if (!m || running(Number(m[1]))) continue;
    await unlink(join(dir, name)).then(
      () => removed++,
      () => undefined,
    );
  }
  return removed;
}

export interface CollectedMessage {
  raw: Buffer;
  /** More than `limit` bytes arrived (the rest was dropped; smtp-server answers 552 itself). */
  oversized: boolean;
  /** Gives the message's bytes back to the budget; call once delivery is done with `raw`. */
  release(): void;
}

/**
 * Reads a DATA stream, keeping at most `limit` bytes (see the header for memory and spooling). Resolves
 * null when the client went away before the terminating <CRLF>.<CRLF> (nothing must be stored then);
 * rejects when a spool file could not be written or read.
 */
export function collectData(stream: SMTPServerDataStream, limit: number, spool: Spool): Promise<CollectedMessage | null> {
  const { budget } = spool;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let held = 0; // bytes taken from the budget for `chunks`
    let size = 0;
    let oversized = false;
    let done = false;
    let file: SpoolFile | null = null;
    const dropMemory = () => {
      chunks.length = 0;
      budget.give(held);
      held = 0;
    };
    const dropFile = () => {
      if (!file) return;
      const { path, out } = file;
      file = null;
      out.destroy();
      void unlink(path).catch(() => undefined);
    };
    const toFile = () => {
      const path = join(spool.dir, `${process.pid}.${randomString(12, 'hex')}.msg`);
      const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
      const f: SpoolFile = { path, out, error: null };
      out.on('error', (e) => (f.error = e)); // reported when the message is read back
      for (const c of chunks) out.write(c);
      dropMemory();
      file = f;
    };
    stream.on('data', (chunk: Buffer) => {
      if (oversized) return;
      size += chunk.length;
      if (size > limit) {
        oversized = true;
        dropMemory();
        dropFile();
        return;
      }
      if (!file && held + chunk.length <= spool.threshold && budget.tryTake(chunk.length)) {
        held += chunk.length;
        chunks.push(chunk);
        return;
      }
      if (!file) toFile();
      file!.out.write(chunk);
    });
    stream.on('end', () => {
      if (done) return;
      done = true;
      const tooBig = oversized || stream.sizeExceeded;
      if (!file) {
        // Room in front for the trace fields of the first copy (headroom.ts): the message is copied once.
        const raw = tooBig ? Buffer.alloc(0) : withHeadroom(chunks, held);
        const n = held;
        chunks.length = 0;
        held = 0;
        if (tooBig) budget.give(n);
        let released = tooBig;
        return resolve({ raw, oversized: tooBig, release: () => (released ? undefined : ((released = true), budget.give(n))) });
      }
      const f = file;
      file = null;
      readBack(f, size, budget).then(resolve, reject);
    });
    const abort = () => {
      if (done) return;
      done = true;
      dropMemory();
      dropFile();
      resolve(null);
    };
    stream.on('error', abort);
    stream.on('close', () => setImmediate(abort));
  });
}

interface SpoolFile {
  path: string;
  out: WriteStream;
  error: Error | null;
}

/**
 * Finishes a spool file, waits for room in the budget, reads the message and removes the file. Throws when
 * the file could not be written or read (the caller answers 451).
 */
async function readBack(f: SpoolFile, size: number, budget: MemoryBudget): Promise<CollectedMessage> {
  const { path, out } = f;
  try {
    if (!f.error) await new Promise<void>((resolve) => out.end(() => resolve()));
    if (f.error) throw f.error;
    await budget.take(size);
    let raw: Buffer;
    try {
      raw = await readFile(path);
    } catch (e) {
      budget.give(size);
      throw e;
    }
    let released = false;
    return { raw, oversized: false, release: () => (released ? undefined : ((released = true), budget.give(size))) };
  } finally {
    await unlink(path).catch(() => undefined);
  }
}

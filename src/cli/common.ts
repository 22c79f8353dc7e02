/** Shared CLI plumbing: data directory resolution, store opening, stdin passwords, one-line errors. */
import { resolve } from 'node:path';
import { mkdir, access, constants } from 'node:fs/promises';
import type { Store } from '../store/handle.js';
import { isStoreError } from '../store/types.js';

/** A failure meant for the user: printed as one line, exit code 1 (or `exitCode`). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface StoreFlags {
  data?: string;
  store?: string;
}

/** --data, else MAILROOM_DATA, else ./data. */
export function resolveDataDir(flag: string | undefined): string {
  return resolve(flag ?? process.env['MAILROOM_DATA'] ?? 'data');
}

/**
 * Opens the store named by the flags as the server does (server/store.ts, so imported mail carries the same
 * stored envelope text), creating the data directory if needed; clear errors for permissions.
 */
export async function openStoreFromFlags(flags: StoreFlags): Promise<Store> {
  // Imported here: `serve` uses this module's helpers in processes that never open the store themselves.
  const { openServerStore } = await import('../server/store.js');
  const url = flags.store ?? process.env['MAILROOM_STORE'];
  if (url) return openServerStore({ url });
  const dir = resolveDataDir(flags.data);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await access(dir, constants.W_OK | constants.R_OK);
  } catch (e) {
    throw new CliError(`cannot use data directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return openServerStore({ dataDir: dir });
}

/** Runs `fn` with an open store and always closes it. */
export async function withStore<T>(flags: StoreFlags, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStoreFromFlags(flags);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** Reads stdin to the end and returns the first line (a password), without its line ending. */
export async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  const line = text.split(/\r?\n/)[0] ?? '';
  if (!line) throw new CliError('no password on standard input');
  return line;
}

/** Turns any error into the one line a user should see. */
export function describeError(e: unknown): string {
  if (e instanceof CliError) return e.message;
  if (isStoreError(e)) return e.message;
  if (e instanceof Error) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') return `address already in use: ${e.message.replace(/^.*EADDRINUSE:?\s*/, '')}`;
    if (code === 'EACCES') return `permission denied: ${e.message}`;
    return e.message;
  }
  return String(e);
}

/**
 * Store entry point: openStore(spec) opens a backend and returns its Store handle (handle.ts), which gives
 * out the directory, the mail store, the POP3 maildrop and the outbound queue.
 * - a postgres:// or postgresql:// URL (or `{ url }`) opens the PostgreSQL store;
 * - any other string (a directory path, or `sqlite:PATH`) or `{ dataDir }` opens the embedded SQLite store
 *   (metadata and small messages in SQLite, larger message bodies as files under the directory).
 * Throws StoreError INVALID for an unsupported URL scheme.
 */
export * from './types.js';
export type { Directory } from './directory.js';
export type { MailStore, Wanted, MessageParts } from './mail.js';
export type { Maildrop } from './maildrop.js';
export type { OutboundQueue, OutboundPatch } from './queue.js';
export type { Store, StoreOptions } from './handle.js';

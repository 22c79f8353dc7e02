/**
 * The store as the servers use it: openStore with the IMAP layer's ENVELOPE text (imap/wire/envelope-text.ts)
 * computed once at delivery, so FETCH ENVELOPE copies stored text. Everything that opens a store to serve or
 * deliver mail (server, CLI, tests, benchmarks) opens it here, so every stored message carries the same
 * text. A PostgreSQL store is shared by several server processes (nodes): expunged messages stay readable
 * for SHARED_EXPUNGE_GRACE_MS so a session on another node that still shows one can fetch it (RFC 2180
 * 4.1.1; sessions of the same process hold them as long as needed, see store/holds.ts). Throws what
 * openStore throws.
 */
import { envelopeImapText } from '../imap/wire/envelope-text.js';
import { openStore, type Store, type StoreOptions, type StoreSpec } from '../store/index.js';
import type { SqliteHub } from '../store/sqlite/core.js';

/** How long a shared (PostgreSQL) store keeps expunged messages for sessions of other nodes. */
export const SHARED_EXPUNGE_GRACE_MS = 60_000;

/**
 * `extra`: further store options (the server's quota defaults); a worker of `serve --workers N` also passes
 * its linked SQLite hub and a short expunge grace (server/cluster-worker.ts), used by the SQLite store only.
 */
export function openServerStore(spec: StoreSpec, extra: Pick<StoreOptions, 'quota' | 'expungeGraceMs'> & { hub?: SqliteHub } = {}): Promise<Store> {
  const shared = typeof spec === 'string' ? /^postgres(ql)?:\/\//i.test(spec) : 'url' in spec;
  const { hub, expungeGraceMs, ...rest } = extra;
  const local = shared ? {} : { ...(hub ? { hub } : {}), ...(expungeGraceMs !== undefined ? { expungeGraceMs } : {}) };
  return openStore(spec, { envelopeText: envelopeImapText, ...(shared ? { expungeGraceMs: SHARED_EXPUNGE_GRACE_MS } : {}), ...rest, ...local });
}

/**
 * What the four store contract suites (directory.ts, mail.ts, maildrop.ts, queue.ts) share: the factory
 * each backend's test file passes in, and the runner that gives a test a fresh store with a user
 * "alice@example.org". Suites are implementation-neutral: only the Store handle's interfaces are used; no
 * SQL, no file paths.
 */
import assert from 'node:assert/strict';
import { envelopeImapText } from '../../src/imap/wire/envelope-text.js';
import type { Store, StoreOptions } from '../../src/store/handle.js';
import type { Mailbox, User } from '../../src/store/types.js';

/**
 * Opens a fresh, empty store with `opts`; cleanup() must close the store (tolerating it being closed
 * already) and remove its data.
 */
export type StoreFactory = (opts: StoreOptions) => Promise<{ store: Store; cleanup(): Promise<void> }>;

/** The options the servers open stores with (server/store.ts): the IMAP envelope text is kept. */
export const SERVER_OPTIONS: StoreOptions = { envelopeText: envelopeImapText };

/** EMAILID, THREADID, MAILBOXID and outbound ids: RFC 8474 objectid syntax. */
export const ID_RE = /^[A-Za-z0-9_-]{1,255}$/;

export type StoreTest = (s: Store, user: User, inbox: Mailbox) => Promise<void>;

/** withStore(fn): a test body that runs `fn` with a fresh store (`opts`, default SERVER_OPTIONS) and the user alice. */
export function storeRunner(factory: StoreFactory, opts: StoreOptions = SERVER_OPTIONS): (fn: StoreTest) => () => Promise<void> {
  return (fn) => async () => {
    const { store, cleanup } = await factory(opts);
    try {
      const user = await store.directory.createUser('alice@example.org', '$test$hash');
      const inbox = await store.mail.getMailbox(user.id, 'INBOX');
      assert.ok(inbox);
      await fn(store, user, inbox);
    } finally {
      await cleanup();
    }
  };
}

/**
 * mailroom as a library: run a real server in-process (tests, embedding), or use its parts.
 *
 *   import { createMailroom } from 'mailroom';
 *   const server = createMailroom({ ports: { imap: 0, pop3: 0, lmtp: 0 } });
 *   await server.start();
 *   await server.addUser('alice@example.org', 'secret');
 *   console.log(server.ports.imap);
 *   await server.stop();
 */
export { createMailroom, Mailroom, DEFAULT_PORTS, LISTENERS, createUserWithDomain, isValidAddress } from './server/mailroom.js';
export type { MailroomOptions, ListenerName, ListenerInfo } from './server/mailroom.js';
export { openStore } from './store/index.js';
export { openServerStore } from './server/store.js';
export type * from './store/types.js';
export type { Store, StoreOptions, StoreSpec, Directory, MailStore, Wanted, MessageParts, Maildrop, OutboundPatch } from './store/index.js';
export type { OutboundQueue as StoreOutboundQueue } from './store/index.js';
export { StoreError, isStoreError } from './store/types.js';
export type { MessageIndex, MimePart, Envelope, EnvelopeAddress } from './mime/types.js';
export { Authenticator, hashPassword, verifyPassword } from './auth/index.js';
export type { Logger } from './lib/logger.js';
export { silentLogger, memoryLogger } from './lib/logger.js';
export type { NetService, ListenSpec, TlsMaterial } from './lib/service.js';

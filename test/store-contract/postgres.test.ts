/**
 * The mail part of the store contract (mailboxes, messages, changes, held expunges, metadata, sort keys)
 * against the PostgreSQL store; the other suites are in postgres-rest.test.ts (see postgres-factory.ts).
 */
import { runMailContract } from './index.js';
import { postgresFactory } from './postgres-factory.js';

runMailContract('postgres', postgresFactory());

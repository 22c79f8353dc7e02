/**
 * The store contract: one suite per interface the Store handle gives out (src/store/handle.ts), each
 * registered as node:test tests against a factory of fresh, empty stores. Every backend runs all four
 * (sqlite.test.ts, postgres.test.ts).
 */
import { runAclContract } from './acl.js';
import { runDirectoryContract } from './directory.js';
import { runDkimContract } from './dkim.js';
import type { StoreFactory } from './harness.js';
import { runMailContract } from './mail.js';
import { runMaildropContract } from './maildrop.js';
import { runQueueContract } from './queue.js';
import { runQuotaContract } from './quota.js';

export type { StoreFactory } from './harness.js';
export { runDirectoryContract, runMailContract, runMaildropContract, runQueueContract };

export function runStoreContracts(name: string, factory: StoreFactory): void {
  runDirectoryContract(name, factory);
  runMailContract(name, factory);
  runMaildropContract(name, factory);
  runQueueContract(name, factory);
  runQuotaContract(name, factory);
  runDkimContract(name, factory);
  runAclContract(name, factory);
}

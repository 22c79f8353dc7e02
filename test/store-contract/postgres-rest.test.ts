/**
 * The store contract suites other than mail (directory, maildrop, queue, quota, DKIM keys, ACL, Sieve, spam
 * tokens, JMAP) against the PostgreSQL store; mail is in postgres.test.ts (see postgres-factory.ts).
 */
import { runDirectoryContract, runMaildropContract, runQueueContract } from './index.js';
import { runQuotaContract } from './quota.js';
import { runDkimContract } from './dkim.js';
import { runAclContract } from './acl.js';
import { runSieveContract } from './sieve.js';
import { runTokensContract } from './tokens.js';
import { runSpamContract } from './spam.js';
import { runJmapContract } from './jmap.js';
import { postgresFactory } from './postgres-factory.js';

const factory = postgresFactory();
runDirectoryContract('postgres', factory);
runMaildropContract('postgres', factory);
runQueueContract('postgres', factory);
runQuotaContract('postgres', factory);
runDkimContract('postgres', factory);
runAclContract('postgres', factory);
runSieveContract('postgres', factory);
runTokensContract('postgres', factory);
runSpamContract('postgres', factory);
runJmapContract('postgres', factory);

/**
 * The MailStore contract (src/store/mail.ts): mailboxes (mailboxes.ts), messages and readMessages with every
 * combination of wanted parts (messages.ts), all-or-nothing batches (append-many.ts), the change log, wake-ups, concurrency and close (changes.ts), expunged messages held for readers (held.ts), annotations (metadata.ts), sort keys (sort-keys.ts), save dates and URLAUTH keys (saved-keys.ts), mailbox list events (mailbox-list.ts).
 */
import { runAppendManyContract } from './append-many.js';
import { runChangeContract } from './changes.js';
import { runHeldContract } from './held.js';
import { runMetadataContract } from './metadata.js';
import type { StoreFactory } from './harness.js';
import { runMailboxContract } from './mailboxes.js';
import { runMailboxListContract } from './mailbox-list.js';
import { runMessageContract } from './messages.js';
import { runSortKeysContract } from './sort-keys.js';
import { runSavedAndKeysContract } from './saved-keys.js';

export function runMailContract(name: string, factory: StoreFactory): void {
  runMailboxContract(name, factory);
  runMailboxListContract(name, factory);
  runMessageContract(name, factory);
  runAppendManyContract(name, factory);
  runChangeContract(name, factory);
  runHeldContract(name, factory);
  runMetadataContract(name, factory);
  runSortKeysContract(name, factory);
  runSavedAndKeysContract(name, factory);
}

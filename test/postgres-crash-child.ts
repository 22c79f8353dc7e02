/**
 * Child process of postgres-crash.test.ts: holds the user's POP3 maildrop lock and appends to one mailbox
 * in four concurrent loops (blob directory, fsync on), printing "<uid> <seed>" after each append resolved
 * (i.e. after COMMIT). Killed by the parent with SIGKILL.
 * Usage: node --import tsx test/postgres-crash-child.ts <url> <schema> <blobDir> <seedBase>
 */
import { envelopeImapText } from '../src/imap/wire/envelope-text.js';
import { openPostgresStore } from '../src/store/postgres/index.js';
import { crashMessage } from './store-crash-message.js';

const [url, schema, blobDir, seedBaseArg] = process.argv.slice(2);
if (!url || !schema || !blobDir || !seedBaseArg) throw new Error('usage: postgres-crash-child <url> <schema> <blobDir> <seedBase>');
const store = await openPostgresStore({ url, schema, blobDir, fsync: true, poolSize: 4, sweepAtOpen: false, envelopeText: envelopeImapText });
const user = (await store.directory.getUser('crash@example.org')) ?? (await store.directory.createUser('crash@example.org', 'x'));
const inbox = await store.mail.getMailbox(user.id, 'INBOX');
if (!inbox) throw new Error('no INBOX');
const lock = await store.maildrop.lock(user.id);
if (!lock) throw new Error('maildrop is locked');
process.stdout.write('ready\n');
let next = Number(seedBaseArg);
await Promise.all(
  Array.from({ length: 4 }, async () => {
    for (;;) {
      const seed = next++;
      const r = await store.mail.append(inbox.id, crashMessage(seed), { flags: seed % 3 === 0 ? ['\\Seen'] : [] });
      process.stdout.write(`${r.uid} ${seed}\n`);
    }
  }),
);

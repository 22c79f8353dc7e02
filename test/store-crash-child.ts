/**
 * Child process of store-crash.test.ts: appends to one mailbox in several concurrent loops with fsync on,
 * printing "<uid> <seed>" on stdout after each append has resolved (i.e. after commit). Killed by the parent.
 * Usage: node --import tsx test/store-crash-child.ts <dataDir> <seedBase> [loops (default 4)]
 */
import { openServerStore } from '../src/server/store.js';
import { crashMessage } from './store-crash-message.js';

const [dataDir, seedBaseArg, loopsArg] = process.argv.slice(2);
if (!dataDir || !seedBaseArg) throw new Error('usage: store-crash-child <dataDir> <seedBase>');
const seedBase = Number(seedBaseArg);
const store = await openServerStore({ dataDir, fsync: true });
const user = (await store.directory.getUser('crash@example.org')) ?? (await store.directory.createUser('crash@example.org', 'x'));
const inbox = await store.mail.getMailbox(user.id, 'INBOX');
if (!inbox) throw new Error('no INBOX');
process.stdout.write(`ready\n`);
let next = seedBase;
await Promise.all(
  Array.from({ length: Number(loopsArg ?? 4) }, async () => {
    for (;;) {
      const seed = next++;
      const r = await store.mail.append(inbox.id, crashMessage(seed), { flags: seed % 3 === 0 ? ['\\Seen'] : [] });
      process.stdout.write(`${r.uid} ${seed}\n`);
    }
  }),
);

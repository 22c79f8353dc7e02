/**
 * Child process of quota-crash.test.ts: appends, copies, moves between users, expunges and deletes and
 * recreates a mailbox in concurrent loops (fsync on), printing "<n> <n>" after each operation resolved.
 * Killed by the parent at a random moment. Usage: node --import tsx test/quota-crash-child.ts <spec> [schema]
 * where spec is a data directory or a postgres:// URL.
 */
import { openServerStore } from '../src/server/store.js';
import type { Store } from '../src/store/handle.js';
import type { User } from '../src/store/types.js';

const [spec, schema] = process.argv.slice(2);
if (!spec) throw new Error('usage: quota-crash-child <dataDir|url> [schema]');
const store: Store = await openServerStore(spec.startsWith('postgres') ? { url: spec, schema: schema ?? 'public', fsync: true } : { dataDir: spec, fsync: true });
async function user(address: string): Promise<User> {
  return (await store.directory.getUser(address)) ?? (await store.directory.createUser(address, 'x'));
}
const a = await user('a@example.org');
const b = await user('b@example.org');
const boxes = await Promise.all(
  [a, b].map(async (u) => {
    const box = await store.mail.getMailbox(u.id, 'INBOX');
    if (!box) throw new Error('no INBOX');
    return box;
  }),
);
let n = 0;
const done = (): void => {
  n++;
  process.stdout.write(`${n} ${n}\n`);
};
const msg = (i: number): Buffer => Buffer.from(`Subject: q${i}\r\nMessage-ID: <q${i}.${process.pid}@crash>\r\n\r\n${'z'.repeat(100 + (i % 50) * 97)}\r\n`);
await Promise.all([
  ...[0, 1].map(async (k) => {
    for (let i = k; ; i += 2) {
      await store.mail.append(boxes[k % 2]!.id, msg(i));
      done();
    }
  }),
  (async () => {
    for (;;) {
      const list = await store.mail.listMessages(boxes[0]!.id);
      if (list.length > 2) {
        await store.mail.copy(boxes[0]!.id, [list[0]!.uid], boxes[1]!.id);
        await store.mail.move(boxes[0]!.id, [list[1]!.uid], boxes[1]!.id);
      }
      const theirs = await store.mail.listMessages(boxes[1]!.id);
      if (theirs.length > 3) {
        await store.mail.storeFlags(boxes[1]!.id, [theirs[0]!.uid, theirs[1]!.uid], { op: 'add', flags: ['\\Deleted'] });
        await store.mail.expunge(boxes[1]!.id);
      }
      done();
    }
  })(),
  (async () => {
    for (;;) {
      const box = (await store.mail.getMailbox(a.id, 'Scratch')) ?? (await store.mail.createMailbox(a.id, 'Scratch'));
      const list = await store.mail.listMessages(boxes[0]!.id);
      if (list.length) await store.mail.copy(boxes[0]!.id, list.slice(0, 3).map((m) => m.uid), box.id);
      await store.mail.deleteMailbox(a.id, 'Scratch');
      done();
    }
  })(),
]);

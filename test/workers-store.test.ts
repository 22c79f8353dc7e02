/**
 * Expunge holds across the workers of `serve --workers N`, at the store level: two SQLite stores on one data
 * directory, each with its own hub (as two worker processes have), their holds exchanged as the primary
 * does (store/holds.ts onChange -> setRemote). A message one store's reader still shows stays readable after
 * the other store expunges it, until that reader's hold moves past the expunge; without the exchange the
 * other store frees it at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore, type SqliteStore } from '../src/store/sqlite/index.js';
import { SqliteHub } from '../src/store/sqlite/core.js';
import { isStoreError } from '../src/store/types.js';
import { eventually, sampleMessage } from './helpers/store.js';

async function readable(s: SqliteStore, mailboxId: number, uid: number): Promise<boolean> {
  try {
    await s.mail.readBytes(mailboxId, uid);
    return true;
  } catch (e) {
    if (isStoreError(e, 'NOT_FOUND')) return false;
    throw e;
  }
}

async function twoWorkers(linked: boolean): Promise<{ a: SqliteStore; b: SqliteStore; inbox: number; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'mailroom-workers-store-'));
  const hubA = new SqliteHub();
  const hubB = new SqliteHub();
  if (linked) {
    hubA.holds.onChange = (floors) => hubB.holds.setRemote(floors);
    hubB.holds.onChange = (floors) => hubA.holds.setRemote(floors);
  }
  const a = await openSqliteStore({ dataDir: dir, fsync: false, hub: hubA });
  const b = await openSqliteStore({ dataDir: dir, fsync: false, hub: hubB });
  await a.directory.addDomain('example.org');
  const user = await a.directory.createUser('alice@example.org', '{PLAIN}pw');
  const inbox = (await a.mail.getMailbox(user.id, 'INBOX'))!.id;
  for (let n = 1; n <= 3; n++) await a.mail.append(inbox, sampleMessage(n));
  return {
    a,
    b,
    inbox,
    close: async () => {
      await a.close();
      await b.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

test("a hold in one worker keeps a message another worker expunged until it moves past the expunge", async () => {
  const { a, b, inbox, close } = await twoWorkers(true);
  try {
    const before = (await a.mail.status(inbox)).highestModseq;
    const hold = a.mail.holdExpunged(inbox, before);
    await eventually(() => b.hub.holds.holding(inbox), 'the hold reached the other worker');
    await b.mail.storeFlags(inbox, [2], { op: 'add', flags: ['\\Deleted'] });
    assert.deepEqual(await b.mail.expunge(inbox), [2]);
    assert.equal(await readable(a, inbox, 2), true, 'held for the reader in the other worker');
    assert.equal(await readable(b, inbox, 2), true);
    hold.advance((await a.mail.status(inbox)).highestModseq);
    await eventually(async () => !(await readable(a, inbox, 2)), 'freed once the hold moved past the expunge');
    assert.equal(await readable(a, inbox, 1), true, 'the other messages stay');
    hold.release();
  } finally {
    await close();
  }
});

test('without the exchange, the other worker frees an expunged message at once', async () => {
  const { a, b, inbox, close } = await twoWorkers(false);
  try {
    const hold = a.mail.holdExpunged(inbox, (await a.mail.status(inbox)).highestModseq);
    await new Promise((r) => setImmediate(r));
    assert.equal(b.hub.holds.holding(inbox), false);
    await b.mail.storeFlags(inbox, [2], { op: 'add', flags: ['\\Deleted'] });
    await b.mail.expunge(inbox);
    assert.equal(await readable(a, inbox, 2), false);
    hold.release();
  } finally {
    await close();
  }
});

/**
 * The quota contract (src/store/quota.ts): usage kept exact through append, copy, move (within a user and
 * between users), expunge, REPLACE, POP3 commits, mailbox and user deletion, and held expunged messages
 * (which no longer count); limits from the store's defaults and per-user settings (Infinity: none, null:
 * back to the default); OVER_QUOTA for appends, copies and moves between users that end over a limit, with
 * nothing written; moves within a user, expunges and deletions always allowed, over quota or not.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rejectsWith, sampleMessage } from '../helpers/store.js';
import { SERVER_OPTIONS, storeRunner, type StoreFactory, type StoreTest } from './harness.js';
import type { Store } from '../../src/store/handle.js';
import type { QuotaDefaults } from '../../src/store/quota.js';

let seq = 0;
/** A message whose size depends only on `n`'s digits and `body` (fixed-width unique Message-ID). */
const msg = (n: number, body = 'x'): Buffer =>
  Buffer.from(`Subject: m${n}\r\nMessage-ID: <q${n}.${String(++seq).padStart(8, '0')}@test>\r\n\r\n${body}\r\n`);

/** Usage as a scan of every mailbox would find it: what the counters must always equal. */
async function scan(s: Store, userId: number): Promise<{ storage: number; messages: number }> {
  let storage = 0;
  let messages = 0;
  for (const mb of await s.mail.listMailboxes(userId)) {
    const st = await s.mail.status(mb.id);
    storage += st.size;
    messages += st.messages;
  }
  return { storage, messages };
}

async function exact(s: Store, userId: number, what: string): Promise<{ storage: number; messages: number }> {
  const want = await scan(s, userId);
  assert.deepEqual(await s.quota.usage(userId), want, `usage after ${what}`);
  return want;
}

/**
 * Two users, alice with four messages in INBOX and bob with one: the start of the backends' tests of the
 * one-time count (quota.test.ts beside each backend). Returns the users, their inboxes and the octets of each.
 */
export async function seedTwoUsers(s: Store): Promise<{ alice: number; bob: number; aliceInbox: number; bobInbox: number; aliceSize: number; bobSize: number }> {
  const alice = await s.directory.createUser('alice@example.org', 'h');
  const bob = await s.directory.createUser('bob@example.org', 'h');
  const ai = (await s.mail.getMailbox(alice.id, 'INBOX'))!;
  const bi = (await s.mail.getMailbox(bob.id, 'INBOX'))!;
  let aliceSize = 0;
  for (let i = 1; i <= 4; i++) {
    const raw = sampleMessage(i);
    await s.mail.append(ai.id, raw);
    aliceSize += raw.length;
  }
  const bobs = sampleMessage(9);
  await s.mail.append(bi.id, bobs);
  return { alice: alice.id, bob: bob.id, aliceInbox: ai.id, bobInbox: bi.id, aliceSize, bobSize: bobs.length };
}

export function runQuotaContract(name: string, factory: StoreFactory): void {
  const run = (fn: StoreTest, quota?: QuotaDefaults): (() => Promise<void>) =>
    storeRunner(factory, { ...SERVER_OPTIONS, ...(quota ? { quota } : {}) })(fn);

  describe(`Quota contract: ${name}`, () => {
    test(
      'usage stays exact through append, copy, move, expunge, REPLACE, POP3 commit, rename of INBOX and mailbox deletion',
      run(async (s, user, inbox) => {
        const m = s.mail;
        assert.deepEqual(await s.quota.usage(user.id), { storage: 0, messages: 0 });
        const sizes: number[] = [];
        for (let i = 1; i <= 6; i++) {
          const raw = msg(i, 'y'.repeat(i * 100));
          sizes.push(raw.length);
          await m.append(inbox.id, raw);
        }
        let u = await exact(s, user.id, 'appends');
        assert.deepEqual(u, { storage: sizes.reduce((a, b) => a + b, 0), messages: 6 });
        const archive = await m.createMailbox(user.id, 'Archive2');
        await m.copy(inbox.id, [1, 2, 3], archive.id);
        u = await exact(s, user.id, 'copy');
        assert.equal(u.messages, 9);
        await m.move(inbox.id, [4, 5], archive.id);
        assert.deepEqual(await exact(s, user.id, 'move'), u, 'a move within the user changes nothing');
        await m.storeFlags(inbox.id, [1, 2], { op: 'add', flags: ['\\Deleted'] });
        await m.expunge(inbox.id);
        u = await exact(s, user.id, 'expunge');
        assert.equal(u.messages, 7);
        await m.append(inbox.id, msg(7), { replaces: { mailboxId: inbox.id, uid: 3 } });
        u = await exact(s, user.id, 'REPLACE');
        assert.equal(u.messages, 7);
        // POP3 QUIT with DELE: expunged without \Deleted.
        const uids = (await m.listMessages(inbox.id)).map((x) => x.uid);
        await s.maildrop.commit(inbox.id, { expunge: uids.slice(0, 1), seen: [], retrieved: [] });
        u = await exact(s, user.id, 'POP3 commit');
        assert.equal(u.messages, 6);
        await m.renameMailbox(user.id, 'INBOX', 'Old inbox');
        assert.deepEqual(await exact(s, user.id, 'rename of INBOX'), u);
        await m.deleteMailbox(user.id, 'Archive2');
        u = await exact(s, user.id, 'delete mailbox');
        assert.equal(u.messages, 1);
        await m.deleteMailbox(user.id, 'Old inbox');
        assert.deepEqual(await exact(s, user.id, 'delete mailbox'), { storage: 0, messages: 0 });
      }),
    );

    test(
      'messages held after their expunge no longer count; moves between users move the usage; a deleted user has none',
      run(async (s, user, inbox) => {
        const m = s.mail;
        for (let i = 1; i <= 3; i++) await m.append(inbox.id, msg(i));
        const before = await exact(s, user.id, 'appends');
        const st = await m.status(inbox.id);
        const hold = m.holdExpunged(inbox.id, st.highestModseq);
        try {
          await m.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Deleted'] });
          await m.expunge(inbox.id);
          // Still readable for the holder, but no longer visible: no longer counted.
          assert.ok((await m.readBytes(inbox.id, 1)).length > 0);
          const after = await exact(s, user.id, 'held expunge');
          assert.equal(after.messages, before.messages - 1);
        } finally {
          hold.release();
        }
        assert.equal((await s.quota.usage(user.id)).messages, 2);

        const bob = await s.directory.createUser('bob@example.org', '$test$hash');
        const bobInbox = await m.getMailbox(bob.id, 'INBOX');
        assert.ok(bobInbox);
        await m.move(inbox.id, [2], bobInbox.id);
        await exact(s, user.id, 'move to another user');
        assert.equal((await exact(s, bob.id, 'move from another user')).messages, 1);
        await m.copy(bobInbox.id, [1], inbox.id);
        assert.equal((await exact(s, user.id, 'copy from another user')).messages, 2);
        await s.directory.deleteUser('bob@example.org');
        assert.deepEqual(await s.quota.usage(bob.id), { storage: 0, messages: 0 });
        await exact(s, user.id, 'deletion of another user');
      }),
    );

    test(
      'limits: store defaults, per-user settings, Infinity for none, null back to the default; bad values and unknown users refused',
      run(
        async (s, user) => {
          assert.deepEqual(await s.quota.limits(user.id), { storage: 10_000, messages: 5 });
          assert.deepEqual(await s.quota.settings(user.id), { storage: null, messages: null });
          await s.quota.setLimits(user.id, { storage: 2_000_000 });
          assert.deepEqual(await s.quota.limits(user.id), { storage: 2_000_000, messages: 5 });
          await s.quota.setLimits(user.id, { messages: Number.POSITIVE_INFINITY });
          assert.deepEqual(await s.quota.limits(user.id), { storage: 2_000_000, messages: null });
          assert.deepEqual(await s.quota.settings(user.id), { storage: 2_000_000, messages: Number.POSITIVE_INFINITY });
          await s.quota.setLimits(user.id, { storage: null });
          assert.deepEqual(await s.quota.limits(user.id), { storage: 10_000, messages: null });
          await s.quota.setLimits(user.id, { storage: 0, messages: null });
          assert.deepEqual(await s.quota.limits(user.id), { storage: 0, messages: 5 });
          for (const bad of [-1, 1.5, Number.NaN, '5' as unknown as number]) await rejectsWith(s.quota.setLimits(user.id, { storage: bad }), 'INVALID');
          await rejectsWith(s.quota.setLimits(999_999, { storage: 1 }), 'NOT_FOUND');
          assert.deepEqual(await s.quota.usage(999_999), { storage: 0, messages: 0 });
        },
        { storage: 10_000, messages: 5 },
      ),
    );

    test(
      'without defaults and settings there is no limit',
      run(async (s, user, inbox) => {
        assert.deepEqual(await s.quota.limits(user.id), { storage: null, messages: null });
        for (let i = 0; i < 20; i++) await s.mail.append(inbox.id, msg(i));
        assert.equal((await s.quota.usage(user.id)).messages, 20);
      }),
    );

    test(
      'over quota: append, copy and moves into another user refused with nothing written; moves within the user, expunge and delete always work',
      run(async (s, user, inbox) => {
        const m = s.mail;
        const one = msg(1, 'z'.repeat(500));
        await s.quota.setLimits(user.id, { storage: one.length * 3, messages: 10 });
        for (let i = 0; i < 3; i++) await m.append(inbox.id, msg(1, 'z'.repeat(500)));
        const full = await exact(s, user.id, 'filling');
        const st = await m.status(inbox.id);
        await rejectsWith(m.append(inbox.id, msg(2)), 'OVER_QUOTA');
        const trash = await m.createMailbox(user.id, 'Bin');
        await rejectsWith(m.copy(inbox.id, [1], trash.id), 'OVER_QUOTA');
        assert.deepEqual(await exact(s, user.id, 'refused writes'), full);
        const st2 = await m.status(inbox.id);
        assert.equal(st2.messages, st.messages);
        assert.equal(st2.uidNext, st.uidNext, 'the refused append allocated no UID');
        assert.equal((await m.status(trash.id)).messages, 0);
        // Lower the limit below the usage: a move within the user is still fine.
        await s.quota.setLimits(user.id, { storage: 10 });
        const moved = await m.move(inbox.id, [1], trash.id);
        assert.equal(moved.pairs.length, 1);
        assert.deepEqual(await exact(s, user.id, 'move over quota'), full);
        // Moves into another user count against that user.
        const bob = await s.directory.createUser('bob@example.org', '$test$hash');
        const bobInbox = await m.getMailbox(bob.id, 'INBOX');
        assert.ok(bobInbox);
        await s.quota.setLimits(bob.id, { messages: 0 });
        await rejectsWith(m.move(inbox.id, [2], bobInbox.id), 'OVER_QUOTA');
        assert.equal((await m.status(inbox.id)).messages, 2, 'the refused move left the source as it was');
        assert.deepEqual(await exact(s, bob.id, 'refused move'), { storage: 0, messages: 0 });
        // Getting back under: expunge and delete work over quota, then appends work again.
        await m.storeFlags(inbox.id, [2], { op: 'add', flags: ['\\Deleted'] });
        assert.deepEqual(await m.expunge(inbox.id), [2]);
        await m.deleteMailbox(user.id, 'Bin');
        await s.maildrop.commit(inbox.id, { expunge: [3], seen: [], retrieved: [] });
        assert.deepEqual(await exact(s, user.id, 'emptied'), { storage: 0, messages: 0 });
        await s.quota.setLimits(user.id, { storage: one.length * 3 });
        await m.append(inbox.id, msg(3));
        // The message count limit too.
        await s.quota.setLimits(user.id, { storage: null, messages: 2 });
        await m.append(inbox.id, msg(4));
        await rejectsWith(m.append(inbox.id, msg(5)), 'OVER_QUOTA');
        assert.equal((await exact(s, user.id, 'message limit')).messages, 2);
      }),
    );

    test(
      'concurrent appends of one user never end over the limit',
      run(async (s, user, inbox) => {
        await s.quota.setLimits(user.id, { messages: 7 });
        const other = await s.mail.createMailbox(user.id, 'Other');
        const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => s.mail.append(i % 2 ? inbox.id : other.id, msg(i))));
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 7);
        for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'OVER_QUOTA');
        assert.equal((await exact(s, user.id, 'concurrent appends')).messages, 7);
      }),
    );
  });
}

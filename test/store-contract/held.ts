/**
 * The MailStore contract, expunged messages a reader still shows (src/store/mail.ts holdExpunged,
 * src/store/holds.ts; RFC 2180 4.1.1): while a hold covers an expunge, or the expunge grace lasts,
 * readMessages with `expunged` and readBytes still return the message (bytes, MIME index, header,
 * envelope, metadata) although listMessages and the change log show it gone; once the hold advances past
 * the expunge (or is released) and the grace has passed, it is freed. Part of runMailContract (mail.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { collect, eventually, rejectsWith, sampleMessage } from '../helpers/store.js';
import { SERVER_OPTIONS, storeRunner, type StoreFactory } from './harness.js';
import type { MailStore } from '../../src/store/mail.js';
import { isStoreError } from '../../src/store/types.js';

const ALL = { meta: true, index: true, envelope: true, envelopeText: true, header: true } as const;

async function gone(mail: MailStore, mailboxId: number, uid: number): Promise<boolean> {
  try {
    await mail.readBytes(mailboxId, uid);
    return false;
  } catch (e) {
    if (isStoreError(e, 'NOT_FOUND')) return true;
    throw e;
  }
}

export function runHeldContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`MailStore contract: ${name}`, () => {
    describe('expunged messages held for readers', () => {
      test(
        'without a hold an expunged message is gone at once',
        withStore(async (s, _user, inbox) => {
          await s.mail.append(inbox.id, sampleMessage(1), { flags: ['\\Deleted'] });
          assert.deepEqual(await s.mail.expunge(inbox.id), [1]);
          await rejectsWith(s.mail.readBytes(inbox.id, 1), 'NOT_FOUND');
          assert.deepEqual(await collect(s.mail.readMessages(inbox.id, [1], { meta: true, expunged: true })), []);
        }),
      );

      test(
        'a hold keeps an expunged message readable until it advances past the expunge',
        withStore(async (s, _user, inbox) => {
          const raws = [1, 2, 3].map((n) => sampleMessage(n));
          for (const raw of raws) await s.mail.append(inbox.id, raw);
          const before = await collect(s.mail.readMessages(inbox.id, [2], ALL));
          const st = await s.mail.status(inbox.id);
          const hold = s.mail.holdExpunged(inbox.id, st.highestModseq);
          try {
            await s.mail.storeFlags(inbox.id, [2], { op: 'add', flags: ['\\Deleted'] });
            assert.deepEqual(await s.mail.expunge(inbox.id), [2]);
            assert.deepEqual((await s.mail.listMessages(inbox.id)).map((m) => m.uid), [1, 3]);
            const ch = await s.mail.changesSince(inbox.id, st.highestModseq);
            assert.deepEqual(ch.expunged, [2]);
            // Without `expunged` the message is not returned; with it, it is, in uid order.
            assert.deepEqual((await collect(s.mail.readMessages(inbox.id, [1, 2, 3], { meta: true }))).map((r) => r.uid), [1, 3]);
            const all = await collect(s.mail.readMessages(inbox.id, [1, 2, 3], { ...ALL, expunged: true }));
            assert.deepEqual(
              all.map((r) => r.uid),
              [1, 2, 3],
            );
            const held = all[1]!;
            assert.deepEqual(held.index, before[0]!.index);
            assert.deepEqual(held.envelope, before[0]!.envelope);
            assert.deepEqual(held.header, before[0]!.header);
            assert.equal(held.meta.uid, 2);
            assert.equal(held.meta.size, raws[1]!.length);
            assert.ok(held.meta.flags.includes('\\Deleted'));
            assert.deepEqual((await collect(s.mail.readMessages(inbox.id, [2], { header: true, expunged: true }))).map((r) => r.uid), [2]);
            assert.deepEqual(await s.mail.readBytes(inbox.id, 2), raws[1]);
            assert.deepEqual(await s.mail.readBytes(inbox.id, 2, { start: 2, end: 9 }), raws[1]!.subarray(2, 9));
            // Advancing to a modseq below the expunge keeps it.
            hold.advance(st.highestModseq);
            await new Promise((r) => setTimeout(r, 50));
            assert.deepEqual(await s.mail.readBytes(inbox.id, 2), raws[1]);
            hold.advance(ch.highestModseq);
            await eventually(() => gone(s.mail, inbox.id, 2), 'the held message is freed after the hold advanced');
            assert.deepEqual((await collect(s.mail.readMessages(inbox.id, [1, 2, 3], { meta: true, expunged: true }))).map((r) => r.uid), [1, 3]);
          } finally {
            hold.release();
          }
        }),
      );

      test(
        'MOVE out and a POP3 commit are held too; release frees them; copies keep their blob',
        withStore(async (s, user, inbox) => {
          const raws = [1, 2, 3].map((n) => sampleMessage(n));
          for (const raw of raws) await s.mail.append(inbox.id, raw);
          const arch = (await s.mail.getMailbox(user.id, 'Archive')) ?? (await s.mail.createMailbox(user.id, 'Archive'));
          await s.mail.copy(inbox.id, [3], arch.id);
          const hold = s.mail.holdExpunged(inbox.id, (await s.mail.status(inbox.id)).highestModseq);
          await s.mail.move(inbox.id, [1], arch.id);
          assert.deepEqual(await s.maildrop.commit(inbox.id, { expunge: [2, 3], seen: [], retrieved: [] }), [2, 3]);
          assert.deepEqual(await s.mail.listMessages(inbox.id), []);
          assert.deepEqual((await collect(s.mail.readMessages(inbox.id, [1, 2, 3], { meta: true, expunged: true }))).map((r) => r.uid), [1, 2, 3]);
          assert.deepEqual(await s.mail.readBytes(inbox.id, 2), raws[1]);
          hold.release();
          hold.release();
          await eventually(async () => (await gone(s.mail, inbox.id, 1)) && (await gone(s.mail, inbox.id, 2)) && (await gone(s.mail, inbox.id, 3)), 'released');
          // The moved message and the earlier copy still have their bytes.
          const kept = await s.mail.listMessages(arch.id);
          assert.equal(kept.length, 2);
          for (const m of kept) assert.ok((await s.mail.readBytes(arch.id, m.uid)).length > 0);
        }),
      );

      test(
        'deleting a mailbox frees its held messages; another copy of the blob survives',
        withStore(async (s, user, inbox) => {
          const box = await s.mail.createMailbox(user.id, 'Box');
          const raw = sampleMessage(7);
          await s.mail.append(box.id, raw, { flags: ['\\Deleted'] });
          await s.mail.copy(box.id, [1], inbox.id);
          const hold = s.mail.holdExpunged(box.id, (await s.mail.status(box.id)).highestModseq);
          try {
            await s.mail.expunge(box.id);
            assert.deepEqual(await s.mail.readBytes(box.id, 1), raw);
            await s.mail.deleteMailbox(user.id, 'Box');
            await rejectsWith(s.mail.readBytes(box.id, 1), 'NOT_FOUND');
            assert.deepEqual(await s.mail.readBytes(inbox.id, 1), raw);
            await s.mail.expunge(inbox.id);
            await rejectsWith(s.mail.readBytes(inbox.id, 1), 'NOT_FOUND');
          } finally {
            hold.release();
          }
        }),
      );

      test('with an expunge grace a message stays readable without a hold, then is freed', async () => {
        const { store: s, cleanup } = await factory({ ...SERVER_OPTIONS, expungeGraceMs: 300 });
        try {
          const user = await s.directory.createUser('alice@example.org', '$test$hash');
          const inbox = (await s.mail.getMailbox(user.id, 'INBOX'))!;
          const raw = sampleMessage(1);
          await s.mail.append(inbox.id, raw, { flags: ['\\Deleted'] });
          const t0 = Date.now();
          await s.mail.expunge(inbox.id);
          if (Date.now() - t0 < 250) assert.deepEqual(await s.mail.readBytes(inbox.id, 1), raw);
          await eventually(() => gone(s.mail, inbox.id, 1), 'freed after the grace');
        } finally {
          await cleanup();
        }
      });
    });
  });
}

/**
 * The MailStore contract, RFC 8514 save dates and RFC 4467 URLAUTH access keys (src/store/mail.ts): an
 * appended, copied or moved message's MessageMeta.savedDate is the time it was written into that mailbox
 * (listMessages, readMessages meta, changesSince and storeFlags agree); urlauthKey creates a 32-byte key
 * once per mailbox only when asked to, and resetUrlauthKeys forgets one mailbox's or all of a user's keys;
 * append with `replaces` (RFC 8508 REPLACE) expunges the old message in the same transaction.
 * Part of runMailContract (mail.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { collect, rejectsWith, sampleMessage } from '../helpers/store.js';
import { storeRunner, type StoreFactory } from './harness.js';

export function runSavedAndKeysContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`MailStore contract: ${name}`, () => {
    describe('save dates and URLAUTH keys', () => {
      test(
        'savedDate is when the message was appended, copied or moved into the mailbox',
        withStore(async (s, user, inbox) => {
          const before = Date.now() - 1000;
          await s.mail.append(inbox.id, sampleMessage(1), { internalDate: new Date('2001-01-01T00:00:00Z') });
          const [m] = await s.mail.listMessages(inbox.id);
          assert.ok(m!.savedDate, 'savedDate set');
          assert.ok(m!.savedDate.getTime() >= before && m!.savedDate.getTime() <= Date.now() + 1000, String(m!.savedDate));
          assert.equal(m!.internalDate.toISOString(), '2001-01-01T00:00:00.000Z');
          const [read] = await collect(s.mail.readMessages(inbox.id, [1], { meta: true }));
          assert.equal(read!.meta.savedDate?.getTime(), m!.savedDate.getTime());
          const flagged = await s.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Seen'] });
          assert.equal(flagged.changed[0]!.savedDate?.getTime(), m!.savedDate.getTime());
          const changes = await s.mail.changesSince(inbox.id, 0);
          assert.equal(changes.changed[0]!.savedDate?.getTime(), m!.savedDate.getTime());

          await new Promise((r) => setTimeout(r, 20));
          const other = await s.mail.createMailbox(user.id, 'Other');
          await s.mail.copy(inbox.id, [1], other.id);
          const [copied] = await s.mail.listMessages(other.id);
          assert.ok(copied!.savedDate!.getTime() > m!.savedDate.getTime(), 'a copy gets a new save date');
          assert.equal(copied!.internalDate.toISOString(), '2001-01-01T00:00:00.000Z');
          await new Promise((r) => setTimeout(r, 20));
          await s.mail.move(other.id, [copied!.uid], inbox.id);
          const moved = (await s.mail.listMessages(inbox.id)).at(-1)!;
          assert.ok(moved.savedDate!.getTime() > copied!.savedDate!.getTime(), 'a move gets a new save date');
        }),
      );

      test(
        'append with replaces: the old message is expunged with the append, in the same or another mailbox',
        withStore(async (s, user, inbox) => {
          const a = await s.mail.append(inbox.id, sampleMessage(1));
          const b = await s.mail.append(inbox.id, sampleMessage(2), { replaces: { mailboxId: inbox.id, uid: a.uid } });
          assert.deepEqual((await s.mail.listMessages(inbox.id)).map((m) => m.uid), [b.uid]);
          const ch = await s.mail.changesSince(inbox.id, a.modseq);
          assert.deepEqual(ch.expunged, [a.uid]);
          assert.deepEqual(ch.changed.map((m) => m.uid), [b.uid]);
          await rejectsWith(s.mail.readBytes(inbox.id, a.uid), 'NOT_FOUND');
          const other = await s.mail.createMailbox(user.id, 'Other');
          const c = await s.mail.append(other.id, sampleMessage(3), { replaces: { mailboxId: inbox.id, uid: b.uid } });
          assert.deepEqual(await s.mail.listMessages(inbox.id), []);
          assert.deepEqual((await s.mail.listMessages(other.id)).map((m) => m.uid), [c.uid]);
          // Already gone: the append still happens.
          const d = await s.mail.append(other.id, sampleMessage(4), { replaces: { mailboxId: inbox.id, uid: b.uid } });
          assert.deepEqual((await s.mail.listMessages(other.id)).map((m) => m.uid), [c.uid, d.uid]);
          // A missing mailbox fails the whole append.
          await rejectsWith(s.mail.append(other.id, sampleMessage(5), { replaces: { mailboxId: 999_999, uid: 1 } }), 'NOT_FOUND');
          assert.equal((await s.mail.listMessages(other.id)).length, 2);
        }),
      );

      test(
        'urlauthKey creates one key per mailbox on request; resetUrlauthKeys forgets them',
        withStore(async (s, user, inbox) => {
          assert.equal(await s.mail.urlauthKey(inbox.id, false), null);
          const k1 = await s.mail.urlauthKey(inbox.id, true);
          assert.ok(k1 && k1.length === 32);
          assert.deepEqual(await s.mail.urlauthKey(inbox.id, true), k1);
          assert.deepEqual(await s.mail.urlauthKey(inbox.id, false), k1);
          const other = await s.mail.createMailbox(user.id, 'Other');
          const k2 = (await s.mail.urlauthKey(other.id, true))!;
          assert.notDeepEqual(k2, k1);
          await s.mail.resetUrlauthKeys(user.id, other.id);
          assert.equal(await s.mail.urlauthKey(other.id, false), null);
          assert.deepEqual(await s.mail.urlauthKey(inbox.id, false), k1);
          // Another user's reset does not touch this user's keys.
          await s.mail.resetUrlauthKeys(user.id + 1000, null);
          assert.deepEqual(await s.mail.urlauthKey(inbox.id, false), k1);
          await s.mail.resetUrlauthKeys(user.id, null);
          assert.equal(await s.mail.urlauthKey(inbox.id, false), null);
          const k3 = await s.mail.urlauthKey(inbox.id, true);
          assert.notDeepEqual(k3, k1);
          await rejectsWith(s.mail.urlauthKey(999_999, true), 'NOT_FOUND');
        }),
      );
    });
  });
}

/**
 * The Maildrop contract (src/store/maildrop.ts): the per-user POP3 lock, the UPDATE-state commit in one
 * MODSEQ, retention by retrieval date, and EMAILIDs (the POP3 UIDLs) that survive moves.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChangeEvent } from '../../src/store/types.js';
import { eventually, rejectsWith, sampleMessage } from '../helpers/store.js';
import { storeRunner, type StoreFactory } from './harness.js';

export function runMaildropContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`Maildrop contract: ${name}`, () => {
    // ------------------------------------------------------------------------------------------------
    describe('POP3 maildrop', () => {
      test(
        'lock is exclusive until released',
        withStore(async (s, user) => {
          const bob = await s.directory.createUser('bob@example.org', 'x');
          const release = await s.maildrop.lock(user.id);
          assert.ok(release);
          assert.equal(await s.maildrop.lock(user.id), null);
          const other = await s.maildrop.lock(bob.id);
          assert.ok(other, 'locks are per user');
          await release();
          await release(); // idempotent
          const again = await s.maildrop.lock(user.id);
          assert.ok(again);
          await again();
          await other();
        }),
      );

      test(
        'commit expunges, marks \\Seen and records retrieval in one MODSEQ; purgeRetrieved honours the date',
        withStore(async (s, _user, inbox) => {
          for (let i = 1; i <= 5; i++) await s.mail.append(inbox.id, sampleMessage(i));
          const m0 = (await s.mail.status(inbox.id)).highestModseq;
          const events: ChangeEvent[] = [];
          const off = s.mail.subscribe(inbox.id, (ev) => events.push(ev));
          const gone = await s.maildrop.commit(inbox.id, { expunge: [4, 2, 99], seen: [1, 2, 3], retrieved: [1, 2, 3] });
          assert.deepEqual(gone, [2, 4]);
          const st = await s.mail.status(inbox.id);
          assert.equal(st.highestModseq, m0 + 1, 'one modseq for the whole commit');
          const list = await s.mail.listMessages(inbox.id);
          assert.deepEqual(list.map((m) => [m.uid, m.flags]), [
            [1, ['\\Seen']],
            [3, ['\\Seen']],
            [5, []],
          ]);
          const ch = await s.mail.changesSince(inbox.id, m0);
          assert.deepEqual(ch.expunged, [2, 4]);
          assert.deepEqual(ch.changed.map((m) => m.uid), [1, 3]);
          await eventually(() => events.length === 1, 'maildrop wake-up');
          off();
          // Nothing to do: no bump.
          assert.deepEqual(await s.maildrop.commit(inbox.id, { expunge: [], seen: [1], retrieved: [] }), []);
          assert.equal((await s.mail.status(inbox.id)).highestModseq, m0 + 1);
          // Retention: retrieved before a date in the past keeps them; a future date purges 1 and 3, not 5.
          assert.equal(await s.maildrop.purgeRetrieved(inbox.id, new Date(Date.now() - 3_600_000)), 0);
          assert.equal(await s.maildrop.purgeRetrieved(inbox.id, new Date(Date.now() + 3_600_000)), 2);
          assert.deepEqual((await s.mail.listMessages(inbox.id)).map((m) => m.uid), [5]);
          assert.deepEqual((await s.mail.changesSince(inbox.id, m0 + 1)).expunged, [1, 3]);
          await rejectsWith(s.maildrop.commit(inbox.id + 10000, { expunge: [1], seen: [], retrieved: [] }), 'NOT_FOUND');
          await rejectsWith(s.maildrop.purgeRetrieved(inbox.id + 10000, new Date()), 'NOT_FOUND');
        }),
      );

      test(
        'a moved message keeps its EMAILID (the POP3 UIDL)',
        withStore(async (s, user, inbox) => {
          const r = await s.mail.append(inbox.id, sampleMessage(1));
          const arch = await s.mail.getMailbox(user.id, 'Archive');
          await s.mail.move(inbox.id, [r.uid], arch!.id);
          await s.mail.move(arch!.id, [1], inbox.id);
          const [m] = await s.mail.listMessages(inbox.id);
          assert.equal(m!.emailId, r.emailId);
          assert.equal(m!.uid, 2);
        }),
      );
    });
  });
}

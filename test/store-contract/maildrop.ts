/**
 * The Maildrop contract (src/store/maildrop.ts): the per-user POP3 lock, the UPDATE-state commit in one
 * MODSEQ, retention by retrieval date, and EMAILIDs (the POP3 UIDLs) that survive moves.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isStoreError, type ChangeEvent } from '../../src/store/types.js';
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

      test(
        'openMessage (where offered) reads the stored bytes front to back, small and large; null once expunged',
        withStore(async (s, _user, inbox) => {
          const open = s.maildrop.openMessage?.bind(s.maildrop);
          if (!open) return assert.equal(s.kind, 'postgres', 'only PostgreSQL reads through MailStore.readBytes');
          const small = sampleMessage(1);
          // Past the default inline limit (64 KiB): a blob file, read in several pieces.
          const large = Buffer.concat([sampleMessage(2), Buffer.from(`${'x'.repeat(998)}\r\n`.repeat(200))]);
          const a = await s.mail.append(inbox.id, small);
          const b = await s.mail.append(inbox.id, large);
          for (const [uid, raw] of [[a.uid, small], [b.uid, large]] as const) {
            const reader = open(inbox.id, uid);
            assert.ok(reader);
            assert.equal(reader.size, raw.length);
            const parts: Buffer[] = [];
            const into = Buffer.alloc(64 * 1024);
            for (let chunk = reader.next(into); chunk.length > 0; chunk = reader.next(into)) parts.push(Buffer.from(chunk));
            reader.close();
            assert.ok(Buffer.concat(parts).equals(raw));
          }
          const head = open(inbox.id, b.uid)!;
          assert.ok(head.next(Buffer.alloc(100), 10).equals(large.subarray(0, 10)), 'stops at `end`');
          assert.equal(head.next(Buffer.alloc(100), 10).length, 0);
          head.close();
          await s.mail.expunge(inbox.id, [a.uid, b.uid]);
          // Gone exactly when readBytes says so (expunged messages held for readers are still read).
          for (const uid of [a.uid, b.uid]) {
            const gone = await s.mail.readBytes(inbox.id, uid).then(
              () => false,
              (e: unknown) => isStoreError(e, 'NOT_FOUND'),
            );
            const reader = open(inbox.id, uid);
            reader?.close();
            assert.equal(reader === null, gone);
          }
          assert.equal(open(inbox.id, 999), null);
        }),
      );
    });
  });
}

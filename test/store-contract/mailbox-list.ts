/**
 * The MailStore contract, mailbox list events (subscribeMailboxList): every change of the mailbox list or
 * subscriptions is announced once, after its commit, with its origin; renaming INBOX is a create; a
 * subscription that does not change, a failed change and another user's change announce nothing; the
 * unsubscribe function stops them. Part of runMailContract (mail.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MailboxListEvent } from '../../src/store/types.js';
import { eventually, rejectsWith } from '../helpers/store.js';
import { storeRunner, type StoreFactory } from './harness.js';

/** The fields a listener relies on (a backend may add its own). */
function plain(ev: MailboxListEvent): MailboxListEvent {
  const out: MailboxListEvent = { userId: ev.userId, kind: ev.kind, name: ev.name, origin: ev.origin };
  if (ev.oldName !== undefined) out.oldName = ev.oldName;
  return out;
}

export function runMailboxListContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`MailStore contract: ${name}: mailbox list events`, () => {
    test(
      'create, subscribe, rename, unsubscribe, delete and INBOX rename, each once with its origin',
      withStore(async (s, user) => {
        const heard: MailboxListEvent[] = [];
        const off = s.mail.subscribeMailboxList(user.id, (ev) => heard.push(plain(ev)));
        const bob = await s.directory.createUser('bob@example.org', '$test$hash');
        const bobHeard: MailboxListEvent[] = [];
        const offBob = s.mail.subscribeMailboxList(bob.id, (ev) => bobHeard.push(plain(ev)));
        const u = user.id;
        await s.mail.createMailbox(u, 'Work', { origin: 'session-1' });
        await s.mail.createMailbox(u, 'Work/Sub');
        await s.mail.setSubscribed(u, 'Work', true, { origin: 'session-2' });
        await s.mail.setSubscribed(u, 'Work', true); // no change: nothing
        await s.mail.renameMailbox(u, 'Work', 'Job', { origin: 'x'.repeat(65) }); // too long: no origin
        await s.mail.setSubscribed(u, 'Job', false);
        await s.mail.setSubscribed(u, 'Never', false); // no change: nothing
        await s.mail.deleteMailbox(u, 'Job/Sub');
        await s.mail.renameMailbox(u, 'INBOX', 'Old');
        // Failed changes announce nothing.
        await rejectsWith(s.mail.createMailbox(u, 'Job'), 'EXISTS');
        await rejectsWith(s.mail.deleteMailbox(u, 'Nope'), 'NOT_FOUND');
        await rejectsWith(s.mail.renameMailbox(u, 'Nope', 'Nada'), 'NOT_FOUND');
        await s.mail.createMailbox(bob.id, 'Bobs');
        const want: MailboxListEvent[] = [
          { userId: u, kind: 'create', name: 'Work', origin: 'session-1' },
          { userId: u, kind: 'create', name: 'Work/Sub', origin: null },
          { userId: u, kind: 'subscribe', name: 'Work', origin: 'session-2' },
          // The subscription moved with the mailbox: the rename says so, no subscribe/unsubscribe of its own.
          { userId: u, kind: 'rename', name: 'Job', oldName: 'Work', origin: null },
          { userId: u, kind: 'unsubscribe', name: 'Job', origin: null },
          { userId: u, kind: 'delete', name: 'Job/Sub', origin: null },
          { userId: u, kind: 'create', name: 'Old', origin: null },
        ];
        await eventually(() => heard.length >= want.length && bobHeard.length >= 1, 'the events');
        assert.deepEqual(heard, want);
        assert.deepEqual(bobHeard, [{ userId: bob.id, kind: 'create', name: 'Bobs', origin: null }]);
        off();
        off();
        await s.mail.createMailbox(u, 'After');
        await s.mail.createMailbox(bob.id, 'Bobs2');
        await eventually(() => bobHeard.length === 2, 'bob hears his second mailbox');
        assert.equal(heard.length, want.length, 'nothing after unsubscribing');
        offBob();
      }),
    );

    test(
      'a special use set, moved or cleared is announced once with its origin; no change announces nothing',
      withStore(async (s, user) => {
        const u = user.id;
        const heard: MailboxListEvent[] = [];
        const off = s.mail.subscribeMailboxList(u, (ev) => heard.push(plain(ev)));
        const spam = await s.mail.createMailbox(u, 'Filtered');
        const junk = await s.mail.createMailbox(u, 'Bulk', { specialUse: '\\Junk' });
        await s.mail.setSpecialUse(spam.id, '\\Junk', { origin: 'jmap-1' });
        await s.mail.setSpecialUse(spam.id, '\\Junk'); // no change: nothing
        await s.mail.setSpecialUse(junk.id, null);
        await s.mail.setSpecialUse(junk.id, null); // no change: nothing
        await rejectsWith(s.mail.setSpecialUse(junk.id + spam.id + 1000, '\\Sent'), 'NOT_FOUND');
        const want: MailboxListEvent[] = [
          { userId: u, kind: 'create', name: 'Filtered', origin: null },
          { userId: u, kind: 'create', name: 'Bulk', origin: null },
          { userId: u, kind: 'special-use', name: 'Filtered', origin: 'jmap-1' },
          { userId: u, kind: 'special-use', name: 'Bulk', origin: null },
        ];
        await eventually(() => heard.length >= want.length, 'the events');
        assert.deepEqual(heard, want);
        const boxes = await s.mail.listMailboxes(u);
        assert.equal(boxes.find((b) => b.name === 'Filtered')?.specialUse, '\\Junk');
        assert.equal(boxes.find((b) => b.name === 'Bulk')?.specialUse, null);
        off();
      }),
    );
  });
}

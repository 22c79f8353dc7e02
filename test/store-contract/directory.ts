/**
 * The Directory contract (src/store/directory.ts): users with their credentials and default mailboxes,
 * domains and aliases. Every backend runs it (see sqlite.test.ts, postgres.test.ts here).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rejectsWith, sampleMessage } from '../helpers/store.js';
import { isAdmin } from '../../src/store/directory.js';
import { ID_RE, storeRunner, type StoreFactory } from './harness.js';

export function runDirectoryContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`Directory contract: ${name}`, () => {
    // ------------------------------------------------------------------------------------------------
    describe('users, domains, aliases', () => {
      test(
        'createUser lowercases, creates the default mailboxes with special-use, and subscribes them',
        withStore(async (s, user) => {
          assert.equal(user.address, 'alice@example.org');
          assert.equal(user.passwordHash, '$test$hash');
          assert.ok(user.createdAt instanceof Date && !Number.isNaN(user.createdAt.getTime()));
          const boxes = await s.mail.listMailboxes(user.id);
          const byName = new Map(boxes.map((b) => [b.name, b]));
          assert.deepEqual([...byName.keys()].sort(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
          assert.equal(boxes[0]!.name, 'INBOX', 'INBOX is listed first');
          assert.equal(byName.get('INBOX')!.specialUse, null);
          assert.equal(byName.get('Sent')!.specialUse, '\\Sent');
          assert.equal(byName.get('Drafts')!.specialUse, '\\Drafts');
          assert.equal(byName.get('Trash')!.specialUse, '\\Trash');
          assert.equal(byName.get('Junk')!.specialUse, '\\Junk');
          assert.equal(byName.get('Archive')!.specialUse, '\\Archive');
          for (const b of boxes) {
            assert.equal(b.userId, user.id);
            assert.equal(b.uidNext, 1);
            assert.ok(b.uidValidity > 0 && b.uidValidity <= 0xffffffff);
            assert.ok(b.highestModseq >= 1);
            assert.match(b.mailboxObjectId, ID_RE);
            assert.equal(b.subscribed, true);
          }
          assert.equal(new Set(boxes.map((b) => b.uidValidity)).size, boxes.length, 'UIDVALIDITY unique per mailbox');
          assert.equal(new Set(boxes.map((b) => b.mailboxObjectId)).size, boxes.length, 'MAILBOXID unique');
          assert.deepEqual((await s.mail.listSubscriptions(user.id)).sort(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
        }),
      );

      test(
        'createUser EXISTS (case-insensitive), lookups, listUsers, INVALID address',
        withStore(async (s, user) => {
          await rejectsWith(s.directory.createUser('ALICE@example.org', 'x'), 'EXISTS');
          await rejectsWith(s.directory.createUser('', 'x'), 'INVALID');
          await rejectsWith(s.directory.createUser('a b@example.org', 'x'), 'INVALID');
          assert.equal((await s.directory.getUser('Alice@Example.ORG'))?.id, user.id);
          assert.equal((await s.directory.getUserById(user.id))?.address, 'alice@example.org');
          assert.equal(await s.directory.getUser('nobody@example.org'), null);
          assert.equal(await s.directory.getUserById(user.id + 1000), null);
          const bob = await s.directory.createUser('bob@example.org', 'h2');
          assert.notEqual(bob.id, user.id);
          assert.deepEqual((await s.directory.listUsers()).map((u) => u.address), ['alice@example.org', 'bob@example.org']);
        }),
      );

      test(
        'setPasswordHash and its NOT_FOUND',
        withStore(async (s) => {
          await s.directory.setPasswordHash('ALICE@example.org', '$new$');
          assert.equal((await s.directory.getUser('alice@example.org'))?.passwordHash, '$new$');
          await rejectsWith(s.directory.setPasswordHash('nobody@example.org', 'x'), 'NOT_FOUND');
        }),
      );

      test(
        'setAdmin grants and takes the administrator role; new users are not admins; NOT_FOUND',
        withStore(async (s) => {
          assert.equal(isAdmin(await s.directory.getUser('alice@example.org')), false);
          await s.directory.setAdmin('ALICE@example.org', true);
          assert.equal(isAdmin(await s.directory.getUser('alice@example.org')), true);
          assert.equal((await s.directory.listUsers()).find((u) => u.address === 'alice@example.org')?.admin, true);
          await s.directory.setAdmin('alice@example.org', false);
          assert.equal(isAdmin(await s.directory.getUser('alice@example.org')), false);
          await rejectsWith(s.directory.setAdmin('nobody@example.org', true), 'NOT_FOUND');
        }),
      );

      test(
        'deleteUser removes the user and their mail; NOT_FOUND after',
        withStore(async (s, user, inbox) => {
          await s.mail.append(inbox.id, sampleMessage(1));
          await s.directory.deleteUser('alice@example.org');
          assert.equal(await s.directory.getUser('alice@example.org'), null);
          assert.equal(await s.mail.getMailboxById(inbox.id), null);
          assert.deepEqual(await s.mail.listMailboxes(user.id), []);
          await rejectsWith(s.mail.readBytes(inbox.id, 1), 'NOT_FOUND');
          await rejectsWith(s.directory.deleteUser('alice@example.org'), 'NOT_FOUND');
          // The address can be created again, as a new user with new mailboxes.
          const again = await s.directory.createUser('alice@example.org', 'x');
          assert.notEqual(again.id, user.id);
          const inbox2 = await s.mail.getMailbox(again.id, 'INBOX');
          assert.ok(inbox2);
          assert.notEqual(inbox2.id, inbox.id);
          assert.deepEqual(await s.mail.listMessages(inbox2.id), []);
        }),
      );

      test(
        'domains: lowercased, idempotent, case-insensitive lookup',
        withStore(async (s) => {
          assert.deepEqual(await s.directory.listDomains(), []);
          await s.directory.addDomain('Example.ORG');
          await s.directory.addDomain('example.org');
          await s.directory.addDomain('b.example');
          assert.deepEqual(await s.directory.listDomains(), ['b.example', 'example.org']);
          assert.equal(await s.directory.hasDomain('EXAMPLE.org'), true);
          assert.equal(await s.directory.hasDomain('example.com'), false);
          await rejectsWith(s.directory.addDomain(''), 'INVALID');
        }),
      );

      test(
        'aliases: add (replaces an existing source), catch-all, list, remove, NOT_FOUND',
        withStore(async (s) => {
          await s.directory.addAlias('Postmaster@example.org', 'alice@example.org');
          await s.directory.addAlias('@example.org', 'alice@example.org');
          await s.directory.addAlias('postmaster@example.org', 'bob@example.org');
          assert.deepEqual(await s.directory.listAliases(), [
            { from: '@example.org', to: 'alice@example.org' },
            { from: 'postmaster@example.org', to: 'bob@example.org' },
          ]);
          await s.directory.removeAlias('POSTMASTER@example.org');
          assert.deepEqual(await s.directory.listAliases(), [{ from: '@example.org', to: 'alice@example.org' }]);
          await rejectsWith(s.directory.removeAlias('postmaster@example.org'), 'NOT_FOUND');
        }),
      );
    });
  });
}

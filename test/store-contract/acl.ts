/**
 * The AclStore contract (src/store/acl.ts): entries per mailbox with canonical rights (obsolete "c"/"d"
 * expanded, unknown letters INVALID), empty rights remove, identifiers lower-cased (a user that does not
 * exist may be named), sharedWith lists other owners' mailboxes naming the user, anyone or authenticated
 * (never the user's own, never deleted mailboxes), private \Seen per user, the public owner made once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rejectsWith } from '../helpers/store.js';
import { storeRunner, type StoreFactory } from './harness.js';
import { canonicalRights, effectiveRights, wireRights } from '../../src/store/acl.js';

export function runAclContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`AclStore contract: ${name}`, () => {
    test(
      'set, list, replace, remove; canonical rights; bad input refused',
      withStore(async (s, alice) => {
        const projects = await s.mail.createMailbox(alice.id, 'Projects');
        assert.deepEqual(await s.acl.list(projects.id), []);
        await s.acl.set(projects.id, 'Bob@Example.org', 'rl');
        await s.acl.set(projects.id, 'anyone', 'c');
        await s.acl.set(projects.id, 'ghost@nowhere.example', 'lr');
        assert.deepEqual(await s.acl.list(projects.id), [
          { identifier: 'anyone', rights: 'kx' },
          { identifier: 'bob@example.org', rights: 'lr' },
          { identifier: 'ghost@nowhere.example', rights: 'lr' },
        ]);
        await s.acl.set(projects.id, 'bob@example.org', 'lrswid');
        assert.equal((await s.acl.list(projects.id)).find((e) => e.identifier === 'bob@example.org')?.rights, 'lrwstie');
        await s.acl.set(projects.id, 'ghost@nowhere.example', '');
        assert.equal(await s.acl.remove(projects.id, 'ANYONE'), true);
        assert.equal(await s.acl.remove(projects.id, 'anyone'), false);
        assert.deepEqual(await s.acl.list(projects.id), [{ identifier: 'bob@example.org', rights: 'lrwstie' }]);
        await rejectsWith(s.acl.set(projects.id, 'bob@example.org', 'lrz'), 'INVALID');
        await rejectsWith(s.acl.set(projects.id, '', 'lr'), 'INVALID');
        await rejectsWith(s.acl.set(999_999, 'bob@example.org', 'lr'), 'NOT_FOUND');
        await rejectsWith(s.acl.list(999_999), 'NOT_FOUND');
        await rejectsWith(s.acl.remove(999_999, 'bob@example.org'), 'NOT_FOUND');
      }),
    );

    test(
      'sharedWith: other owners only, matching identifiers, deleted mailboxes gone',
      withStore(async (s, alice) => {
        const bob = await s.directory.createUser('bob@example.org', '$test$hash');
        const projects = await s.mail.createMailbox(alice.id, 'Projects');
        const notes = await s.mail.createMailbox(alice.id, 'Notes');
        const bobs = await s.mail.getMailbox(bob.id, 'INBOX');
        await s.acl.set(projects.id, 'bob@example.org', 'lr');
        await s.acl.set(projects.id, 'anyone', 'l');
        await s.acl.set(notes.id, 'authenticated', 'lrs');
        await s.acl.set(bobs!.id, 'anyone', 'lr');
        const seen = await s.acl.sharedWith(bob.id, ['bob@example.org', 'anyone', 'authenticated']);
        assert.deepEqual(
          seen.map((m) => [m.ownerAddress, m.mailbox.name, m.ownerId, m.entries.map((e) => `${e.identifier}=${e.rights}`)]),
          [
            ['alice@example.org', 'Notes', alice.id, ['authenticated=lrs']],
            ['alice@example.org', 'Projects', alice.id, ['anyone=l', 'bob@example.org=lr']],
          ],
        );
        assert.equal(seen[1]!.mailbox.id, projects.id);
        assert.deepEqual(
          (await s.acl.sharedWith(alice.id, ['alice@example.org', 'anyone'])).map((m) => m.mailbox.name),
          ['INBOX'],
        );
        await s.mail.deleteMailbox(alice.id, 'Notes');
        assert.deepEqual(
          (await s.acl.sharedWith(bob.id, ['bob@example.org', 'anyone', 'authenticated'])).map((m) => m.mailbox.name),
          ['Projects'],
        );
        assert.deepEqual(await s.acl.sharedWith(bob.id, []), []);
      }),
    );

    test(
      'private seen per user and mailbox',
      withStore(async (s, alice) => {
        const bob = await s.directory.createUser('bob@example.org', '$test$hash');
        const projects = await s.mail.createMailbox(alice.id, 'Projects');
        await s.acl.setSeen(projects.id, bob.id, [3, 1, 2], true);
        await s.acl.setSeen(projects.id, bob.id, [2], true);
        await s.acl.setSeen(projects.id, alice.id, [7], true);
        assert.deepEqual(await s.acl.seenUids(projects.id, bob.id), [1, 2, 3]);
        await s.acl.setSeen(projects.id, bob.id, [2, 9], false);
        assert.deepEqual(await s.acl.seenUids(projects.id, bob.id), [1, 3]);
        assert.deepEqual(await s.acl.seenUids(projects.id, alice.id), [7]);
        await s.acl.setSeen(projects.id, bob.id, [], true);
        assert.deepEqual(await s.acl.seenUids(projects.id, bob.id), [1, 3]);
      }),
    );

    test(
      'the public owner is made once and owns mailboxes',
      withStore(async (s) => {
        const id = await s.acl.publicOwner();
        assert.equal(await s.acl.publicOwner(), id);
        const box = await s.mail.createMailbox(id, 'Announcements');
        await s.acl.set(box.id, 'anyone', 'lr');
        assert.equal((await s.mail.getMailbox(id, 'Announcements'))?.id, box.id);
        const r = await s.mail.append(box.id, Buffer.from('Subject: hello\r\n\r\nall\r\n'));
        assert.equal(r.uid, 1);
        assert.equal((await s.mail.status(box.id)).messages, 1);
        assert.equal(await s.directory.getUser('#public').then((u) => u?.id), id);
      }),
    );

    test('rights helpers: canonical order, obsolete letters, effective rights', () => {
      assert.equal(canonicalRights('aedca'), 'tekxa');
      assert.equal(canonicalRights('lrswipkxtea'), 'lrwstipekxa');
      assert.equal(canonicalRights('c'), 'kx');
      assert.equal(canonicalRights('d'), 'te');
      assert.equal(canonicalRights(''), '');
      assert.equal(canonicalRights('lrZ'), null);
      assert.equal(wireRights('lrwstipekxa'), 'lrwstipekxacd');
      assert.equal(wireRights('lr'), 'lr');
      assert.equal(wireRights('lrk'), 'lrkc');
      const entries = [
        { identifier: 'anyone', rights: 'l' },
        { identifier: 'authenticated', rights: 'r' },
        { identifier: 'bob@example.org', rights: 'ls' },
      ];
      assert.equal(effectiveRights(entries, 'carol@example.org'), 'lr');
      assert.equal(effectiveRights(entries, 'Bob@Example.org'), 'ls');
      assert.equal(effectiveRights([], 'bob@example.org'), '');
    });
  });
}

/**
 * The MailStore contract, mailboxes (src/store/mail.ts): create, look up, delete, rename (INBOX too),
 * subscriptions, special use, STATUS and \Recent. Part of runMailContract (mail.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChangeEvent } from '../../src/store/types.js';
import { eventually, rejectsWith, sampleMessage } from '../helpers/store.js';
import { ID_RE, storeRunner, type StoreFactory } from './harness.js';

export function runMailboxContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`MailStore contract: ${name}`, () => {
    // ------------------------------------------------------------------------------------------------
    describe('mailboxes', () => {
      test(
        'createMailbox, getMailbox (INBOX case-insensitive), getMailboxById, EXISTS, NOT_FOUND user',
        withStore(async (s, user, inbox) => {
          const work = await s.mail.createMailbox(user.id, 'Work');
          assert.equal(work.name, 'Work');
          assert.equal(work.uidNext, 1);
          assert.equal(work.specialUse, null);
          assert.equal(work.subscribed, false);
          assert.match(work.mailboxObjectId, ID_RE);
          const child = await s.mail.createMailbox(user.id, 'Work/Projects', { specialUse: '\\Flagged' });
          assert.equal(child.specialUse, '\\Flagged');
          assert.equal((await s.mail.getMailbox(user.id, 'inbox'))?.id, inbox.id);
          assert.equal((await s.mail.getMailbox(user.id, 'InBoX'))?.name, 'INBOX');
          assert.equal((await s.mail.getMailbox(user.id, 'work')), null, 'other names are case-sensitive');
          assert.deepEqual(await s.mail.getMailboxById(work.id), work);
          assert.equal(await s.mail.getMailboxById(work.id + 10000), null);
          assert.equal(await s.mail.getMailbox(user.id, 'Nope'), null);
          await rejectsWith(s.mail.createMailbox(user.id, 'Work'), 'EXISTS');
          await rejectsWith(s.mail.createMailbox(user.id, 'inbox'), 'EXISTS');
          await rejectsWith(s.mail.createMailbox(user.id + 10000, 'X'), 'NOT_FOUND');
          // "inbox/x" is stored under INBOX.
          const sub = await s.mail.createMailbox(user.id, 'inbox/Sub');
          assert.equal(sub.name, 'INBOX/Sub');
          // Parents are not created.
          await s.mail.createMailbox(user.id, 'A/B/C');
          assert.equal(await s.mail.getMailbox(user.id, 'A'), null);
          // A name with non-ASCII characters is kept as given.
          const uni = await s.mail.createMailbox(user.id, 'Entwürfe/日本');
          assert.equal((await s.mail.getMailbox(user.id, 'Entwürfe/日本'))?.id, uni.id);
        }),
      );

      test(
        'createMailbox INVALID names',
        withStore(async (s, user) => {
          for (const bad of ['', '/', 'a/', '/a', 'a//b', 'a*', 'b%', 'tab\there', 'nul\u0000', 'x'.repeat(5000)]) {
            await rejectsWith(s.mail.createMailbox(user.id, bad), 'INVALID');
          }
          await rejectsWith(s.mail.createMailbox(user.id, 'X', { specialUse: '\\Bogus' as '\\All' }), 'INVALID');
        }),
      );

      test(
        'UIDVALIDITY and MAILBOXID differ when a mailbox is deleted and created again',
        withStore(async (s, user) => {
          const a = await s.mail.createMailbox(user.id, 'Again');
          await s.mail.deleteMailbox(user.id, 'Again');
          const b = await s.mail.createMailbox(user.id, 'Again');
          assert.notEqual(a.uidValidity, b.uidValidity);
          assert.notEqual(a.mailboxObjectId, b.mailboxObjectId);
          assert.notEqual(a.id, b.id, 'mailbox ids are never reused');
        }),
      );

      test(
        'deleteMailbox: NOT_FOUND, NO_PERM for INBOX, HAS_CHILDREN, messages go, subscribers woken',
        withStore(async (s, user) => {
          await rejectsWith(s.mail.deleteMailbox(user.id, 'Nope'), 'NOT_FOUND');
          await rejectsWith(s.mail.deleteMailbox(user.id, 'INBOX'), 'NO_PERM');
          await rejectsWith(s.mail.deleteMailbox(user.id, 'inbox'), 'NO_PERM');
          const parent = await s.mail.createMailbox(user.id, 'P');
          const child = await s.mail.createMailbox(user.id, 'P/C');
          await rejectsWith(s.mail.deleteMailbox(user.id, 'P'), 'HAS_CHILDREN');
          await s.mail.append(child.id, sampleMessage(1));
          const events: ChangeEvent[] = [];
          const off = s.mail.subscribe(child.id, (ev) => events.push(ev));
          await s.mail.deleteMailbox(user.id, 'P/C');
          await eventually(() => events.length > 0, 'delete wake-up');
          off();
          assert.equal(await s.mail.getMailboxById(child.id), null);
          await rejectsWith(s.mail.readBytes(child.id, 1), 'NOT_FOUND');
          await rejectsWith(s.mail.status(child.id), 'NOT_FOUND');
          await s.mail.deleteMailbox(user.id, 'P');
          assert.equal(await s.mail.getMailbox(user.id, 'P'), null);
          assert.equal(await s.mail.getMailboxById(parent.id), null);
          // A "P2" sibling is not a child of "P".
          await s.mail.createMailbox(user.id, 'Q');
          await s.mail.createMailbox(user.id, 'Q2');
          await s.mail.deleteMailbox(user.id, 'Q');
          assert.ok(await s.mail.getMailbox(user.id, 'Q2'));
        }),
      );

      test(
        'renameMailbox moves children, keeps ids, UIDVALIDITY and messages',
        withStore(async (s, user) => {
          const a = await s.mail.createMailbox(user.id, 'A');
          const ab = await s.mail.createMailbox(user.id, 'A/B');
          const abc = await s.mail.createMailbox(user.id, 'A/B/C');
          const ax = await s.mail.createMailbox(user.id, 'AX');
          await s.mail.append(ab.id, sampleMessage(1));
          await s.mail.setSubscribed(user.id, 'A/B', true);
          await s.mail.renameMailbox(user.id, 'A', 'Z/Y');
          assert.equal(await s.mail.getMailbox(user.id, 'A'), null);
          assert.equal(await s.mail.getMailbox(user.id, 'A/B'), null);
          const z = await s.mail.getMailbox(user.id, 'Z/Y');
          const zb = await s.mail.getMailbox(user.id, 'Z/Y/B');
          const zbc = await s.mail.getMailbox(user.id, 'Z/Y/B/C');
          assert.equal(z?.id, a.id);
          assert.equal(zb?.id, ab.id);
          assert.equal(zbc?.id, abc.id);
          assert.equal(zb?.uidValidity, ab.uidValidity);
          assert.equal(zb?.mailboxObjectId, ab.mailboxObjectId);
          assert.equal((await s.mail.getMailbox(user.id, 'AX'))?.id, ax.id, 'AX is not a child of A');
          assert.equal((await s.mail.listMessages(ab.id)).length, 1);
          assert.equal(zb?.subscribed, true, 'subscription follows the rename');
          assert.ok((await s.mail.listSubscriptions(user.id)).includes('Z/Y/B'));
        }),
      );

      test(
        'names with characters outside the BMP: HAS_CHILDREN, rename moves the children, siblings stay',
        withStore(async (s, user) => {
          // '\u{1F600}' is one character, two UTF-16 code units and four UTF-8 octets.
          const top = await s.mail.createMailbox(user.id, '\u{1F600}');
          const child = await s.mail.createMailbox(user.id, '\u{1F600}/child');
          const deep = await s.mail.createMailbox(user.id, '\u{1F600}/child/\u{1D11E}');
          const sibling = await s.mail.createMailbox(user.id, '\u{1F600}x');
          await rejectsWith(s.mail.deleteMailbox(user.id, '\u{1F600}'), 'HAS_CHILDREN');
          await s.mail.renameMailbox(user.id, '\u{1F600}', 'a\u{1D11E}b/\u65b0');
          assert.equal((await s.mail.getMailbox(user.id, 'a\u{1D11E}b/\u65b0'))?.id, top.id);
          assert.equal((await s.mail.getMailbox(user.id, 'a\u{1D11E}b/\u65b0/child'))?.id, child.id);
          assert.equal((await s.mail.getMailbox(user.id, 'a\u{1D11E}b/\u65b0/child/\u{1D11E}'))?.id, deep.id);
          assert.equal(await s.mail.getMailbox(user.id, '\u{1F600}/child'), null, 'no child left behind');
          assert.equal((await s.mail.getMailbox(user.id, '\u{1F600}x'))?.id, sibling.id, 'a sibling is not a child');
          // And back to a plain ASCII name (the prefix shrinks by several code units).
          await s.mail.renameMailbox(user.id, 'a\u{1D11E}b/\u65b0', 'Plain');
          assert.equal((await s.mail.getMailbox(user.id, 'Plain/child/\u{1D11E}'))?.id, deep.id);
          await rejectsWith(s.mail.deleteMailbox(user.id, 'Plain/child'), 'HAS_CHILDREN');
          await s.mail.deleteMailbox(user.id, 'Plain/child/\u{1D11E}');
          await s.mail.deleteMailbox(user.id, 'Plain/child');
          await s.mail.deleteMailbox(user.id, 'Plain');
          await s.mail.deleteMailbox(user.id, '\u{1F600}x');
        }),
      );

      test(
        'renameMailbox errors: NOT_FOUND, EXISTS (target or a child target), INVALID (into itself, bad name)',
        withStore(async (s, user) => {
          await s.mail.createMailbox(user.id, 'A');
          await s.mail.createMailbox(user.id, 'A/B');
          await s.mail.createMailbox(user.id, 'B');
          await s.mail.createMailbox(user.id, 'C/B');
          await rejectsWith(s.mail.renameMailbox(user.id, 'Nope', 'X'), 'NOT_FOUND');
          await rejectsWith(s.mail.renameMailbox(user.id, 'A', 'B'), 'EXISTS');
          await rejectsWith(s.mail.renameMailbox(user.id, 'A', 'INBOX'), 'EXISTS');
          await rejectsWith(s.mail.renameMailbox(user.id, 'A', 'C'), 'EXISTS'); // A/B -> C/B exists
          await rejectsWith(s.mail.renameMailbox(user.id, 'A', 'A/B/X'), 'INVALID');
          await rejectsWith(s.mail.renameMailbox(user.id, 'A', 'bad//name'), 'INVALID');
          // Nothing moved after the failures.
          assert.ok(await s.mail.getMailbox(user.id, 'A'));
          assert.ok(await s.mail.getMailbox(user.id, 'A/B'));
          assert.equal(await s.mail.getMailbox(user.id, 'C'), null);
        }),
      );

      test(
        'renaming INBOX moves its messages to a new mailbox and leaves INBOX empty; its children stay',
        withStore(async (s, user, inbox) => {
          const r1 = await s.mail.append(inbox.id, sampleMessage(1), { flags: ['\\Seen', 'Work'] });
          const r2 = await s.mail.append(inbox.id, sampleMessage(2));
          await s.mail.createMailbox(user.id, 'INBOX/Child');
          const before = await s.mail.status(inbox.id);
          await s.mail.renameMailbox(user.id, 'inbox', 'Old Inbox');
          const old = await s.mail.getMailbox(user.id, 'Old Inbox');
          assert.ok(old);
          assert.notEqual(old.id, inbox.id);
          const moved = await s.mail.listMessages(old.id);
          assert.deepEqual(moved.map((m) => m.emailId), [r1.emailId, r2.emailId]);
          assert.deepEqual(moved[0]!.flags.sort(), ['Work', '\\Seen'].sort());
          const now = await s.mail.getMailbox(user.id, 'INBOX');
          assert.equal(now?.id, inbox.id, 'INBOX stays the same mailbox');
          assert.deepEqual(await s.mail.listMessages(inbox.id), []);
          const st = await s.mail.status(inbox.id);
          assert.equal(st.messages, 0);
          assert.equal(st.uidValidity, before.uidValidity);
          assert.ok(st.uidNext >= before.uidNext, 'UIDs are not reused');
          assert.ok(st.highestModseq > before.highestModseq);
          const ch = await s.mail.changesSince(inbox.id, before.highestModseq);
          assert.deepEqual(ch.expunged, [r1.uid, r2.uid]);
          assert.ok(await s.mail.getMailbox(user.id, 'INBOX/Child'));
          assert.equal(await s.mail.getMailbox(user.id, 'Old Inbox/Child'), null);
          // The readers still get the bytes through the new mailbox.
          const raw = await s.mail.readBytes(old.id, moved[0]!.uid);
          assert.ok(raw.includes(Buffer.from('Subject: Message 1')));
          // Renaming INBOX into its own hierarchy is allowed (the messages move, INBOX stays).
          const r3 = await s.mail.append(inbox.id, sampleMessage(3));
          await s.mail.renameMailbox(user.id, 'INBOX', 'INBOX/Saved');
          const saved = await s.mail.getMailbox(user.id, 'INBOX/Saved');
          assert.ok(saved);
          assert.deepEqual((await s.mail.listMessages(saved.id)).map((m) => m.emailId), [r3.emailId]);
          assert.deepEqual(await s.mail.listMessages(inbox.id), []);
          await rejectsWith(s.mail.renameMailbox(user.id, 'INBOX', 'Old Inbox'), 'EXISTS');
        }),
      );

      test(
        'subscriptions are by name, may name missing mailboxes, and are reflected in Mailbox.subscribed',
        withStore(async (s, user) => {
          const w = await s.mail.createMailbox(user.id, 'W');
          await s.mail.setSubscribed(user.id, 'W', true);
          await s.mail.setSubscribed(user.id, 'W', true);
          await s.mail.setSubscribed(user.id, 'Ghost/Box', true);
          await s.mail.setSubscribed(user.id, 'Junk', false);
          const subs = await s.mail.listSubscriptions(user.id);
          assert.ok(subs.includes('W') && subs.includes('Ghost/Box'));
          assert.ok(!subs.includes('Junk'));
          assert.equal((await s.mail.getMailboxById(w.id))?.subscribed, true);
          assert.equal((await s.mail.getMailbox(user.id, 'Junk'))?.subscribed, false);
          await s.mail.setSubscribed(user.id, 'inbox', false);
          assert.ok(!(await s.mail.listSubscriptions(user.id)).includes('INBOX'));
          await rejectsWith(s.mail.setSubscribed(user.id, 'a//b', true), 'INVALID');
        }),
      );

      test(
        'setSpecialUse sets and clears; NOT_FOUND; INVALID',
        withStore(async (s, user) => {
          const m = await s.mail.createMailbox(user.id, 'Everything');
          await s.mail.setSpecialUse(m.id, '\\All');
          assert.equal((await s.mail.getMailboxById(m.id))?.specialUse, '\\All');
          await s.mail.setSpecialUse(m.id, null);
          assert.equal((await s.mail.getMailboxById(m.id))?.specialUse, null);
          await rejectsWith(s.mail.setSpecialUse(m.id + 10000, '\\All'), 'NOT_FOUND');
          await rejectsWith(s.mail.setSpecialUse(m.id, '\\Nope' as '\\All'), 'INVALID');
        }),
      );

      test(
        'status counts messages, unseen, deleted, size, recent; claimRecent hands each message to one claimer',
        withStore(async (s, _user, inbox) => {
          const a = sampleMessage(1);
          const b = sampleMessage(2);
          const c = sampleMessage(3);
          await s.mail.append(inbox.id, a, { flags: ['\\Seen'] });
          await s.mail.append(inbox.id, b, { flags: ['\\Deleted'] });
          let st = await s.mail.status(inbox.id);
          assert.equal(st.messages, 2);
          assert.equal(st.unseen, 1);
          assert.equal(st.deleted, 1);
          assert.equal(st.size, a.length + b.length);
          assert.equal(st.recent, 2);
          assert.equal(st.uidNext, 3);
          assert.equal(st.uidValidity, inbox.uidValidity);
          assert.equal(await s.mail.claimRecent(inbox.id), 1);
          assert.equal(await s.mail.claimRecent(inbox.id), 3, 'second claimer sees nothing recent');
          st = await s.mail.status(inbox.id);
          assert.equal(st.recent, 0);
          await s.mail.append(inbox.id, c);
          st = await s.mail.status(inbox.id);
          assert.equal(st.recent, 1);
          assert.equal(st.messages, 3);
          assert.equal(st.size, a.length + b.length + c.length);
          assert.equal(await s.mail.claimRecent(inbox.id), 3);
          await rejectsWith(s.mail.status(inbox.id + 10000), 'NOT_FOUND');
          await rejectsWith(s.mail.claimRecent(inbox.id + 10000), 'NOT_FOUND');
        }),
      );
    });
  });
}

/**
 * The MailStore conformance suite. Every store implementation runs it:
 *
 *   runStoreContract('sqlite', async () => ({ store, cleanup }));
 *
 * It registers node:test tests. Each test gets a fresh, empty store from the factory and calls cleanup()
 * (which must close the store, tolerate it being closed already, and remove its data) when done.
 * Implementation-neutral: only the MailStore
 * interface is used; no SQL, no file paths.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MAX_MESSAGE_SIZE } from '../lib/limits.js';
import { envelopeImapText } from '../mime/envelope-text.js';
import type { ChangeEvent, MailStore, Mailbox, MessageEnvelopeRecord, MessageHeaderRecord, MessageRecord, StoreErrorCode, User } from './types.js';
import { isStoreError } from './types.js';

export type StoreFactory = () => Promise<{ store: MailStore; cleanup(): Promise<void> }>;

const ID_RE = /^[A-Za-z0-9_-]{1,255}$/;

/** A small RFC 5322 message with CRLF line endings. */
export function sampleMessage(n: number, opts: { subject?: string; body?: string; headers?: string } = {}): Buffer {
  const subject = opts.subject ?? `Message ${n}`;
  const body = opts.body ?? `Hello number ${n}.\r\nSecond line.\r\n`;
  return Buffer.from(
    `From: Sender <sender@example.org>\r\nTo: rcpt@example.org\r\nSubject: ${subject}\r\n` +
      `Message-ID: <m${n}.${Math.random().toString(36).slice(2)}@example.org>\r\n` +
      `Date: Mon, 02 Jan 2023 10:00:00 +0000\r\n${opts.headers ?? ''}\r\n${body}`,
    'utf8',
  );
}

async function rejectsWith(p: Promise<unknown>, code: StoreErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isStoreError(e), `expected StoreError ${code}, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

/** Polls `fn` until it returns true (for wake-ups that may arrive asynchronously, e.g. through NOTIFY). */
async function eventually(fn: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** A message whose header block (about 21 KiB) is larger than a store may keep beside the blob. */
export function bigHeaderMessage(n: number): Buffer {
  const filler = Array.from({ length: 250 }, (_, i) => `X-Filler-${i}: ${'y'.repeat(70)}\r\n`).join('');
  return sampleMessage(n, { subject: `Big header ${n}`, headers: filler });
}

/**
 * getHeaders (when the store has it) must give, for the messages getMessages finds (same UIDs, same order),
 * as header exactly readMessage(0 .. index.root.headerEnd). Returns how many records there were.
 */
export async function assertHeadersMatch(s: MailStore, mailboxId: number, uids: number[], why: string): Promise<number> {
  if (!s.getHeaders) return 0;
  const recs = await collect<MessageRecord>(s.getMessages(mailboxId, uids));
  const heads = await collect<MessageHeaderRecord>(s.getHeaders(mailboxId, uids));
  assert.deepEqual(
    heads.map((h) => h.uid),
    recs.map((r) => r.uid),
    `${why}: the messages getMessages finds`,
  );
  for (let i = 0; i < recs.length; i++) {
    const { uid, index } = recs[i]!;
    const header = heads[i]!.header;
    assert.ok(Buffer.isBuffer(header), `${why}: uid ${uid} header is a Buffer`);
    const want = await s.readMessage(mailboxId, uid, { start: 0, end: index.root.headerEnd });
    assert.ok(header.equals(want), `${why}: uid ${uid} header is bytes 0..${index.root.headerEnd} (got ${header.length} bytes)`);
  }
  return heads.length;
}

/**
 * getEnvelopes (when the store has it) must give the messages getMessages finds, each envelope either as
 * the index's envelope or as its IMAP text (envelopeImapText); envelopes without a text form (8-bit) come
 * as objects. Returns how many came as text and as objects.
 */
export async function assertEnvelopesMatch(
  s: MailStore,
  mailboxId: number,
  uids: number[],
  why: string,
): Promise<{ text: number; objects: number }> {
  const counts = { text: 0, objects: 0 };
  if (!s.getEnvelopes) return counts;
  const recs = await collect<MessageRecord>(s.getMessages(mailboxId, uids));
  const envs = await collect<MessageEnvelopeRecord>(s.getEnvelopes(mailboxId, uids));
  assert.deepEqual(
    envs.map((e) => e.uid),
    recs.map((r) => r.uid),
    `${why}: the messages getMessages finds`,
  );
  for (let i = 0; i < recs.length; i++) {
    const { uid, index } = recs[i]!;
    const got = envs[i]!.envelope;
    const text = envelopeImapText(index.envelope);
    if (typeof got === 'string') {
      assert.equal(got, text, `${why}: uid ${uid} envelope text`);
      counts.text++;
    } else {
      assert.deepEqual(got, index.envelope, `${why}: uid ${uid} envelope`);
      counts.objects++;
    }
    if (text === null) assert.equal(typeof got, 'object', `${why}: uid ${uid} has no IMAP text form: an object`);
  }
  return counts;
}

export function runStoreContract(name: string, factory: StoreFactory): void {
  /** Runs `fn` with a fresh store and a user "alice@example.org". */
  const withStore = (fn: (s: MailStore, user: User, inbox: Mailbox) => Promise<void>) => async () => {
    const { store, cleanup } = await factory();
    try {
      const user = await store.createUser('alice@example.org', '$test$hash');
      const inbox = await store.getMailbox(user.id, 'INBOX');
      assert.ok(inbox);
      await fn(store, user, inbox);
    } finally {
      await cleanup();
    }
  };

  describe(`MailStore contract: ${name}`, () => {
    // ------------------------------------------------------------------------------------------------
    describe('users, domains, aliases', () => {
      test(
        'createUser lowercases, creates the default mailboxes with special-use, and subscribes them',
        withStore(async (s, user) => {
          assert.equal(user.address, 'alice@example.org');
          assert.equal(user.passwordHash, '$test$hash');
          assert.ok(user.createdAt instanceof Date && !Number.isNaN(user.createdAt.getTime()));
          const boxes = await s.listMailboxes(user.id);
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
          assert.deepEqual((await s.listSubscriptions(user.id)).sort(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
        }),
      );

      test(
        'createUser EXISTS (case-insensitive), lookups, listUsers, INVALID address',
        withStore(async (s, user) => {
          await rejectsWith(s.createUser('ALICE@example.org', 'x'), 'EXISTS');
          await rejectsWith(s.createUser('', 'x'), 'INVALID');
          await rejectsWith(s.createUser('a b@example.org', 'x'), 'INVALID');
          assert.equal((await s.getUser('Alice@Example.ORG'))?.id, user.id);
          assert.equal((await s.getUserById(user.id))?.address, 'alice@example.org');
          assert.equal(await s.getUser('nobody@example.org'), null);
          assert.equal(await s.getUserById(user.id + 1000), null);
          const bob = await s.createUser('bob@example.org', 'h2');
          assert.notEqual(bob.id, user.id);
          assert.deepEqual((await s.listUsers()).map((u) => u.address), ['alice@example.org', 'bob@example.org']);
        }),
      );

      test(
        'setPasswordHash and its NOT_FOUND',
        withStore(async (s) => {
          await s.setPasswordHash('ALICE@example.org', '$new$');
          assert.equal((await s.getUser('alice@example.org'))?.passwordHash, '$new$');
          await rejectsWith(s.setPasswordHash('nobody@example.org', 'x'), 'NOT_FOUND');
        }),
      );

      test(
        'deleteUser removes the user and their mail; NOT_FOUND after',
        withStore(async (s, user, inbox) => {
          await s.append(inbox.id, sampleMessage(1));
          await s.deleteUser('alice@example.org');
          assert.equal(await s.getUser('alice@example.org'), null);
          assert.equal(await s.getMailboxById(inbox.id), null);
          assert.deepEqual(await s.listMailboxes(user.id), []);
          await rejectsWith(s.readMessage(inbox.id, 1), 'NOT_FOUND');
          await rejectsWith(s.deleteUser('alice@example.org'), 'NOT_FOUND');
          // The address can be created again, as a new user with new mailboxes.
          const again = await s.createUser('alice@example.org', 'x');
          assert.notEqual(again.id, user.id);
          const inbox2 = await s.getMailbox(again.id, 'INBOX');
          assert.ok(inbox2);
          assert.notEqual(inbox2.id, inbox.id);
          assert.deepEqual(await s.listMessages(inbox2.id), []);
        }),
      );

      test(
        'domains: lowercased, idempotent, case-insensitive lookup',
        withStore(async (s) => {
          assert.deepEqual(await s.listDomains(), []);
          await s.addDomain('Example.ORG');
          await s.addDomain('example.org');
          await s.addDomain('b.example');
          assert.deepEqual(await s.listDomains(), ['b.example', 'example.org']);
          assert.equal(await s.hasDomain('EXAMPLE.org'), true);
          assert.equal(await s.hasDomain('example.com'), false);
          await rejectsWith(s.addDomain(''), 'INVALID');
        }),
      );

      test(
        'aliases: add (replaces an existing source), catch-all, list, remove, NOT_FOUND',
        withStore(async (s) => {
          await s.addAlias('Postmaster@example.org', 'alice@example.org');
          await s.addAlias('@example.org', 'alice@example.org');
          await s.addAlias('postmaster@example.org', 'bob@example.org');
          assert.deepEqual(await s.listAliases(), [
            { from: '@example.org', to: 'alice@example.org' },
            { from: 'postmaster@example.org', to: 'bob@example.org' },
          ]);
          await s.removeAlias('POSTMASTER@example.org');
          assert.deepEqual(await s.listAliases(), [{ from: '@example.org', to: 'alice@example.org' }]);
          await rejectsWith(s.removeAlias('postmaster@example.org'), 'NOT_FOUND');
        }),
      );
    });

    // ------------------------------------------------------------------------------------------------
    describe('mailboxes', () => {
      test(
        'createMailbox, getMailbox (INBOX case-insensitive), getMailboxById, EXISTS, NOT_FOUND user',
        withStore(async (s, user, inbox) => {
          const work = await s.createMailbox(user.id, 'Work');
          assert.equal(work.name, 'Work');
          assert.equal(work.uidNext, 1);
          assert.equal(work.specialUse, null);
          assert.equal(work.subscribed, false);
          assert.match(work.mailboxObjectId, ID_RE);
          const child = await s.createMailbox(user.id, 'Work/Projects', { specialUse: '\\Flagged' });
          assert.equal(child.specialUse, '\\Flagged');
          assert.equal((await s.getMailbox(user.id, 'inbox'))?.id, inbox.id);
          assert.equal((await s.getMailbox(user.id, 'InBoX'))?.name, 'INBOX');
          assert.equal((await s.getMailbox(user.id, 'work')), null, 'other names are case-sensitive');
          assert.deepEqual(await s.getMailboxById(work.id), work);
          assert.equal(await s.getMailboxById(work.id + 10000), null);
          assert.equal(await s.getMailbox(user.id, 'Nope'), null);
          await rejectsWith(s.createMailbox(user.id, 'Work'), 'EXISTS');
          await rejectsWith(s.createMailbox(user.id, 'inbox'), 'EXISTS');
          await rejectsWith(s.createMailbox(user.id + 10000, 'X'), 'NOT_FOUND');
          // "inbox/x" is stored under INBOX.
          const sub = await s.createMailbox(user.id, 'inbox/Sub');
          assert.equal(sub.name, 'INBOX/Sub');
          // Parents are not created.
          await s.createMailbox(user.id, 'A/B/C');
          assert.equal(await s.getMailbox(user.id, 'A'), null);
          // A name with non-ASCII characters is kept as given.
          const uni = await s.createMailbox(user.id, 'Entwürfe/日本');
          assert.equal((await s.getMailbox(user.id, 'Entwürfe/日本'))?.id, uni.id);
        }),
      );

      test(
        'createMailbox INVALID names',
        withStore(async (s, user) => {
          for (const bad of ['', '/', 'a/', '/a', 'a//b', 'a*', 'b%', 'tab\there', 'nul\u0000', 'x'.repeat(5000)]) {
            await rejectsWith(s.createMailbox(user.id, bad), 'INVALID');
          }
          await rejectsWith(s.createMailbox(user.id, 'X', { specialUse: '\\Bogus' as '\\All' }), 'INVALID');
        }),
      );

      test(
        'UIDVALIDITY and MAILBOXID differ when a mailbox is deleted and created again',
        withStore(async (s, user) => {
          const a = await s.createMailbox(user.id, 'Again');
          await s.deleteMailbox(user.id, 'Again');
          const b = await s.createMailbox(user.id, 'Again');
          assert.notEqual(a.uidValidity, b.uidValidity);
          assert.notEqual(a.mailboxObjectId, b.mailboxObjectId);
          assert.notEqual(a.id, b.id, 'mailbox ids are never reused');
        }),
      );

      test(
        'deleteMailbox: NOT_FOUND, NO_PERM for INBOX, HAS_CHILDREN, messages go, subscribers woken',
        withStore(async (s, user) => {
          await rejectsWith(s.deleteMailbox(user.id, 'Nope'), 'NOT_FOUND');
          await rejectsWith(s.deleteMailbox(user.id, 'INBOX'), 'NO_PERM');
          await rejectsWith(s.deleteMailbox(user.id, 'inbox'), 'NO_PERM');
          const parent = await s.createMailbox(user.id, 'P');
          const child = await s.createMailbox(user.id, 'P/C');
          await rejectsWith(s.deleteMailbox(user.id, 'P'), 'HAS_CHILDREN');
          await s.append(child.id, sampleMessage(1));
          const events: ChangeEvent[] = [];
          const off = s.subscribe(child.id, (ev) => events.push(ev));
          await s.deleteMailbox(user.id, 'P/C');
          await eventually(() => events.length > 0, 'delete wake-up');
          off();
          assert.equal(await s.getMailboxById(child.id), null);
          await rejectsWith(s.readMessage(child.id, 1), 'NOT_FOUND');
          await rejectsWith(s.status(child.id), 'NOT_FOUND');
          await s.deleteMailbox(user.id, 'P');
          assert.equal(await s.getMailbox(user.id, 'P'), null);
          assert.equal(await s.getMailboxById(parent.id), null);
          // A "P2" sibling is not a child of "P".
          await s.createMailbox(user.id, 'Q');
          await s.createMailbox(user.id, 'Q2');
          await s.deleteMailbox(user.id, 'Q');
          assert.ok(await s.getMailbox(user.id, 'Q2'));
        }),
      );

      test(
        'renameMailbox moves children, keeps ids, UIDVALIDITY and messages',
        withStore(async (s, user) => {
          const a = await s.createMailbox(user.id, 'A');
          const ab = await s.createMailbox(user.id, 'A/B');
          const abc = await s.createMailbox(user.id, 'A/B/C');
          const ax = await s.createMailbox(user.id, 'AX');
          await s.append(ab.id, sampleMessage(1));
          await s.setSubscribed(user.id, 'A/B', true);
          await s.renameMailbox(user.id, 'A', 'Z/Y');
          assert.equal(await s.getMailbox(user.id, 'A'), null);
          assert.equal(await s.getMailbox(user.id, 'A/B'), null);
          const z = await s.getMailbox(user.id, 'Z/Y');
          const zb = await s.getMailbox(user.id, 'Z/Y/B');
          const zbc = await s.getMailbox(user.id, 'Z/Y/B/C');
          assert.equal(z?.id, a.id);
          assert.equal(zb?.id, ab.id);
          assert.equal(zbc?.id, abc.id);
          assert.equal(zb?.uidValidity, ab.uidValidity);
          assert.equal(zb?.mailboxObjectId, ab.mailboxObjectId);
          assert.equal((await s.getMailbox(user.id, 'AX'))?.id, ax.id, 'AX is not a child of A');
          assert.equal((await s.listMessages(ab.id)).length, 1);
          assert.equal(zb?.subscribed, true, 'subscription follows the rename');
          assert.ok((await s.listSubscriptions(user.id)).includes('Z/Y/B'));
        }),
      );

      test(
        'renameMailbox errors: NOT_FOUND, EXISTS (target or a child target), INVALID (into itself, bad name)',
        withStore(async (s, user) => {
          await s.createMailbox(user.id, 'A');
          await s.createMailbox(user.id, 'A/B');
          await s.createMailbox(user.id, 'B');
          await s.createMailbox(user.id, 'C/B');
          await rejectsWith(s.renameMailbox(user.id, 'Nope', 'X'), 'NOT_FOUND');
          await rejectsWith(s.renameMailbox(user.id, 'A', 'B'), 'EXISTS');
          await rejectsWith(s.renameMailbox(user.id, 'A', 'INBOX'), 'EXISTS');
          await rejectsWith(s.renameMailbox(user.id, 'A', 'C'), 'EXISTS'); // A/B -> C/B exists
          await rejectsWith(s.renameMailbox(user.id, 'A', 'A/B/X'), 'INVALID');
          await rejectsWith(s.renameMailbox(user.id, 'A', 'bad//name'), 'INVALID');
          // Nothing moved after the failures.
          assert.ok(await s.getMailbox(user.id, 'A'));
          assert.ok(await s.getMailbox(user.id, 'A/B'));
          assert.equal(await s.getMailbox(user.id, 'C'), null);
        }),
      );

      test(
        'renaming INBOX moves its messages to a new mailbox and leaves INBOX empty; its children stay',
        withStore(async (s, user, inbox) => {
          const r1 = await s.append(inbox.id, sampleMessage(1), { flags: ['\\Seen', 'Work'] });
          const r2 = await s.append(inbox.id, sampleMessage(2));
          await s.createMailbox(user.id, 'INBOX/Child');
          const before = await s.status(inbox.id);
          await s.renameMailbox(user.id, 'inbox', 'Old Inbox');
          const old = await s.getMailbox(user.id, 'Old Inbox');
          assert.ok(old);
          assert.notEqual(old.id, inbox.id);
          const moved = await s.listMessages(old.id);
          assert.deepEqual(moved.map((m) => m.emailId), [r1.emailId, r2.emailId]);
          assert.deepEqual(moved[0]!.flags.sort(), ['Work', '\\Seen'].sort());
          const now = await s.getMailbox(user.id, 'INBOX');
          assert.equal(now?.id, inbox.id, 'INBOX stays the same mailbox');
          assert.deepEqual(await s.listMessages(inbox.id), []);
          const st = await s.status(inbox.id);
          assert.equal(st.messages, 0);
          assert.equal(st.uidValidity, before.uidValidity);
          assert.ok(st.uidNext >= before.uidNext, 'UIDs are not reused');
          assert.ok(st.highestModseq > before.highestModseq);
          const ch = await s.changesSince(inbox.id, before.highestModseq);
          assert.deepEqual(ch.expunged, [r1.uid, r2.uid]);
          assert.ok(await s.getMailbox(user.id, 'INBOX/Child'));
          assert.equal(await s.getMailbox(user.id, 'Old Inbox/Child'), null);
          // The readers still get the bytes through the new mailbox.
          const raw = await s.readMessage(old.id, moved[0]!.uid);
          assert.ok(raw.includes(Buffer.from('Subject: Message 1')));
          // Renaming INBOX into its own hierarchy is allowed (the messages move, INBOX stays).
          const r3 = await s.append(inbox.id, sampleMessage(3));
          await s.renameMailbox(user.id, 'INBOX', 'INBOX/Saved');
          const saved = await s.getMailbox(user.id, 'INBOX/Saved');
          assert.ok(saved);
          assert.deepEqual((await s.listMessages(saved.id)).map((m) => m.emailId), [r3.emailId]);
          assert.deepEqual(await s.listMessages(inbox.id), []);
          await rejectsWith(s.renameMailbox(user.id, 'INBOX', 'Old Inbox'), 'EXISTS');
        }),
      );

      test(
        'subscriptions are by name, may name missing mailboxes, and are reflected in Mailbox.subscribed',
        withStore(async (s, user) => {
          const w = await s.createMailbox(user.id, 'W');
          await s.setSubscribed(user.id, 'W', true);
          await s.setSubscribed(user.id, 'W', true);
          await s.setSubscribed(user.id, 'Ghost/Box', true);
          await s.setSubscribed(user.id, 'Junk', false);
          const subs = await s.listSubscriptions(user.id);
          assert.ok(subs.includes('W') && subs.includes('Ghost/Box'));
          assert.ok(!subs.includes('Junk'));
          assert.equal((await s.getMailboxById(w.id))?.subscribed, true);
          assert.equal((await s.getMailbox(user.id, 'Junk'))?.subscribed, false);
          await s.setSubscribed(user.id, 'inbox', false);
          assert.ok(!(await s.listSubscriptions(user.id)).includes('INBOX'));
          await rejectsWith(s.setSubscribed(user.id, 'a//b', true), 'INVALID');
        }),
      );

      test(
        'setSpecialUse sets and clears; NOT_FOUND; INVALID',
        withStore(async (s, user) => {
          const m = await s.createMailbox(user.id, 'Everything');
          await s.setSpecialUse(m.id, '\\All');
          assert.equal((await s.getMailboxById(m.id))?.specialUse, '\\All');
          await s.setSpecialUse(m.id, null);
          assert.equal((await s.getMailboxById(m.id))?.specialUse, null);
          await rejectsWith(s.setSpecialUse(m.id + 10000, '\\All'), 'NOT_FOUND');
          await rejectsWith(s.setSpecialUse(m.id, '\\Nope' as '\\All'), 'INVALID');
        }),
      );

      test(
        'status counts messages, unseen, deleted, size, recent; claimRecent hands each message to one claimer',
        withStore(async (s, _user, inbox) => {
          const a = sampleMessage(1);
          const b = sampleMessage(2);
          const c = sampleMessage(3);
          await s.append(inbox.id, a, { flags: ['\\Seen'] });
          await s.append(inbox.id, b, { flags: ['\\Deleted'] });
          let st = await s.status(inbox.id);
          assert.equal(st.messages, 2);
          assert.equal(st.unseen, 1);
          assert.equal(st.deleted, 1);
          assert.equal(st.size, a.length + b.length);
          assert.equal(st.recent, 2);
          assert.equal(st.uidNext, 3);
          assert.equal(st.uidValidity, inbox.uidValidity);
          assert.equal(await s.claimRecent(inbox.id), 1);
          assert.equal(await s.claimRecent(inbox.id), 3, 'second claimer sees nothing recent');
          st = await s.status(inbox.id);
          assert.equal(st.recent, 0);
          await s.append(inbox.id, c);
          st = await s.status(inbox.id);
          assert.equal(st.recent, 1);
          assert.equal(st.messages, 3);
          assert.equal(st.size, a.length + b.length + c.length);
          assert.equal(await s.claimRecent(inbox.id), 3);
          await rejectsWith(s.status(inbox.id + 10000), 'NOT_FOUND');
          await rejectsWith(s.claimRecent(inbox.id + 10000), 'NOT_FOUND');
        }),
      );
    });

    // ------------------------------------------------------------------------------------------------
    describe('messages', () => {
      test(
        'append assigns increasing UIDs and MODSEQs, unique EMAILIDs; stores flags, date, bytes',
        withStore(async (s, _user, inbox) => {
          const date = new Date('2021-05-06T07:08:09.000Z');
          const raw = sampleMessage(1);
          const r1 = await s.append(inbox.id, raw, { flags: ['\\Seen', '\\flagged', '$Label1'], internalDate: date });
          const r2 = await s.append(inbox.id, sampleMessage(2));
          assert.equal(r1.uid, 1);
          assert.equal(r2.uid, 2);
          assert.equal(r1.uidValidity, inbox.uidValidity);
          assert.ok(r2.modseq > r1.modseq && r1.modseq > inbox.highestModseq);
          assert.match(r1.emailId, ID_RE);
          assert.notEqual(r1.emailId, r2.emailId);
          const list = await s.listMessages(inbox.id);
          assert.equal(list.length, 2);
          const m1 = list[0]!;
          assert.equal(m1.uid, 1);
          assert.equal(m1.emailId, r1.emailId);
          assert.match(m1.threadId, ID_RE);
          assert.deepEqual([...m1.flags].sort(), ['$Label1', '\\Flagged', '\\Seen'].sort());
          assert.equal(m1.internalDate.getTime(), date.getTime());
          assert.equal(m1.size, raw.length);
          assert.equal(m1.modseq, r1.modseq);
          assert.ok(Math.abs(list[1]!.internalDate.getTime() - Date.now()) < 60_000, 'INTERNALDATE defaults to now');
          assert.deepEqual(await s.readMessage(inbox.id, 1), raw);
          const mb = await s.getMailboxById(inbox.id);
          assert.equal(mb?.uidNext, 3);
          assert.equal(mb?.highestModseq, r2.modseq);
        }),
      );

      test(
        'append normalises bare LF to CRLF and the size is the stored size',
        withStore(async (s, _user, inbox) => {
          const lf = Buffer.from('Subject: lf\nFrom: a@example.org\n\nline one\nline two\n');
          await s.append(inbox.id, lf);
          const stored = await s.readMessage(inbox.id, 1);
          assert.equal(stored.toString('latin1'), 'Subject: lf\r\nFrom: a@example.org\r\n\r\nline one\r\nline two\r\n');
          const [m] = await s.listMessages(inbox.id);
          assert.equal(m!.size, stored.length);
          const [rec] = await collect(s.getMessages(inbox.id, [1]));
          assert.equal(rec!.index.size, stored.length);
        }),
      );

      test(
        'append keeps 8-bit bytes exactly',
        withStore(async (s, _user, inbox) => {
          const raw = Buffer.concat([Buffer.from('Subject: bytes\r\n\r\n'), Buffer.from([0x80, 0xff, 0x00, 0xc3, 0xa9, 0x0d, 0x0a])]);
          await s.append(inbox.id, raw);
          assert.deepEqual(await s.readMessage(inbox.id, 1), raw);
        }),
      );

      test(
        'append errors: NOT_FOUND mailbox, TOO_BIG, INVALID flags; \\Recent is never stored',
        withStore(async (s, _user, inbox) => {
          await rejectsWith(s.append(inbox.id + 10000, sampleMessage(1)), 'NOT_FOUND');
          await rejectsWith(s.append(inbox.id, Buffer.alloc(MAX_MESSAGE_SIZE + 1, 0x61)), 'TOO_BIG');
          await rejectsWith(s.append(inbox.id, sampleMessage(1), { flags: ['\\Bogus'] }), 'INVALID');
          await rejectsWith(s.append(inbox.id, sampleMessage(1), { flags: ['bad keyword'] }), 'INVALID');
          await rejectsWith(s.append(inbox.id, sampleMessage(1), { flags: ['(paren'] }), 'INVALID');
          await rejectsWith(s.append(inbox.id, sampleMessage(1), { internalDate: new Date(Number.NaN) }), 'INVALID');
          assert.deepEqual(await s.listMessages(inbox.id), [], 'failed appends leave nothing');
          assert.equal((await s.status(inbox.id)).uidNext, 1);
          await s.append(inbox.id, sampleMessage(1), { flags: ['\\Recent', '\\Seen'] });
          assert.deepEqual((await s.listMessages(inbox.id))[0]!.flags, ['\\Seen']);
        }),
      );

      test(
        'listMessages: uid order, NOT_FOUND; getMessages: sorted, missing skipped, index present, many chunks',
        withStore(async (s, _user, inbox) => {
          const n = 600;
          for (let i = 1; i <= n; i++) await s.append(inbox.id, sampleMessage(i));
          const list = await s.listMessages(inbox.id);
          assert.deepEqual(
            list.map((m) => m.uid),
            Array.from({ length: n }, (_, i) => i + 1),
          );
          await rejectsWith(s.listMessages(inbox.id + 10000), 'NOT_FOUND');
          const want = [600, 3, 1, 3, 9999, 300, 0, -1, 257, 256];
          const recs = await collect(s.getMessages(inbox.id, want));
          assert.deepEqual(
            recs.map((r) => r.uid),
            [1, 3, 256, 257, 300, 600],
          );
          for (const r of recs) {
            assert.equal(r.index.version, 1);
            assert.equal(r.index.size, r.size);
            assert.equal(r.index.envelope.subject, `Message ${r.uid}`);
            assert.equal(r.emailId, list[r.uid - 1]!.emailId);
          }
          const all = await collect(s.getMessages(inbox.id, list.map((m) => m.uid)));
          assert.equal(all.length, n);
          assert.deepEqual(await collect(s.getMessages(inbox.id, [])), []);
          assert.deepEqual(await collect(s.getMessages(inbox.id + 10000, [1])), []);
        }),
      );

      test(
        'getHeaders: header blocks equal readMessage(0..headerEnd), dense and sparse; getEnvelopes: IMAP text or, for 8-bit, the envelope',
        withStore(async (s, user, inbox) => {
          const eightBit = Buffer.from('Subject: caf\u00e9 cr\u00e8me\r\nFrom: "Ren\u00e9" <rene@example.org>\r\nTo: a@b.example\r\n\r\nbody\r\n', 'utf8');
          const noBody = Buffer.from('Subject: header only\r\nFrom: a@b.example');
          const quoted = Buffer.from('Subject: plain "quoted" \\ text\r\nFrom: A <a@b.example>\r\n\r\nx\r\n');
          const special = [bigHeaderMessage(1), noBody, eightBit, quoted];
          for (const raw of special) await s.append(inbox.id, raw);
          const n = 650;
          for (let i = special.length + 1; i <= n; i += 50) {
            const batch = Array.from({ length: Math.min(50, n - i + 1) }, (_, k) => i + k);
            await Promise.all(batch.map((k) => s.append(inbox.id, k % 97 === 0 ? bigHeaderMessage(k) : sampleMessage(k))));
          }
          const all = Array.from({ length: n }, (_, i) => i + 1);
          assert.equal((await s.listMessages(inbox.id)).length, n);
          assert.deepEqual(await s.readMessage(inbox.id, 2), noBody, 'a message without a body is kept as is');

          if (s.getHeaders) {
            assert.equal(await assertHeadersMatch(s, inbox.id, all, 'dense 1:*'), n);
            const bigHead = (await collect(s.getHeaders(inbox.id, [1])))[0]!.header;
            assert.ok(bigHead.length > 16 * 1024 && bigHead.subarray(-4).toString() === '\r\n\r\n', 'the whole big header block');
            assert.deepEqual((await collect(s.getHeaders(inbox.id, [2])))[0]!.header, noBody, 'no body: the header is the message');
            assert.equal(await assertHeadersMatch(s, inbox.id, [...all.filter((u) => u % 7 !== 0), n + 5, 0, -3, 2.5, 4, 4], 'dense with holes'), n - 92);
            assert.equal(await assertHeadersMatch(s, inbox.id, [1, 2, 3, 4, 97, 300, 601, 9999], 'sparse and missing'), 7);
            assert.equal(await assertHeadersMatch(s, inbox.id, [], 'empty'), 0);
            assert.deepEqual(await collect(s.getHeaders(inbox.id + 10000, [1])), [], 'no such mailbox: nothing');
          }
          const env = await assertEnvelopesMatch(s, inbox.id, all, 'dense 1:*');
          if (s.getEnvelopes) {
            assert.equal(env.text + env.objects, n);
            assert.ok(env.objects >= 1, 'the 8-bit envelope comes as an object');
            const [e3] = await collect(s.getEnvelopes(inbox.id, [3]));
            assert.equal(typeof e3!.envelope === 'string' ? 'text' : e3!.envelope.subject, 'caf\u00e9 cr\u00e8me');
            const [e4] = await collect(s.getEnvelopes(inbox.id, [4]));
            if (typeof e4!.envelope === 'string') {
              assert.equal(
                e4!.envelope,
                '(NIL "plain \\"quoted\\" \\\\ text" (("A" NIL "a" "b.example")) (("A" NIL "a" "b.example")) (("A" NIL "a" "b.example")) NIL NIL NIL NIL NIL)',
              );
            }
            const sparse = await assertEnvelopesMatch(s, inbox.id, [1, 2, 3, 4, 300, 9999, 0], 'sparse and missing');
            assert.equal(sparse.text + sparse.objects, 5);
          }

          // Copies and moves share what the originals have; expunged messages are gone from both paths.
          const arch = (await s.getMailbox(user.id, 'Archive'))!;
          await s.copy(inbox.id, [1, 2, 3, 5], arch.id);
          await s.move(inbox.id, [4, 97, 6], arch.id);
          await s.storeFlags(inbox.id, [1, 7, 8], { op: 'add', flags: ['\\Deleted'] });
          await s.expunge(inbox.id);
          const archUids = (await s.listMessages(arch.id)).map((m) => m.uid);
          assert.equal(await assertHeadersMatch(s, arch.id, archUids, 'copies and moves'), s.getHeaders ? 7 : 0);
          assert.equal(await assertHeadersMatch(s, inbox.id, all, 'after expunge'), s.getHeaders ? n - 6 : 0);
          const after = await assertEnvelopesMatch(s, arch.id, archUids, 'copies and moves');
          if (s.getEnvelopes) assert.equal(after.text + after.objects, 7);
        }),
      );

      test(
        'readMessage: whole message, ranges (clamped), NOT_FOUND for unknown or expunged',
        withStore(async (s, _user, inbox) => {
          const raw = sampleMessage(1, { body: 'x'.repeat(10000) + '\r\n' });
          await s.append(inbox.id, raw, { flags: ['\\Deleted'] });
          assert.deepEqual(await s.readMessage(inbox.id, 1), raw);
          assert.deepEqual(await s.readMessage(inbox.id, 1, { start: 0, end: 10 }), raw.subarray(0, 10));
          assert.deepEqual(await s.readMessage(inbox.id, 1, { start: 5000, end: 5100 }), raw.subarray(5000, 5100));
          assert.deepEqual(await s.readMessage(inbox.id, 1, { start: raw.length - 3, end: raw.length + 1000 }), raw.subarray(raw.length - 3));
          assert.equal((await s.readMessage(inbox.id, 1, { start: raw.length + 5, end: raw.length + 10 })).length, 0);
          assert.equal((await s.readMessage(inbox.id, 1, { start: 10, end: 5 })).length, 0);
          await rejectsWith(s.readMessage(inbox.id, 2), 'NOT_FOUND');
          await rejectsWith(s.readMessage(inbox.id + 10000, 1), 'NOT_FOUND');
          await s.expunge(inbox.id);
          await rejectsWith(s.readMessage(inbox.id, 1), 'NOT_FOUND');
        }),
      );

      test(
        'storeFlags add/remove/set: case-insensitive system flags, keywords keep first-seen spelling',
        withStore(async (s, _user, inbox) => {
          await s.append(inbox.id, sampleMessage(1));
          await s.append(inbox.id, sampleMessage(2));
          let r = await s.storeFlags(inbox.id, [1, 2], { op: 'add', flags: ['\\SEEN', 'Work'] });
          assert.equal(r.changed.length, 2);
          assert.deepEqual(r.modified, []);
          assert.deepEqual(r.changed[0]!.flags, ['\\Seen', 'Work']);
          r = await s.storeFlags(inbox.id, [1], { op: 'add', flags: ['WORK', 'Other'] });
          assert.deepEqual(r.changed[0]!.flags, ['\\Seen', 'Work', 'Other']);
          // A new spelling of a keyword already used in the mailbox takes the first-seen spelling.
          r = await s.storeFlags(inbox.id, [2], { op: 'set', flags: ['other'] });
          assert.deepEqual(r.changed[0]!.flags, ['Other']);
          r = await s.storeFlags(inbox.id, [1], { op: 'remove', flags: ['\\seen', 'work'] });
          assert.deepEqual(r.changed[0]!.flags, ['Other']);
          r = await s.storeFlags(inbox.id, [1, 2], { op: 'set', flags: ['\\Answered', '\\Draft', '\\Flagged', '\\Deleted'] });
          assert.equal(r.changed.length, 2);
          assert.deepEqual([...r.changed[0]!.flags].sort(), ['\\Answered', '\\Deleted', '\\Draft', '\\Flagged']);
          const list = await s.listMessages(inbox.id);
          assert.deepEqual(list.map((m) => [...m.flags].sort()), [
            ['\\Answered', '\\Deleted', '\\Draft', '\\Flagged'],
            ['\\Answered', '\\Deleted', '\\Draft', '\\Flagged'],
          ]);
          await rejectsWith(s.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Unknown'] }), 'INVALID');
          await rejectsWith(s.storeFlags(inbox.id, [1], { op: 'toggle' as 'add', flags: ['\\Seen'] }), 'INVALID');
          await rejectsWith(s.storeFlags(inbox.id + 10000, [1], { op: 'add', flags: ['\\Seen'] }), 'NOT_FOUND');
          // \Recent is ignored.
          r = await s.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Recent'] });
          assert.deepEqual(r.changed, []);
        }),
      );

      test(
        'storeFlags: one MODSEQ per operation, no bump for a no-op, missing UIDs skipped',
        withStore(async (s, _user, inbox) => {
          for (let i = 1; i <= 3; i++) await s.append(inbox.id, sampleMessage(i));
          const m0 = (await s.status(inbox.id)).highestModseq;
          const r = await s.storeFlags(inbox.id, [1, 2, 3, 77], { op: 'add', flags: ['\\Flagged'] });
          assert.equal(r.changed.length, 3);
          const ms = r.changed[0]!.modseq;
          assert.equal(ms, m0 + 1);
          assert.ok(r.changed.every((c) => c.modseq === ms));
          assert.equal((await s.status(inbox.id)).highestModseq, ms);
          const noop = await s.storeFlags(inbox.id, [1, 2, 3], { op: 'add', flags: ['\\flagged'] });
          assert.deepEqual(noop.changed, []);
          assert.equal((await s.status(inbox.id)).highestModseq, ms, 'no-op does not bump HIGHESTMODSEQ');
          const noop2 = await s.storeFlags(inbox.id, [1], { op: 'remove', flags: ['\\Seen', 'Absent'] });
          assert.deepEqual(noop2.changed, []);
          assert.equal((await s.status(inbox.id)).highestModseq, ms);
          // Only the changed one gets the new modseq.
          const one = await s.storeFlags(inbox.id, [1, 2], { op: 'set', flags: ['\\Flagged', 'K'] });
          assert.equal(one.changed.length, 2);
          const part = await s.storeFlags(inbox.id, [1, 2, 3], { op: 'add', flags: ['K'] });
          assert.deepEqual(part.changed.map((c) => c.uid), [3]);
          const list = await s.listMessages(inbox.id);
          assert.equal(list[0]!.modseq, one.changed[0]!.modseq);
          assert.equal(list[2]!.modseq, part.changed[0]!.modseq);
        }),
      );

      test(
        'storeFlags UNCHANGEDSINCE: newer messages are left alone and reported as modified',
        withStore(async (s, _user, inbox) => {
          await s.append(inbox.id, sampleMessage(1));
          await s.append(inbox.id, sampleMessage(2));
          const base = (await s.status(inbox.id)).highestModseq;
          const bumped = await s.storeFlags(inbox.id, [2], { op: 'add', flags: ['\\Seen'] });
          const r = await s.storeFlags(inbox.id, [1, 2], { op: 'add', flags: ['\\Flagged'], unchangedSince: base });
          assert.deepEqual(r.modified, [2]);
          assert.deepEqual(r.changed.map((c) => c.uid), [1]);
          const list = await s.listMessages(inbox.id);
          assert.deepEqual(list[1]!.flags, ['\\Seen'], 'message 2 untouched');
          assert.equal(list[1]!.modseq, bumped.changed[0]!.modseq);
          // UNCHANGEDSINCE 0 always fails (RFC 7162 3.1.3).
          const zero = await s.storeFlags(inbox.id, [1, 2], { op: 'add', flags: ['X'], unchangedSince: 0 });
          assert.deepEqual(zero.modified, [1, 2]);
          assert.deepEqual(zero.changed, []);
          // Equal modseq passes.
          const eq = await s.storeFlags(inbox.id, [2], { op: 'add', flags: ['Y'], unchangedSince: list[1]!.modseq });
          assert.deepEqual(eq.modified, []);
          assert.deepEqual(eq.changed.map((c) => c.uid), [2]);
        }),
      );

      test(
        'expunge: only \\Deleted messages, optionally within a UID set; tombstones in changesSince',
        withStore(async (s, _user, inbox) => {
          for (let i = 1; i <= 5; i++) await s.append(inbox.id, sampleMessage(i), { flags: i % 2 ? ['\\Deleted'] : [] });
          const m0 = (await s.status(inbox.id)).highestModseq;
          assert.deepEqual(await s.expunge(inbox.id, [5, 1, 2, 99]), [1, 5]);
          const m1 = (await s.status(inbox.id)).highestModseq;
          assert.equal(m1, m0 + 1);
          assert.deepEqual((await s.listMessages(inbox.id)).map((m) => m.uid), [2, 3, 4]);
          assert.deepEqual(await s.expunge(inbox.id), [3]);
          assert.deepEqual(await s.expunge(inbox.id), []);
          assert.equal((await s.status(inbox.id)).highestModseq, m1 + 1, 'an empty expunge does not bump');
          assert.deepEqual((await s.changesSince(inbox.id, m0)).expunged, [1, 3, 5]);
          assert.deepEqual((await s.changesSince(inbox.id, m1)).expunged, [3]);
          await rejectsWith(s.expunge(inbox.id + 10000), 'NOT_FOUND');
          // UIDs are never reused after an expunge.
          const r = await s.append(inbox.id, sampleMessage(6));
          assert.equal(r.uid, 6);
        }),
      );

      test(
        'copy keeps flags and INTERNALDATE, gets new EMAILIDs and the same THREADIDs, pairs in source order',
        withStore(async (s, user, inbox) => {
          const date = new Date('2020-01-02T03:04:05.000Z');
          await s.append(inbox.id, sampleMessage(1), { flags: ['\\Seen', 'Keep'], internalDate: date });
          await s.append(inbox.id, sampleMessage(2), { flags: ['\\Answered'] });
          await s.append(inbox.id, sampleMessage(3));
          const dst = await s.createMailbox(user.id, 'Dest');
          await s.append(dst.id, sampleMessage(9), { flags: ['keep'] });
          const before = await s.status(dst.id);
          const r = await s.copy(inbox.id, [3, 1, 42], dst.id);
          assert.equal(r.uidValidity, dst.uidValidity);
          assert.deepEqual(r.pairs, [
            [1, 2],
            [3, 3],
          ]);
          const src = await s.listMessages(inbox.id);
          const out = await s.listMessages(dst.id);
          assert.equal(src.length, 3, 'source untouched');
          const c1 = out.find((m) => m.uid === 2)!;
          assert.deepEqual([...c1.flags].sort(), ['\\Seen', 'keep'].sort(), 'keyword takes the destination spelling');
          assert.equal(c1.internalDate.getTime(), date.getTime());
          assert.notEqual(c1.emailId, src[0]!.emailId);
          assert.equal(c1.threadId, src[0]!.threadId);
          assert.equal(c1.size, src[0]!.size);
          assert.deepEqual(await s.readMessage(dst.id, 2), await s.readMessage(inbox.id, 1));
          const after = await s.status(dst.id);
          assert.equal(after.uidNext, 4);
          assert.equal(after.highestModseq, before.highestModseq + 1);
          assert.equal(out.find((m) => m.uid === 3)!.modseq, after.highestModseq);
          // The copy survives an expunge of the original (shared bytes are not freed early).
          const original = await s.readMessage(inbox.id, 1);
          await s.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Deleted'] });
          assert.deepEqual(await s.expunge(inbox.id), [1]);
          assert.deepEqual(await s.readMessage(dst.id, 2), original);
          await rejectsWith(s.copy(inbox.id, [1], dst.id + 10000), 'NOT_FOUND');
          await rejectsWith(s.copy(inbox.id + 10000, [1], dst.id), 'NOT_FOUND');
          const none = await s.copy(inbox.id, [999], dst.id);
          assert.deepEqual(none.pairs, []);
          assert.equal((await s.status(dst.id)).highestModseq, after.highestModseq, 'empty copy does not bump');
          // Copy into the same mailbox gives new UIDs.
          const self = await s.copy(inbox.id, [2], inbox.id);
          assert.deepEqual(self.pairs, [[2, 4]]);
        }),
      );

      test(
        'move keeps EMAILIDs, removes the source rows with tombstones, one transaction',
        withStore(async (s, user, inbox) => {
          const rawA = sampleMessage(1);
          const a = await s.append(inbox.id, rawA, { flags: ['\\Flagged'] });
          const b = await s.append(inbox.id, sampleMessage(2));
          await s.append(inbox.id, sampleMessage(3));
          const dst = await s.createMailbox(user.id, 'Moved');
          const srcBefore = (await s.status(inbox.id)).highestModseq;
          const dstBefore = (await s.status(dst.id)).highestModseq;
          const r = await s.move(inbox.id, [2, 1], dst.id);
          assert.deepEqual(r.pairs, [
            [1, 1],
            [2, 2],
          ]);
          assert.equal(r.uidValidity, dst.uidValidity);
          assert.deepEqual((await s.listMessages(inbox.id)).map((m) => m.uid), [3]);
          const moved = await s.listMessages(dst.id);
          assert.deepEqual(moved.map((m) => m.emailId), [a.emailId, b.emailId]);
          assert.deepEqual(moved[0]!.flags, ['\\Flagged']);
          const srcCh = await s.changesSince(inbox.id, srcBefore);
          assert.deepEqual(srcCh.expunged, [1, 2]);
          assert.equal(srcCh.highestModseq, srcBefore + 1);
          const dstCh = await s.changesSince(dst.id, dstBefore);
          assert.deepEqual(dstCh.changed.map((m) => m.uid), [1, 2]);
          assert.equal(dstCh.highestModseq, dstBefore + 1);
          assert.deepEqual(await s.readMessage(dst.id, 1), rawA);
          await rejectsWith(s.readMessage(inbox.id, 1), 'NOT_FOUND');
          await rejectsWith(s.move(inbox.id, [3], dst.id + 10000), 'NOT_FOUND');
          assert.deepEqual((await s.listMessages(inbox.id)).map((m) => m.uid), [3], 'failed move changes nothing');
        }),
      );

      test(
        'changesSince reports appends, flag changes, expunges and moves with their MODSEQ',
        withStore(async (s, user, inbox) => {
          const m0 = inbox.highestModseq;
          await s.append(inbox.id, sampleMessage(1));
          await s.append(inbox.id, sampleMessage(2));
          await s.append(inbox.id, sampleMessage(3));
          let ch = await s.changesSince(inbox.id, m0);
          assert.deepEqual(ch.changed.map((m) => m.uid), [1, 2, 3]);
          assert.deepEqual(ch.expunged, []);
          const m1 = ch.highestModseq;
          ch = await s.changesSince(inbox.id, m1);
          assert.deepEqual(ch.changed, []);
          assert.equal(ch.highestModseq, m1);
          await s.storeFlags(inbox.id, [2], { op: 'add', flags: ['\\Seen', '\\Deleted'] });
          ch = await s.changesSince(inbox.id, m1);
          assert.deepEqual(ch.changed.map((m) => [m.uid, m.flags]), [[2, ['\\Seen', '\\Deleted']]]);
          assert.equal(ch.changed[0]!.modseq, ch.highestModseq);
          const m2 = ch.highestModseq;
          await s.expunge(inbox.id);
          ch = await s.changesSince(inbox.id, m2);
          assert.deepEqual(ch.changed, []);
          assert.deepEqual(ch.expunged, [2]);
          const other = await s.createMailbox(user.id, 'Other');
          const m3 = ch.highestModseq;
          await s.move(inbox.id, [3], other.id);
          ch = await s.changesSince(inbox.id, m3);
          assert.deepEqual(ch.expunged, [3]);
          ch = await s.changesSince(inbox.id, 0);
          assert.deepEqual(ch.changed.map((m) => m.uid), [1]);
          assert.deepEqual(ch.expunged, [2, 3]);
          await rejectsWith(s.changesSince(inbox.id + 10000, 0), 'NOT_FOUND');
        }),
      );

      test(
        'searchText: decoded headers and bodies, case-insensitive, scoped, restricted to the given UIDs',
        withStore(async (s, _user, inbox) => {
          await s.append(inbox.id, sampleMessage(1, { subject: '=?UTF-8?B?R3LDvMOfZQ==?= aus Köln', body: 'plain body with Banana\r\n' }));
          await s.append(
            inbox.id,
            sampleMessage(2, {
              subject: 'quoted',
              headers: 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n',
              body: 'Caf=C3=A9 cr=C3=A8me br=C3=BBl=C3=A9e\r\n',
            }),
          );
          await s.append(
            inbox.id,
            sampleMessage(3, {
              subject: 'b64',
              headers: 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n',
              body: Buffer.from('Hidden treasure inside base64').toString('base64') + '\r\n',
            }),
          );
          const all = [1, 2, 3];
          assert.deepEqual(await s.searchText(inbox.id, all, 'grüße', 'header'), [1]);
          assert.deepEqual(await s.searchText(inbox.id, all, 'GRÜßE', 'header'), [1]);
          assert.deepEqual(await s.searchText(inbox.id, all, 'banana', 'body'), [1]);
          assert.deepEqual(await s.searchText(inbox.id, all, 'banana', 'header'), []);
          assert.deepEqual(await s.searchText(inbox.id, all, 'CRÈME', 'body'), [2]);
          assert.deepEqual(await s.searchText(inbox.id, all, 'treasure', 'text'), [3]);
          assert.deepEqual(await s.searchText(inbox.id, all, 'b64', 'text'), [3]);
          assert.deepEqual(await s.searchText(inbox.id, all, 'sender@example.org', 'header'), [1, 2, 3]);
          assert.deepEqual(await s.searchText(inbox.id, [2, 3], 'sender@example.org', 'header'), [2, 3]);
          assert.deepEqual(await s.searchText(inbox.id, [], 'sender', 'header'), []);
          assert.deepEqual(await s.searchText(inbox.id, all, 'no such text anywhere', 'text'), []);
          assert.deepEqual(await s.searchText(inbox.id, [3, 1, 99], 'example', 'text'), [1, 3]);
          await rejectsWith(s.searchText(inbox.id + 10000, all, 'x', 'text'), 'NOT_FOUND');
          await rejectsWith(s.searchText(inbox.id, all, 'x', 'subject' as 'text'), 'INVALID');
        }),
      );

      test(
        'searchText over many messages (chunked and whole-mailbox paths agree)',
        withStore(async (s, _user, inbox) => {
          const n = 1200;
          for (let i = 1; i <= n; i++) await s.append(inbox.id, sampleMessage(i, { body: i % 7 === 0 ? 'needle here\r\n' : 'hay\r\n' }));
          const all = Array.from({ length: n }, (_, i) => i + 1);
          const expect = all.filter((u) => u % 7 === 0);
          assert.deepEqual(await s.searchText(inbox.id, all, 'NEEDLE', 'body'), expect);
          const some = all.filter((u) => u % 2 === 0);
          assert.deepEqual(await s.searchText(inbox.id, some, 'needle', 'body'), expect.filter((u) => u % 2 === 0));
          // A sparse set larger than one batch.
          const sparse = all.filter((u) => u % 4 === 1 && (u < 600 || u > 700));
          assert.deepEqual(await s.searchText(inbox.id, sparse, 'needle', 'body'), expect.filter((u) => sparse.includes(u)));
          assert.deepEqual(await s.searchText(inbox.id, [...all, 5000, 6000], 'needle', 'text'), expect);
        }),
      );

      test(
        'THREADID: a reply joins the thread of the message it answers',
        withStore(async (s, _user, inbox) => {
          const parent = Buffer.from('Message-ID: <root@example.org>\r\nSubject: topic\r\n\r\nhi\r\n');
          const reply = Buffer.from('Message-ID: <r1@example.org>\r\nIn-Reply-To: <root@example.org>\r\nSubject: Re: topic\r\n\r\nho\r\n');
          const reply2 = Buffer.from(
            'Message-ID: <r2@example.org>\r\nReferences: <root@example.org>\r\n <r1@example.org>\r\nSubject: Re: topic\r\n\r\nhey\r\n',
          );
          const other = Buffer.from('Message-ID: <x@example.org>\r\nSubject: other\r\n\r\nyo\r\n');
          for (const m of [parent, reply, reply2, other]) await s.append(inbox.id, m);
          const list = await s.listMessages(inbox.id);
          assert.equal(list[1]!.threadId, list[0]!.threadId);
          assert.equal(list[2]!.threadId, list[0]!.threadId);
          assert.notEqual(list[3]!.threadId, list[0]!.threadId);
        }),
      );
    });

    // ------------------------------------------------------------------------------------------------
    describe('change bus', () => {
      test(
        'subscribers are woken after commit (changesSince already shows the change), per mailbox',
        withStore(async (s, user, inbox) => {
          const other = await s.createMailbox(user.id, 'Other');
          const seen: Array<{ ev: ChangeEvent; uids: number[] }> = [];
          const otherEvents: ChangeEvent[] = [];
          const off = s.subscribe(inbox.id, (ev) => {
            // The change must be visible to a reader at wake-up time.
            void s.changesSince(inbox.id, ev.highestModseq - 1).then((ch) => seen.push({ ev, uids: ch.changed.map((m) => m.uid) }));
          });
          const offOther = s.subscribe(other.id, (ev) => otherEvents.push(ev));
          const r = await s.append(inbox.id, sampleMessage(1));
          await eventually(() => seen.length === 1, 'append wake-up');
          assert.deepEqual(seen[0]!.ev, { userId: user.id, mailboxId: inbox.id, highestModseq: r.modseq });
          assert.deepEqual(seen[0]!.uids, [1]);
          await s.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Seen'] });
          await eventually(() => seen.length === 2, 'flag wake-up');
          assert.ok(seen[1]!.ev.highestModseq > r.modseq);
          // A no-op wakes nobody.
          await s.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Seen'] });
          await s.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Deleted'] });
          await eventually(() => seen.length === 3, 'second flag wake-up');
          await s.expunge(inbox.id);
          await eventually(() => seen.length === 4, 'expunge wake-up');
          assert.equal(otherEvents.length, 0, 'other mailbox not woken');
          off();
          await s.append(inbox.id, sampleMessage(2));
          await s.append(other.id, sampleMessage(3));
          await eventually(() => otherEvents.length === 1, 'other mailbox wake-up');
          await new Promise((r2) => setTimeout(r2, 50));
          assert.equal(seen.length, 4, 'unsubscribed listener not called');
          offOther();
        }),
      );

      test(
        'copy and move wake both mailboxes; a throwing listener does not break the store',
        withStore(async (s, user, inbox) => {
          const dst = await s.createMailbox(user.id, 'D');
          await s.append(inbox.id, sampleMessage(1));
          await s.append(inbox.id, sampleMessage(2));
          const src: ChangeEvent[] = [];
          const dstEv: ChangeEvent[] = [];
          const off0 = s.subscribe(inbox.id, () => {
            throw new Error('listener failure');
          });
          const off1 = s.subscribe(inbox.id, (ev) => src.push(ev));
          const off2 = s.subscribe(dst.id, (ev) => dstEv.push(ev));
          await s.copy(inbox.id, [1], dst.id);
          await eventually(() => dstEv.length === 1, 'copy wake-up');
          await s.move(inbox.id, [2], dst.id);
          await eventually(() => dstEv.length === 2 && src.length === 1, 'move wake-ups');
          assert.equal(src[0]!.mailboxId, inbox.id);
          assert.equal(dstEv[1]!.highestModseq, (await s.status(dst.id)).highestModseq);
          off0();
          off1();
          off2();
        }),
      );
    });

    // ------------------------------------------------------------------------------------------------
    describe('POP3 maildrop', () => {
      test(
        'lockMaildrop is exclusive until released',
        withStore(async (s, user) => {
          const bob = await s.createUser('bob@example.org', 'x');
          const release = await s.lockMaildrop(user.id);
          assert.ok(release);
          assert.equal(await s.lockMaildrop(user.id), null);
          const other = await s.lockMaildrop(bob.id);
          assert.ok(other, 'locks are per user');
          await release();
          await release(); // idempotent
          const again = await s.lockMaildrop(user.id);
          assert.ok(again);
          await again();
          await other();
        }),
      );

      test(
        'commitMaildrop expunges, marks \\Seen and records retrieval in one MODSEQ; purgeRetrieved honours the date',
        withStore(async (s, _user, inbox) => {
          for (let i = 1; i <= 5; i++) await s.append(inbox.id, sampleMessage(i));
          const m0 = (await s.status(inbox.id)).highestModseq;
          const events: ChangeEvent[] = [];
          const off = s.subscribe(inbox.id, (ev) => events.push(ev));
          const gone = await s.commitMaildrop(inbox.id, { expunge: [4, 2, 99], seen: [1, 2, 3], retrieved: [1, 2, 3] });
          assert.deepEqual(gone, [2, 4]);
          const st = await s.status(inbox.id);
          assert.equal(st.highestModseq, m0 + 1, 'one modseq for the whole commit');
          const list = await s.listMessages(inbox.id);
          assert.deepEqual(list.map((m) => [m.uid, m.flags]), [
            [1, ['\\Seen']],
            [3, ['\\Seen']],
            [5, []],
          ]);
          const ch = await s.changesSince(inbox.id, m0);
          assert.deepEqual(ch.expunged, [2, 4]);
          assert.deepEqual(ch.changed.map((m) => m.uid), [1, 3]);
          await eventually(() => events.length === 1, 'maildrop wake-up');
          off();
          // Nothing to do: no bump.
          assert.deepEqual(await s.commitMaildrop(inbox.id, { expunge: [], seen: [1], retrieved: [] }), []);
          assert.equal((await s.status(inbox.id)).highestModseq, m0 + 1);
          // Retention: retrieved before a date in the past keeps them; a future date purges 1 and 3, not 5.
          assert.equal(await s.purgeRetrieved(inbox.id, new Date(Date.now() - 3_600_000)), 0);
          assert.equal(await s.purgeRetrieved(inbox.id, new Date(Date.now() + 3_600_000)), 2);
          assert.deepEqual((await s.listMessages(inbox.id)).map((m) => m.uid), [5]);
          assert.deepEqual((await s.changesSince(inbox.id, m0 + 1)).expunged, [1, 3]);
          await rejectsWith(s.commitMaildrop(inbox.id + 10000, { expunge: [1], seen: [], retrieved: [] }), 'NOT_FOUND');
          await rejectsWith(s.purgeRetrieved(inbox.id + 10000, new Date()), 'NOT_FOUND');
        }),
      );

      test(
        'a moved message keeps its EMAILID (the POP3 UIDL)',
        withStore(async (s, user, inbox) => {
          const r = await s.append(inbox.id, sampleMessage(1));
          const arch = await s.getMailbox(user.id, 'Archive');
          await s.move(inbox.id, [r.uid], arch!.id);
          await s.move(arch!.id, [1], inbox.id);
          const [m] = await s.listMessages(inbox.id);
          assert.equal(m!.emailId, r.emailId);
          assert.equal(m!.uid, 2);
        }),
      );
    });

    // ------------------------------------------------------------------------------------------------
    describe('outbound queue', () => {
      test(
        'enqueue, due, read, update, delete, list; NOT_FOUND; TOO_BIG; INVALID',
        withStore(async (s) => {
          const raw = Buffer.from('From: a@example.org\r\nTo: b@example.net\r\nSubject: out\r\n\r\nbody\r\n');
          const id1 = await s.enqueueOutbound('a@example.org', ['b@example.net', 'c@example.net'], raw);
          await new Promise((r) => setTimeout(r, 5));
          const id2 = await s.enqueueOutbound('', ['d@example.net'], Buffer.from('bounce\r\n'));
          assert.match(id1, ID_RE);
          assert.notEqual(id1, id2);
          assert.deepEqual(await s.readOutbound(id1), raw);
          let due = await s.dueOutbound(new Date(Date.now() + 1000), 10);
          assert.deepEqual(due.map((m) => m.id), [id1, id2], 'oldest first');
          const m1 = due[0]!;
          assert.equal(m1.sender, 'a@example.org');
          assert.deepEqual(m1.recipients, ['b@example.net', 'c@example.net']);
          assert.equal(m1.attempts, 0);
          assert.equal(m1.lastError, null);
          assert.equal(m1.size, raw.length);
          assert.equal(due[1]!.sender, '');
          assert.equal((await s.dueOutbound(new Date(Date.now() + 1000), 1)).length, 1, 'limit');
          const later = new Date(Date.now() + 3_600_000);
          await s.updateOutbound(id1, { recipients: ['c@example.net'], attempts: 1, nextAttemptAt: later, lastError: '451 try later' });
          due = await s.dueOutbound(new Date(Date.now() + 1000), 10);
          assert.deepEqual(due.map((m) => m.id), [id2]);
          const all = await s.listOutbound();
          const u1 = all.find((m) => m.id === id1)!;
          assert.deepEqual(u1.recipients, ['c@example.net']);
          assert.equal(u1.attempts, 1);
          assert.equal(u1.lastError, '451 try later');
          assert.equal(u1.nextAttemptAt.getTime(), later.getTime());
          await s.deleteOutbound(id2);
          assert.deepEqual((await s.listOutbound()).map((m) => m.id), [id1]);
          await rejectsWith(s.readOutbound(id2), 'NOT_FOUND');
          await rejectsWith(s.deleteOutbound(id2), 'NOT_FOUND');
          await rejectsWith(
            s.updateOutbound('Qnope', { recipients: [], attempts: 1, nextAttemptAt: new Date(), lastError: null }),
            'NOT_FOUND',
          );
          await rejectsWith(s.enqueueOutbound('a@example.org', ['b@example.net'], Buffer.alloc(MAX_MESSAGE_SIZE + 1)), 'TOO_BIG');
          await rejectsWith(s.enqueueOutbound('a@example.org', [], raw), 'INVALID');
          assert.deepEqual(await s.readOutbound(id1), raw);
        }),
      );
    });

    // ------------------------------------------------------------------------------------------------
    describe('concurrency', () => {
      test(
        '20 concurrent appenders and flag changers: no duplicate UIDs, no lost flags, MODSEQ never goes backwards',
        withStore(async (s, user, inbox) => {
          const events: number[] = [];
          const off = s.subscribe(inbox.id, (ev) => events.push(ev.highestModseq));
          const perWorker = 8;
          const results = await Promise.all(
            Array.from({ length: 20 }, async (_, w) => {
              const mine: number[] = [];
              for (let i = 0; i < perWorker; i++) {
                const r = await s.append(inbox.id, sampleMessage(w * 100 + i));
                mine.push(r.uid);
                // Each worker sets its own keyword on its own message, and \Seen on the previous one.
                await s.storeFlags(inbox.id, [r.uid], { op: 'add', flags: [`w${w}`] });
                if (i > 0) await s.storeFlags(inbox.id, [mine[i - 1]!], { op: 'add', flags: ['\\Seen'] });
              }
              return mine;
            }),
          );
          const uids = results.flat();
          assert.equal(new Set(uids).size, uids.length, 'no duplicate UIDs');
          assert.equal(uids.length, 20 * perWorker);
          const list = await s.listMessages(inbox.id);
          assert.equal(list.length, uids.length);
          const byUid = new Map(list.map((m) => [m.uid, m]));
          results.forEach((mine, w) => {
            mine.forEach((uid, i) => {
              const m = byUid.get(uid)!;
              assert.ok(m.flags.includes(`w${w}`), `uid ${uid} lost keyword w${w}`);
              if (i < mine.length - 1) assert.ok(m.flags.includes('\\Seen'), `uid ${uid} lost \\Seen`);
            });
          });
          const st = await s.status(inbox.id);
          assert.equal(st.uidNext, Math.max(...uids) + 1);
          await eventually(() => events.length >= 1 && events[events.length - 1] === st.highestModseq, 'last wake-up');
          for (let i = 1; i < events.length; i++) assert.ok(events[i]! > events[i - 1]!, 'MODSEQ strictly increasing in wake-ups');
          assert.ok(list.every((m) => m.modseq <= st.highestModseq));
          off();
          void user;
        }),
      );

      test(
        'a concurrent reader never sees a row without its bytes',
        withStore(async (s, _user, inbox) => {
          let stop = false;
          let reads = 0;
          const reader = (async () => {
            while (!stop) {
              const list = await s.listMessages(inbox.id);
              for (const m of list) {
                const raw = await s.readMessage(inbox.id, m.uid);
                assert.equal(raw.length, m.size);
                reads++;
              }
              await new Promise((r) => setImmediate(r));
            }
          })();
          await Promise.all(
            Array.from({ length: 10 }, async (_, w) => {
              for (let i = 0; i < 5; i++) await s.append(inbox.id, sampleMessage(w * 10 + i, { body: `w${w} i${i}\r\n`.repeat(50) }));
            }),
          );
          stop = true;
          await reader;
          assert.ok(reads > 0);
          assert.equal((await s.listMessages(inbox.id)).length, 50);
        }),
      );

      test(
        'concurrent expunge, copy and flag changes keep MODSEQ strictly increasing per mailbox',
        withStore(async (s, user, inbox) => {
          const dst = await s.createMailbox(user.id, 'Copies');
          for (let i = 1; i <= 30; i++) await s.append(inbox.id, sampleMessage(i));
          const seenSrc: number[] = [];
          const seenDst: number[] = [];
          const off1 = s.subscribe(inbox.id, (ev) => seenSrc.push(ev.highestModseq));
          const off2 = s.subscribe(dst.id, (ev) => seenDst.push(ev.highestModseq));
          await Promise.all([
            ...Array.from({ length: 10 }, (_, i) => s.copy(inbox.id, [i + 1, i + 11], dst.id)),
            ...Array.from({ length: 10 }, (_, i) => s.storeFlags(inbox.id, [i + 21], { op: 'add', flags: ['\\Deleted'] })),
            ...Array.from({ length: 5 }, () => s.expunge(inbox.id)),
            ...Array.from({ length: 5 }, (_, i) => s.append(dst.id, sampleMessage(100 + i))),
          ]);
          await s.expunge(inbox.id);
          const dstList = await s.listMessages(dst.id);
          assert.equal(dstList.length, 25);
          assert.equal(new Set(dstList.map((m) => m.uid)).size, 25);
          assert.equal(new Set(dstList.map((m) => m.emailId)).size, 25);
          assert.equal((await s.listMessages(inbox.id)).length, 20);
          await eventually(async () => seenSrc[seenSrc.length - 1] === (await s.status(inbox.id)).highestModseq, 'source wake-ups');
          await eventually(async () => seenDst[seenDst.length - 1] === (await s.status(dst.id)).highestModseq, 'dest wake-ups');
          for (const seq of [seenSrc, seenDst]) for (let i = 1; i < seq.length; i++) assert.ok(seq[i]! > seq[i - 1]!);
          off1();
          off2();
        }),
      );
    });

    // ------------------------------------------------------------------------------------------------
    test('model check: random operation sequences agree with a reference model', async () => {
      const FLAGS = ['\\Seen', '\\seen', '\\Deleted', '\\Flagged', '\\ANSWERED', 'Work', 'work', 'Later', '$Junk'];
      const flagsArb = fc.subarray(FLAGS, { maxLength: 4 });
      const uidsArb = fc.array(fc.integer({ min: 1, max: 14 }), { maxLength: 6 });
      const box = fc.constantFrom(0, 1);
      type Op =
        | { k: 'append'; box: number; flags: string[] }
        | { k: 'flags'; box: number; uids: number[]; op: 'add' | 'remove' | 'set'; flags: string[] }
        | { k: 'expunge'; box: number; uids: number[] | null }
        | { k: 'copy' | 'move'; box: number; uids: number[] };
      const opArb: fc.Arbitrary<Op> = fc.oneof(
        { weight: 4, arbitrary: fc.record({ k: fc.constant('append' as const), box, flags: flagsArb }) },
        { weight: 4, arbitrary: fc.record({ k: fc.constant('flags' as const), box, uids: uidsArb, op: fc.constantFrom('add' as const, 'remove' as const, 'set' as const), flags: flagsArb }) },
        { weight: 2, arbitrary: fc.record({ k: fc.constant('expunge' as const), box, uids: fc.option(uidsArb, { nil: null }) }) },
        { weight: 1, arbitrary: fc.record({ k: fc.constant('copy' as const), box, uids: uidsArb }) },
        { weight: 1, arbitrary: fc.record({ k: fc.constant('move' as const), box, uids: uidsArb }) },
      );
      interface M {
        uid: number;
        emailId: string;
        flags: Set<string>;
      }
      interface B {
        id: number;
        uidNext: number;
        modseq: number;
        msgs: Map<number, M>;
      }
      const norm = (f: string[]) => new Set(f.filter((x) => x.toLowerCase() !== '\\recent').map((x) => x.toLowerCase()));
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
          const { store: s, cleanup } = await factory();
          try {
            const user = await s.createUser('model@example.org', 'x');
            const mbs = [(await s.getMailbox(user.id, 'INBOX'))!, await s.createMailbox(user.id, 'Other')];
            const model: B[] = mbs.map((m) => ({ id: m.id, uidNext: m.uidNext, modseq: m.highestModseq, msgs: new Map() }));
            let n = 0;
            for (const op of ops) {
              const src = model[op.box]!;
              const dst = model[1 - op.box]!;
              const before = model.map((b) => b.modseq);
              const touched: Array<Set<number>> = [new Set(), new Set()];
              const removed: Array<Set<number>> = [new Set(), new Set()];
              if (op.k === 'append') {
                const r = await s.append(src.id, sampleMessage(++n), { flags: op.flags });
                assert.equal(r.uid, src.uidNext);
                src.msgs.set(r.uid, { uid: r.uid, emailId: r.emailId, flags: norm(op.flags) });
                src.uidNext++;
                touched[op.box]!.add(r.uid);
              } else if (op.k === 'flags') {
                await s.storeFlags(src.id, op.uids, { op: op.op, flags: op.flags });
                const f = norm(op.flags);
                for (const uid of new Set(op.uids)) {
                  const m = src.msgs.get(uid);
                  if (!m) continue;
                  const next = op.op === 'set' ? new Set(f) : op.op === 'add' ? new Set([...m.flags, ...f]) : new Set([...m.flags].filter((x) => !f.has(x)));
                  if (next.size !== m.flags.size || [...next].some((x) => !m.flags.has(x))) {
                    m.flags = next;
                    touched[op.box]!.add(uid);
                  }
                }
              } else if (op.k === 'expunge') {
                const got = await s.expunge(src.id, op.uids ?? undefined);
                const want = [...src.msgs.values()]
                  .filter((m) => m.flags.has('\\deleted') && (op.uids === null || op.uids.includes(m.uid)))
                  .map((m) => m.uid)
                  .sort((a, b) => a - b);
                assert.deepEqual(got, want);
                for (const u of want) {
                  src.msgs.delete(u);
                  removed[op.box]!.add(u);
                }
              } else {
                const r = await (op.k === 'copy' ? s.copy(src.id, op.uids, dst.id) : s.move(src.id, op.uids, dst.id));
                const srcUids = [...new Set(op.uids)].filter((u) => src.msgs.has(u)).sort((a, b) => a - b);
                assert.deepEqual(r.pairs.map((p) => p[0]), srcUids);
                for (const [from, to] of r.pairs) {
                  assert.equal(to, dst.uidNext);
                  dst.uidNext++;
                  const m = src.msgs.get(from)!;
                  dst.msgs.set(to, { uid: to, emailId: op.k === 'move' ? m.emailId : '', flags: new Set(m.flags) });
                  touched[1 - op.box]!.add(to);
                  if (op.k === 'move') {
                    src.msgs.delete(from);
                    removed[op.box]!.add(from);
                  }
                }
              }
              for (let i = 0; i < 2; i++) {
                const b = model[i]!;
                const changed = touched[i]!.size > 0 || removed[i]!.size > 0;
                const st = await s.status(b.id);
                assert.equal(st.highestModseq, changed ? before[i]! + 1 : before[i]!, `modseq of box ${i} after ${op.k}`);
                b.modseq = st.highestModseq;
                assert.equal(st.uidNext, b.uidNext);
                assert.equal(st.messages, b.msgs.size);
                const list = await s.listMessages(b.id);
                assert.deepEqual(list.map((m) => m.uid), [...b.msgs.keys()].sort((x, y) => x - y));
                for (const m of list) {
                  const want = b.msgs.get(m.uid)!;
                  assert.deepEqual(norm(m.flags), want.flags, `flags of uid ${m.uid}`);
                  if (want.emailId === '') want.emailId = m.emailId;
                  assert.equal(m.emailId, want.emailId);
                }
                assert.equal(new Set(list.map((m) => m.emailId)).size, list.length);
                const ch = await s.changesSince(b.id, before[i]!);
                assert.deepEqual(ch.changed.map((m) => m.uid), [...touched[i]!].filter((u) => b.msgs.has(u)).sort((x, y) => x - y));
                assert.deepEqual(ch.expunged, [...removed[i]!].sort((x, y) => x - y));
              }
              const all = [...model[0]!.msgs.values(), ...model[1]!.msgs.values()].map((m) => m.emailId);
              assert.equal(new Set(all).size, all.length, 'EMAILIDs unique across mailboxes');
            }
          } finally {
            await cleanup();
          }
        }),
        { numRuns: 12 },
      );
    });

    test('close waits for in-flight appends, is idempotent, and later calls fail', async () => {
      const { store, cleanup } = await factory();
      try {
        const user = await store.createUser('carol@example.org', 'x');
        const inbox = (await store.getMailbox(user.id, 'INBOX'))!;
        const pending = Array.from({ length: 10 }, (_, i) => store.append(inbox.id, sampleMessage(i)));
        await store.close();
        const results = await Promise.allSettled(pending);
        assert.ok(
          results.every((r) => r.status === 'fulfilled'),
          'appends started before close complete',
        );
        await store.close();
        await assert.rejects(store.listMessages(inbox.id));
      } finally {
        await cleanup();
      }
    });
  });
}


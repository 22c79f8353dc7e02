/**
 * The MailStore contract, sortKeys (src/store/mail.ts): the mailsort SortKeys of a mailbox's messages,
 * equal to sortKeysFor over the stored envelope, internal date, size and References; in uid order; brought
 * forward across appends, expunges, copies and moves; one frozen table while the mailbox is unchanged;
 * NOT_FOUND for an unknown mailbox. Part of
 * runMailContract (mail.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { casemap, type SortKeys } from '../../src/mailsort/index.js';
import { rejectsWith } from '../helpers/store.js';
import { storeRunner, type StoreFactory } from './harness.js';

function msg(headers: string[]): Buffer {
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\nbody\r\n`);
}

const ROOT = msg([
  'From: "Zed Root" <zed@example.org>',
  'To: =?UTF-8?Q?=C3=84nne?= <anne@example.net>',
  'Cc: cc@example.com',
  'Subject: Re: [list] Plans',
  'Date: Tue, 02 Feb 2021 10:00:00 +0100',
  'Message-ID: <root@example.org>',
]);
const REPLY = msg([
  'From: bob@example.com',
  'To: Group: a@example.com;',
  'Subject: Fwd: plans',
  'Date: garbage',
  'Message-ID: <reply@example.org>',
  'In-Reply-To: <ignored@example.org>',
  'References: <root@example.org>\r\n <mid@example.org>',
]);
const IRT_ONLY = msg(['Subject: plain', 'Message-ID: <third@example.org>', 'In-Reply-To: <reply@example.org> <other@example.org>']);

export function runSortKeysContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`MailStore contract: ${name}: sortKeys`, () => {
    test(
      'keys of every message in uid order, computed from the stored message',
      withStore(async (s, _user, inbox) => {
        const d1 = new Date('2020-01-01T00:00:00.000Z');
        const d2 = new Date('2020-01-02T00:00:00.000Z');
        await s.mail.append(inbox.id, ROOT, { internalDate: d1 });
        await s.mail.append(inbox.id, REPLY, { internalDate: d2 });
        await s.mail.append(inbox.id, IRT_ONLY, { internalDate: d2 });
        const keys = await s.mail.sortKeys(inbox.id);
        assert.deepEqual(
          keys.map((k) => k.uid),
          [1, 2, 3],
        );
        const [a, b, c] = keys.records() as [SortKeys, SortKeys, SortKeys];
        assert.equal(a.arrival, d1.getTime());
        assert.equal(a.sent, Date.UTC(2021, 1, 2, 9, 0, 0));
        assert.equal(a.size, ROOT.length);
        assert.equal(a.subject, 'PLANS');
        assert.equal(a.replyOrForward, true);
        assert.equal(a.from, 'ZED');
        assert.equal(a.to, 'ANNE');
        assert.equal(a.cc, 'CC');
        assert.equal(a.displayFrom, 'ZED ROOT');
        assert.equal(a.displayTo, casemap('Änne'), 'the display name, RFC 2047-decoded');
        assert.equal(a.messageId, 'root@example.org');
        assert.deepEqual(a.parents, []);
        assert.equal(b.sent, d2.getTime(), 'an unparseable Date header sorts by the internal date');
        assert.equal(b.subject, 'PLANS');
        assert.equal(b.to, 'GROUP');
        assert.deepEqual(b.parents, ['root@example.org', 'mid@example.org'], 'References wins over In-Reply-To, unfolded');
        assert.deepEqual(c.parents, ['reply@example.org'], 'without References: the first In-Reply-To id');
        assert.equal(c.from, '');
        assert.equal(c.displayFrom, '');
      }),
    );

    test(
      'a uid list: only existing uids, each once, in uid order',
      withStore(async (s, _user, inbox) => {
        for (let i = 0; i < 4; i++) await s.mail.append(inbox.id, msg([`Subject: m${i}`]));
        const keys = await s.mail.sortKeys(inbox.id, [4, 2, 9, 2, 0]);
        assert.deepEqual(
          keys.map((k) => [k.uid, k.subject]),
          [
            [2, 'M1'],
            [4, 'M3'],
          ],
        );
        assert.equal((await s.mail.sortKeys(inbox.id, [])).length, 0);
      }),
    );

    test(
      'brought forward across appends, expunges, copies and moves',
      withStore(async (s, user, inbox) => {
        for (let i = 0; i < 3; i++) await s.mail.append(inbox.id, msg([`Subject: m${i}`]));
        assert.deepEqual(
          (await s.mail.sortKeys(inbox.id)).map((k) => k.uid),
          [1, 2, 3],
        );
        await s.mail.storeFlags(inbox.id, [2], { op: 'add', flags: ['\\Deleted'] });
        await s.mail.expunge(inbox.id);
        await s.mail.append(inbox.id, msg(['Subject: new']));
        const after = await s.mail.sortKeys(inbox.id);
        assert.deepEqual(
          after.map((k) => [k.uid, k.subject]),
          [
            [1, 'M0'],
            [3, 'M2'],
            [4, 'NEW'],
          ],
        );
        const other = await s.mail.createMailbox(user.id, 'Other');
        await s.mail.copy(inbox.id, [1], other.id);
        await s.mail.move(inbox.id, [3], other.id);
        assert.deepEqual(
          (await s.mail.sortKeys(other.id)).map((k) => [k.uid, k.subject]),
          [
            [1, 'M0'],
            [2, 'M2'],
          ],
        );
        assert.deepEqual(
          (await s.mail.sortKeys(inbox.id)).map((k) => k.uid),
          [1, 4],
        );
      }),
    );

    test(
      'an unchanged mailbox gives the same frozen table for all of its messages; a change gives a new one',
      withStore(async (s, _user, inbox) => {
        for (let i = 0; i < 3; i++) await s.mail.append(inbox.id, msg([`Subject: m${i}`]));
        const a = await s.mail.sortKeys(inbox.id);
        assert.ok(Object.isFrozen(a));
        assert.equal(await s.mail.sortKeys(inbox.id), a);
        assert.equal(await s.mail.sortKeys(inbox.id, [1, 2, 3]), a, 'exactly its uids in order: the same table');
        assert.notEqual(await s.mail.sortKeys(inbox.id, [1, 3]), a);
        await s.mail.storeFlags(inbox.id, [1], { op: 'add', flags: ['\\Seen'] });
        assert.equal(await s.mail.sortKeys(inbox.id), a, 'flag changes do not change the keys');
        await s.mail.append(inbox.id, msg(['Subject: m3']));
        const b = await s.mail.sortKeys(inbox.id);
        assert.notEqual(b, a);
        assert.deepEqual(
          b.map((k) => k.uid),
          [1, 2, 3, 4],
        );
      }),
    );

    test(
      'concurrent calls with appends and expunges in between end in step with the mailbox',
      withStore(async (s, _user, inbox) => {
        for (let i = 0; i < 20; i++) await s.mail.append(inbox.id, msg([`Subject: m${i}`]));
        const calls: Array<Promise<unknown>> = [];
        for (let i = 0; i < 10; i++) {
          calls.push(s.mail.sortKeys(inbox.id));
          calls.push(s.mail.storeFlags(inbox.id, [i + 1], { op: 'add', flags: ['\\Deleted'] }).then(() => s.mail.expunge(inbox.id)));
          calls.push(s.mail.append(inbox.id, msg([`Subject: n${i}`])));
          calls.push(s.mail.sortKeys(inbox.id, [i + 1, i + 2, 25]));
        }
        await Promise.all(calls);
        const uids = (await s.mail.listMessages(inbox.id)).map((m) => m.uid);
        assert.deepEqual(
          (await s.mail.sortKeys(inbox.id)).map((k) => k.uid),
          uids,
        );
        assert.ok(Object.isFrozen(await s.mail.sortKeys(inbox.id)), 'complete again: the shared table');
      }),
    );

    test(
      'NOT_FOUND for an unknown or deleted mailbox',
      withStore(async (s, user) => {
        await rejectsWith(s.mail.sortKeys(987654), 'NOT_FOUND');
        const mb = await s.mail.createMailbox(user.id, 'Gone');
        await s.mail.append(mb.id, msg(['Subject: x']));
        assert.equal((await s.mail.sortKeys(mb.id)).length, 1);
        await s.mail.deleteMailbox(user.id, 'Gone');
        await rejectsWith(s.mail.sortKeys(mb.id), 'NOT_FOUND');
      }),
    );
  });
}

/**
 * The MailStore contract, appendMany (src/store/mail.ts; IMAP MULTIAPPEND, RFC 3502): a batch commits
 * whole (consecutive UIDs in item order, one MODSEQ, one wake-up, the quota counted for the whole batch)
 * or not at all (no message, UID, MODSEQ, quota usage or wake-up left behind), whichever of its messages
 * is refused and whether the store refuses it before or inside its transaction. Part of runMailContract.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_MESSAGE_SIZE } from '../../src/lib/limits.js';
import { MAX_APPEND_BATCH } from '../../src/store/append-check.js';
import type { Store } from '../../src/store/handle.js';
import type { AppendItem, Mailbox, StoreErrorCode } from '../../src/store/types.js';
import { rejectsWith, sampleMessage } from '../helpers/store.js';
import { ID_RE, storeRunner, type StoreFactory } from './harness.js';

const items = (...raws: Buffer[]): AppendItem[] => raws.map((raw) => ({ raw }));

/** Everything a refused batch must leave as it was, and the wake-ups seen meanwhile. */
async function snapshot(s: Store, box: Mailbox, userId: number): Promise<unknown> {
  const st = await s.mail.status(box.id);
  const list = await s.mail.listMessages(box.id);
  return { st, uids: list.map((m) => m.uid), usage: await s.quota.usage(userId) };
}

/** Asserts `run` fails with `code` and leaves the mailbox, the change log and the quota usage untouched, with no wake-up. */
async function refusedWhole(s: Store, box: Mailbox, userId: number, code: StoreErrorCode, run: () => Promise<unknown>): Promise<void> {
  const before = await snapshot(s, box, userId);
  const since = (await s.mail.status(box.id)).highestModseq;
  let wakeups = 0;
  const off = s.mail.subscribe(box.id, () => wakeups++);
  try {
    await rejectsWith(run(), code);
    // Time for a wake-up that a store would (wrongly) deliver after the call settled.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(await snapshot(s, box, userId), before, `${code}: mailbox unchanged`);
    const changes = await s.mail.changesSince(box.id, since);
    assert.deepEqual([changes.changed.length, changes.expunged.length, changes.highestModseq], [0, 0, since], `${code}: nothing in the change log`);
    assert.equal(wakeups, 0, `${code}: no wake-up`);
  } finally {
    off();
  }
}

export function runAppendManyContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`MailStore contract: ${name}: appendMany`, () => {
    test(
      'commits every message at once: consecutive UIDs in order, one MODSEQ, one wake-up, flags, dates and bytes per item',
      withStore(async (s, _user, inbox) => {
        await s.mail.append(inbox.id, sampleMessage(1));
        const before = await s.mail.status(inbox.id);
        const events: number[] = [];
        const off = s.mail.subscribe(inbox.id, (ev) => events.push(ev.highestModseq));
        const date = new Date('2020-03-04T05:06:07.000Z');
        const raws = [sampleMessage(2), sampleMessage(3), sampleMessage(4)];
        const results = await s.mail.appendMany(inbox.id, [
          { raw: raws[0]!, opts: { flags: ['\\Seen', '$Work'], internalDate: date } },
          { raw: raws[1]! },
          { raw: raws[2]!, opts: { flags: ['\\Flagged'] } },
        ]);
        await new Promise((resolve) => setTimeout(resolve, 20));
        off();
        assert.deepEqual(
          results.map((r) => r.uid),
          [2, 3, 4],
        );
        const modseq = before.highestModseq + 1;
        assert.deepEqual(
          results.map((r) => [r.uidValidity, r.modseq]),
          results.map(() => [inbox.uidValidity, modseq]),
        );
        for (const r of results) assert.match(r.emailId, ID_RE);
        assert.equal(new Set(results.map((r) => r.emailId)).size, 3);
        assert.deepEqual(events, [modseq], 'one wake-up for the batch');
        const after = await s.mail.status(inbox.id);
        assert.deepEqual([after.messages, after.uidNext, after.highestModseq], [4, 5, modseq]);
        const list = await s.mail.listMessages(inbox.id);
        assert.deepEqual(
          list.slice(1).map((m) => [m.uid, m.emailId, m.modseq, [...m.flags].sort()]),
          [
            [2, results[0]!.emailId, modseq, ['$Work', '\\Seen']],
            [3, results[1]!.emailId, modseq, []],
            [4, results[2]!.emailId, modseq, ['\\Flagged']],
          ],
        );
        assert.equal(list[1]!.internalDate.getTime(), date.getTime());
        for (const [i, raw] of raws.entries()) assert.deepEqual(await s.mail.readBytes(inbox.id, 2 + i), raw);
        const changes = await s.mail.changesSince(inbox.id, before.highestModseq);
        assert.deepEqual(
          changes.changed.map((m) => m.uid),
          [2, 3, 4],
        );
        assert.deepEqual(await s.quota.usage(_user.id), { storage: after.size, messages: 4 });
      }),
    );

    test(
      'a message of the batch may reply to an earlier one: same THREADID; a kept EMAILID is honoured',
      withStore(async (s, _user, inbox) => {
        const first = Buffer.from('Message-ID: <root@x>\r\nSubject: a\r\n\r\nroot\r\n');
        const reply = Buffer.from('Message-ID: <reply@x>\r\nIn-Reply-To: <root@x>\r\nSubject: Re: a\r\n\r\nreply\r\n');
        const other = Buffer.from('Message-ID: <other@x>\r\nSubject: b\r\n\r\nother\r\n');
        const r = await s.mail.appendMany(inbox.id, [{ raw: first }, { raw: reply, opts: { emailId: 'Mkept-1' } }, { raw: other }]);
        assert.equal(r[1]!.emailId, 'Mkept-1');
        const list = await s.mail.listMessages(inbox.id);
        assert.equal(list[0]!.threadId, list[1]!.threadId);
        assert.notEqual(list[0]!.threadId, list[2]!.threadId);
      }),
    );

    test(
      'a refused message refuses the whole batch: too big, bad date, bad flag, bad EMAILID, REPLACE, empty, too many, no mailbox',
      withStore(async (s, user, inbox) => {
        await s.mail.append(inbox.id, sampleMessage(1));
        const ok = [sampleMessage(2), sampleMessage(3)];
        const third = (item: AppendItem) => s.mail.appendMany(inbox.id, [...items(...ok), item]);
        await refusedWhole(s, inbox, user.id, 'TOO_BIG', () => third({ raw: Buffer.alloc(MAX_MESSAGE_SIZE + 1, 0x61) }));
        await refusedWhole(s, inbox, user.id, 'INVALID', () => third({ raw: sampleMessage(4), opts: { internalDate: new Date('invalid') } }));
        await refusedWhole(s, inbox, user.id, 'INVALID', () => third({ raw: sampleMessage(4), opts: { internalDate: new Date(Date.UTC(10000, 0, 1)) } }));
        await refusedWhole(s, inbox, user.id, 'INVALID', () => third({ raw: sampleMessage(4), opts: { flags: ['\\Bogus'] } }));
        await refusedWhole(s, inbox, user.id, 'INVALID', () => third({ raw: sampleMessage(4), opts: { emailId: 'no spaces' } }));
        await refusedWhole(s, inbox, user.id, 'INVALID', () => third({ raw: 'not a buffer' as unknown as Buffer }));
        await refusedWhole(s, inbox, user.id, 'INVALID', () => third({ raw: sampleMessage(4), opts: { replaces: { mailboxId: inbox.id, uid: 1 } } }));
        await refusedWhole(s, inbox, user.id, 'INVALID', () => s.mail.appendMany(inbox.id, []));
        const many = Array.from({ length: MAX_APPEND_BATCH + 1 }, () => ({ raw: ok[0]! }));
        await refusedWhole(s, inbox, user.id, 'INVALID', () => s.mail.appendMany(inbox.id, many));
        await rejectsWith(s.mail.appendMany(987654, items(...ok)), 'NOT_FOUND');
        // The same batch without the bad message goes through, with the next UIDs.
        assert.deepEqual(
          (await s.mail.appendMany(inbox.id, items(...ok))).map((r) => r.uid),
          [2, 3],
        );
      }),
    );

    test(
      'refused inside the transaction (EMAILID taken, also within the batch): nothing stays',
      withStore(async (s, user, inbox) => {
        const kept = await s.mail.append(inbox.id, sampleMessage(1), { emailId: 'Mtaken' });
        assert.equal(kept.emailId, 'Mtaken');
        const a = { raw: sampleMessage(2) };
        await refusedWhole(s, inbox, user.id, 'EXISTS', () => s.mail.appendMany(inbox.id, [a, a, { raw: sampleMessage(3), opts: { emailId: 'Mtaken' } }]));
        await refusedWhole(s, inbox, user.id, 'EXISTS', () =>
          s.mail.appendMany(inbox.id, [a, { raw: sampleMessage(3), opts: { emailId: 'Mtwice' } }, { raw: sampleMessage(4), opts: { emailId: 'Mtwice' } }]),
        );
        assert.equal((await s.mail.appendMany(inbox.id, [a, a]))[1]!.uid, 3);
      }),
    );

    test(
      'the quota counts the whole batch: one that would end over a limit is refused whole, OVER_QUOTA',
      withStore(async (s, user, inbox) => {
        const raw = sampleMessage(1, { body: 'z'.repeat(400) });
        await s.quota.setLimits(user.id, { storage: raw.length * 4, messages: 10 });
        await s.mail.append(inbox.id, raw);
        // Three more fit, four do not: only the last message of the batch is over.
        await refusedWhole(s, inbox, user.id, 'OVER_QUOTA', () => s.mail.appendMany(inbox.id, items(raw, raw, raw, raw)));
        await s.quota.setLimits(user.id, { storage: null, messages: 3 });
        await refusedWhole(s, inbox, user.id, 'OVER_QUOTA', () => s.mail.appendMany(inbox.id, items(raw, raw, raw)));
        assert.equal((await s.mail.appendMany(inbox.id, items(raw, raw))).length, 2);
        assert.deepEqual(await s.quota.usage(user.id), { storage: raw.length * 3, messages: 3 });
      }),
    );

    test(
      'concurrent appends never land inside a batch; a batch into another mailbox wakes only that one',
      withStore(async (s, user, inbox) => {
        const other = await s.mail.createMailbox(user.id, 'Other');
        let inboxWakeups = 0;
        const off = s.mail.subscribe(inbox.id, () => inboxWakeups++);
        const batch = Array.from({ length: 8 }, (_, i) => ({ raw: sampleMessage(100 + i) }));
        const [many, ...singles] = await Promise.all([
          s.mail.appendMany(inbox.id, batch),
          ...Array.from({ length: 6 }, (_, i) => s.mail.append(inbox.id, sampleMessage(i))),
          s.mail.appendMany(other.id, items(sampleMessage(50), sampleMessage(51))),
        ]);
        off();
        const uids = (many as Array<{ uid: number }>).map((r) => r.uid);
        assert.deepEqual(
          uids,
          uids.map((_, i) => uids[0]! + i),
        );
        const all = new Set([...uids, ...singles.slice(0, 6).map((r) => (r as { uid: number }).uid)]);
        assert.equal(all.size, 14);
        assert.equal((await s.mail.status(inbox.id)).messages, 14);
        assert.equal((await s.mail.status(other.id)).messages, 2);
        assert.ok(inboxWakeups <= 7, `at most one wake-up per write, got ${inboxWakeups}`);
      }),
    );
  });
}

/**
 * The sort-key cache (sort-keys.ts) and the memoized sorts and threads over its tables (mailsort memo.ts)
 * never go stale: after random appends, expunges, flag changes, copies and moves across two mailboxes,
 * every SORT criterion and THREAD algorithm over the long-lived store's table equals a fresh computation
 * (a new cache that computes every key from the stored envelopes), and the table is shared only while the
 * mailbox is unchanged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sortMessages, sortMessagesMemo, threadMessages, threadMessagesMemo, type SortField } from '../mailsort/index.js';
import { SortKeyCache } from './sort-keys.js';
import { openSqliteStore } from './sqlite/index.js';

const FIELDS: SortField[] = ['arrival', 'sent', 'size', 'subject', 'from', 'to', 'cc', 'displayFrom', 'displayTo'];
const SUBJECTS = ['plans', 'Re: plans', 'Fwd: budget', 'budget', '\u00c4rger', '\u{1F600} smile', ''];
const PEOPLE = ['amy', 'Bob', 'carol', '\u00e9mile', 'zed'];

function message(n: number, r: () => number): Buffer {
  const parent = n > 1 && r() < 0.5 ? 1 + Math.floor(r() * (n - 1)) : 0;
  const head = [
    `From: ${PEOPLE[Math.floor(r() * PEOPLE.length)]}@example.org`,
    `To: ${PEOPLE[Math.floor(r() * PEOPLE.length)]} <list@example.org>`,
    `Subject: ${SUBJECTS[Math.floor(r() * SUBJECTS.length)]}`,
    `Date: ${new Date(Date.UTC(2021, 0, 1 + Math.floor(r() * 5))).toUTCString()}`,
    `Message-ID: <m${n}@x>`,
    ...(parent ? [`References: <m${parent}@x>`] : []),
  ];
  return Buffer.from(`${head.join('\r\n')}\r\n\r\nbody ${'x'.repeat(Math.floor(r() * 50))}\r\n`);
}

test('sorts and threads over the cached tables equal a fresh computation after every kind of change', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sort-cache-'));
  let seed = 7;
  const r = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
  const s = await openSqliteStore({ dataDir: dir, fsync: false });
  try {
    const user = await s.directory.createUser('alice@example.org', '$test$hash');
    const boxes = [(await s.mail.getMailbox(user.id, 'INBOX'))!.id, (await s.mail.createMailbox(user.id, 'Other')).id];
    let n = 0;
    for (let i = 0; i < 12; i++) await s.mail.append(boxes[i % 2]!, message(++n, r), { internalDate: new Date(Date.UTC(2021, 0, 1, i)) });
    for (let step = 0; step < 30; step++) {
      const box = boxes[Math.floor(r() * 2)]!;
      const other = boxes.find((b) => b !== box)!;
      const uids = (await s.mail.listMessages(box)).map((m) => m.uid);
      const some = uids.filter(() => r() < 0.3);
      const op = Math.floor(r() * 5);
      if (op === 0 || uids.length < 3) await s.mail.append(box, message(++n, r), { internalDate: new Date(Date.UTC(2021, 0, 2, step)) });
      else if (op === 1 && some.length) {
        await s.mail.storeFlags(box, some, { op: 'add', flags: ['\\Deleted'] });
        await s.mail.expunge(box);
      } else if (op === 2 && some.length) await s.mail.storeFlags(box, some, { op: 'add', flags: ['\\Seen'] });
      else if (op === 3 && some.length) await s.mail.copy(box, some, other);
      else if (some.length) await s.mail.move(box, some, other);
      const fresh = new SortKeyCache(s.mail);
      for (const b of boxes) {
        const table = await s.mail.sortKeys(b);
        assert.equal(await s.mail.sortKeys(b), table, 'unchanged: the same table');
        assert.ok(Object.isFrozen(table));
        const want = await fresh.get(b);
        assert.deepEqual(table.records(), want.records(), `step ${step}: the keys of mailbox ${b}`);
        for (const field of FIELDS) {
          for (const reverse of [false, true]) {
            const criteria = [{ field, reverse }, { field: 'subject' as const }];
            assert.deepEqual(sortMessagesMemo(table, criteria), sortMessages(want, criteria), `step ${step}: ${reverse ? 'REVERSE ' : ''}${field}`);
          }
        }
        for (const algorithm of ['orderedsubject', 'references', 'refs'] as const) {
          assert.deepEqual(threadMessagesMemo(table, algorithm), threadMessages(want, algorithm), `step ${step}: THREAD ${algorithm}`);
        }
      }
    }
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

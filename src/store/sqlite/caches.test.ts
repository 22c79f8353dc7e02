import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { sampleMessage } from '../../../test/helpers/store.js';
import { applyDelta, carryMetas } from './caches.js';
import { openSqliteStore } from './index.js';
import { sharedMeta, type RawMsgRow } from './rows.js';

function row(uid: number, flags: number, modseq: number): RawMsgRow {
  return [uid, `e${uid}`, `t${uid}`, flags, '', 1_700_000_000_000, 100 + uid, modseq, null];
}

describe('list cache: shared message metadata', () => {
  test('carryMetas keeps the objects of unchanged rows and makes new ones for changed and added rows', () => {
    const rows = [row(1, 0, 1), row(2, 0, 2), row(3, 0, 3), row(5, 0, 4)];
    const metas = rows.map(sharedMeta);
    const next = applyDelta(rows, [row(3, 1, 6), row(7, 0, 7)], [2]);
    const carried = carryMetas(rows, metas, next);
    assert.deepEqual(
      carried.map((m) => m.uid),
      [1, 3, 5, 7],
    );
    assert.equal(carried[0], metas[0]);
    assert.equal(carried[2], metas[3]);
    assert.notEqual(carried[1], metas[2]);
    assert.deepEqual(carried[1]!.flags, ['\\Seen']);
    assert.equal(carried[1]!.modseq, 6);
    assert.equal(carried[3]!.uid, 7);
  });

  test('sharedMeta objects and their flag lists are frozen', () => {
    const m = sharedMeta(row(4, 1, 9));
    assert.ok(Object.isFrozen(m) && Object.isFrozen(m.flags));
    assert.throws(() => (m.flags as string[]).push('x'));
  });

  test('listMessages of a cached mailbox hands out the same objects until a message changes, then a new one for it only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-caches-'));
    const s = await openSqliteStore({ dataDir: dir, fsync: false });
    try {
      const user = await s.directory.createUser('c@example.org', 'h');
      const box = (await s.mail.getMailbox(user.id, 'INBOX'))!;
      // Above the list cache's minimum size, so the mailbox is cached.
      for (let i = 0; i < 80; i++) await s.mail.append(box.id, sampleMessage(i));
      const a = await s.mail.listMessages(box.id);
      const b = await s.mail.listMessages(box.id);
      assert.notEqual(a, b, 'each call gets its own array');
      assert.equal(a.length, 80);
      assert.ok(a.every((m, i) => m === b[i]));
      await s.mail.storeFlags(box.id, [a[10]!.uid], { op: 'add', flags: ['\\Flagged'] });
      const c = await s.mail.listMessages(box.id);
      assert.deepEqual(c[10]!.flags, ['\\Flagged']);
      assert.deepEqual(a[10]!.flags, [], 'the object handed out before is unchanged');
      assert.ok(c.every((m, i) => i === 10 || m === a[i]));
      assert.notEqual(c[10], a[10]);
    } finally {
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

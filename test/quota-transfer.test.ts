/**
 * Quotas across `mailroom export` / transferStore: no quota (the user's own, or the target's default) stops
 * the copy; afterwards the user has their own limits from the source, or keeps the target's setting; the
 * usage in the target is exact (counted by the target's own writes). An mbox import honours the user's
 * quota: what does not fit is skipped and reported, the rest arrives.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { importMbox, transferStore } from '../src/transfer/index.js';
import { writeFileSync } from 'node:fs';
import { sampleMessage } from './helpers/store.js';

test('every message arrives whatever the limits; own limits travel with the user; usage is exact in the target', async () => {
  const dirs = [mkdtempSync(join(tmpdir(), 'mailroom-qt-')), mkdtempSync(join(tmpdir(), 'mailroom-qt-'))];
  const from = await openSqliteStore({ dataDir: dirs[0]!, fsync: false });
  const to = await openSqliteStore({ dataDir: dirs[1]!, fsync: false, quota: { messages: 3 } });
  try {
    const u = await from.directory.createUser('q@example.org', 'h');
    const v = await from.directory.createUser('r@example.org', 'h');
    for (const [user, n] of [
      [u, 4],
      [v, 5],
    ] as const) {
      const inbox = (await from.mail.getMailbox(user.id, 'INBOX'))!;
      for (let i = 0; i < n; i++) await from.mail.append(inbox.id, sampleMessage(i));
    }
    // q's own limit is below its usage; r has none (the target's default of 3 messages applies).
    await from.quota.setLimits(u.id, { storage: 10, messages: Number.POSITIVE_INFINITY });
    const report = await transferStore(from, to);
    const tq = (await to.directory.getUser('q@example.org'))!;
    const tr = (await to.directory.getUser('r@example.org'))!;
    assert.deepEqual(await to.quota.settings(tq.id), { storage: 10, messages: Number.POSITIVE_INFINITY });
    assert.deepEqual(await to.quota.usage(tq.id), await from.quota.usage(u.id), 'q copied whole despite its own storage limit');
    assert.deepEqual(await to.quota.usage(tr.id), await from.quota.usage(v.id), 'r copied whole despite the default of 3 messages');
    assert.deepEqual(await to.quota.settings(tr.id), { storage: null, messages: null });
    assert.deepEqual(await to.quota.limits(tr.id), { storage: null, messages: 3 });
    assert.equal(report.skipped.length, 0);
    assert.equal(report.messages, 9);
  } finally {
    await from.close();
    await to.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test('mbox import: messages over the quota are skipped and reported, the others imported', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-qt-'));
  const store = await openSqliteStore({ dataDir: dir, fsync: false });
  try {
    const u = await store.directory.createUser('m@example.org', 'h');
    await store.quota.setLimits(u.id, { messages: 2 });
    const file = join(dir, 'in.mbox');
    writeFileSync(file, [1, 2, 3, 4].map((i) => `From a@b Mon Jan  1 00:00:00 2024\nSubject: ${i}\n\nbody ${i}\n\n`).join(''));
    const report = await importMbox(store, 'm@example.org', file);
    assert.equal(report.messages, 2);
    assert.deepEqual(
      report.skipped.map((s) => [s.item, s.reason]),
      [
        ['mbox message 3', 'quota exceeded'],
        ['mbox message 4', 'quota exceeded'],
      ],
    );
    assert.equal((await store.quota.usage(u.id)).messages, 2);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

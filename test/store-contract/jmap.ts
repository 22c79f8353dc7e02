/**
 * The JmapStore contract (src/store/jmap.ts): uploads are per user, expire and keep a per-user byte budget
 * by dropping the oldest; the outbound queue holds a message until its notBefore; typed objects have one state bump per write, ifInState, exact changes with
 * tombstones; snapshots keep the newest N; two store handles on the same data see each other's writes
 * (what several worker processes rely on).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { storeRunner, type StoreFactory } from './harness.js';
import { rejectsWith } from '../helpers/store.js';

export function runJmapContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);
  describe(`JmapStore contract: ${name}`, () => {
    test(
      'uploads: per user, expiry, byte budget drops the oldest, bad input',
      withStore(async (s, user) => {
        const bob = await s.directory.createUser('bob@example.org', '$test$hash');
        const later = new Date(Date.now() + 60_000);
        await s.jmap.putUpload(user.id, { id: 'Uone', type: 'text/plain', data: Buffer.from('hello \u00e9\0x'), expiresAt: later }, 100);
        const got = await s.jmap.getUpload(user.id, 'Uone', new Date());
        assert.equal(got?.type, 'text/plain');
        assert.deepEqual(got?.data, Buffer.from('hello \u00e9\0x'));
        assert.equal(await s.jmap.getUpload(bob.id, 'Uone', new Date()), null, 'another user cannot read it');
        assert.equal(await s.jmap.getUpload(user.id, 'Uone', new Date(Date.now() + 120_000)), null, 'expired');
        assert.equal(await s.jmap.getUpload(user.id, 'Unknown', new Date()), null);
        await s.jmap.putUpload(user.id, { id: 'Utwo', type: 'application/pdf', data: Buffer.alloc(60, 1), expiresAt: later }, 100);
        await s.jmap.putUpload(user.id, { id: 'Uthree', type: 'image/png', data: Buffer.alloc(50, 2), expiresAt: later }, 100);
        assert.equal(await s.jmap.getUpload(user.id, 'Uone', new Date()), null, 'the oldest went to make room');
        assert.equal(await s.jmap.getUpload(user.id, 'Utwo', new Date()), null, 'and the next oldest');
        assert.equal((await s.jmap.getUpload(user.id, 'Uthree', new Date()))?.data.length, 50);
        await s.jmap.putUpload(bob.id, { id: 'Ubob', type: 'text/plain', data: Buffer.alloc(90), expiresAt: later }, 100);
        assert.ok(await s.jmap.getUpload(user.id, 'Uthree', new Date()), "another user's uploads do not count");
        await rejectsWith(s.jmap.putUpload(user.id, { id: 'bad id!', type: 'text/plain', data: Buffer.alloc(1), expiresAt: later }, 100), 'INVALID');
        await rejectsWith(s.jmap.putUpload(user.id, { id: 'Ubig', type: 'text/plain', data: Buffer.alloc(101), expiresAt: later }, 100), 'INVALID');
        await rejectsWith(s.jmap.putUpload(user.id, { id: 'Utype', type: 'text/\nplain', data: Buffer.alloc(1), expiresAt: later }, 100), 'INVALID');
      }),
    );

    test(
      'objects: states, ifInState, changes with tombstones, per user and kind',
      withStore(async (s, user) => {
        const bob = await s.directory.createUser('bob@example.org', '$test$hash');
        assert.deepEqual(await s.jmap.listObjects(user.id, 'Identity'), { state: 0, objects: [] });
        const s1 = await s.jmap.writeObjects(user.id, 'Identity', { put: [{ id: 'i1', data: { name: 'A', n: 1 } }, { id: 'i2', data: { name: 'B' } }] });
        assert.equal(s1, 1);
        const s2 = await s.jmap.writeObjects(user.id, 'Identity', { put: [{ id: 'i1', data: { name: 'A2' } }], destroy: ['i2', 'nothere'] }, 1);
        assert.equal(s2, 2);
        assert.equal(await s.jmap.writeObjects(user.id, 'Identity', { put: [{ id: 'i3', data: {} }] }, 1), null, 'ifInState mismatch writes nothing');
        const list = await s.jmap.listObjects(user.id, 'Identity');
        assert.deepEqual(list, { state: 2, objects: [{ id: 'i1', data: { name: 'A2' } }] });
        assert.deepEqual(await s.jmap.objectChanges(user.id, 'Identity', 0), { state: 2, created: ['i1'], updated: [], destroyed: [] }, 'i2 came and went');
        assert.deepEqual(await s.jmap.objectChanges(user.id, 'Identity', 1), { state: 2, created: [], updated: ['i1'], destroyed: ['i2'] });
        assert.deepEqual(await s.jmap.objectChanges(user.id, 'Identity', 2), { state: 2, created: [], updated: [], destroyed: [] });
        assert.equal(await s.jmap.objectChanges(user.id, 'Identity', 3), null, 'a future state is unknown');
        assert.equal(await s.jmap.objectChanges(user.id, 'Identity', -1), null);
        assert.equal(await s.jmap.writeObjects(user.id, 'Identity', {}), 2, 'an empty write changes nothing');
        // Re-creating a destroyed id reports it created.
        await s.jmap.writeObjects(user.id, 'Identity', { put: [{ id: 'i2', data: { name: 'again' } }] });
        assert.deepEqual((await s.jmap.objectChanges(user.id, 'Identity', 2))?.created, ['i2']);
        assert.deepEqual(await s.jmap.listObjects(bob.id, 'Identity'), { state: 0, objects: [] });
        assert.deepEqual(await s.jmap.listObjects(user.id, 'EmailSubmission'), { state: 0, objects: [] });
        await rejectsWith(s.jmap.writeObjects(user.id, 'bad kind', { put: [] }), 'INVALID');
        await rejectsWith(s.jmap.writeObjects(user.id, 'Identity', { put: [{ id: 'x/y', data: {} }] }), 'INVALID');
        await rejectsWith(s.jmap.writeObjects(user.id, 'Identity', { put: [{ id: 'ok', data: [] as unknown as Record<string, unknown> }] }), 'INVALID');
      }),
    );

    test(
      'the outbound queue holds a message until notBefore (JMAP delayed send), and it can be removed meanwhile',
      withStore(async (s) => {
        const later = new Date(Date.now() + 3600_000);
        const held = await s.queue.enqueue('alice@example.org', ['bob@example.org'], Buffer.from('Subject: x\r\n\r\nheld\r\n'), { notBefore: later });
        const now = await s.queue.enqueue('alice@example.org', ['bob@example.org'], Buffer.from('Subject: y\r\n\r\nnow\r\n'));
        const past = await s.queue.enqueue('alice@example.org', ['bob@example.org'], Buffer.from('Subject: z\r\n\r\npast\r\n'), { notBefore: new Date(0) });
        // A second ahead: PostgreSQL stamps with microseconds, JavaScript dates have milliseconds.
        const due = (await s.queue.due(new Date(Date.now() + 1000), 10)).map((m) => m.id);
        assert.ok(due.includes(now) && due.includes(past), 'a notBefore in the past is now');
        assert.ok(!due.includes(held));
        const listed = (await s.queue.list()).find((m) => m.id === held)!;
        assert.equal(listed.nextAttemptAt.getTime(), later.getTime());
        assert.equal(listed.attempts, 0);
        assert.ok((await s.queue.due(new Date(later.getTime() + 1000), 10)).some((m) => m.id === held));
        await s.queue.remove(held);
        assert.ok(!(await s.queue.list()).some((m) => m.id === held));
      }),
    );

    test(
      'snapshots: kept by state, newest N',
      withStore(async (s, user) => {
        for (let i = 0; i < 5; i++) await s.jmap.putSnapshot(user.id, 'Mailbox', `m${i}`, `{"n":${i}}`, 3);
        assert.equal(await s.jmap.getSnapshot(user.id, 'Mailbox', 'm0'), null);
        assert.equal(await s.jmap.getSnapshot(user.id, 'Mailbox', 'm1'), null);
        assert.equal(await s.jmap.getSnapshot(user.id, 'Mailbox', 'm4'), '{"n":4}');
        assert.equal(await s.jmap.getSnapshot(user.id, 'Mailbox', 'm2'), '{"n":2}');
        await s.jmap.putSnapshot(user.id, 'Mailbox', 'm4', 'other', 3);
        assert.equal(await s.jmap.getSnapshot(user.id, 'Mailbox', 'm4'), '{"n":4}', 'a state names one snapshot');
        assert.equal(await s.jmap.getSnapshot(user.id, 'Other', 'm4'), null);
        await rejectsWith(s.jmap.putSnapshot(user.id, 'Mailbox', 'bad state', 'x', 3), 'INVALID');
      }),
    );
  });
}

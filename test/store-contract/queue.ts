/**
 * The OutboundQueue contract (src/store/queue.ts): enqueue, due (oldest first, limit), read, update,
 * remove, list, and their errors.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_MESSAGE_SIZE } from '../../src/lib/limits.js';
import { rejectsWith } from '../helpers/store.js';
import { ID_RE, storeRunner, type StoreFactory } from './harness.js';

export function runQueueContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`OutboundQueue contract: ${name}`, () => {
    // ------------------------------------------------------------------------------------------------
    describe('outbound queue', () => {
      test(
        'enqueue, due, read, update, remove, list; NOT_FOUND; TOO_BIG; INVALID',
        withStore(async (s) => {
          const raw = Buffer.from('From: a@example.org\r\nTo: b@example.net\r\nSubject: out\r\n\r\nbody\r\n');
          const id1 = await s.queue.enqueue('a@example.org', ['b@example.net', 'c@example.net'], raw);
          await new Promise((r) => setTimeout(r, 5));
          const id2 = await s.queue.enqueue('', ['d@example.net'], Buffer.from('bounce\r\n'));
          assert.match(id1, ID_RE);
          assert.notEqual(id1, id2);
          assert.deepEqual(await s.queue.read(id1), raw);
          let due = await s.queue.due(new Date(Date.now() + 1000), 10);
          assert.deepEqual(due.map((m) => m.id), [id1, id2], 'oldest first');
          const m1 = due[0]!;
          assert.equal(m1.sender, 'a@example.org');
          assert.deepEqual(m1.recipients, ['b@example.net', 'c@example.net']);
          assert.equal(m1.attempts, 0);
          assert.equal(m1.lastError, null);
          assert.equal(m1.size, raw.length);
          assert.equal(due[1]!.sender, '');
          assert.equal((await s.queue.due(new Date(Date.now() + 1000), 1)).length, 1, 'limit');
          const later = new Date(Date.now() + 3_600_000);
          await s.queue.update(id1, { recipients: ['c@example.net'], attempts: 1, nextAttemptAt: later, lastError: '451 try later' });
          due = await s.queue.due(new Date(Date.now() + 1000), 10);
          assert.deepEqual(due.map((m) => m.id), [id2]);
          const all = await s.queue.list();
          const u1 = all.find((m) => m.id === id1)!;
          assert.deepEqual(u1.recipients, ['c@example.net']);
          assert.equal(u1.attempts, 1);
          assert.equal(u1.lastError, '451 try later');
          assert.equal(u1.nextAttemptAt.getTime(), later.getTime());
          await s.queue.remove(id2);
          assert.deepEqual((await s.queue.list()).map((m) => m.id), [id1]);
          await rejectsWith(s.queue.read(id2), 'NOT_FOUND');
          await rejectsWith(s.queue.remove(id2), 'NOT_FOUND');
          await rejectsWith(
            s.queue.update('Qnope', { recipients: [], attempts: 1, nextAttemptAt: new Date(), lastError: null }),
            'NOT_FOUND',
          );
          await rejectsWith(s.queue.enqueue('a@example.org', ['b@example.net'], Buffer.alloc(MAX_MESSAGE_SIZE + 1)), 'TOO_BIG');
          await rejectsWith(s.queue.enqueue('a@example.org', [], raw), 'INVALID');
          assert.deepEqual(await s.queue.read(id1), raw);
        }),
      );
    });
  });
}

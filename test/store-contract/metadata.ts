/**
 * The MailStore contract, annotations (src/store/metadata.ts, RFC 5464): server and mailbox entries per
 * user, lower-cased names, depth 0/1/infinity, set and remove in one call, per-user limits ('toomany',
 * nothing written), entries going with their mailbox and user, NOT_FOUND for another user's mailbox.
 * Part of runMailContract (mail.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rejectsWith } from '../helpers/store.js';
import { storeRunner, type StoreFactory } from './harness.js';
import type { MetadataEntry } from '../../src/store/metadata.js';

const LIMITS = { maxEntries: 100, maxTotalSize: 10_000 };
const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const flat = (es: MetadataEntry[]): string[] => es.map((e) => `${e.name}=${e.value.toString('utf8')}`);

export function runMetadataContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`MailStore contract: ${name}`, () => {
    describe('annotations (METADATA)', () => {
      test(
        'set, get with depth, replace, remove; server and mailbox entries apart; names lower-cased',
        withStore(async (s, user, inbox) => {
          const m = s.mail;
          assert.deepEqual(await m.getMetadata(user.id, inbox.id, ['/private/comment'], 0), []);
          assert.equal(
            await m.setMetadata(
              user.id,
              inbox.id,
              [
                { name: '/private/Comment', value: b('mine') },
                { name: '/private/comment/a', value: b('A') },
                { name: '/private/comment/a/deep', value: b('D') },
                { name: '/private/commentary', value: b('other') },
                { name: '/shared/comment', value: b('shared') },
              ],
              LIMITS,
            ),
            'ok',
          );
          assert.equal(await m.setMetadata(user.id, null, [{ name: '/private/comment', value: b('server') }], LIMITS), 'ok');
          assert.deepEqual(flat(await m.getMetadata(user.id, inbox.id, ['/PRIVATE/COMMENT'], 0)), ['/private/comment=mine']);
          assert.deepEqual(flat(await m.getMetadata(user.id, inbox.id, ['/private/comment'], 1)), ['/private/comment=mine', '/private/comment/a=A']);
          assert.deepEqual(flat(await m.getMetadata(user.id, inbox.id, ['/private/comment'], 'infinity')), [
            '/private/comment=mine',
            '/private/comment/a=A',
            '/private/comment/a/deep=D',
          ]);
          assert.deepEqual(flat(await m.getMetadata(user.id, inbox.id, ['/shared/comment', '/private/comment', '/shared/comment'], 0)), [
            '/private/comment=mine',
            '/shared/comment=shared',
          ]);
          assert.deepEqual(flat(await m.getMetadata(user.id, null, ['/private/comment'], 'infinity')), ['/private/comment=server']);
          // Binary values come back byte for byte.
          const bin = Buffer.from([0, 1, 2, 255, 0]);
          await m.setMetadata(user.id, inbox.id, [{ name: '/private/comment/a', value: bin }], LIMITS);
          assert.deepEqual((await m.getMetadata(user.id, inbox.id, ['/private/comment/a'], 0))[0]!.value, bin);
          // Remove (NIL) and set in one call; removing a missing entry is fine.
          await m.setMetadata(
            user.id,
            inbox.id,
            [
              { name: '/private/comment', value: null },
              { name: '/private/none', value: null },
              { name: '/private/new', value: b('n') },
            ],
            LIMITS,
          );
          assert.deepEqual(flat(await m.getMetadata(user.id, inbox.id, ['/private/comment', '/private/new'], 0)), ['/private/new=n']);
        }),
      );

      test(
        'per-user limits: too many entries or too many octets write nothing; removals always pass',
        withStore(async (s, user, inbox) => {
          const m = s.mail;
          const small = { maxEntries: 3, maxTotalSize: 100 };
          assert.equal(await m.setMetadata(user.id, null, [{ name: '/private/a', value: b('1') }], small), 'ok');
          assert.equal(
            await m.setMetadata(
              user.id,
              inbox.id,
              [
                { name: '/private/b', value: b('2') },
                { name: '/private/c', value: b('3') },
              ],
              small,
            ),
            'ok',
          );
          assert.equal(await m.setMetadata(user.id, inbox.id, [{ name: '/private/d', value: b('4') }], small), 'toomany');
          assert.deepEqual(await m.getMetadata(user.id, inbox.id, ['/private/d'], 0), []);
          // Replacing an entry does not count twice.
          assert.equal(await m.setMetadata(user.id, inbox.id, [{ name: '/private/c', value: b('33') }], small), 'ok');
          assert.equal(await m.setMetadata(user.id, inbox.id, [{ name: '/private/c', value: Buffer.alloc(200) }], small), 'toomany');
          assert.deepEqual(flat(await m.getMetadata(user.id, inbox.id, ['/private/c'], 0)), ['/private/c=33']);
          assert.equal(
            await m.setMetadata(
              user.id,
              inbox.id,
              [
                { name: '/private/b', value: null },
                { name: '/private/d', value: b('4') },
              ],
              small,
            ),
            'ok',
          );
          assert.equal(await m.setMetadata(user.id, inbox.id, [{ name: '/private/c', value: null }], { maxEntries: 0, maxTotalSize: 0 }), 'ok');
        }),
      );

      test(
        'entries go with their mailbox; another user sees neither; unknown mailboxes are NOT_FOUND',
        withStore(async (s, user) => {
          const m = s.mail;
          const box = await m.createMailbox(user.id, 'Notes');
          await m.setMetadata(user.id, box.id, [{ name: '/private/x', value: b('x') }], LIMITS);
          await m.renameMailbox(user.id, 'Notes', 'Notes2');
          assert.deepEqual(flat(await m.getMetadata(user.id, box.id, ['/private/x'], 0)), ['/private/x=x']);
          const bob = await s.directory.createUser('bob@example.org', '$test$hash');
          await rejectsWith(m.getMetadata(bob.id, box.id, ['/private/x'], 0), 'NOT_FOUND');
          await rejectsWith(m.setMetadata(bob.id, box.id, [{ name: '/private/x', value: b('y') }], LIMITS), 'NOT_FOUND');
          assert.deepEqual(await m.getMetadata(bob.id, null, ['/private/x'], 'infinity'), []);
          await m.deleteMailbox(user.id, 'Notes2');
          await rejectsWith(m.getMetadata(user.id, box.id, ['/private/x'], 0), 'NOT_FOUND');
          const again = await m.createMailbox(user.id, 'Notes');
          assert.deepEqual(await m.getMetadata(user.id, again.id, ['/private'], 'infinity'), []);
          await rejectsWith(m.getMetadata(user.id, again.id + 1000, ['/private/x'], 0), 'NOT_FOUND');
        }),
      );
    });
  });
}

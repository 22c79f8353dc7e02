/**
 * The SieveStore contract (src/store/sieve.ts): scripts per user (put/replace with a new revision, list in
 * name order, one active at a time, the active one cannot be deleted, rename), quotas on count, size and
 * storage ('maxscripts'/'maxsize'/'quota', nothing written), bad names, the vacation setting, reply and
 * duplicate tracking, and everything going with the user.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rejectsWith } from '../helpers/store.js';
import { storeRunner, type StoreFactory } from './harness.js';
import { VACATION_OFF, type SieveQuota } from '../../src/store/sieve.js';

const QUOTA: SieveQuota = { maxScripts: 3, maxScriptSize: 100, maxStorage: 200 };

export function runSieveContract(name: string, factory: StoreFactory): void {
  const withStore = storeRunner(factory);

  describe(`SieveStore contract: ${name}`, () => {
    test(
      'put, get, list, replace with a new revision, activate, deactivate, delete, rename',
      withStore(async (s, user) => {
        const v = s.sieve;
        assert.deepEqual(await v.listScripts(user.id), []);
        assert.equal(await v.getScript(user.id, 'a'), null);
        assert.equal(await v.getActiveScript(user.id), null);
        assert.equal(await v.putScript(user.id, 'work', 'keep;\r\n', QUOTA), 'ok');
        assert.equal(await v.putScript(user.id, 'Ärger ☃', 'discard;', QUOTA), 'ok');
        const list = await v.listScripts(user.id);
        assert.deepEqual(
          list.map((x) => [x.name, x.active, x.size]),
          [
            ['work', false, 7],
            ['Ärger ☃', false, 8],
          ],
        );
        const work = await v.getScript(user.id, 'work');
        assert.equal(work?.content, 'keep;\r\n');
        assert.ok(work && work.updatedAt instanceof Date && Math.abs(work.updatedAt.getTime() - Date.now()) < 60_000);
        // Replacing changes the revision and keeps the active flag.
        assert.equal(await v.activeRevision(user.id), null);
        await v.setActive(user.id, 'work');
        assert.equal((await v.getActiveScript(user.id))?.name, 'work');
        assert.deepEqual(await v.activeRevision(user.id), { name: 'work', revision: work?.revision });
        assert.equal(await v.putScript(user.id, 'work', 'stop;', QUOTA), 'ok');
        const again = await v.getActiveScript(user.id);
        assert.equal(again?.content, 'stop;');
        assert.ok(again && work && again.revision !== work.revision);
        // Delete and re-create: a revision never comes back.
        await v.setActive(user.id, 'Ärger ☃');
        assert.deepEqual((await v.listScripts(user.id)).filter((x) => x.active).map((x) => x.name), ['Ärger ☃']);
        await v.deleteScript(user.id, 'work');
        await v.putScript(user.id, 'work', 'stop;', QUOTA);
        assert.notEqual((await v.getScript(user.id, 'work'))?.revision, again?.revision);
        // The active script cannot be deleted; missing ones are NOT_FOUND.
        await rejectsWith(v.deleteScript(user.id, 'Ärger ☃'), 'NO_PERM');
        await rejectsWith(v.deleteScript(user.id, 'nope'), 'NOT_FOUND');
        await rejectsWith(v.setActive(user.id, 'nope'), 'NOT_FOUND');
        assert.equal((await v.getActiveScript(user.id))?.name, 'Ärger ☃', 'a failed SETACTIVE leaves the active script');
        // Rename keeps the content and the active flag; onto an existing name is EXISTS.
        await v.renameScript(user.id, 'Ärger ☃', 'main');
        const main = await v.getActiveScript(user.id);
        assert.equal(main?.name, 'main');
        assert.equal(main?.content, 'discard;');
        await rejectsWith(v.renameScript(user.id, 'main', 'work'), 'EXISTS');
        await rejectsWith(v.renameScript(user.id, 'gone', 'other'), 'NOT_FOUND');
        await rejectsWith(v.renameScript(user.id, 'main', 'bad\nname'), 'INVALID');
        // Deactivate.
        await v.setActive(user.id, null);
        assert.equal(await v.getActiveScript(user.id), null);
        await v.deleteScript(user.id, 'main');
        assert.deepEqual((await v.listScripts(user.id)).map((x) => x.name), ['work']);
      }),
    );

    test(
      'deliveryState answers what activeRevision and getVacation answer, in every state',
      withStore(async (s, user) => {
        const v = s.sieve;
        assert.ok(v.deliveryState, 'the store reads both in one call');
        const same = async (what: string) => {
          const state = await v.deliveryState!(user.id);
          assert.deepEqual(state, { active: await v.activeRevision(user.id), vacation: await v.getVacation(user.id) }, what);
          return state;
        };
        assert.deepEqual(await same('nothing set'), { active: null, vacation: VACATION_OFF });
        assert.deepEqual(await v.deliveryState!(999_999), { active: null, vacation: VACATION_OFF }, 'no such user');
        await v.putScript(user.id, 'main', 'keep;', QUOTA);
        assert.equal((await same('a script, none active')).active, null);
        await v.setActive(user.id, 'main');
        assert.equal((await same('active')).active?.name, 'main');
        const vacation = { enabled: true, subject: 'Away', textBody: 'Back soon.', htmlBody: '<p>Back</p>', fromDate: new Date(1_700_000_000_000), toDate: null };
        await v.setVacation(user.id, vacation);
        assert.deepEqual((await same('active and vacation')).vacation, vacation);
        await v.setActive(user.id, null);
        assert.deepEqual(await same('vacation only'), { active: null, vacation });
      }),
    );

    test(
      'quota: count, size and storage are checked before writing; replacing a script counts once',
      withStore(async (s, user) => {
        const v = s.sieve;
        assert.equal(await v.putScript(user.id, 'big', 'x'.repeat(101), QUOTA), 'maxsize');
        assert.equal(await v.haveSpace(user.id, 'big', 101, QUOTA), 'maxsize');
        assert.equal(await v.putScript(user.id, 'a', 'a'.repeat(90), QUOTA), 'ok');
        assert.equal(await v.putScript(user.id, 'b', 'b'.repeat(90), QUOTA), 'ok');
        assert.equal(await v.haveSpace(user.id, 'c', 30, QUOTA), 'quota');
        assert.equal(await v.putScript(user.id, 'c', 'c'.repeat(30), QUOTA), 'quota');
        assert.equal(await v.haveSpace(user.id, 'b', 100, QUOTA), 'ok', 'replacing b frees its own size');
        assert.equal(await v.putScript(user.id, 'c', 'c', QUOTA), 'ok');
        assert.equal(await v.putScript(user.id, 'd', 'd', QUOTA), 'maxscripts');
        assert.equal(await v.haveSpace(user.id, 'd', 1, QUOTA), 'maxscripts');
        assert.equal(await v.putScript(user.id, 'c', 'cc', QUOTA), 'ok', 'replacing at the count limit is fine');
        assert.deepEqual((await v.listScripts(user.id)).map((x) => x.name), ['a', 'b', 'c']);
        assert.equal(await v.getScript(user.id, 'd'), null);
      }),
    );

    test(
      'bad names and content are INVALID; scripts are per user and go with the user',
      withStore(async (s, user) => {
        const v = s.sieve;
        for (const bad of ['', 'a\u0000b', 'tab\there', 'x\u2028y', 'del\u007f', 'n'.repeat(600)]) {
          await rejectsWith(v.putScript(user.id, bad, 'keep;', QUOTA), 'INVALID');
        }
        await rejectsWith(v.putScript(user.id, 'nul', 'keep;\u0000', QUOTA), 'INVALID');
        await rejectsWith(v.putScript(999_999, 'x', 'keep;', QUOTA), 'NOT_FOUND');
        const bob = await s.directory.createUser('bob@example.org', '$test$hash');
        await v.putScript(user.id, 'mine', 'keep;', QUOTA);
        await v.setActive(user.id, 'mine');
        assert.equal(await v.getScript(bob.id, 'mine'), null);
        assert.equal(await v.getActiveScript(bob.id), null);
        await rejectsWith(v.setActive(bob.id, 'mine'), 'NOT_FOUND');
        await v.setVacation(user.id, { enabled: true, subject: 's', textBody: 't' });
        await v.recordVacation(user.id, 'x@example.net', '', new Date(), new Date(0));
        await v.recordDuplicate(user.id, 'k', new Date(), new Date(Date.now() + 60_000));
        await s.directory.deleteUser('alice@example.org');
        const again = await s.directory.createUser('alice@example.org', '$test$hash');
        assert.deepEqual(await v.listScripts(again.id), []);
        assert.deepEqual(await v.listScripts(user.id), []);
        assert.equal((await v.getVacation(user.id)).enabled, false);
        assert.equal(await v.vacationSentAt(user.id, 'x@example.net', ''), null);
        assert.equal(await v.duplicateSeen(user.id, 'k', new Date()), false);
      }),
    );

    test(
      'vacation setting: default off, set, replace, dates and HTML kept',
      withStore(async (s, user) => {
        const v = s.sieve;
        assert.deepEqual(await v.getVacation(user.id), VACATION_OFF);
        const from = new Date('2026-12-20T00:00:00Z');
        const to = new Date('2027-01-06T00:00:00Z');
        await v.setVacation(user.id, { enabled: true, subject: 'Away ☀', textBody: 'Back in January.', htmlBody: '<p>Back</p>', fromDate: from, toDate: to });
        const got = await v.getVacation(user.id);
        assert.equal(got.enabled, true);
        assert.equal(got.subject, 'Away ☀');
        assert.equal(got.textBody, 'Back in January.');
        assert.equal(got.htmlBody, '<p>Back</p>');
        assert.equal(got.fromDate?.getTime(), from.getTime());
        assert.equal(got.toDate?.getTime(), to.getTime());
        await v.setVacation(user.id, { enabled: false, subject: '', textBody: 'x' });
        const off = await v.getVacation(user.id);
        assert.equal(off.enabled, false);
        assert.equal(off.htmlBody ?? null, null);
        assert.equal(off.fromDate ?? null, null);
        await rejectsWith(v.setVacation(user.id, { enabled: 'yes' } as never), 'INVALID');
        await rejectsWith(v.setVacation(999_999, { enabled: true, subject: '', textBody: '' }), 'NOT_FOUND');
      }),
    );

    test(
      'reply tracking per sender and handle; duplicate tracking with expiry',
      withStore(async (s, user) => {
        const v = s.sieve;
        const t0 = new Date('2026-12-01T10:00:00Z');
        assert.equal(await v.vacationSentAt(user.id, 'Bob@Example.NET', ''), null);
        await v.recordVacation(user.id, 'Bob@Example.NET', '', t0, new Date(0));
        assert.equal((await v.vacationSentAt(user.id, 'bob@example.net', ''))?.getTime(), t0.getTime(), 'senders compare case-insensitively');
        assert.equal(await v.vacationSentAt(user.id, 'bob@example.net', 'other-handle'), null);
        const t1 = new Date(t0.getTime() + 86_400_000);
        await v.recordVacation(user.id, 'bob@example.net', '', t1, new Date(0));
        assert.equal((await v.vacationSentAt(user.id, 'bob@example.net', ''))?.getTime(), t1.getTime());
        await v.recordVacation(user.id, 'carol@example.net', 'h', t1, new Date(t1.getTime() + 1));
        assert.equal(await v.vacationSentAt(user.id, 'bob@example.net', ''), null, 'entries older than forgetBefore are dropped');

        assert.equal(await v.duplicateSeen(user.id, '<m1@x>', t0), false);
        await v.recordDuplicate(user.id, '<m1@x>', t0, new Date(t0.getTime() + 1000));
        assert.equal(await v.duplicateSeen(user.id, '<m1@x>', t0), true);
        assert.equal(await v.duplicateSeen(user.id, '<m1@x>', new Date(t0.getTime() + 1000)), false, 'expired');
        await v.recordDuplicate(user.id, '<m1@x>', t0, new Date(t0.getTime() + 5000));
        await v.recordDuplicate(user.id, '<m1@x>', t0, new Date(t0.getTime() + 2000));
        assert.equal(await v.duplicateSeen(user.id, '<m1@x>', new Date(t0.getTime() + 4000)), true, 'a shorter record does not cut a longer one');
        const bob = await s.directory.createUser('bob@example.org', '$test$hash');
        assert.equal(await v.duplicateSeen(bob.id, '<m1@x>', t0), false, 'per user');
      }),
    );
  });
}
